//! Gateway ingress: `POST /v1/chat/completions` (OpenAI-compatible), `POST /v1/messages`
//! (Anthropic-compatible) and the native `POST /api/v1/prompts/{name}/invoke`: each parses its body
//! into neutral types and runs the one flow (`answer`); errors go through the one mapping in
//! `wire.rs`, so the official SDKs raise the right exception and `/invoke` answers problem+json.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use opm_api::invoke::{InvokeRequest, InvokeResponse, ToolCallDto, UsageDto};
use opm_core::ErrorKind;
use opm_core::auth::Role;
use opm_gateway::ingress::{self, IngressRequest, PromptRef};
use opm_gateway::{ChatMessage, ChatResponse, GatewayError, GenerationRecord, StreamEvent, duration_ms};
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, arm_headers, sticky_key};
use crate::llm::{CallRecord, Prepared, TIMEOUT_HEADER, prepare};
use crate::otel::RequestTrace;
use crate::wire::{Wire, WireError};
use opm_telemetry::TraceContext;

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
    compatible(state, caller, trace.map(|Extension(trace)| trace.0), headers, body, Wire::OpenAi).await
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
    compatible(state, caller, trace.map(|Extension(trace)| trace.0), headers, body, Wire::Anthropic).await
}

/// The OpenAI and Anthropic routes up to the shared flow: every failure in the route's format.
async fn compatible(
    state: AppState,
    caller: Result<Caller, ApiError>,
    parent: Option<TraceContext>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    wire: Wire,
) -> Response {
    let started = Instant::now();
    let parsed = async {
        let caller = caller?;
        caller.require(&state, Role::Viewer).await?;
        let body = body.map_err(|rejection| {
            let kind = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorKind::TooLarge
            } else {
                ErrorKind::Malformed
            };
            ApiError::new(kind, "invalid_body", rejection.body_text())
        })?;
        let value = serde_json::from_slice::<Value>(&body)
            .map_err(|e| GatewayError::invalid(format!("the body is not valid JSON: {e}")))?;
        let ingress = match wire {
            Wire::Anthropic => ingress::anthropic::parse_request(&value)?,
            Wire::OpenAi | Wire::Native => ingress::openai::parse_request(&value)?,
        };
        let key = sticky_key(None, &headers, ingress.user.as_deref())?.map(str::to_owned);
        Ok::<_, WireError>((caller, ingress, key))
    };
    match parsed.await {
        Ok((caller, ingress, key)) => {
            let call = Call { timeout_ms: timeout_ms(&headers), sticky_key: key.as_deref(), started, wire };
            answer(&state, &caller, ingress, &call, parent.as_ref()).await
        }
        Err(error) => error.into_response(wire),
    }
}

/// What a route knows about a call besides its body.
struct Call<'a> {
    timeout_ms: Option<u64>,
    sticky_key: Option<&'a str>,
    started: Instant,
    wire: Wire,
}

fn timeout_ms(headers: &HeaderMap) -> Option<u64> {
    headers.get(TIMEOUT_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).filter(|ms| *ms > 0)
}

/// The one flow of the three LLM routes: prepare (render the prompt, apply its model
/// configuration), call the gateway, account for the call, and answer in the route's wire format.
async fn answer(
    state: &AppState,
    caller: &Caller,
    ingress: IngressRequest,
    call: &Call<'_>,
    parent: Option<&TraceContext>,
) -> Response {
    let (started, wire) = (call.started, call.wire);
    if let Err(exceeded) = state.limits.admit(&caller.project, &caller.key.id).await {
        state.metrics.limited(caller.project.as_str(), exceeded.scope.as_str(), exceeded.kind.as_str());
        return WireError::from(exceeded).into_response(wire);
    }
    let mut prepared = match prepare(state, caller, ingress, call.timeout_ms, call.sticky_key).await {
        Ok(prepared) => prepared,
        Err(error) => return error.into_response(wire),
    };
    let id = GenerationRecord::new_id();
    let mut record = CallRecord::start(state, caller, &mut prepared, id.clone(), started, parent);
    if prepared.stream {
        return stream(state, prepared, record, id, started, wire).await;
    }
    let response = match state.gateway.chat(prepared.request.clone()).await {
        Ok(response) => response,
        Err(error) => {
            record.fail(error.code());
            return upstream_failure(wire, &error, &prepared, &id);
        }
    };
    record.answered_by(&response.provider, &response.model, response.attempts, response.fallback_index);
    let content = state.otel.captures_content().then_some(response.content.as_str());
    record.response(&response.id, Some(response.finish_reason.as_str()), content);
    record.succeed(response.usage, response.cost_usd, response.upstream_latency, None);
    let latency = started.elapsed();
    let overhead_ms = duration_ms(latency.saturating_sub(response.upstream_latency));
    let mut http = match wire {
        Wire::OpenAi => Json(ingress::openai::response_json(&response, &prepared.requested_model)).into_response(),
        Wire::Anthropic => {
            Json(ingress::anthropic::response_json(&response, &prepared.requested_model)).into_response()
        }
        Wire::Native => Json(invoke_response(&response, &prepared, &id, latency, overhead_ms)).into_response(),
    };
    opm_headers(http.headers_mut(), &prepared, &id, Some(overhead_ms));
    http
}

/// The native route's answer.
fn invoke_response(
    response: &ChatResponse,
    prepared: &Prepared,
    id: &str,
    latency: Duration,
    overhead_ms: f64,
) -> InvokeResponse {
    let prompt = prepared.prompt.as_ref();
    InvokeResponse {
        generation_id: id.to_owned(),
        prompt: prompt.map(|p| p.name.to_string()).unwrap_or_default(),
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
    }
}

/// Frames already produced together are written together: at most this many per write, by
/// default.
const COALESCE_FRAMES: usize = 64;

/// The coalescing bound: `OPM_STREAM_COALESCE_FRAMES` when set (1 writes every event on its own,
/// as before coalescing, so `bench/stream-coalesce.sh` compares both in one run), else
/// [`COALESCE_FRAMES`]. Read once.
fn coalesce_frames() -> usize {
    static FRAMES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *FRAMES.get_or_init(|| {
        std::env::var("OPM_STREAM_COALESCE_FRAMES")
            .ok()
            .and_then(|text| text.parse::<usize>().ok())
            .filter(|frames| *frames >= 1)
            .unwrap_or(COALESCE_FRAMES)
    })
}

async fn stream(
    state: &AppState,
    prepared: Prepared,
    mut record: CallRecord,
    id: String,
    started: Instant,
    wire: Wire,
) -> Response {
    let before_upstream = started.elapsed();
    let chat = match state.gateway.chat_stream(prepared.request.clone()).await {
        Ok(chat) => chat,
        Err(error) => {
            record.fail(error.code());
            return upstream_failure(wire, &error, &prepared, &id);
        }
    };
    record.answered_by(chat.provider(), chat.model(), chat.attempts(), chat.fallback_index());
    let mut encoder = Encoder::new(wire, &prepared);
    let mut ended = false;
    let frames = chat.map(move |item| match item {
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
            encoder.error(&WireError::from(&error).vendor_body(wire))
        }
    });
    // Events the upstream delivered in one read leave in one write (one `writev` instead of one per
    // event); `ready_chunks` never waits for more, so no event is held back.
    let writes =
        frames.ready_chunks(coalesce_frames()).map(|frames| Ok::<Bytes, Infallible>(Bytes::from(frames.concat())));
    let mut response = Response::new(Body::from_stream(writes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    opm_headers(headers, &prepared, &id, Some(duration_ms(before_upstream)));
    response
}

/// The stream encoder of a wire format (the native route streams OpenAI chunks).
enum Encoder {
    OpenAi(ingress::openai::StreamEncoder),
    Anthropic(ingress::anthropic::StreamEncoder),
}

impl Encoder {
    fn new(wire: Wire, prepared: &Prepared) -> Self {
        match wire {
            Wire::OpenAi | Wire::Native => {
                Encoder::OpenAi(ingress::openai::StreamEncoder::new(&prepared.requested_model, prepared.include_usage))
            }
            Wire::Anthropic => Encoder::Anthropic(ingress::anthropic::StreamEncoder::new(&prepared.requested_model)),
        }
    }

    fn encode(&mut self, event: &StreamEvent) -> String {
        match self {
            Encoder::OpenAi(encoder) => encoder.encode(event),
            Encoder::Anthropic(encoder) => encoder.encode(event),
        }
    }

    fn error(&mut self, body: &Value) -> String {
        match self {
            Encoder::OpenAi(encoder) => encoder.error(body),
            Encoder::Anthropic(encoder) => encoder.error(body),
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
fn upstream_failure(wire: Wire, error: &GatewayError, prepared: &Prepared, id: &str) -> Response {
    let mut response = WireError::from(error).into_response(wire);
    opm_headers(response.headers_mut(), prepared, id, None);
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
    let key = sticky_key(request.key.as_deref(), &headers, None)?.map(str::to_owned);
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
            name,
            label: request.label,
            version: request.version,
            variables: request.variables,
        }),
    };
    let call = Call { timeout_ms: timeout_ms(&headers), sticky_key: key.as_deref(), started, wire: Wire::Native };
    let parent = trace.map(|Extension(trace)| trace.0);
    Ok(answer(&state, &caller, ingress, &call, parent.as_ref()).await)
}
