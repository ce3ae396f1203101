//! Version routes: publish, list, get, diff.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opm_api::Page;
use opm_api::prompts::{CreateVersionRequest, DiffDto, PublishResponse, VersionDto};
use opm_core::auth::Role;
use opm_core::diff::diff_versions;
use opm_store::{NewPrompt, NewVersion};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{page_limit, prompt_name, version_number};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// Paging for the version list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListVersionsQuery {
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The two versions to compare.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    #[param(minimum = 1)]
    pub from: u32,
    #[param(minimum = 1)]
    pub to: u32,
}

/// Publish a new immutable version (creating the prompt if it does not exist). Content equal to
/// the latest version's creates nothing and returns that version with `created: false`.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/versions", tag = "versions", params(("name" = String, Path)),
    request_body = CreateVersionRequest,
    responses((status = 201, body = PublishResponse, description = "created"),
              (status = 200, body = PublishResponse, description = "unchanged: equal to the latest version"),
              (status = 409, body = opm_api::Problem, description = "archived"), (status = 422, body = opm_api::Problem)))]
pub async fn publish_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<CreateVersionRequest>,
) -> ApiResult<(StatusCode, Json<PublishResponse>)> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&name)?;
    let content = convert::content_in(&request.content)?;
    opm_core::prompt::check_text("message", &request.message, false)?;
    let tags = convert::tags_in(request.tags.as_deref().unwrap_or_default())?;
    let description = request.description.unwrap_or_default();
    opm_core::prompt::check_prompt_meta(&description, &tags)?;
    let new = NewVersion {
        content,
        message: request.message,
        create_prompt: Some(NewPrompt { project: caller.project.clone(), name: name.clone(), description, tags }),
    };
    let outcome = state.registry.publish_version(&caller.project, &name, &new, &caller.context()).await?;
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(PublishResponse {
            created: outcome.created,
            prompt_created: outcome.prompt_created,
            version: convert::version(&outcome.version),
        }),
    ))
}

/// List versions, newest first.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/versions", tag = "versions",
    params(("name" = String, Path), ListVersionsQuery), responses((status = 200, body = Page<VersionDto>)))]
pub async fn list_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ListVersionsQuery>,
) -> ApiResult<Json<Page<VersionDto>>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let limit = page_limit(query.limit)?;
    let before = query.cursor.as_deref().map(version_number).transpose()?;
    let store = state.registry.store();
    // Distinguish "no such prompt" from "no versions".
    store.get_prompt(&caller.project, &name).await?;
    let versions = store.list_versions(&caller.project, &name, before, limit).await?;
    let next_cursor =
        (versions.len() == limit as usize).then(|| versions.last().map(|v| v.version.to_string())).flatten();
    Ok(Json(Page { items: versions.iter().map(convert::version).collect(), next_cursor }))
}

/// Get one version.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/versions/{version}", tag = "versions",
    params(("name" = String, Path), ("version" = u32, Path)),
    responses((status = 200, body = VersionDto), (status = 404, body = opm_api::Problem)))]
pub async fn get_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<VersionDto>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let version = version_number(&version)?;
    let found = state.registry.store().get_version(&caller.project, &name, version).await?;
    Ok(Json(convert::version(&found)))
}

/// Compare two versions.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/diff", tag = "versions", params(("name" = String, Path), DiffQuery),
    responses((status = 200, body = DiffDto), (status = 404, body = opm_api::Problem)))]
pub async fn diff(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> ApiResult<Json<DiffDto>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    if query.from == 0 || query.to == 0 {
        return Err(ApiError::invalid("invalid_version", "`from` and `to` are version numbers starting at 1"));
    }
    let store = state.registry.store();
    let from = store.get_version(&caller.project, &name, query.from).await?;
    let to = store.get_version(&caller.project, &name, query.to).await?;
    let diff = diff_versions(from.version, &from.content, to.version, &to.content);
    Ok(Json(DiffDto {
        prompt: name.to_string(),
        from: from.version,
        to: to.version,
        changed_fields: diff.changed_fields,
        unified: diff.unified,
    }))
}
