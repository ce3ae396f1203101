//! Request observation: the middleware that counts every API request in Prometheus, opens the
//! OpenTelemetry server span (continuing an incoming `traceparent`) and puts the trace id on the
//! request's log span; the access log line; and the mapping from generation records to the GenAI
//! metrics. With OTLP export off, the only per-request work is two metric updates.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use opm_gateway::GenerationRecord;
use opm_telemetry::{ModelCallMetrics, TraceContext};

use crate::AppState;

/// Response header carrying the trace id, when tracing is on.
pub const TRACE_ID_HEADER: &str = "x-opm-trace-id";

/// The trace context of the request being handled (absent when OTLP export is off).
#[derive(Clone)]
pub struct RequestTrace(pub TraceContext);

/// Counts, times and traces every request.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("", MatchedPath::as_str);
    let method = request.method().clone();
    let span = if state.otel.is_enabled() {
        let span = state.otel.server_span(method.as_str(), route, request.headers());
        if let Some(trace_id) = span.trace_id() {
            tracing::Span::current().record("trace_id", trace_id.as_str());
        }
        request.extensions_mut().insert(RequestTrace(span.context()));
        Some(span)
    } else {
        None
    };
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.http_request(
        if route.is_empty() { "unmatched" } else { route },
        method.as_str(),
        status,
        started.elapsed(),
    );
    if let Some(span) = span {
        if let Some(value) = span.trace_id().and_then(|id| http::HeaderValue::from_str(&id).ok()) {
            response.headers_mut().insert(TRACE_ID_HEADER, value);
        }
        span.finish(status);
    }
    response
}

/// The access log: one line per request, on target `opm::access` (silence it with
/// `RUST_LOG=info,opm::access=off`). The request span adds `request_id`, `trace_id`, method, path.
pub fn log_response(response: &Response, latency: Duration, _span: &tracing::Span) {
    tracing::info!(
        target: "opm::access",
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request"
    );
}

/// The GenAI client metrics of one generation.
pub fn model_call_metrics(record: &GenerationRecord) -> ModelCallMetrics<'_> {
    ModelCallMetrics {
        operation: opm_telemetry::genai::OPERATION_CHAT,
        provider: &record.provider,
        request_model: &record.model,
        response_model: Some(&record.model),
        error_type: record.error_kind.as_deref(),
        duration: Duration::from_secs_f64(record.latency_ms.max(0.0) / 1000.0),
        input_tokens: record.usage.input_tokens,
        output_tokens: record.usage.output_tokens,
        prompt_name: record.prompt.as_deref(),
        prompt_version: record.prompt_version,
        label: record.label.as_deref(),
        ..Default::default()
    }
}
