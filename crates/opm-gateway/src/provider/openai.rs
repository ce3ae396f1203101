//! Chat Completions upstreams: the request body and the non-streamed response.

use serde_json::{Map, Value, json};

use super::Completion;
use crate::{ChatMessage, ChatRequest, FinishReason, GatewayError, Role, ToolCall, Usage};

/// The body for `POST {base_url}/chat/completions`. OpenAI itself gets `max_completion_tokens` (its
/// reasoning models reject `max_tokens`); compatible servers get `max_tokens` and see `developer`
/// messages as `system` ones. Streams always ask for usage.
pub(crate) fn request_body(model: &str, request: &ChatRequest, stream: bool, compatible: bool) -> Value {
    let mut body = request.params.extra.clone();
    body.insert("model".into(), json!(model));
    let messages: Vec<Value> = request.messages.iter().map(|message| message_json(message, compatible)).collect();
    body.insert("messages".into(), Value::Array(messages));
    let params = &request.params;
    if let Some(temperature) = params.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = params.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if let Some(max_tokens) = params.max_tokens {
        let field = if compatible { "max_tokens" } else { "max_completion_tokens" };
        body.insert(field.into(), json!(max_tokens));
    }
    if !params.stop.is_empty() {
        body.insert("stop".into(), json!(params.stop));
    }
    if let Some(seed) = params.seed {
        body.insert("seed".into(), json!(seed));
    }
    insert_some(&mut body, "tools", &request.tools);
    insert_some(&mut body, "tool_choice", &request.tool_choice);
    insert_some(&mut body, "response_format", &request.response_format);
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    } else {
        body.remove("stream");
        body.remove("stream_options");
    }
    Value::Object(body)
}

fn insert_some(body: &mut Map<String, Value>, key: &str, value: &Option<Value>) {
    if let Some(value) = value {
        body.insert(key.to_owned(), value.clone());
    }
}

/// One message in Chat Completions form.
pub(crate) fn message_json(message: &ChatMessage, compatible: bool) -> Value {
    let role = match message.role {
        Role::Developer if compatible => "system",
        role => role.as_str(),
    };
    let mut json = json!({ "role": role, "content": message.content });
    if message.role == Role::Assistant && !message.tool_calls.is_empty() {
        if message.content.is_empty() {
            json["content"] = Value::Null;
        }
        json["tool_calls"] = Value::Array(message.tool_calls.iter().map(tool_call_json).collect());
    }
    if let Some(id) = &message.tool_call_id {
        json["tool_call_id"] = json!(id);
    }
    if let Some(name) = &message.name {
        json["name"] = json!(name);
    }
    json
}

pub(crate) fn tool_call_json(call: &ToolCall) -> Value {
    json!({ "id": call.id, "type": "function", "function": { "name": call.name, "arguments": call.arguments } })
}

/// Reads a `chat.completion` object (the first choice).
pub(crate) fn parse_response(provider: &str, body: &Value) -> Result<Completion, GatewayError> {
    let bad = |message: &str| GatewayError::BadResponse { provider: provider.to_owned(), message: message.to_owned() };
    let choice = body
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first())
        .ok_or_else(|| bad("no `choices[0]` in the completion"))?;
    let message = choice.get("message").ok_or_else(|| bad("no `message` in `choices[0]`"))?;
    let content = message.get("content").and_then(Value::as_str).unwrap_or_default().to_owned();
    let tool_calls = match message.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(calls)) => calls
            .iter()
            .map(|call| parse_tool_call(call).ok_or_else(|| bad("a malformed tool call")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("`tool_calls` is not an array")),
    };
    let finish_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map_or(FinishReason::Other("unknown".into()), FinishReason::from_openai);
    Ok(Completion {
        id: body.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
        model: body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(),
        content,
        tool_calls,
        finish_reason,
        usage: parse_usage(body.get("usage")),
    })
}

fn parse_tool_call(call: &Value) -> Option<ToolCall> {
    let function = call.get("function")?;
    Some(ToolCall {
        id: call.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
        name: function.get("name")?.as_str()?.to_owned(),
        arguments: match function.get("arguments") {
            Some(Value::String(arguments)) => arguments.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        },
    })
}

/// OpenAI usage: `prompt_tokens` already includes `prompt_tokens_details.cached_tokens`.
pub(crate) fn parse_usage(usage: Option<&Value>) -> Usage {
    let Some(usage) = usage.filter(|usage| usage.is_object()) else { return Usage::default() };
    Usage {
        input_tokens: usage.get("prompt_tokens").and_then(Value::as_u64),
        output_tokens: usage.get("completion_tokens").and_then(Value::as_u64),
        cached_input_tokens: usage
            .get("prompt_tokens_details")
            .and_then(|details| details.get("cached_tokens"))
            .and_then(Value::as_u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatParams, ModelTarget};

    fn request() -> ChatRequest {
        let mut extra = Map::new();
        extra.insert("presence_penalty".into(), json!(0.5));
        extra.insert("stream".into(), json!(false));
        ChatRequest {
            targets: vec![ModelTarget::new("openai", "gpt-4o")],
            messages: vec![
                ChatMessage::new(Role::Developer, "Be brief."),
                ChatMessage::user("weather?"),
                ChatMessage {
                    tool_calls: vec![ToolCall { id: "c1".into(), name: "get".into(), arguments: "{}".into() }],
                    ..ChatMessage::assistant("")
                },
                ChatMessage::tool("c1", "sunny"),
            ],
            params: ChatParams {
                temperature: Some(0.5),
                max_tokens: Some(20),
                stop: vec!["END".into()],
                seed: Some(7),
                extra,
                ..ChatParams::default()
            },
            tools: Some(json!([{"type": "function", "function": {"name": "get"}}])),
            ..ChatRequest::default()
        }
    }

    #[test]
    fn request_bodies_for_openai_and_compatible_servers() {
        let body = request_body("gpt-4o", &request(), true, false);
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o",
                "messages": [
                    {"role": "developer", "content": "Be brief."},
                    {"role": "user", "content": "weather?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}}
                    ]},
                    {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
                ],
                "temperature": 0.5,
                "max_completion_tokens": 20,
                "stop": ["END"],
                "seed": 7,
                "presence_penalty": 0.5,
                "tools": [{"type": "function", "function": {"name": "get"}}],
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
        let body = request_body("llama", &request(), false, true);
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["max_tokens"], 20);
        assert!(body.get("max_completion_tokens").is_none());
        assert!(body.get("stream").is_none() && body.get("stream_options").is_none());
    }

    #[test]
    fn parses_completions_with_tool_calls_and_usage() {
        let body = json!({
            "id": "chatcmpl-1", "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get", "arguments": "{\"q\":1}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}},
        });
        let completion = parse_response("openai", &body).unwrap();
        assert_eq!(completion.model, "gpt-4o-2024-08-06");
        assert_eq!(completion.content, "");
        assert_eq!(completion.tool_calls[0].arguments, "{\"q\":1}");
        assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            completion.usage,
            Usage { input_tokens: Some(10), output_tokens: Some(3), cached_input_tokens: Some(4) }
        );
        assert_eq!(parse_usage(Some(&json!({"prompt_tokens": 1, "completion_tokens": 2}))).cached_input_tokens, None);
        assert_eq!(parse_usage(None), Usage::default());
        assert_eq!(parse_response("openai", &json!({"choices": []})).unwrap_err().code(), "upstream_bad_response");
    }
}
