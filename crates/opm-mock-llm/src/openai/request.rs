//! Validation of a chat completion request, with OpenAI's error messages, params and codes.

use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::text::{content_text, message_tokens};

const ROLES: [&str; 6] = ["system", "developer", "user", "assistant", "tool", "function"];

/// What the mock needs from a valid request.
#[derive(Debug, Clone)]
pub(crate) struct ChatRequest {
    pub(crate) model: String,
    /// Text of the last `user` message ("" when there is none).
    pub(crate) last_user: String,
    pub(crate) prompt_tokens: u64,
    /// `max_completion_tokens`, else `max_tokens`.
    pub(crate) max_tokens: Option<u64>,
    pub(crate) stream: bool,
    /// `stream_options.include_usage`.
    pub(crate) include_usage: bool,
    /// Names of the declared function tools.
    pub(crate) tool_names: Vec<String>,
}

impl ChatRequest {
    /// Validates the body the way OpenAI does (the checks a client can trip over, not all of them).
    pub(crate) fn parse(json: Option<&Value>) -> Result<Self, Failure> {
        let Some(body) = json.and_then(Value::as_object) else {
            return Err(Failure::invalid(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your \
                 HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            ));
        };
        let model = match body.get("model").and_then(Value::as_str) {
            Some(model) if !model.is_empty() => model.to_owned(),
            _ => return Err(Failure::invalid("you must provide a model parameter")),
        };
        let messages = match body.get("messages") {
            None | Some(Value::Null) => return Err(missing("messages")),
            Some(Value::Array(messages)) => messages,
            Some(other) => return Err(invalid_type("messages", "an array of objects", other)),
        };
        if messages.is_empty() {
            return Err(Failure::invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array \
                 instead.",
            )
            .param("messages")
            .code("empty_array"));
        }
        let mut prompt_tokens = 0;
        let mut last_user = String::new();
        for (index, message) in messages.iter().enumerate() {
            let text = check_message(index, message)?;
            prompt_tokens += message_tokens(&text);
            if message.get("role").and_then(Value::as_str) == Some("user") {
                last_user = text;
            }
        }
        let max_tokens = match body.get("max_completion_tokens") {
            Some(value) if !value.is_null() => positive("max_completion_tokens", value)?,
            _ => body.get("max_tokens").map(|value| positive("max_tokens", value)).transpose()?.flatten(),
        };
        let stream = boolean(body, "stream")?;
        let include_usage = match body.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(options)) if stream => boolean(options, "include_usage")?,
            Some(Value::Object(_)) => {
                return Err(Failure::invalid(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                )
                .param("stream_options")
                .code("invalid_value"));
            }
            Some(other) => return Err(invalid_type("stream_options", "an object", other)),
        };
        Ok(Self { model, last_user, prompt_tokens, max_tokens, stream, include_usage, tool_names: tool_names(body) })
    }
}

/// Checks one message and returns its text.
fn check_message(index: usize, message: &Value) -> Result<String, Failure> {
    let param = format!("messages[{index}]");
    let Some(message) = message.as_object() else { return Err(invalid_type(&param, "an object", message)) };
    let role = match message.get("role") {
        None | Some(Value::Null) => return Err(missing(&format!("{param}.role"))),
        Some(Value::String(role)) => role.as_str(),
        Some(other) => return Err(invalid_type(&format!("{param}.role"), "a string", other)),
    };
    if !ROLES.contains(&role) {
        return Err(Failure::invalid(format!(
            "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and \
             'developer'."
        ))
        .param(format!("{param}.role"))
        .code("invalid_value"));
    }
    let content = message.get("content").filter(|content| !content.is_null());
    if content.is_none() && role != "assistant" {
        return Err(missing(&format!("{param}.content")));
    }
    if role == "tool" && !message.contains_key("tool_call_id") {
        return Err(Failure::invalid(format!(
            "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'. ({param})"
        ))
        .param(format!("{param}.tool_call_id"))
        .code("missing_required_parameter"));
    }
    match content {
        None | Some(Value::String(_) | Value::Array(_)) => Ok(content.map(content_text).unwrap_or_default()),
        Some(other) => Err(invalid_type(&format!("{param}.content"), "one of a string or array of objects", other)),
    }
}

fn tool_names(body: &Map<String, Value>) -> Vec<String> {
    let Some(tools) = body.get("tools").and_then(Value::as_array) else { return Vec::new() };
    tools.iter().filter_map(|tool| tool.get("function")?.get("name")?.as_str()).map(str::to_owned).collect()
}

fn positive(param: &str, value: &Value) -> Result<Option<u64>, Failure> {
    if value.is_null() {
        return Ok(None);
    }
    match value.as_i64() {
        Some(n) if n >= 1 => Ok(u64::try_from(n).ok()),
        Some(n) => Err(Failure::invalid(format!(
            "Invalid '{param}': integer below minimum value. Expected a value >= 1, but got {n} instead."
        ))
        .param(param)
        .code("integer_below_min_value")),
        None => Err(invalid_type(param, "an integer", value)),
    }
}

fn boolean(object: &Map<String, Value>, param: &str) -> Result<bool, Failure> {
    match object.get(param) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(other) => Err(invalid_type(param, "a boolean", other)),
    }
}

fn missing(param: &str) -> Failure {
    Failure::invalid(format!("Missing required parameter: '{param}'.")).param(param).code("missing_required_parameter")
}

fn invalid_type(param: &str, expected: &str, got: &Value) -> Failure {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    Failure::invalid(format!("Invalid type for '{param}': expected {expected}, but got {got} instead."))
        .param(param)
        .code("invalid_type")
}
