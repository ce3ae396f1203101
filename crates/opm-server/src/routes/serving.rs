//! The hot read path: resolve a label (or version) to its content, and render it with variables.
//! Both are served from the registry's memory cache once warm; resolve also caches its encoded body.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opm_api::prompts::{PromptTypeDto, ResolveDto};
use opm_api::render::{IncludedDto, PreviewRequest, PreviewResponse, RenderRequest, RenderResponse};
use opm_core::auth::Role;
use opm_core::names::LabelName;
use opm_core::template::RenderedBody;
use opm_store::Selector;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{label_name, prompt_name};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, arm_headers, sticky_key};

/// Which version to resolve: a label (default `production`) or a version number.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResolveQuery {
    /// The label to resolve (default `production`); not with `version`.
    #[param(schema_with = opm_api::names::name)]
    pub label: Option<String>,
    /// A version number instead of a label.
    #[param(minimum = 1)]
    pub version: Option<u32>,
    /// Stickiness key for a split label (or the `x-opm-sticky-key` header).
    pub key: Option<String>,
}

fn selector(label: Option<&str>, version: Option<u32>) -> Result<Selector, ApiError> {
    match (label, version) {
        (Some(_), Some(_)) => Err(ApiError::invalid("invalid_selector", "give `label` or `version`, not both")),
        (None, Some(0)) => Err(ApiError::invalid("invalid_version", "versions start at 1")),
        (None, Some(version)) => Ok(Selector::Version(version)),
        (Some(label), None) => Ok(Selector::Label(label_name(label)?)),
        (None, None) => Ok(Selector::Label(LabelName::production())),
    }
}

/// Resolve a label or version to the version's full content. Sends an `ETag`; a matching
/// `If-None-Match` answers 304.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/resolve", tag = "serving",
    params(("name" = String, Path), ResolveQuery),
    responses((status = 200, body = ResolveDto, headers(("etag" = String))), (status = 304, description = "not modified"),
              (status = 404, body = opm_api::Problem)))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ResolveQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let selector = selector(query.label.as_deref(), query.version)?;
    let key = sticky_key(query.key.as_deref(), &headers, None)?;
    let served = state.registry.route(&caller.project, &name, &selector, key).await?;
    let entry = &served.entry;
    state.metrics.resolution(
        caller.project.as_str(),
        name.as_str(),
        entry.version,
        entry.label_name(),
        served.assignment.as_ref(),
    );
    let etag = HeaderValue::from_str(&entry.etag)
        .map_err(|_| ApiError::new(opm_core::ErrorKind::Internal, "internal", "bad etag"))?;
    if headers.get(header::IF_NONE_MATCH).is_some_and(|value| etag_matches(value, &entry.etag)) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    // Encoded when the entry was cached (`convert::ResolveAnswers`); a split's answer also says
    // whether this request's arm was sticky, one body per case.
    let body = entry.answer(served.assignment.as_ref()).clone();
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    arm_headers(headers, served.assignment.as_ref());
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::ETAG, etag);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn etag_matches(value: &HeaderValue, etag: &str) -> bool {
    value
        .to_str()
        .map(|text| {
            text.split(',').any(|candidate| {
                let candidate = candidate.trim();
                candidate == "*" || candidate.trim_start_matches("W/") == etag
            })
        })
        .unwrap_or(false)
}

/// [`RenderResponse`] as it goes on the wire, borrowed from the render and the cache: the model
/// configuration is encoded once per cached version, names and messages are not copied (the
/// render path's profile showed the copies). Same fields and names as `RenderResponse`.
#[derive(serde::Serialize)]
struct RenderBody<'a> {
    prompt: &'a str,
    version: u32,
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arm: Option<opm_api::labels::ArmDto>,
    #[serde(rename = "type")]
    kind: PromptTypeDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<MessageRef<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a serde_json::value::RawValue>,
    included: Vec<IncludedDto>,
}

/// A rendered message on the wire (`MessageDto`), borrowed.
#[derive(serde::Serialize)]
struct MessageRef<'a> {
    role: &'a str,
    content: &'a str,
}

/// Render a version with variables: missing, undeclared and wrongly typed variables are errors
/// that name them; includes are resolved at the same label unless pinned.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/render", tag = "serving", params(("name" = String, Path)),
    request_body = RenderRequest,
    responses((status = 200, body = RenderResponse), (status = 404, body = opm_api::Problem),
              (status = 422, body = opm_api::Problem, description = "variables or template error")))]
pub async fn render(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RenderRequest>,
) -> ApiResult<Response> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let selector = selector(request.label.as_deref(), request.version)?;
    let key = sticky_key(request.key.as_deref(), &headers, None)?;
    let rendered = state.registry.render(&caller.project, &name, &selector, key, &request.variables).await?;
    let entry = &rendered.entry;
    state.metrics.render_served(
        caller.project.as_str(),
        name.as_str(),
        entry.version,
        entry.label_name(),
        rendered.assignment.as_ref(),
    );
    let model = entry
        .encoded_model
        .get_or_init(|| {
            let model = entry.content.model().as_ref().map(convert::model)?;
            serde_json::value::to_raw_value(&model).ok()
        })
        .as_deref();
    let (kind, messages, text) = match &rendered.body {
        RenderedBody::Chat { messages } => (
            PromptTypeDto::Chat,
            Some(messages.iter().map(|m| MessageRef { role: &m.role, content: &m.content }).collect()),
            None,
        ),
        RenderedBody::Text { text } => (PromptTypeDto::Text, None, Some(text.as_str())),
    };
    let body = RenderBody {
        prompt: entry.prompt.as_str(),
        version: entry.version,
        label: entry.label_name(),
        arm: convert::arm(entry.split(), rendered.assignment.as_ref()),
        kind,
        messages,
        text,
        model,
        included: rendered
            .included
            .iter()
            .map(|i| IncludedDto { reference: i.reference.clone(), prompt: i.prompt.to_string(), version: i.version })
            .collect(),
    };
    let mut response = Json(body).into_response();
    arm_headers(response.headers_mut(), rendered.assignment.as_ref());
    Ok(response)
}

/// Render unpublished content as a version of this prompt would render (includes resolved at
/// `label`, default `production`; the same variable checks): a preview before publishing. The
/// prompt need not exist yet; nothing is stored.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/preview", tag = "serving", params(("name" = String, Path)),
    request_body = PreviewRequest,
    responses((status = 200, body = PreviewResponse), (status = 404, body = opm_api::Problem, description = "an included prompt"),
              (status = 422, body = opm_api::Problem, description = "content, variables or template error")))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<PreviewRequest>,
) -> ApiResult<Json<PreviewResponse>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let label = match request.label.as_deref() {
        Some(label) => label_name(label)?,
        None => LabelName::production(),
    };
    let content = convert::content_in(&request.content)?;
    let (body, included) =
        state.registry.render_draft(&caller.project, &name, &content, &label, &request.variables).await?;
    let (kind, messages, text) = match body {
        RenderedBody::Chat { messages } => (
            PromptTypeDto::Chat,
            Some(
                messages
                    .into_iter()
                    .map(|m| opm_api::prompts::MessageDto { role: m.role.to_string(), content: m.content })
                    .collect(),
            ),
            None,
        ),
        RenderedBody::Text { text } => (PromptTypeDto::Text, None, Some(text)),
    };
    Ok(Json(PreviewResponse {
        prompt: name.to_string(),
        label: label.to_string(),
        kind,
        messages,
        text,
        included: included
            .iter()
            .map(|i| IncludedDto { reference: i.reference.clone(), prompt: i.prompt.to_string(), version: i.version })
            .collect(),
    }))
}
