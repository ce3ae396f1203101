//! Validation of a Messages request, with Anthropic's error messages.

use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::text::{content_text, message_tokens};

/// What the mock needs from a valid request.
#[derive(Debug, Clone)]
pub(crate) struct MessagesRequest {
    pub(crate) model: String,
    pub(crate) max_tokens: u64,
    /// Text of the last `user` message ("" when there is none).
    pub(crate) last_user: String,
    /// Input tokens of the system prompt and the messages, cached ones included.
    pub(crate) input_tokens: u64,
    pub(crate) stream: bool,
    /// Names of the declared tools.
    pub(crate) tool_names: Vec<String>,
}

impl MessagesRequest {
    /// Validates the body the way Anthropic does (the checks a client can trip over, not all of them).
    pub(crate) fn parse(json: Option<&Value>) -> Result<Self, Failure> {
        let Some(body) = json.and_then(Value::as_object) else {
            return Err(Failure::invalid(
                "There was an error parsing the body of your request: expected a JSON object",
            ));
        };
        let model = match body.get("model") {
            None | Some(Value::Null) => return Err(required("model")),
            Some(Value::String(model)) if !model.is_empty() => model.clone(),
            Some(_) => return Err(Failure::invalid("model: Input should be a valid string")),
        };
        let max_tokens = match body.get("max_tokens") {
            None | Some(Value::Null) => return Err(required("max_tokens")),
            Some(value) => match value.as_i64() {
                Some(n) if n >= 1 => u64::try_from(n).unwrap_or(1),
                Some(_) => return Err(Failure::invalid("max_tokens: Input should be greater than or equal to 1")),
                None => return Err(Failure::invalid("max_tokens: Input should be a valid integer")),
            },
        };
        let mut input_tokens = match body.get("system") {
            None | Some(Value::Null) => 0,
            Some(system @ (Value::String(_) | Value::Array(_))) => message_tokens(&content_text(system)),
            Some(_) => {
                return Err(Failure::invalid("system: Input should be a valid string or a list of content blocks"));
            }
        };
        let messages = match body.get("messages") {
            None | Some(Value::Null) => return Err(required("messages")),
            Some(Value::Array(messages)) => messages,
            Some(_) => return Err(Failure::invalid("messages: Input should be a valid list")),
        };
        if messages.is_empty() {
            return Err(Failure::invalid("messages: at least one message is required"));
        }
        let mut last_user = String::new();
        for (index, message) in messages.iter().enumerate() {
            let (role, text) = check_message(index, message)?;
            input_tokens += message_tokens(&text);
            if role == "user" {
                last_user = text;
            }
        }
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => *stream,
            Some(_) => return Err(Failure::invalid("stream: Input should be a valid boolean")),
        };
        Ok(Self { model, max_tokens, last_user, input_tokens, stream, tool_names: tool_names(body) })
    }
}

/// Checks one message and returns its role and text.
fn check_message(index: usize, message: &Value) -> Result<(&str, String), Failure> {
    let Some(message) = message.as_object() else {
        return Err(Failure::invalid(format!("messages.{index}: Input should be a valid dictionary")));
    };
    let role = match message.get("role").and_then(Value::as_str) {
        None => return Err(required(&format!("messages.{index}.role"))),
        Some("system") => {
            return Err(Failure::invalid(
                "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \
                 \"system\" as an input message role.",
            ));
        }
        Some(role @ ("user" | "assistant")) => role,
        Some(_) => {
            return Err(Failure::invalid(format!("messages.{index}.role: Input should be 'user' or 'assistant'")));
        }
    };
    match message.get("content") {
        None | Some(Value::Null) => Err(required(&format!("messages.{index}.content"))),
        Some(content @ (Value::String(_) | Value::Array(_))) => Ok((role, content_text(content))),
        Some(_) => Err(Failure::invalid(format!("messages.{index}.content: Input should be a valid list"))),
    }
}

fn tool_names(body: &Map<String, Value>) -> Vec<String> {
    let Some(tools) = body.get("tools").and_then(Value::as_array) else { return Vec::new() };
    tools.iter().filter_map(|tool| tool.get("name")?.as_str()).map(str::to_owned).collect()
}

fn required(field: &str) -> Failure {
    Failure::invalid(format!("{field}: Field required"))
}
