//! Messages upstreams: translating a provider-neutral request into Anthropic's shape (system hoisted,
//! tool calls and results as content blocks, tools and tool choice converted) and reading its answer.

use serde_json::{Map, Value, json};

use super::Completion;
use crate::{ChatMessage, ChatRequest, FinishReason, GatewayError, Role, ToolCall, Usage};

/// `max_tokens` is required by Anthropic; this is sent when the request sets none.
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u64 = 1024;

/// The body for `POST {base_url}/messages`.
pub(crate) fn request_body(model: &str, request: &ChatRequest, stream: bool) -> Value {
    let params = &request.params;
    let mut body = params.anthropic_extra.clone();
    body.insert("model".into(), json!(model));
    body.insert("max_tokens".into(), json!(params.max_tokens.unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS)));
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|message| matches!(message.role, Role::System | Role::Developer))
        .map(|message| message.content.as_str())
        .collect();
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages_json(&request.messages)));
    if let Some(temperature) = params.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = params.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if !params.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(params.stop));
    }
    if let Some(tools) = request.tools.as_ref().and_then(Value::as_array) {
        body.insert("tools".into(), Value::Array(tools.iter().map(tool_to_anthropic).collect()));
    }
    if let Some(choice) = request.tool_choice.as_ref().and_then(tool_choice_to_anthropic) {
        body.insert("tool_choice".into(), choice);
    }
    if stream {
        body.insert("stream".into(), json!(true));
    } else {
        body.remove("stream");
    }
    Value::Object(body)
}

/// The non-system messages as Anthropic turns: tool results become `tool_result` blocks of a user
/// turn, assistant tool calls become `tool_use` blocks, and consecutive same-role turns are merged.
fn messages_json(messages: &[ChatMessage]) -> Vec<Value> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let (role, blocks) = match message.role {
            Role::System | Role::Developer => continue,
            Role::User => ("user", text_block(&message.content).into_iter().collect()),
            Role::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id.clone().unwrap_or_default(),
                    "content": message.content,
                })],
            ),
            Role::Assistant => {
                let mut blocks: Vec<Value> = text_block(&message.content).into_iter().collect();
                blocks.extend(message.tool_calls.iter().map(|call| {
                    json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": arguments_object(&call.arguments) })
                }));
                ("assistant", blocks)
            }
        };
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    turns
        .into_iter()
        .map(|(role, blocks)| {
            let content = match blocks.as_slice() {
                [] => json!(""),
                [only] if only["type"] == "text" => only["text"].clone(),
                _ => Value::Array(blocks),
            };
            json!({ "role": role, "content": content })
        })
        .collect()
}

fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({ "type": "text", "text": text }))
}

/// Tool-call arguments as an object (Anthropic's `input`); `{}` when empty or not an object.
pub(crate) fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({}),
    }
}

/// `{type: function, function: {name, description, parameters}}` → `{name, description, input_schema}`;
/// anything else (an Anthropic server tool) passes unchanged.
pub(crate) fn tool_to_anthropic(tool: &Value) -> Value {
    let Some(function) = tool.get("function").filter(|_| tool.get("type").is_none_or(|kind| kind == "function")) else {
        return tool.clone();
    };
    let mut converted = Map::new();
    converted.insert("name".into(), function.get("name").cloned().unwrap_or(json!("")));
    if let Some(description) = function.get("description") {
        converted.insert("description".into(), description.clone());
    }
    let schema = function.get("parameters").cloned().unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
    converted.insert("input_schema".into(), schema);
    Value::Object(converted)
}

/// OpenAI's `tool_choice` as Anthropic's.
pub(crate) fn tool_choice_to_anthropic(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Some(json!({ "type": "auto" })),
            "required" => Some(json!({ "type": "any" })),
            "none" => Some(json!({ "type": "none" })),
            _ => None,
        },
        Value::Object(_) => {
            let name = choice.get("function")?.get("name")?.as_str()?;
            Some(json!({ "type": "tool", "name": name }))
        }
        _ => None,
    }
}

/// Reads a `message` object.
pub(crate) fn parse_response(provider: &str, body: &Value) -> Result<Completion, GatewayError> {
    let bad = |message: &str| GatewayError::BadResponse { provider: provider.to_owned(), message: message.to_owned() };
    let blocks =
        body.get("content").and_then(Value::as_array).ok_or_else(|| bad("no `content` array in the message"))?;
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => content.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => tool_calls.push(ToolCall {
                id: block.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                name: block
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("a `tool_use` block without a name"))?
                    .to_owned(),
                arguments: block.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
            }),
            _ => {}
        }
    }
    let finish_reason = body
        .get("stop_reason")
        .and_then(Value::as_str)
        .map_or(FinishReason::Other("unknown".into()), FinishReason::from_anthropic);
    Ok(Completion {
        id: body.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
        model: body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(),
        content,
        tool_calls,
        finish_reason,
        usage: parse_usage(body.get("usage")),
    })
}

/// Anthropic usage: `input_tokens` excludes cache reads and writes, so the canonical input is their sum.
pub(crate) fn parse_usage(usage: Option<&Value>) -> Usage {
    let Some(usage) = usage.filter(|usage| usage.is_object()) else { return Usage::default() };
    let field = |name: &str| usage.get(name).and_then(Value::as_u64);
    let cache_read = field("cache_read_input_tokens");
    let input = field("input_tokens")
        .map(|input| input + cache_read.unwrap_or(0) + field("cache_creation_input_tokens").unwrap_or(0));
    Usage {
        input_tokens: input,
        output_tokens: field("output_tokens"),
        cached_input_tokens: input.map(|_| cache_read.unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatParams, ModelTarget};

    #[test]
    fn hoists_system_merges_tool_turns_and_converts_tools() {
        let request = ChatRequest {
            targets: vec![ModelTarget::new("anthropic", "claude")],
            messages: vec![
                ChatMessage::system("Be brief."),
                ChatMessage::new(Role::Developer, "Use tools."),
                ChatMessage::user("weather in Paris and Rome?"),
                ChatMessage {
                    tool_calls: vec![
                        ToolCall { id: "t1".into(), name: "get".into(), arguments: r#"{"city":"Paris"}"#.into() },
                        ToolCall { id: "t2".into(), name: "get".into(), arguments: "".into() },
                    ],
                    ..ChatMessage::assistant("Checking.")
                },
                ChatMessage::tool("t1", "sunny"),
                ChatMessage::tool("t2", "rain"),
                ChatMessage::user("thanks"),
            ],
            params: ChatParams { stop: vec!["END".into()], seed: Some(1), ..ChatParams::default() },
            tools: Some(json!([{"type": "function", "function": {"name": "get", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])),
            tool_choice: Some(json!({"type": "function", "function": {"name": "get"}})),
            response_format: Some(json!({"type": "json_object"})),
            ..ChatRequest::default()
        };
        let body = request_body("claude-sonnet-4-5", &request, false);
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 1024,
                "system": "Be brief.\n\nUse tools.",
                "messages": [
                    {"role": "user", "content": "weather in Paris and Rome?"},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "t1", "name": "get", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "t2", "name": "get", "input": {}},
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                        {"type": "tool_result", "tool_use_id": "t2", "content": "rain"},
                        {"type": "text", "text": "thanks"},
                    ]},
                ],
                "stop_sequences": ["END"],
                "tools": [{"name": "get", "description": "Weather",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
                "tool_choice": {"type": "tool", "name": "get"},
            })
        );
        assert_eq!(tool_choice_to_anthropic(&json!("required")), Some(json!({"type": "any"})));
        let server_tool = json!({"type": "web_search_20250305", "name": "web_search"});
        assert_eq!(tool_to_anthropic(&server_tool), server_tool);
    }

    #[test]
    fn parses_messages_and_sums_cached_input() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"},
                {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"city": "Rome"}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 5, "output_tokens": 7},
        });
        let completion = parse_response("anthropic", &body).unwrap();
        assert_eq!(completion.content, "Hi there");
        assert_eq!(completion.tool_calls[0].arguments, r#"{"city":"Rome"}"#);
        assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            completion.usage,
            Usage { input_tokens: Some(45), output_tokens: Some(7), cached_input_tokens: Some(30) }
        );
        assert_eq!(
            parse_usage(Some(&json!({"output_tokens": 3}))),
            Usage { output_tokens: Some(3), ..Usage::default() }
        );
        assert!(parse_response("anthropic", &json!({"type": "message"})).is_err());
    }
}
