//! The endpoints that are not completions: `GET /v1/models`, `GET /healthz` and the request counters.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::anthropic::VERSION_HEADER;
use crate::state::{AppState, unix_now};

/// `GET /v1/models`: OpenAI's list shape, or Anthropic's when the request has `anthropic-version`.
pub(crate) async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Json<Value> {
    let models = &state.config.models;
    if headers.contains_key(VERSION_HEADER) {
        let data: Vec<Value> = models
            .iter()
            .map(|id| json!({ "type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z" }))
            .collect();
        return Json(json!({
            "data": data,
            "has_more": false,
            "first_id": models.first(),
            "last_id": models.last(),
        }));
    }
    let created = unix_now();
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": created, "owned_by": "opm-mock-llm" }))
        .collect();
    Json(json!({ "object": "list", "data": data }))
}

/// `GET /healthz`.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /mock/requests?key=K`: `{"count": n}`, the completion requests counted under `x-mock-key: K`
/// (no key: the requests that sent no `x-mock-key`).
pub(crate) async fn request_count(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    let key = query.get("key").map(String::as_str).unwrap_or_default();
    Json(json!({ "key": key, "count": state.request_count(key) }))
}

/// `DELETE /mock/requests?key=K`: resets the counter (and with it `fail-first`).
pub(crate) async fn reset_request_count(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    let key = query.get("key").map(String::as_str).unwrap_or_default();
    state.reset_count(key);
    Json(json!({ "key": key, "count": 0 }))
}

/// `GET /mock/last-traceparent`: `{"traceparent": "00-…"}` of the latest completion request, or null.
pub(crate) async fn last_traceparent(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({ "traceparent": state.last_traceparent() }))
}
