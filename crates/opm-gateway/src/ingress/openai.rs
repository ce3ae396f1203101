//! The OpenAI Chat Completions ingress: parsing a request body, writing a `chat.completion`, and
//! OpenAI-shaped errors (the status matters: the SDKs pick their exception class by it).

use serde_json::{Map, Value, json};

use super::{IngressRequest, finish_model, model_name, take_prompt_ref, text_of_parts, unix_now};
use crate::provider::openai::tool_call_json;
use crate::types::{number, positive_integer, stop_list};
use crate::{ChatMessage, ChatParams, ChatResponse, GatewayError, Role, ToolCall, Usage};

pub use super::openai_stream::StreamEncoder;

/// Parses a `POST /v1/chat/completions` body. Unknown parameters are kept in `params.extra` and passed
/// to OpenAI-shaped upstreams unchanged.
pub fn parse_request(body: &Value) -> Result<IngressRequest, GatewayError> {
    let mut body =
        body.as_object().cloned().ok_or_else(|| GatewayError::invalid("the request body must be a JSON object"))?;
    let model = model_name(&body)?;
    let prompt_ref = take_prompt_ref(&mut body, model.as_deref())?;
    let model = finish_model(model, &prompt_ref)?;
    let messages = match take(&mut body, "messages") {
        None if prompt_ref.is_some() => Vec::new(),
        None => return Err(GatewayError::invalid_param("messages", "`messages` is required")),
        Some(Value::Array(messages)) if messages.is_empty() && prompt_ref.is_none() => {
            return Err(GatewayError::invalid_param("messages", "`messages` must not be empty"));
        }
        Some(Value::Array(messages)) => messages
            .iter()
            .enumerate()
            .map(|(index, message)| parse_message(index, message))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(GatewayError::invalid_param("messages", "`messages` must be an array")),
    };
    let stream = match take(&mut body, "stream") {
        None => false,
        Some(Value::Bool(stream)) => stream,
        Some(_) => return Err(GatewayError::invalid_param("stream", "`stream` must be a boolean")),
    };
    let include_usage = take(&mut body, "stream_options")
        .and_then(|options| options.get("include_usage").and_then(Value::as_bool))
        .unwrap_or(false);
    if let Some(n) = take(&mut body, "n")
        && n.as_u64() != Some(1)
    {
        return Err(GatewayError::invalid_param("n", "OPM returns one choice: `n` must be 1"));
    }
    let user = match take(&mut body, "user") {
        None => None,
        Some(Value::String(user)) => Some(user),
        Some(_) => return Err(GatewayError::invalid_param("user", "`user` must be a string")),
    };
    let mut params = ChatParams::default();
    if let Some(value) = take(&mut body, "temperature") {
        params.temperature = Some(number("temperature", &value)?);
    }
    if let Some(value) = take(&mut body, "top_p") {
        params.top_p = Some(number("top_p", &value)?);
    }
    let max_tokens = take(&mut body, "max_tokens").map(|value| ("max_tokens", value));
    if let Some((key, value)) =
        take(&mut body, "max_completion_tokens").map(|value| ("max_completion_tokens", value)).or(max_tokens)
    {
        params.max_tokens = Some(positive_integer(key, &value)?);
    }
    if let Some(value) = take(&mut body, "stop") {
        params.stop = stop_list("stop", &value)?;
    }
    if let Some(value) = take(&mut body, "seed") {
        params.seed =
            Some(value.as_i64().ok_or_else(|| GatewayError::invalid_param("seed", "`seed` must be an integer"))?);
    }
    let tools = take(&mut body, "tools");
    if tools.as_ref().is_some_and(|tools| !tools.is_array()) {
        return Err(GatewayError::invalid_param("tools", "`tools` must be an array"));
    }
    let tool_choice = take(&mut body, "tool_choice");
    let response_format = take(&mut body, "response_format");
    body.remove("model");
    params.extra = body;
    Ok(IngressRequest {
        model,
        messages,
        params,
        tools,
        tool_choice,
        response_format,
        stream,
        include_usage,
        user,
        prompt_ref,
    })
}

/// Removes `key`, treating `null` as absent.
fn take(body: &mut Map<String, Value>, key: &str) -> Option<Value> {
    body.remove(key).filter(|value| !value.is_null())
}

fn parse_message(index: usize, message: &Value) -> Result<ChatMessage, GatewayError> {
    let param = format!("messages[{index}]");
    let invalid = |what: &str| GatewayError::invalid_param(param.clone(), format!("`{param}` {what}"));
    let message = message.as_object().ok_or_else(|| invalid("must be an object"))?;
    let role_name = message.get("role").and_then(Value::as_str).ok_or_else(|| invalid("needs a `role`"))?;
    let role = Role::parse(role_name).ok_or_else(|| invalid(&format!("has an unknown role `{role_name}`")))?;
    let content = match message.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => text_of_parts(parts),
        Some(_) => return Err(invalid("has a `content` that is neither text nor an array of parts")),
    };
    let tool_calls = match message.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(calls)) => calls
            .iter()
            .map(|call| {
                let function = call.get("function");
                let name = function.and_then(|function| function.get("name")).and_then(Value::as_str);
                Some(ToolCall {
                    id: call.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    name: name?.to_owned(),
                    arguments: function
                        .and_then(|function| function.get("arguments"))
                        .and_then(Value::as_str)
                        .unwrap_or("{}")
                        .to_owned(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("has a tool call without `function.name`"))?,
        Some(_) => return Err(invalid("has `tool_calls` that is not an array")),
    };
    let tool_call_id = message.get("tool_call_id").and_then(Value::as_str).map(str::to_owned);
    if role == Role::Tool && tool_call_id.is_none() {
        return Err(invalid("has role `tool` without a `tool_call_id`"));
    }
    Ok(ChatMessage {
        role,
        content,
        tool_calls,
        tool_call_id,
        name: message.get("name").and_then(Value::as_str).map(str::to_owned),
    })
}

/// A `chat.completion` object for `response`, under the model name the client asked for.
pub fn response_json(response: &ChatResponse, requested_model: &str) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if response.content.is_empty() && !response.tool_calls.is_empty() { Value::Null } else { json!(response.content) },
        "refusal": null,
    });
    if !response.tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(response.tool_calls.iter().map(tool_call_json).collect());
    }
    let mut body = json!({
        "id": response.id,
        "object": "chat.completion",
        "created": unix_now(),
        "model": requested_model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": response.finish_reason.as_str(),
        }],
        "system_fingerprint": null,
    });
    if let Some(usage) = openai_usage(&response.usage) {
        body["usage"] = usage;
    }
    body
}

/// OpenAI's usage object, or `None` when nothing is known (unknown counts are never sent as 0).
pub(crate) fn openai_usage(usage: &Usage) -> Option<Value> {
    if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
        return None;
    }
    let mut json = json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens(),
    });
    if let Some(cached) = usage.cached_input_tokens {
        json["prompt_tokens_details"] = json!({ "cached_tokens": cached });
    }
    Some(json)
}

/// OpenAI's error body, `{"error": {"message", "type", "param", "code"}}`. Which `type` (and so
/// which status) an error gets is the server's one decision, not the encoder's.
pub fn error_body(error_type: &str, message: &str, param: Option<&str>, code: &str) -> Value {
    json!({ "error": { "message": message, "type": error_type, "param": param, "code": code } })
}
