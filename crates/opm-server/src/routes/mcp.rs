//! OPM's MCP prompts server at `/mcp`: the Streamable HTTP transport (2025-11-25 and the earlier
//! handshake versions) with JSON responses. `POST` carries one JSON-RPC message (`initialize`,
//! `ping`, `prompts/list`, `prompts/get`; notifications get 202); `initialize` opens a session
//! (`mcp-session-id`) whose `GET` stream carries `notifications/prompts/list_changed` when a
//! version is published or a label moves in the key's project; `DELETE` ends it.
//!
//! Auth is OPM's bearer key (viewer or above), with refusals audited as everywhere else.
//! The label served is `?label=` on the endpoint URL, `production` by default.
//! The 2026-07-28 stateless era's `server/discover` answers "method not found", which makes the
//! official clients fall back to the handshake. Not in the OpenAPI document: MCP is its own
//! protocol (see docs/compat.md).

mod prompts;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use opm_api::mcp::{JsonRpcError, JsonRpcRequest, JsonRpcResponse};
use opm_core::ErrorKind;
use opm_core::auth::Role;
use opm_core::names::LabelName;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;

/// Protocol versions of the `initialize` handshake OPM speaks; the newest is offered by default.
pub const PROTOCOL_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// The session header.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// Sessions kept per process; past this the oldest is dropped (its client re-initializes).
const MAX_SESSIONS: usize = 10_000;

/// Options on the endpoint URL (`/mcp?label=staging&limit=20`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpQuery {
    /// The label every prompt is served at (default `production`).
    pub label: Option<String>,
    /// `prompts/list` page size (1–500, default 50).
    pub limit: Option<u32>,
}

/// The open sessions: id → the key that opened it and when.
#[derive(Clone, Default)]
pub struct McpSessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
}

#[derive(Clone)]
struct Session {
    key_id: String,
    opened: std::time::Instant,
}

impl McpSessions {
    fn open(&self, key_id: &str) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut sessions = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.opened).map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), Session { key_id: key_id.to_owned(), opened: std::time::Instant::now() });
        id
    }

    fn key_of(&self, id: &str) -> Option<String> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).get(id).map(|s| s.key_id.clone())
    }

    fn close(&self, id: &str) -> bool {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).remove(id).is_some()
    }
}

/// A JSON-RPC error with the HTTP status it travels with.
#[derive(Debug)]
pub struct RpcError {
    code: i64,
    message: String,
    status: StatusCode,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: StatusCode::OK }
    }

    /// `-32602`: what the reference SDK answers for an unknown prompt or a missing argument.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(-32602, message)
    }
}

impl From<ApiError> for RpcError {
    fn from(error: ApiError) -> Self {
        match error.kind {
            ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Conflict => Self::invalid_params(error.detail),
            ErrorKind::Unauthenticated => Self { status: StatusCode::UNAUTHORIZED, ..Self::new(-32001, error.detail) },
            ErrorKind::Forbidden => Self { status: StatusCode::FORBIDDEN, ..Self::new(-32003, error.detail) },
            _ => Self::new(-32603, error.detail),
        }
    }
}

/// `POST /mcp`: one JSON-RPC request or notification.
pub async fn post(
    State(state): State<AppState>,
    Extension(sessions): Extension<McpSessions>,
    caller: Result<Caller, ApiError>,
    ApiQuery(query): ApiQuery<McpQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: JsonRpcRequest = match serde_json::from_slice::<Value>(&body) {
        Err(_) => return reply(Value::Null, Err(RpcError::new(-32700, "the body is not JSON"))),
        Ok(Value::Array(_)) => {
            return reply(Value::Null, Err(RpcError::new(-32600, "JSON-RPC batches are not supported")));
        }
        Ok(value) => match serde_json::from_value(value) {
            Ok(request) => request,
            Err(error) => {
                return reply(Value::Null, Err(RpcError::new(-32600, format!("not a JSON-RPC request: {error}"))));
            }
        },
    };
    let id = request.id.clone().unwrap_or(Value::Null);
    let caller = match authorize(&state, &sessions, caller, &headers).await {
        Ok(caller) => caller,
        Err(error) => return reply(id, Err(error)),
    };
    if request.jsonrpc != "2.0" {
        return reply(id, Err(RpcError::new(-32600, "`jsonrpc` must be \"2.0\"")));
    }
    let Some(id) = request.id else {
        // A notification (`notifications/initialized`, `notifications/cancelled`…): nothing to answer.
        return StatusCode::ACCEPTED.into_response();
    };
    let params = request.params.unwrap_or(Value::Null);
    let label = match query.label.as_deref().map(super::label_name).transpose() {
        Ok(label) => label.unwrap_or_else(LabelName::production),
        Err(error) => return reply(id, Err(RpcError::invalid_params(error.detail))),
    };
    let result = match request.method.as_str() {
        "initialize" => {
            let session = sessions.open(&caller.key.id);
            let mut response = reply(id, Ok(initialize(&params)));
            if let Ok(value) = HeaderValue::from_str(&session) {
                response.headers_mut().insert(SESSION_HEADER, value);
            }
            return response;
        }
        "ping" => Ok(json!({})),
        "prompts/list" => match super::page_limit(query.limit) {
            Ok(limit) => prompts::list(&state, &caller, &label, limit, &params).await.map(to_value),
            Err(error) => Err(RpcError::invalid_params(error.detail)),
        },
        "prompts/get" => prompts::get(&state, &caller, &label, &params).await.map(to_value),
        other => Err(RpcError::new(-32601, format!("Method not found: {other}"))),
    };
    reply(id, result)
}

/// `GET /mcp`: the session's stream of server messages (`notifications/prompts/list_changed`).
pub async fn get(
    State(state): State<AppState>,
    Extension(sessions): Extension<McpSessions>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
) -> Response {
    if session_id(&headers).is_none() {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
        return response;
    }
    let caller = match authorize(&state, &sessions, caller, &headers).await {
        Ok(caller) => caller,
        Err(error) => return reply(Value::Null, Err(error)),
    };
    let project = caller.project.to_string();
    let live = state.events.subscribe();
    let stream = futures::stream::unfold((live, project), |(mut live, project)| async move {
        loop {
            match live.recv().await {
                Ok(event) if event.project == project => {
                    let message = json!({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed"});
                    let event = Event::default().event("message").data(message.to_string());
                    return Some((Ok::<_, Infallible>(event), (live, project)));
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// `DELETE /mcp`: end the session.
pub async fn delete(
    State(state): State<AppState>,
    Extension(sessions): Extension<McpSessions>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = authorize(&state, &sessions, caller, &headers).await {
        return reply(Value::Null, Err(error));
    }
    match session_id(&headers) {
        Some(id) if sessions.close(id) => StatusCode::NO_CONTENT.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A viewer key, and when a session is named, the session this key opened (else 404, which
/// tells the client to initialize again).
async fn authorize(
    state: &AppState,
    sessions: &McpSessions,
    caller: Result<Caller, ApiError>,
    headers: &HeaderMap,
) -> Result<Caller, RpcError> {
    let caller = caller.map_err(RpcError::from)?;
    caller.require(state, Role::Viewer).await.map_err(RpcError::from)?;
    if let Some(id) = session_id(headers) {
        match sessions.key_of(id) {
            Some(key) if key == caller.key.id => {}
            Some(_) => {
                return Err(RpcError {
                    status: StatusCode::FORBIDDEN,
                    ..RpcError::new(-32003, "this session was opened with another key")
                });
            }
            None => {
                return Err(RpcError {
                    status: StatusCode::NOT_FOUND,
                    ..RpcError::new(-32001, "unknown or ended session: initialize again")
                });
            }
        }
    }
    Ok(caller)
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok())
}

fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked.filter(|v| PROTOCOL_VERSIONS.contains(v)).unwrap_or(PROTOCOL_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": {"prompts": {"listChanged": true}},
        "serverInfo": {"name": "opm", "title": "Open Prompt Manager", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Prompts of this OPM project, rendered by OPM. `system` messages arrive as `user` messages \
                         (see `_meta.opm/roles`).",
    })
}

fn to_value(result: impl serde::Serialize) -> Value {
    serde_json::to_value(result).unwrap_or(Value::Null)
}

fn reply(id: Value, result: Result<Value, RpcError>) -> Response {
    let (status, body) = match result {
        Ok(result) => {
            (StatusCode::OK, JsonRpcResponse { jsonrpc: "2.0".into(), id, result: Some(result), error: None })
        }
        Err(error) => (
            error.status,
            JsonRpcResponse {
                jsonrpc: "2.0".into(),
                id,
                result: None,
                error: Some(JsonRpcError { code: error.code, message: error.message, data: None }),
            },
        ),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
