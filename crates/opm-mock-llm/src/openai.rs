//! `POST /v1/chat/completions`: the OpenAI Chat Completions wire format.

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
use crate::state::{AppState, unix_now};
use crate::text::complete;

use request::ChatRequest;

/// Handles one chat completion request, streamed or not.
pub(crate) async fn chat_completions(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(response) => response,
        Err(failure) => failure.into_openai(),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, Failure> {
    let exchange = begin(state, headers, body).await?;
    authorize(&state.config, headers)?;
    let request = ChatRequest::parse(exchange.json.as_ref())?;
    let tools: Vec<&str> = request.tool_names.iter().map(String::as_str).collect();
    let completion = complete(
        state.config.reply,
        &request.last_user,
        &tools,
        request.max_tokens,
        request.prompt_tokens,
        exchange.fault.cached_tokens,
    );
    let reply = response::Reply {
        id: state.next_id("chatcmpl-"),
        tool_call_id: state.next_id("call_"),
        created: unix_now(),
        model: request.model.clone(),
        completion,
        request_id: state.next_id("req_"),
    };
    Ok(if request.stream { reply.stream(&exchange.fault, request.include_usage) } else { reply.json(&exchange.fault) })
}

/// Checks `Authorization: Bearer <key>` when the server expects a key.
fn authorize(config: &MockConfig, headers: &HeaderMap) -> Result<(), Failure> {
    let Some(expected) = &config.openai_api_key else { return Ok(()) };
    match header_text(headers, "authorization").and_then(|value| value.strip_prefix("Bearer ")) {
        None => Err(unauthorized(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using \
             Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )),
        Some(key) if key == expected => Ok(()),
        Some(_) => Err(unauthorized("Incorrect API key provided.").code("invalid_api_key")),
    }
}
