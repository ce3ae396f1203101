//! Label routes: list, move, history, rollback.

use axum::Json;
use axum::extract::{Path, State};
use opm_api::Page;
use opm_api::labels::{LabelChangeDto, LabelDto, RollbackRequest, SetLabelRequest};
use opm_core::auth::Role;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{label_name, page_limit, prompt_name};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};

/// Page size for label history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// List a prompt's labels, including the automatic `latest`.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/labels", tag = "labels", params(("name" = String, Path)),
    responses((status = 200, body = Page<LabelDto>), (status = 404, body = opm_api::Problem)))]
pub async fn list_labels(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Page<LabelDto>>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let labels = state.registry.store().list_labels(&caller.project, &name).await?;
    Ok(Json(Page { items: labels.iter().map(convert::label).collect(), next_cursor: None }))
}

/// Point a label at a version, or split it across versions by weight (sticky per caller key, the
/// first arm stable). A reason is required; the move is recorded in the label's history and the
/// audit trail, and served at once. A protected label refuses keys that must file a change request
/// (403 `label_protected`), and a freeze refuses every move (409 `change_freeze`).
#[utoipa::path(put, path = "/api/v1/prompts/{name}/labels/{label}", tag = "labels",
    params(("name" = String, Path), ("label" = String, Path)), request_body = SetLabelRequest,
    responses((status = 200, body = LabelDto), (status = 403, body = opm_api::Problem, description = "protected label: file a change request"),
              (status = 404, body = opm_api::Problem), (status = 409, body = opm_api::Problem, description = "frozen, or a rollout owns the label"),
              (status = 422, body = opm_api::Problem)))]
pub async fn set_label(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, label)): Path<(String, String)>,
    ApiJson(request): ApiJson<SetLabelRequest>,
) -> ApiResult<Json<LabelDto>> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&name)?;
    let label = label_name(&label)?;
    let target = convert::target_request(&caller.project, &name, &label, &request)?;
    let moved = state
        .registry
        .move_label(&caller.project, &name, &label, &target, &request.reason, caller.key.role, &caller.context())
        .await?;
    Ok(Json(convert::label(&moved)))
}

/// A label's history of targets, newest first.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/labels/{label}/history", tag = "labels",
    params(("name" = String, Path), ("label" = String, Path), HistoryQuery),
    responses((status = 200, body = Page<LabelChangeDto>), (status = 404, body = opm_api::Problem)))]
pub async fn label_history(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, label)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Page<LabelChangeDto>>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let label = label_name(&label)?;
    let limit = page_limit(query.limit)?;
    let history = state.registry.store().label_history(&caller.project, &name, &label, limit).await?;
    Ok(Json(Page { items: history.iter().map(convert::label_change).collect(), next_cursor: None }))
}

/// Restore the label's previous target in one call (two rollbacks toggle back).
#[utoipa::path(post, path = "/api/v1/prompts/{name}/labels/{label}/rollback", tag = "labels",
    params(("name" = String, Path), ("label" = String, Path)), request_body = RollbackRequest,
    responses((status = 200, body = LabelDto), (status = 409, body = opm_api::Problem, description = "nothing to roll back")))]
pub async fn rollback_label(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, label)): Path<(String, String)>,
    ApiJson(request): ApiJson<RollbackRequest>,
) -> ApiResult<Json<LabelDto>> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&name)?;
    let label = label_name(&label)?;
    let moved =
        state.registry.rollback_label(&caller.project, &name, &label, &request.reason, &caller.context()).await?;
    Ok(Json(convert::label(&moved)))
}
