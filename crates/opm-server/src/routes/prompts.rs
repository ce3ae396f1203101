//! Prompt routes: create, list, get, update, archive, restore.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opm_api::Page;
use opm_api::prompts::{CreatePromptRequest, PromptDto, UpdatePromptRequest};
use opm_core::auth::Role;
use opm_core::names::{PromptName, TagName};
use opm_store::{NewPrompt, PromptFilter, PromptPatch};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{label_name, page_limit, prompt_name};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};

/// Filters for listing prompts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListPromptsQuery {
    /// Only prompts with this tag.
    #[param(schema_with = opm_api::names::name)]
    pub tag: Option<String>,
    /// Only prompts with this label.
    #[param(schema_with = opm_api::names::name)]
    pub label: Option<String>,
    /// Include archived prompts.
    #[serde(default)]
    pub include_archived: bool,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Create a prompt (without versions).
#[utoipa::path(post, path = "/api/v1/prompts", tag = "prompts", request_body = CreatePromptRequest,
    responses((status = 201, body = PromptDto), (status = 409, body = opm_api::Problem, description = "exists"),
              (status = 422, body = opm_api::Problem)))]
pub async fn create_prompt(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreatePromptRequest>,
) -> ApiResult<(StatusCode, Json<PromptDto>)> {
    caller.require(&state, Role::Editor).await?;
    let new = NewPrompt {
        project: caller.project.clone(),
        name: prompt_name(&request.name)?,
        description: request.description,
        tags: convert::tags_in(&request.tags)?,
    };
    opm_core::prompt::check_prompt_meta(&new.description, &new.tags)?;
    let prompt = state.registry.store().create_prompt(&new, &caller.context()).await?;
    Ok((StatusCode::CREATED, Json(convert::prompt(&prompt, None))))
}

/// List prompts, ordered by name.
#[utoipa::path(get, path = "/api/v1/prompts", tag = "prompts", params(ListPromptsQuery),
    responses((status = 200, body = Page<PromptDto>)))]
pub async fn list_prompts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListPromptsQuery>,
) -> ApiResult<Json<Page<PromptDto>>> {
    caller.require(&state, Role::Viewer).await?;
    let limit = page_limit(query.limit)?;
    let filter = PromptFilter {
        tag: query.tag.as_deref().map(TagName::parse).transpose()?,
        label: query.label.as_deref().map(label_name).transpose()?,
        include_archived: query.include_archived,
        after: query.cursor.as_deref().map(PromptName::parse).transpose()?,
        limit,
    };
    let prompts = state.registry.store().list_prompts(&caller.project, &filter).await?;
    let next_cursor = (prompts.len() == limit as usize).then(|| prompts.last().map(|p| p.name.to_string())).flatten();
    let items = prompts.iter().map(|p| convert::prompt(p, None)).collect();
    Ok(Json(Page { items, next_cursor }))
}

/// Get a prompt with its labels (archived prompts too).
#[utoipa::path(get, path = "/api/v1/prompts/{name}", tag = "prompts", params(("name" = String, Path)),
    responses((status = 200, body = PromptDto), (status = 404, body = opm_api::Problem)))]
pub async fn get_prompt(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<PromptDto>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let store = state.registry.store();
    let prompt = store.get_prompt(&caller.project, &name).await?;
    let labels = store.list_labels(&caller.project, &name).await?;
    Ok(Json(convert::prompt(&prompt, Some(labels.iter().map(convert::label).collect()))))
}

/// Update a prompt's description or tags.
#[utoipa::path(patch, path = "/api/v1/prompts/{name}", tag = "prompts", params(("name" = String, Path)),
    request_body = UpdatePromptRequest, responses((status = 200, body = PromptDto), (status = 404, body = opm_api::Problem)))]
pub async fn update_prompt(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<UpdatePromptRequest>,
) -> ApiResult<Json<PromptDto>> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&name)?;
    let patch = PromptPatch {
        description: request.description,
        tags: request.tags.as_deref().map(convert::tags_in).transpose()?,
    };
    opm_core::prompt::check_prompt_meta(
        patch.description.as_deref().unwrap_or_default(),
        patch.tags.as_deref().unwrap_or_default(),
    )?;
    let prompt = state.registry.store().update_prompt(&caller.project, &name, &patch, &caller.context()).await?;
    Ok(Json(convert::prompt(&prompt, None)))
}

/// Archive a prompt: hidden from listings and unresolvable until restored.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/archive", tag = "prompts", params(("name" = String, Path)),
    responses((status = 200, body = PromptDto), (status = 409, body = opm_api::Problem)))]
pub async fn archive_prompt(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<PromptDto>> {
    set_archived(state, caller, name, true).await
}

/// Restore an archived prompt.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/restore", tag = "prompts", params(("name" = String, Path)),
    responses((status = 200, body = PromptDto), (status = 409, body = opm_api::Problem)))]
pub async fn restore_prompt(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<PromptDto>> {
    set_archived(state, caller, name, false).await
}

async fn set_archived(state: AppState, caller: Caller, name: String, archived: bool) -> ApiResult<Json<PromptDto>> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&name)?;
    let prompt = state.registry.set_archived(&caller.project, &name, archived, &caller.context()).await?;
    Ok(Json(convert::prompt(&prompt, None)))
}
