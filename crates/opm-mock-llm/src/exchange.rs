//! The steps every completion request goes through before its format's own handling:
//! count it, work out its fault, wait the injected latency, and fail it if the fault says so.

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::failure::Failure;
use crate::fault::Fault;
use crate::state::AppState;

/// The header naming the counter a request is counted under (`fail-first`, `GET /mock/requests`).
pub const KEY_HEADER: &str = "x-mock-key";
/// The header carrying a fault spec.
pub const FAULT_HEADER: &str = "x-mock-fault";

/// A request that survived the injected faults, ready for its format's validation.
#[derive(Debug)]
pub(crate) struct Exchange {
    /// The fault in force, merged from header, model suffix and server default.
    pub(crate) fault: Fault,
    /// The body as JSON, or `None` when it is not valid JSON.
    pub(crate) json: Option<Value>,
}

/// Counts the request, resolves its fault, sleeps the latency and applies an injected status.
pub(crate) async fn begin(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Exchange, Failure> {
    let key = header_text(headers, KEY_HEADER).unwrap_or_default();
    let request_number = state.record_request(key);
    state.remember_traceparent(header_text(headers, "traceparent"));
    let header_fault = match headers.get(FAULT_HEADER) {
        None => Fault::default(),
        Some(value) => {
            let spec =
                value.to_str().map_err(|_| Failure::invalid("x-mock-fault is not valid text").param(FAULT_HEADER))?;
            Fault::parse(spec).map_err(|error| Failure::invalid(error.to_string()).param(FAULT_HEADER))?
        }
    };
    let json = serde_json::from_slice::<Value>(body).ok();
    let model_fault = json
        .as_ref()
        .and_then(|json| json.get("model"))
        .and_then(Value::as_str)
        .map(Fault::from_model_name)
        .unwrap_or_default();
    let fault = header_fault.or(model_fault).or(state.config.default_fault.clone());
    if let Some(latency) = fault.latency {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = fault.injected_status(request_number) {
        tracing::debug!(status, key, request_number, "injecting an error status");
        return Err(Failure::injected(status, fault.retry_after));
    }
    Ok(Exchange { fault, json })
}

/// A header's value as text, when present and printable.
pub(crate) fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A 401 for a missing or wrong key.
pub(crate) fn unauthorized(message: impl Into<String>) -> Failure {
    Failure::new(StatusCode::UNAUTHORIZED, message)
}
