//! Router assembly: routes, middleware (request id, body limit, tracing, problem context) and the
//! OpenAPI document.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use opm_core::ErrorKind;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::REQUEST_ID_HEADER;
use crate::error::{ApiError, ProblemMarker};
use crate::openapi::ApiDoc;
use crate::routes::{
    audit, governance, health, keys, labels, langfuse, llm, mcp, prompts, rollouts, series, serving, telemetry,
    versions, watch,
};
use crate::{AppState, MAX_BODY_BYTES};

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(prompts::create_prompt, prompts::list_prompts))
        .routes(routes!(prompts::get_prompt, prompts::update_prompt))
        .routes(routes!(prompts::archive_prompt))
        .routes(routes!(prompts::restore_prompt))
        .routes(routes!(versions::publish_version, versions::list_versions))
        .routes(routes!(versions::get_version))
        .routes(routes!(versions::diff))
        .routes(routes!(serving::resolve))
        .routes(routes!(serving::render))
        .routes(routes!(serving::preview))
        .routes(routes!(labels::list_labels))
        .routes(routes!(labels::set_label))
        .routes(routes!(labels::label_history))
        .routes(routes!(labels::rollback_label))
        .routes(routes!(rollouts::start_rollout, rollouts::list_rollouts))
        .routes(routes!(rollouts::get_rollout))
        .routes(routes!(rollouts::request_rollout))
        .routes(routes!(rollouts::rollout_action))
        .routes(routes!(audit::list_audit))
        .routes(routes!(audit::verify_audit))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(keys::create_project, keys::list_projects))
        .routes(routes!(llm::chat_completions))
        .routes(routes!(llm::messages))
        .routes(routes!(llm::invoke))
        .routes(routes!(telemetry::metrics))
        .routes(routes!(telemetry::feedback))
        .routes(routes!(telemetry::get_generation))
        .routes(routes!(telemetry::stats))
        .routes(routes!(series::stats_series))
        .routes(routes!(keys::whoami))
        .routes(routes!(watch::watch))
        .routes(routes!(governance::get_policy, governance::set_policy))
        .routes(routes!(governance::freeze))
        .routes(routes!(governance::unfreeze))
        .routes(routes!(governance::create_request, governance::list_label_requests))
        .routes(routes!(governance::list_requests))
        .routes(routes!(governance::get_request))
        .routes(routes!(governance::decide_request))
        .routes(routes!(governance::check_publish))
}

/// The generated OpenAPI document.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, mut openapi) = api_router().split_for_parts();
    crate::openapi::contract::apply(&mut openapi);
    crate::openapi::gateway::describe_providers(&mut openapi, [opm_gateway::MOCK_PROVIDER]);
    openapi
}

/// Builds the full router: the web UI (`/ui/`, and `/` redirecting there) in front of the API
/// with its middleware. The UI calls the API router in process, as any client would.
pub fn build_router(state: AppState) -> axum::Router {
    opm_ui::router(build_api_router(state))
}

/// The API alone (every route but the UI's), with its middleware.
pub fn build_api_router(state: AppState) -> axum::Router {
    let (router, mut openapi) = api_router().split_for_parts();
    crate::openapi::contract::apply(&mut openapi);
    let providers: Vec<String> = state.gateway.providers().into_iter().map(|(name, _)| name.to_string()).collect();
    crate::openapi::gateway::describe_providers(&mut openapi, providers.iter().map(String::as_str));
    let openapi_json: Arc<OnceLock<bytes::Bytes>> = Arc::new(OnceLock::new());
    let document = Arc::new(openapi);
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let cached = openapi_json.clone();
                let document = document.clone();
                async move {
                    let body = cached.get_or_init(|| serde_json::to_vec(&*document).unwrap_or_default().into()).clone();
                    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
                }
            }),
        )
        .route("/api/v1/clock/advance", axum::routing::post(watch::advance_clock))
        // Compatibility routes, outside the OpenAPI document: their shapes are Langfuse's and MCP's.
        .route("/api/public/projects", axum::routing::get(langfuse::projects))
        .route("/api/public/v2/prompts", axum::routing::get(langfuse::list_prompts).post(langfuse::create_prompt))
        .route("/api/public/v2/prompts/{name}", axum::routing::get(langfuse::get_prompt))
        .route("/api/public/v2/prompts/{name}/versions/{version}", axum::routing::patch(langfuse::update_labels))
        .route(
            "/mcp",
            axum::routing::post(mcp::post)
                .get(mcp::get)
                .delete(mcp::delete)
                .layer(axum::Extension(mcp::McpSessions::default())),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), crate::otel::observe))
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(problem_context))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(),
                        request_id = %id, trace_id = tracing::field::Empty)
                })
                .on_request(())
                .on_response(crate::otel::log_response),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, SequentialRequestId::new()))
}

/// Request ids `<random process prefix>-<counter>`: unique across replicas and restarts without a
/// `getrandom` system call per request (a UUID v4 per request showed up in the hot path's profile).
#[derive(Clone)]
struct SequentialRequestId {
    prefix: Arc<str>,
    counter: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        let prefix = uuid::Uuid::new_v4().simple().to_string();
        Self { prefix: prefix[..12].into(), counter: Arc::default() }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _request: &http::Request<B>) -> Option<RequestId> {
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix)).ok().map(RequestId::new)
    }
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "route_not_found", "no such route; see /openapi.json for the API")
}

async fn method_not_allowed() -> ApiError {
    ApiError::invalid("method_not_allowed", "this route does not accept that HTTP method; see /openapi.json")
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// Fills `request_id` and `instance` into problem bodies, wherever they were produced.
async fn problem_context(request: Request, next: Next) -> Response {
    let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.extensions().get::<ProblemMarker>().is_none() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut problem) = serde_json::from_slice::<opm_api::Problem>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if problem.request_id.is_none() {
        problem.request_id = request_id;
    }
    problem.instance = Some(path);
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut response = Response::from_parts(parts, Body::from(serde_json::to_vec(&problem).unwrap_or_default()));
    response.extensions_mut().insert(ProblemMarker);
    response
}
