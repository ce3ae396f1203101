//! The Anthropic Messages ingress: parsing a request (top-level `system`, content blocks,
//! `tool_use` / `tool_result`), writing a `message`, and Anthropic-shaped errors.

use serde_json::{Map, Value, json};

use super::{IngressRequest, finish_model, model_name, take_prompt_ref, text_of_parts};
use crate::provider::anthropic::arguments_object;
use crate::types::{number, positive_integer, stop_list};
use crate::{ChatMessage, ChatParams, ChatResponse, GatewayError, Role, ToolCall};

pub use super::anthropic_stream::StreamEncoder;

/// Parses a `POST /v1/messages` body. Parameters OPM does not model (`top_k`, `thinking`, …) are kept
/// in `params.anthropic_extra` and passed to Anthropic upstreams unchanged.
pub fn parse_request(body: &Value) -> Result<IngressRequest, GatewayError> {
    let mut body =
        body.as_object().cloned().ok_or_else(|| GatewayError::invalid("the request body must be a JSON object"))?;
    let model = model_name(&body)?;
    let prompt_ref = take_prompt_ref(&mut body, model.as_deref())?;
    let model = finish_model(model, &prompt_ref)?;
    let mut messages = Vec::new();
    match take(&mut body, "system") {
        None => {}
        Some(Value::String(text)) => messages.push(ChatMessage::system(text)),
        Some(Value::Array(blocks)) => messages.push(ChatMessage::system(text_of_parts(&blocks))),
        Some(_) => {
            return Err(GatewayError::invalid_param("system", "`system` must be text or an array of text blocks"));
        }
    }
    match take(&mut body, "messages") {
        None if prompt_ref.is_some() => {}
        None => return Err(GatewayError::invalid_param("messages", "`messages` is required")),
        Some(Value::Array(turns)) if turns.is_empty() && prompt_ref.is_none() => {
            return Err(GatewayError::invalid_param("messages", "`messages` must not be empty"));
        }
        Some(Value::Array(turns)) => {
            for (index, turn) in turns.iter().enumerate() {
                parse_turn(index, turn, &mut messages)?;
            }
        }
        Some(_) => return Err(GatewayError::invalid_param("messages", "`messages` must be an array")),
    }
    let mut params = ChatParams::default();
    if let Some(value) = take(&mut body, "max_tokens") {
        params.max_tokens = Some(positive_integer("max_tokens", &value)?);
    }
    if let Some(value) = take(&mut body, "temperature") {
        params.temperature = Some(number("temperature", &value)?);
    }
    if let Some(value) = take(&mut body, "top_p") {
        params.top_p = Some(number("top_p", &value)?);
    }
    if let Some(value) = take(&mut body, "stop_sequences") {
        params.stop = stop_list("stop_sequences", &value)?;
    }
    let stream = match take(&mut body, "stream") {
        None => false,
        Some(Value::Bool(stream)) => stream,
        Some(_) => return Err(GatewayError::invalid_param("stream", "`stream` must be a boolean")),
    };
    let user = take(&mut body, "metadata")
        .and_then(|metadata| metadata.get("user_id").and_then(Value::as_str).map(str::to_owned));
    let tools = match take(&mut body, "tools") {
        None => None,
        Some(Value::Array(tools)) => Some(Value::Array(tools.iter().map(tool_to_openai).collect())),
        Some(_) => return Err(GatewayError::invalid_param("tools", "`tools` must be an array")),
    };
    let tool_choice = take(&mut body, "tool_choice").map(|choice| tool_choice_to_openai(&choice)).transpose()?;
    body.remove("model");
    params.anthropic_extra = body;
    Ok(IngressRequest {
        model,
        messages,
        params,
        tools,
        tool_choice,
        response_format: None,
        stream,
        include_usage: true,
        user,
        prompt_ref,
    })
}

fn take(body: &mut Map<String, Value>, key: &str) -> Option<Value> {
    body.remove(key).filter(|value| !value.is_null())
}

/// One turn: a user turn yields its tool results (as `tool` messages) then its text; an assistant
/// turn yields one message with its text and tool calls. Images and thinking blocks are dropped.
fn parse_turn(index: usize, turn: &Value, messages: &mut Vec<ChatMessage>) -> Result<(), GatewayError> {
    let param = format!("messages.{index}");
    let invalid = |what: &str| GatewayError::invalid_param(param.clone(), format!("`{param}` {what}"));
    let role = match turn.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some(other) => {
            return Err(invalid(&format!("has role `{other}`; use `user` or `assistant` (system is top-level)")));
        }
        None => return Err(invalid("needs a `role`")),
    };
    let blocks = match turn.get("content") {
        Some(Value::String(text)) => vec![json!({ "type": "text", "text": text })],
        Some(Value::Array(blocks)) => blocks.clone(),
        _ => return Err(invalid("needs `content` as text or an array of blocks")),
    };
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    let mut tool_results = 0_usize;
    for block in &blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => texts.push(block.get("text").and_then(Value::as_str).unwrap_or_default().to_owned()),
            Some("tool_use") if role == Role::Assistant => tool_calls.push(ToolCall {
                id: block.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                name: block
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("has a `tool_use` without a name"))?
                    .to_owned(),
                arguments: block.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
            }),
            Some("tool_result") if role == Role::User => {
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("has a `tool_result` without `tool_use_id`"))?;
                let content = match block.get("content") {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Array(parts)) => text_of_parts(parts),
                    _ => String::new(),
                };
                messages.push(ChatMessage::tool(id, content));
                tool_results += 1;
            }
            _ => {}
        }
    }
    let text = texts.join("\n");
    if role == Role::Assistant {
        messages.push(ChatMessage { tool_calls, ..ChatMessage::assistant(text) });
    } else if !texts.is_empty() || tool_results == 0 {
        // A turn of only tool results needs no user message; a turn of only images keeps an empty one.
        messages.push(ChatMessage::user(text));
    }
    Ok(())
}

/// `{name, description, input_schema}` → `{type: function, function: {name, description, parameters}}`;
/// server tools (with a `type` of their own) pass unchanged.
fn tool_to_openai(tool: &Value) -> Value {
    if tool.get("type").is_some_and(|kind| kind != "custom") || tool.get("input_schema").is_none() {
        return tool.clone();
    }
    let mut function = Map::new();
    function.insert("name".into(), tool.get("name").cloned().unwrap_or(json!("")));
    if let Some(description) = tool.get("description") {
        function.insert("description".into(), description.clone());
    }
    function.insert("parameters".into(), tool.get("input_schema").cloned().unwrap_or(json!({})));
    json!({ "type": "function", "function": function })
}

fn tool_choice_to_openai(choice: &Value) -> Result<Value, GatewayError> {
    let invalid = || GatewayError::invalid_param("tool_choice", "`tool_choice` must be auto, any, none or tool");
    match choice.get("type").and_then(Value::as_str) {
        Some("auto") => Ok(json!("auto")),
        Some("any") => Ok(json!("required")),
        Some("none") => Ok(json!("none")),
        Some("tool") => {
            let name = choice.get("name").and_then(Value::as_str).ok_or_else(invalid)?;
            Ok(json!({ "type": "function", "function": { "name": name } }))
        }
        _ => Err(invalid()),
    }
}

/// A `message` object for `response`, under the model name the client asked for. Usage follows
/// Anthropic's convention (`input_tokens` without the cache reads); unknown counts are written as 0
/// because the format requires numbers.
pub fn response_json(response: &ChatResponse, requested_model: &str) -> Value {
    let mut content = Vec::new();
    if !response.content.is_empty() || response.tool_calls.is_empty() {
        content.push(json!({ "type": "text", "text": response.content }));
    }
    for call in &response.tool_calls {
        content.push(
            json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": arguments_object(&call.arguments) }),
        );
    }
    json!({
        "id": response.id,
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": response.finish_reason.to_anthropic(),
        "stop_sequence": null,
        "usage": usage_json(&response.usage),
    })
}

/// Anthropic's usage object from canonical counts.
pub(crate) fn usage_json(usage: &crate::Usage) -> Value {
    let cached = usage.cached_input_tokens.unwrap_or(0);
    json!({
        "input_tokens": usage.input_tokens.map_or(0, |input| input.saturating_sub(cached)),
        "cache_read_input_tokens": cached,
        "output_tokens": usage.output_tokens.unwrap_or(0),
    })
}

/// Anthropic's error body, `{"type": "error", "error": {"type", "message"}}`. Which `type` (and so
/// which status) an error gets is the server's one decision, not the encoder's.
pub fn error_body(error_type: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": error_type, "message": message } })
}
