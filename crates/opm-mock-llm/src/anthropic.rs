//! `POST /v1/messages`: the Anthropic Messages wire format.

mod request;
mod response;

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;

use crate::MockConfig;
use crate::exchange::{begin, header_text, unauthorized};
use crate::failure::Failure;
use crate::state::AppState;
use crate::text::complete;

use request::MessagesRequest;

/// The header Anthropic requires on every request.
pub const VERSION_HEADER: &str = "anthropic-version";

/// Handles one Messages request, streamed or not.
pub(crate) async fn messages(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(response) => response,
        Err(failure) => failure.into_anthropic(),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, Failure> {
    let exchange = begin(state, headers, body).await?;
    authorize(&state.config, headers)?;
    if header_text(headers, VERSION_HEADER).is_none_or(str::is_empty) {
        return Err(Failure::invalid("anthropic-version: header is required"));
    }
    let request = MessagesRequest::parse(exchange.json.as_ref())?;
    let tools: Vec<&str> = request.tool_names.iter().map(String::as_str).collect();
    let completion = complete(
        state.config.reply,
        &request.last_user,
        &tools,
        Some(request.max_tokens),
        request.input_tokens,
        exchange.fault.cached_tokens,
    );
    let reply = response::Reply {
        id: state.next_id("msg_"),
        tool_use_id: state.next_id("toolu_"),
        model: request.model.clone(),
        completion,
        request_id: state.next_id("req_"),
    };
    Ok(if request.stream { reply.stream(&exchange.fault) } else { reply.json(&exchange.fault) })
}

/// Checks `x-api-key` when the server expects a key.
fn authorize(config: &MockConfig, headers: &HeaderMap) -> Result<(), Failure> {
    let Some(expected) = &config.anthropic_api_key else { return Ok(()) };
    match header_text(headers, "x-api-key") {
        None => Err(unauthorized("x-api-key header is required")),
        Some(key) if key == expected => Ok(()),
        Some(_) => Err(unauthorized("invalid x-api-key")),
    }
}
