//! Governance routes: the project's policy and freezes, change requests on protected labels (file,
//! list, approve, reject, cancel), and the publish check `opm apply --dry-run` uses.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opm_api::Page;
use opm_api::governance::{
    ChangeRequestDto, DecideRequest, FreezeRequest, PolicyDto, PublishCheckDto, SetPolicyRequest, ViolationDto,
};
use opm_api::labels::SetLabelRequest;
use opm_api::prompts::CreateVersionRequest;
use opm_core::auth::Role;
use opm_core::governance::ChangeRequestState;
use opm_store::{ChangeRequestFilter, NewPrompt, NewVersion, RequestAction};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{label_name, page_limit, prompt_name};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::convert_governance as to_wire;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// Filters for listing change requests.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestsQuery {
    /// `pending`, `applied`, `rejected`, `cancelled` or `stale`.
    #[param(pattern = "^(pending|applied|rejected|cancelled|stale)$")]
    pub state: Option<String>,
    /// Only requests on this prompt.
    #[param(schema_with = opm_api::names::name)]
    pub prompt: Option<String>,
    /// Page size (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Filters for listing one label's change requests.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LabelRequestsQuery {
    /// `pending`, `applied`, `rejected`, `cancelled` or `stale`.
    #[param(pattern = "^(pending|applied|rejected|cancelled|stale)$")]
    pub state: Option<String>,
    /// Page size (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The project's governance policy: protected labels, freeze windows, the immediate freeze and
/// the publish rules, with the freeze in force now.
#[utoipa::path(get, path = "/api/v1/governance", tag = "governance",
    responses((status = 200, body = PolicyDto), (status = 401, body = opm_api::Problem)))]
pub async fn get_policy(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<PolicyDto>> {
    caller.require(&state, Role::Viewer).await?;
    let stored = state.registry.policy(&caller.project).await?;
    Ok(Json(to_wire::policy(&stored, state.registry.clock().now())))
}

/// Replace the project's rules (admin). `expected_revision` is the revision read; the immediate
/// freeze is kept as it is. Audited as `governance.set` with the old and new policies.
#[utoipa::path(put, path = "/api/v1/governance", tag = "governance", request_body = SetPolicyRequest,
    responses((status = 200, body = PolicyDto), (status = 403, body = opm_api::Problem),
              (status = 409, body = opm_api::Problem, description = "the policy changed since it was read"),
              (status = 422, body = opm_api::Problem)))]
pub async fn set_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<SetPolicyRequest>,
) -> ApiResult<Json<PolicyDto>> {
    caller.require(&state, Role::Admin).await?;
    let policy = to_wire::rules_in(&request.rules)?;
    let stored = state
        .registry
        .set_policy(&caller.project, policy, request.expected_revision, &request.reason, &caller.context())
        .await?;
    state.limits.forget(&caller.project);
    Ok(Json(to_wire::policy(&stored, state.registry.clock().now())))
}

/// Freeze the project now (deployer or admin): label moves and rollout starts are refused until
/// the freeze is lifted; rollbacks and rollout aborts still work. Audited as `governance.freeze`.
#[utoipa::path(post, path = "/api/v1/governance/freeze", tag = "governance", request_body = FreezeRequest,
    responses((status = 200, body = PolicyDto), (status = 403, body = opm_api::Problem), (status = 422, body = opm_api::Problem)))]
pub async fn freeze(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<FreezeRequest>,
) -> ApiResult<Json<PolicyDto>> {
    caller.require(&state, Role::Deployer).await?;
    let stored = state.registry.freeze(&caller.project, true, &request.reason, &caller.context()).await?;
    Ok(Json(to_wire::policy(&stored, state.registry.clock().now())))
}

/// Lift the immediate freeze (deployer or admin); freeze windows stay. Audited as `governance.unfreeze`.
#[utoipa::path(post, path = "/api/v1/governance/unfreeze", tag = "governance", request_body = FreezeRequest,
    responses((status = 200, body = PolicyDto), (status = 403, body = opm_api::Problem), (status = 422, body = opm_api::Problem)))]
pub async fn unfreeze(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<FreezeRequest>,
) -> ApiResult<Json<PolicyDto>> {
    caller.require(&state, Role::Deployer).await?;
    let stored = state.registry.freeze(&caller.project, false, &request.reason, &caller.context()).await?;
    Ok(Json(to_wire::policy(&stored, state.registry.clock().now())))
}

/// File a change request to move a protected label (to a version or a split). It records the
/// label's current target and applies, once approved, only while the label still points there.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/labels/{label}/requests", tag = "governance",
    params(("name" = String, Path), ("label" = String, Path)), request_body = SetLabelRequest,
    responses((status = 201, body = ChangeRequestDto), (status = 403, body = opm_api::Problem),
              (status = 404, body = opm_api::Problem), (status = 409, body = opm_api::Problem),
              (status = 422, body = opm_api::Problem)))]
pub async fn create_request(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, label)): Path<(String, String)>,
    ApiJson(request): ApiJson<SetLabelRequest>,
) -> ApiResult<(StatusCode, Json<ChangeRequestDto>)> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&name)?;
    let label = label_name(&label)?;
    let target = convert::target_request(&caller.project, &name, &label, &request)?;
    let filed = state
        .registry
        .request_label_change(
            &caller.project,
            &name,
            &label,
            target,
            &request.reason,
            caller.key.role,
            &caller.context(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(to_wire::request(&filed))))
}

/// A label's change requests, newest first.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/labels/{label}/requests", tag = "governance",
    params(("name" = String, Path), ("label" = String, Path), LabelRequestsQuery),
    responses((status = 200, body = Page<ChangeRequestDto>), (status = 422, body = opm_api::Problem)))]
pub async fn list_label_requests(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, label)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<LabelRequestsQuery>,
) -> ApiResult<Json<Page<ChangeRequestDto>>> {
    caller.require(&state, Role::Viewer).await?;
    let filter = ChangeRequestFilter {
        project: caller.project.clone(),
        prompt: Some(prompt_name(&name)?),
        label: Some(label_name(&label)?),
        state: state_filter(query.state.as_deref())?,
        limit: page_limit(query.limit)?,
    };
    list(&state, &filter).await
}

/// The project's change requests, newest first (`state=pending` for the approval queue).
#[utoipa::path(get, path = "/api/v1/change-requests", tag = "governance", params(RequestsQuery),
    responses((status = 200, body = Page<ChangeRequestDto>), (status = 422, body = opm_api::Problem)))]
pub async fn list_requests(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<RequestsQuery>,
) -> ApiResult<Json<Page<ChangeRequestDto>>> {
    caller.require(&state, Role::Viewer).await?;
    let filter = ChangeRequestFilter {
        project: caller.project.clone(),
        prompt: query.prompt.as_deref().map(prompt_name).transpose()?,
        label: None,
        state: state_filter(query.state.as_deref())?,
        limit: page_limit(query.limit)?,
    };
    list(&state, &filter).await
}

async fn list(state: &AppState, filter: &ChangeRequestFilter) -> ApiResult<Json<Page<ChangeRequestDto>>> {
    let requests = state.registry.store().list_change_requests(filter).await?;
    Ok(Json(Page { items: requests.iter().map(to_wire::request).collect(), next_cursor: None }))
}

/// One change request.
#[utoipa::path(get, path = "/api/v1/change-requests/{id}", tag = "governance", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = ChangeRequestDto), (status = 404, body = opm_api::Problem), (status = 422, body = opm_api::Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ChangeRequestDto>> {
    caller.require(&state, Role::Viewer).await?;
    let request = state.registry.store().get_change_request(&caller.project, request_id(&id)?).await?;
    Ok(Json(to_wire::request(&request)))
}

/// Approve, reject or cancel a change request. Approving and rejecting need the label's move role
/// (deployer or admin) and a key other than the author's (four eyes); the approval that completes
/// the request moves the label at once, unless the label moved since the request was filed
/// (then the request becomes `stale`: 409 `change_request_stale`) or a freeze is in force.
/// Cancelling is for the author or an admin.
#[utoipa::path(post, path = "/api/v1/change-requests/{id}/{action}", tag = "governance",
    params(("id" = i64, Path, minimum = 1),
           ("action" = String, Path, pattern = "^(approve|reject|cancel)$", description = "approve, reject or cancel")),
    request_body = DecideRequest,
    responses((status = 200, body = ChangeRequestDto), (status = 403, body = opm_api::Problem),
              (status = 404, body = opm_api::Problem),
              (status = 409, body = opm_api::Problem, description = "not pending, stale, frozen or already approved"),
              (status = 422, body = opm_api::Problem)))]
pub async fn decide_request(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    ApiJson(request): ApiJson<DecideRequest>,
) -> ApiResult<Json<ChangeRequestDto>> {
    caller.require(&state, Role::Editor).await?;
    let id = request_id(&id)?;
    let action = match action.as_str() {
        "approve" => RequestAction::Approve,
        "reject" => RequestAction::Reject,
        "cancel" => RequestAction::Cancel,
        other => {
            return Err(ApiError::new(
                opm_core::ErrorKind::NotFound,
                "route_not_found",
                format!("`{other}` is not a change request action: approve, reject or cancel"),
            ));
        }
    };
    let decided = state
        .registry
        .decide_change_request(&caller.project, id, action, &request.reason, caller.key.role, &caller.context())
        .await?;
    Ok(Json(to_wire::request(&decided)))
}

/// Check a version against the project's publish policy (and the secret scan) without publishing
/// it; `opm apply --dry-run` reports these violations before writing anything.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/versions/check", tag = "governance",
    params(("name" = String, Path)), request_body = CreateVersionRequest,
    responses((status = 200, body = PublishCheckDto), (status = 422, body = opm_api::Problem)))]
pub async fn check_publish(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<CreateVersionRequest>,
) -> ApiResult<Json<PublishCheckDto>> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&name)?;
    let content = convert::content_in(&request.content)?;
    let tags = convert::tags_in(request.tags.as_deref().unwrap_or_default())?;
    let description = request.description.unwrap_or_default();
    let new = NewVersion {
        content,
        message: request.message,
        create_prompt: Some(NewPrompt { project: caller.project.clone(), name: name.clone(), description, tags }),
    };
    let violations = state.registry.check_publish(&caller.project, &name, &new).await?;
    let violations: Vec<ViolationDto> = violations
        .into_iter()
        .map(|violation| ViolationDto { rule: violation.rule, place: violation.place, detail: violation.detail })
        .collect();
    Ok(Json(PublishCheckDto { ok: violations.is_empty(), violations }))
}

fn state_filter(text: Option<&str>) -> Result<Option<ChangeRequestState>, ApiError> {
    text.map(|text| {
        ChangeRequestState::parse(text).map_err(|error| ApiError::invalid("invalid_query", error.to_string()))
    })
    .transpose()
}

fn request_id(text: &str) -> Result<i64, ApiError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::invalid("invalid_request_id", format!("`{text}` is not a change request id (1, 2, 3…)"))),
    }
}
