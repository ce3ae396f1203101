//! The Langfuse-compatible prompt API (`/api/public/...`): what the Langfuse SDKs call for
//! `get_prompt`, `create_prompt`, `update_prompt`, `api.prompts.list` and `auth_check`, answered
//! from OPM's registry. Auth is the SDKs' HTTP Basic `public_key:secret_key` = `KEY_ID:KEY`
//! (see `auth.rs`), with the same roles and audit as a bearer key.
//!
//! These routes are not in OPM's OpenAPI document: their shapes are Langfuse's (see
//! `opm_api::langfuse` and docs/compat.md). Errors are still problem documents, which the SDKs'
//! HTTP client maps by status (401 → `UnauthorizedError`, 404 → `NotFoundError`).
//! The served label list is read from the store on each call (the SDKs cache for 60 s).

mod mapping;
mod template;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opm_api::langfuse::{
    LangfuseCreatePrompt, LangfuseOrganization, LangfusePageMeta, LangfuseProject, LangfuseProjects, LangfusePrompt,
    LangfusePromptList, LangfusePromptMeta, LangfuseUpdateLabels,
};
use opm_core::auth::Role;
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, PromptName, TagName};
use opm_store::{NewPrompt, NewVersion, PromptFilter, PromptPatch, Selector};
use serde::Deserialize;

use super::{label_name, prompt_name, version_number};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// The reason recorded for label moves made through this API.
pub const REASON: &str = "via Langfuse API";

/// `?label=` or `?version=` (neither: `production`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    pub label: Option<String>,
    pub version: Option<String>,
    /// Sent by no SDK; accepted for the REST API's sake (OPM always resolves).
    pub resolve: Option<bool>,
}

/// The list filters OPM supports (1-based pages).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub name: Option<String>,
    pub label: Option<String>,
    pub tag: Option<String>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

/// `GET /api/public/v2/prompts/{name}`.
pub async fn get_prompt(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<GetQuery>,
) -> ApiResult<Json<LangfusePrompt>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let selector = match (query.label.as_deref(), query.version.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("invalid_selector", "give `label` or `version`, not both")
                .with_status(StatusCode::BAD_REQUEST));
        }
        (None, Some(version)) => Selector::Version(version_number(version)?),
        (Some(label), None) => Selector::Label(label_name(label)?),
        (None, None) => Selector::Label(LabelName::production()),
    };
    // A split label serves one of its arms at random: each SDK process caches what it got.
    // The cache keeps what OPM's own routes serve; the Langfuse shape needs the whole record (and
    // every label), read from the store like the label list.
    let served = state.registry.route(&caller.project, &name, &selector, None).await?;
    let entry = &served.entry;
    let resolved = state.registry.store().resolve(&caller.project, &name, &Selector::Version(entry.version)).await?;
    let labels = state.registry.store().list_labels(&caller.project, &name).await?;
    state.metrics.resolution(
        caller.project.as_str(),
        name.as_str(),
        entry.version,
        entry.label_name(),
        served.assignment.as_ref(),
    );
    Ok(Json(mapping::prompt_out(&resolved.prompt, &resolved.version, &labels)?))
}

/// `POST /api/public/v2/prompts`: publish a version (Langfuse's "create prompt"), then move the
/// given labels onto it. Content equal to the latest version's publishes nothing.
pub async fn create_prompt(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<LangfuseCreatePrompt>,
) -> ApiResult<(StatusCode, Json<LangfusePrompt>)> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&request.name)?;
    let content = mapping::content_in(request.kind.as_deref(), &request.prompt, request.config.as_ref())?;
    content.validate().map_err(ApiError::from)?;
    let message = request.commit_message.unwrap_or_default();
    opm_core::prompt::check_text("commitMessage", &message, false)?;
    let tags = request.tags.as_deref().map(convert::tags_in).transpose()?;
    let labels = labels_in(request.labels.as_deref().unwrap_or_default())?;
    let new = NewVersion {
        content,
        message,
        create_prompt: Some(NewPrompt {
            project: caller.project.clone(),
            name: name.clone(),
            description: String::new(),
            tags: tags.clone().unwrap_or_default(),
        }),
    };
    let outcome = state.registry.publish_version(&caller.project, &name, &new, &caller.context()).await?;
    if let Some(tags) = tags.filter(|_| !outcome.prompt_created) {
        let patch = PromptPatch { description: None, tags: Some(tags) };
        state.registry.store().update_prompt(&caller.project, &name, &patch, &caller.context()).await?;
    }
    let version = outcome.version.version;
    move_labels(&state, &caller, &name, version, &labels).await?;
    let body = current(&state, &caller, &name, version).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// `PATCH /api/public/v2/prompts/{name}/versions/{version}`: move `newLabels` onto the version
/// (each move audited with the reason "via Langfuse API").
pub async fn update_labels(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
    ApiJson(request): ApiJson<LangfuseUpdateLabels>,
) -> ApiResult<Json<LangfusePrompt>> {
    caller.require(&state, Role::Editor).await?;
    let name = prompt_name(&name)?;
    let version = version_number(&version)?;
    let labels = labels_in(&request.new_labels)?;
    state.registry.store().get_version(&caller.project, &name, version).await?;
    move_labels(&state, &caller, &name, version, &labels).await?;
    Ok(Json(current(&state, &caller, &name, version).await?))
}

/// `GET /api/public/v2/prompts`: prompts with their versions, labels and latest config.
pub async fn list_prompts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<LangfusePromptList>> {
    caller.require(&state, Role::Viewer).await?;
    let page = query.page.unwrap_or(1).max(1);
    let limit = super::page_limit(query.limit)?;
    let label = query.label.as_deref().map(label_name).transpose()?;
    let tag = query.tag.as_deref().map(TagName::parse).transpose()?;
    let store = state.registry.store();
    let mut prompts = Vec::new();
    let mut after: Option<PromptName> = None;
    loop {
        let filter = PromptFilter {
            tag: tag.clone(),
            label: label.clone(),
            include_archived: false,
            after: after.clone(),
            limit: super::MAX_LIMIT,
        };
        let batch = store.list_prompts(&caller.project, &filter).await?;
        let full = batch.len() == super::MAX_LIMIT as usize;
        after = batch.last().map(|p| p.name.clone());
        prompts.extend(batch.into_iter().filter(|p| query.name.as_deref().is_none_or(|n| p.name.as_str() == n)));
        if !full {
            break;
        }
    }
    let total = prompts.len() as u64;
    let skip = (u64::from(page) - 1).saturating_mul(u64::from(limit));
    let mut data = Vec::new();
    for prompt in prompts.iter().skip(usize::try_from(skip).unwrap_or(usize::MAX)).take(limit as usize) {
        let Some(latest) = prompt.latest_version else { continue };
        let labels = store.list_labels(&caller.project, &prompt.name).await?;
        let newest = store.get_version(&caller.project, &prompt.name, latest).await?;
        let mut names: Vec<String> = labels.iter().map(|l| l.name.to_string()).collect();
        if !names.iter().any(|n| n == LabelName::LATEST) {
            names.push(LabelName::LATEST.to_owned());
        }
        data.push(LangfusePromptMeta {
            name: prompt.name.to_string(),
            kind: newest.content.body.type_name().to_owned(),
            versions: (1..=latest).collect(),
            labels: names,
            tags: prompt.tags.iter().map(ToString::to_string).collect(),
            last_updated_at: prompt.updated_at.to_rfc3339(),
            last_config: mapping::config_out(&newest.content),
        });
    }
    let meta = LangfusePageMeta { page, limit, total_items: total, total_pages: total.div_ceil(u64::from(limit)) };
    Ok(Json(LangfusePromptList { data, meta }))
}

/// `GET /api/public/projects`: the project the key acts in (the SDKs' `auth_check`).
pub async fn projects(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<LangfuseProjects>> {
    caller.require(&state, Role::Viewer).await?;
    let project = caller.project.to_string();
    Ok(Json(LangfuseProjects {
        data: vec![LangfuseProject {
            id: project.clone(),
            name: project,
            metadata: serde_json::Map::new(),
            organization: LangfuseOrganization { id: "opm".into(), name: "Open Prompt Manager".into() },
        }],
    }))
}

/// Label names to move; `latest` is automatic in both systems, so it is skipped.
fn labels_in(names: &[String]) -> Result<Vec<LabelName>, ApiError> {
    let labels: Vec<LabelName> = names.iter().map(|n| label_name(n)).collect::<Result<_, _>>()?;
    Ok(labels.into_iter().filter(|l| !l.is_latest()).collect())
}

async fn move_labels(
    state: &AppState,
    caller: &Caller,
    name: &PromptName,
    version: u32,
    labels: &[LabelName],
) -> Result<(), ApiError> {
    let current = state.registry.store().list_labels(&caller.project, name).await?;
    let target = LabelTarget::Version { version };
    for label in labels {
        if current.iter().any(|l| &l.name == label && l.target == target) {
            continue;
        }
        let role = caller.key.role;
        state.registry.move_label(&caller.project, name, label, &target, REASON, role, &caller.context()).await?;
    }
    Ok(())
}

async fn current(state: &AppState, caller: &Caller, name: &PromptName, version: u32) -> ApiResult<LangfusePrompt> {
    let store = state.registry.store();
    let prompt = store.get_prompt(&caller.project, name).await?;
    let found = store.get_version(&caller.project, name, version).await?;
    let labels = store.list_labels(&caller.project, name).await?;
    mapping::prompt_out(&prompt, &found, &labels)
}
