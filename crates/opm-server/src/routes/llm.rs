//! Gateway ingress: `POST /v1/chat/completions` (OpenAI-compatible), `POST /v1/messages`
//! (Anthropic-compatible) and the native `POST /api/v1/prompts/{name}/invoke`. Errors on the
//! compatible routes are in the client's wire format, so the official SDKs raise the right exception.

use std::convert::Infallible;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use opm_api::invoke::{InvokeRequest, InvokeResponse, ToolCallDto, UsageDto};
use opm_core::auth::Role;
use opm_gateway::ingress::{self, IngressRequest, PromptRef};
use opm_gateway::{ChatMessage, GatewayError, GenerationRecord, StreamEvent, duration_ms};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, arm_headers, sticky_key};
use crate::llm::{CallRecord, FlowError, Prepared, TIMEOUT_HEADER, prepare};
use crate::otel::RequestTrace;
use opm_telemetry::TraceContext;

/// The wire format a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenAi,
    Anthropic,
}

/// OpenAI-compatible chat completions, with managed prompts (`prompt_id` + `prompt_variables`, or
/// `model: "opm:NAME[@LABEL]"`) or plain routing (`model: "PROVIDER/MODEL"`).
#[utoipa::path(post, path = "/v1/chat/completions", tag = "gateway",
    request_body(content = Object, description = "An OpenAI Chat Completions request, plus `prompt_id`, `prompt_variables`, `prompt_label`, `prompt_version`"),
    responses((status = 200, description = "A `chat.completion` object, or SSE `chat.completion.chunk` frames when `stream` is true"),
              (status = 400, description = "OpenAI-shaped error"), (status = 429, description = "upstream rate limited"),
              (status = 502, description = "upstream failed")))]
pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    trace: Option<Extension<RequestTrace>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    compatible(state, caller, trace.map(|Extension(trace)| trace.0), headers, body, Format::OpenAi).await
}

/// Anthropic-compatible messages, with the same prompt reference fields.
#[utoipa::path(post, path = "/v1/messages", tag = "gateway",
    request_body(content = Object, description = "An Anthropic Messages request, plus `prompt_id`, `prompt_variables`, `prompt_label`, `prompt_version`"),
    responses((status = 200, description = "A `message` object, or SSE events when `stream` is true"),
              (status = 400, description = "Anthropic-shaped error"), (status = 429, description = "upstream rate limited"),
              (status = 502, description = "upstream failed")))]
pub async fn messages(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    trace: Option<Extension<RequestTrace>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    compatible(state, caller, trace.map(|Extension(trace)| trace.0), headers, body, Format::Anthropic).await
}

async fn compatible(
    state: AppState,
    caller: Result<Caller, ApiError>,
    parent: Option<TraceContext>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    format: Format,
) -> Response {
    let started = Instant::now();
    let caller = match caller {
        Ok(caller) => caller,
        Err(error) => return wire_error(format, FlowError::Api(error)),
    };
    if let Err(error) = caller.require(&state, Role::Viewer).await {
        return wire_error(format, FlowError::Api(error));
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let error = ApiError::invalid("invalid_body", rejection.body_text()).with_status(rejection.status());
            return wire_error(format, FlowError::Api(error));
        }
    };
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| GatewayError::invalid(format!("the body is not valid JSON: {e}")))
        .and_then(|value| match format {
            Format::OpenAi => ingress::openai::parse_request(&value),
            Format::Anthropic => ingress::anthropic::parse_request(&value),
        });
    let ingress = match parsed {
        Ok(ingress) => ingress,
        Err(error) => return wire_error(format, FlowError::Gateway(error)),
    };
    let key = match sticky_key(None, &headers, ingress.user.as_deref()) {
        Ok(key) => key.map(str::to_owned),
        Err(error) => return wire_error(format, FlowError::Api(error)),
    };
    let call = Call { timeout_ms: timeout_ms(&headers), sticky_key: key.as_deref(), started, format };
    match run(&state, &caller, ingress, &call, parent.as_ref()).await {
        Ok(response) => response,
        Err(error) => wire_error(format, error),
    }
}

/// What a compatible route knows about a call besides its body.
struct Call<'a> {
    timeout_ms: Option<u64>,
    sticky_key: Option<&'a str>,
    started: Instant,
    format: Format,
}

fn timeout_ms(headers: &HeaderMap) -> Option<u64> {
    headers.get(TIMEOUT_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).filter(|ms| *ms > 0)
}

async fn run(
    state: &AppState,
    caller: &Caller,
    ingress: IngressRequest,
    call: &Call<'_>,
    parent: Option<&TraceContext>,
) -> Result<Response, FlowError> {
    let (started, format) = (call.started, call.format);
    let mut prepared = prepare(state, caller, ingress, call.timeout_ms, call.sticky_key).await?;
    let id = GenerationRecord::new_id();
    let mut record = CallRecord::start(state, caller, &mut prepared, id.clone(), started, parent);
    if prepared.stream {
        return stream(state, prepared, record, id, started, format).await;
    }
    let response = match state.gateway.chat(prepared.request.clone()).await {
        Ok(response) => response,
        Err(error) => {
            record.fail(error.code());
            return Ok(upstream_failure(format, error, &prepared, &id));
        }
    };
    record.answered_by(&response.provider, &response.model, response.attempts, response.fallback_index);
    let content = state.otel.captures_content().then_some(response.content.as_str());
    record.response(&response.id, Some(response.finish_reason.as_str()), content);
    record.succeed(response.usage, response.cost_usd, response.upstream_latency, None);
    let body = match format {
        Format::OpenAi => ingress::openai::response_json(&response, &prepared.requested_model),
        Format::Anthropic => ingress::anthropic::response_json(&response, &prepared.requested_model),
    };
    let overhead = started.elapsed().saturating_sub(response.upstream_latency);
    let mut http = Json(body).into_response();
    opm_headers(http.headers_mut(), &prepared, &id, Some(duration_ms(overhead)));
    Ok(http)
}

async fn stream(
    state: &AppState,
    prepared: Prepared,
    mut record: CallRecord,
    id: String,
    started: Instant,
    format: Format,
) -> Result<Response, FlowError> {
    let before_upstream = started.elapsed();
    let chat = match state.gateway.chat_stream(prepared.request.clone()).await {
        Ok(chat) => chat,
        Err(error) => {
            record.fail(error.code());
            return Ok(upstream_failure(format, error, &prepared, &id));
        }
    };
    record.answered_by(chat.provider(), chat.model(), chat.attempts(), chat.fallback_index());
    let mut encoder = Encoder::new(format, &prepared);
    let mut ended = false;
    let frames = chat.map(move |item| {
        let frame = match item {
            _ if ended => String::new(),
            Ok(event) => {
                match &event {
                    StreamEvent::Start { id, .. } => record.response(id, None, None),
                    StreamEvent::Finish { finish_reason, usage, cost_usd, upstream_latency, ttft } => {
                        record.finish_reason(finish_reason.as_str());
                        record.succeed(*usage, *cost_usd, *upstream_latency, *ttft);
                        ended = true;
                    }
                    _ => {}
                }
                encoder.encode(&event)
            }
            Err(error) => {
                tracing::warn!(%error, "upstream stream failed");
                record.fail(error.code());
                ended = true;
                encoder.error(&error)
            }
        };
        Ok::<Bytes, Infallible>(Bytes::from(frame))
    });
    let mut response = Response::new(Body::from_stream(frames));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    opm_headers(headers, &prepared, &id, Some(duration_ms(before_upstream)));
    Ok(response)
}

enum Encoder {
    OpenAi(ingress::openai::StreamEncoder),
    Anthropic(ingress::anthropic::StreamEncoder),
}

impl Encoder {
    fn new(format: Format, prepared: &Prepared) -> Self {
        match format {
            Format::OpenAi => {
                Encoder::OpenAi(ingress::openai::StreamEncoder::new(&prepared.requested_model, prepared.include_usage))
            }
            Format::Anthropic => Encoder::Anthropic(ingress::anthropic::StreamEncoder::new(&prepared.requested_model)),
        }
    }

    fn encode(&mut self, event: &StreamEvent) -> String {
        match self {
            Encoder::OpenAi(encoder) => encoder.encode(event),
            Encoder::Anthropic(encoder) => encoder.encode(event),
        }
    }

    fn error(&mut self, error: &GatewayError) -> String {
        match self {
            Encoder::OpenAi(encoder) => encoder.error(error),
            Encoder::Anthropic(encoder) => encoder.error(error),
        }
    }
}

/// The `x-opm-*` headers; the overhead is left out when it is unknown (a failed upstream call).
fn opm_headers(headers: &mut HeaderMap, prepared: &Prepared, id: &str, overhead_ms: Option<f64>) {
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("x-opm-generation-id", id.to_owned());
    if let Some(overhead_ms) = overhead_ms {
        put("x-opm-overhead-ms", format!("{overhead_ms:.3}"));
    }
    if let Some(prompt) = &prepared.prompt {
        put("x-opm-prompt", prompt.name.to_string());
        put("x-opm-prompt-version", prompt.version.to_string());
        if let Some(label) = &prompt.label {
            put("x-opm-label", label.clone());
        }
    }
    arm_headers(headers, prepared.prompt.as_ref().and_then(|p| p.assignment.as_ref()));
}

/// An upstream failure in the route's wire format, still saying which prompt version (and arm)
/// the call used and its generation id.
fn upstream_failure(format: Format, error: GatewayError, prepared: &Prepared, id: &str) -> Response {
    let mut response = wire_error(format, FlowError::Gateway(error));
    opm_headers(response.headers_mut(), prepared, id, None);
    response
}

/// An error in the route's wire format.
fn wire_error(format: Format, error: FlowError) -> Response {
    let (status, body) = match (&error, format) {
        (FlowError::Gateway(error), Format::OpenAi) => ingress::openai::error_json(error),
        (FlowError::Gateway(error), Format::Anthropic) => ingress::anthropic::error_json(error),
        (FlowError::Api(error), _) => {
            let status = error.status_code();
            let kind = match (status.as_u16(), format) {
                (401, _) => "authentication_error",
                (403, _) => "permission_error",
                (404, _) => "not_found_error",
                (413, Format::Anthropic) => "request_too_large",
                (429, _) => "rate_limit_error",
                (500..=599, _) => "api_error",
                _ => "invalid_request_error",
            };
            let body = match format {
                Format::OpenAi => {
                    json!({"error": {"message": error.detail, "type": kind, "param": null, "code": error.code}})
                }
                Format::Anthropic => json!({"type": "error", "error": {"type": kind, "message": error.detail}}),
            };
            (status.as_u16(), body)
        }
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, Json(body)).into_response();
    if let FlowError::Gateway(error) = &error
        && let Some(retry_after) = error.retry_after()
        && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Run a managed prompt on its configured model (native form). With `stream: true` the answer is
/// server-sent OpenAI `chat.completion.chunk` frames with usage.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/invoke", tag = "gateway", params(("name" = String, Path)),
    request_body = InvokeRequest,
    responses((status = 200, body = InvokeResponse), (status = 404, body = opm_api::Problem),
              (status = 422, body = opm_api::Problem), (status = 429, body = opm_api::Problem), (status = 502, body = opm_api::Problem)))]
pub async fn invoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    trace: Option<Extension<RequestTrace>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<InvokeRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    caller.require(&state, Role::Viewer).await?;
    let messages = request
        .messages
        .iter()
        .map(|m| {
            opm_gateway::Role::parse(&m.role)
                .map(|role| ChatMessage::new(role, m.content.clone()))
                .ok_or_else(|| ApiError::invalid("invalid_body", format!("unknown message role `{}`", m.role)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ingress = IngressRequest {
        model: format!("opm:{name}"),
        messages,
        params: Default::default(),
        tools: None,
        tool_choice: None,
        response_format: None,
        stream: request.stream,
        include_usage: true,
        user: None,
        prompt_ref: Some(PromptRef {
            name: name.clone(),
            label: request.label.clone(),
            version: request.version,
            variables: request.variables.clone(),
        }),
    };
    let native = |error: FlowError| match error {
        FlowError::Api(error) => error,
        FlowError::Gateway(error) => gateway_problem(&error),
    };
    let key = sticky_key(request.key.as_deref(), &headers, None)?;
    let mut prepared = prepare(&state, &caller, ingress, timeout_ms(&headers), key).await.map_err(native)?;
    let id = GenerationRecord::new_id();
    let parent = trace.map(|Extension(trace)| trace.0);
    let mut record = CallRecord::start(&state, &caller, &mut prepared, id.clone(), started, parent.as_ref());
    if prepared.stream {
        return stream(&state, prepared, record, id, started, Format::OpenAi).await.map_err(native);
    }
    let response = match state.gateway.chat(prepared.request.clone()).await {
        Ok(response) => response,
        Err(error) => {
            record.fail(error.code());
            return Err(gateway_problem(&error));
        }
    };
    record.answered_by(&response.provider, &response.model, response.attempts, response.fallback_index);
    let content = state.otel.captures_content().then_some(response.content.as_str());
    record.response(&response.id, Some(response.finish_reason.as_str()), content);
    record.succeed(response.usage, response.cost_usd, response.upstream_latency, None);
    let latency = started.elapsed();
    let overhead_ms = duration_ms(latency.saturating_sub(response.upstream_latency));
    let prompt = prepared.prompt.as_ref();
    let body = InvokeResponse {
        generation_id: id.clone(),
        prompt: name,
        version: prompt.map(|p| p.version).unwrap_or_default(),
        label: prompt.and_then(|p| p.label.clone()),
        arm: prompt.and_then(|p| p.arm.clone()),
        provider: response.provider.clone(),
        model: response.model.clone(),
        content: response.content.clone(),
        tool_calls: response
            .tool_calls
            .iter()
            .map(|c| ToolCallDto { id: c.id.clone(), name: c.name.clone(), arguments: c.arguments.clone() })
            .collect(),
        finish_reason: response.finish_reason.as_str().to_owned(),
        usage: UsageDto {
            input_tokens: response.usage.input_tokens,
            output_tokens: response.usage.output_tokens,
            cached_input_tokens: response.usage.cached_input_tokens,
        },
        cost_usd: response.cost_usd,
        latency_ms: duration_ms(latency),
        overhead_ms,
        attempts: response.attempts,
    };
    let mut http = Json(body).into_response();
    opm_headers(http.headers_mut(), &prepared, &id, Some(overhead_ms));
    Ok(http)
}

/// A gateway failure as a problem document for the native API.
fn gateway_problem(error: &GatewayError) -> ApiError {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
    ApiError::new(error.kind(), error.code(), error.to_string()).with_status(status)
}
