//! Provider-neutral request and response types: what the server hands the gateway and gets back,
//! whatever wire format the caller spoke and whichever provider answers.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::GatewayError;

/// One model to try: a configured provider name and a model name as that provider knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelTarget {
    pub provider: String,
    pub model: String,
}

impl ModelTarget {
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self { provider: provider.into(), model: model.into() }
    }

    /// Splits `PROVIDER/MODEL` at the first `/` (`openai/gpt-4o`, `local/llama-3.1/8b` → model `llama-3.1/8b`).
    pub fn parse(route: &str) -> Option<Self> {
        let (provider, model) = route.split_once('/')?;
        (!provider.is_empty() && !model.is_empty()).then(|| Self::new(provider, model))
    }
}

/// A chat call: the targets in the order to try them (primary, then fallbacks) and the conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub targets: Vec<ModelTarget>,
    pub messages: Vec<ChatMessage>,
    pub params: ChatParams,
    /// In OpenAI's shape: `[{"type": "function", "function": {name, description, parameters}}]`.
    pub tools: Option<Value>,
    /// In OpenAI's shape: `"auto"`, `"none"`, `"required"` or `{"type": "function", "function": {"name"}}`.
    pub tool_choice: Option<Value>,
    /// In OpenAI's shape; dropped for Anthropic upstreams, which have no equivalent.
    pub response_format: Option<Value>,
    /// The whole call, retries and fallbacks included, must end by then.
    pub deadline: Option<tokio::time::Instant>,
    /// A W3C `traceparent` sent upstream, so the provider's spans join the caller's trace.
    pub traceparent: Option<String>,
}

/// Sampling parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatParams {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Sent as `max_completion_tokens` to OpenAI, `max_tokens` elsewhere (Anthropic: 1024 when absent).
    pub max_tokens: Option<u64>,
    pub stop: Vec<String>,
    /// Ignored by Anthropic upstreams.
    pub seed: Option<i64>,
    /// Passed through unchanged to OpenAI-shaped upstreams only.
    pub extra: Map<String, Value>,
    /// Passed through unchanged to Anthropic upstreams only (e.g. `top_k`, `thinking`).
    pub anthropic_extra: Map<String, Value>,
}

/// Parameter names that Anthropic has and OpenAI does not: [`ChatParams::from_parameters`] routes them
/// to `anthropic_extra`.
const ANTHROPIC_ONLY_PARAMS: [&str; 2] = ["top_k", "thinking"];

impl ChatParams {
    /// Reads a prompt's `model.parameters` map: the known keys (`temperature`, `top_p`, `max_tokens`
    /// or `max_completion_tokens`, `stop`, `seed`) are checked and lifted; `top_k` and `thinking` go
    /// to `anthropic_extra`; anything else to `extra`.
    pub fn from_parameters(parameters: &Map<String, Value>) -> Result<Self, GatewayError> {
        let mut params = ChatParams::default();
        for (key, value) in parameters {
            match key.as_str() {
                "temperature" => params.temperature = Some(number(key, value)?),
                "top_p" => params.top_p = Some(number(key, value)?),
                "max_tokens" | "max_completion_tokens" => params.max_tokens = Some(positive_integer(key, value)?),
                "stop" => params.stop = stop_list(key, value)?,
                "seed" => {
                    params.seed = Some(value.as_i64().ok_or_else(|| invalid_type(key, "an integer"))?);
                }
                "stop_sequences" => params.stop = stop_list(key, value)?,
                key if ANTHROPIC_ONLY_PARAMS.contains(&key) => {
                    params.anthropic_extra.insert(key.to_owned(), value.clone());
                }
                _ => {
                    params.extra.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(params)
    }

    /// These parameters with every one that `over` sets replacing ours (`extra` maps merged key by key).
    #[must_use]
    pub fn overlay(mut self, over: ChatParams) -> ChatParams {
        self.temperature = over.temperature.or(self.temperature);
        self.top_p = over.top_p.or(self.top_p);
        self.max_tokens = over.max_tokens.or(self.max_tokens);
        if !over.stop.is_empty() {
            self.stop = over.stop;
        }
        self.seed = over.seed.or(self.seed);
        self.extra.extend(over.extra);
        self.anthropic_extra.extend(over.anthropic_extra);
        self
    }
}

pub(crate) fn number(key: &str, value: &Value) -> Result<f64, GatewayError> {
    value.as_f64().ok_or_else(|| invalid_type(key, "a number"))
}

pub(crate) fn positive_integer(key: &str, value: &Value) -> Result<u64, GatewayError> {
    match value.as_u64() {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(GatewayError::invalid_param(key, format!("`{key}` must be an integer of at least 1"))),
    }
}

/// `"x"` or `["x", "y"]`.
/// Most stop sequences one request may give (OpenAI's limit; the OpenAPI document states it for
/// both ingresses).
pub(crate) const MAX_STOP_SEQUENCES: usize = 4;

pub(crate) fn stop_list(key: &str, value: &Value) -> Result<Vec<String>, GatewayError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(stop) => Ok(vec![stop.clone()]),
        Value::Array(items) if items.len() > MAX_STOP_SEQUENCES => Err(GatewayError::invalid_param(
            key,
            format!("`{key}` has {} sequences; at most {MAX_STOP_SEQUENCES} are allowed", items.len()),
        )),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| invalid_type(key, "a list of strings")))
            .collect(),
        _ => Err(invalid_type(key, "a string or a list of strings")),
    }
}

pub(crate) fn invalid_type(key: &str, expected: &str) -> GatewayError {
    GatewayError::invalid_param(key, format!("`{key}` must be {expected}"))
}

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    /// Parses a lowercase role name.
    pub fn parse(role: &str) -> Option<Self> {
        match role {
            "system" => Some(Role::System),
            "developer" => Some(Role::Developer),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }
}

/// One message of the conversation. Only text content is carried (image parts are dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Calls an assistant message makes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    /// A message with text content only.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None, name: None }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A tool result answering `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self { tool_call_id: Some(tool_call_id.into()), ..Self::new(Role::Tool, content) }
    }
}

/// A function call requested by the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text (as OpenAI carries them).
    pub arguments: String,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Error,
    Other(String),
}

impl FinishReason {
    /// OpenAI's name (`stop`, `length`, `tool_calls`, `content_filter`, `error`, or the other text).
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Error => "error",
            FinishReason::Other(other) => other,
        }
    }

    /// From OpenAI's `finish_reason` (`function_call` counts as `tool_calls`).
    pub fn from_openai(reason: &str) -> Self {
        match reason {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            "error" => FinishReason::Error,
            other => FinishReason::Other(other.to_owned()),
        }
    }

    /// From Anthropic's `stop_reason`.
    pub fn from_anthropic(reason: &str) -> Self {
        match reason {
            "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
            "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
            "tool_use" => FinishReason::ToolCalls,
            "refusal" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_owned()),
        }
    }

    /// Anthropic's `stop_reason` for this reason.
    pub fn to_anthropic(&self) -> &'static str {
        match self {
            FinishReason::Stop | FinishReason::Error | FinishReason::Other(_) => "end_turn",
            FinishReason::Length => "max_tokens",
            FinishReason::ToolCalls => "tool_use",
            FinishReason::ContentFilter => "refusal",
        }
    }
}

impl Serialize for FinishReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(FinishReason::from_openai(&String::deserialize(deserializer)?))
    }
}

/// Token counts in one convention: `input_tokens` includes cached ones, `cached_input_tokens` says how
/// many of them were cache reads. `None` means the upstream did not say; it is never faked as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
}

impl Usage {
    /// Input plus output, when both are known.
    pub fn total_tokens(&self) -> Option<u64> {
        Some(self.input_tokens? + self.output_tokens?)
    }
}

/// A finished, non-streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The upstream's response id.
    pub id: String,
    /// The provider (configured name) that answered.
    pub provider: String,
    /// The model as named by the upstream's answer.
    pub model: String,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// `None` when tokens or the model's price are unknown.
    pub cost_usd: Option<f64>,
    /// Time spent in upstream HTTP exchanges, failed attempts included, backoff sleeps excluded.
    pub upstream_latency: Duration,
    /// Upstream requests made, across all targets.
    pub attempts: u32,
    /// Index in `targets` of the target that answered (0 = primary).
    pub fallback_index: usize,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stop_lists_take_a_string_or_up_to_four_strings() {
        assert_eq!(stop_list("stop", &json!("x")).unwrap(), ["x"]);
        assert_eq!(stop_list("stop", &json!(["a", "b", "c", "d"])).unwrap().len(), 4);
        let error = stop_list("stop", &json!(["a", "b", "c", "d", "e"])).unwrap_err();
        assert!(error.to_string().contains("at most 4"), "{error}");
        assert!(stop_list("stop_sequences", &json!([1])).is_err());
    }

    #[test]
    fn routes_parse_at_the_first_slash() {
        assert_eq!(ModelTarget::parse("openai/gpt-4o"), Some(ModelTarget::new("openai", "gpt-4o")));
        assert_eq!(ModelTarget::parse("local/org/model"), Some(ModelTarget::new("local", "org/model")));
        assert_eq!(ModelTarget::parse("gpt-4o"), None);
        assert_eq!(ModelTarget::parse("/gpt-4o"), None);
        assert_eq!(ModelTarget::parse("openai/"), None);
    }

    #[test]
    fn parameters_are_lifted_checked_and_overlaid() {
        let map = json!({"temperature": 0.2, "max_tokens": 50, "stop": "END", "top_k": 5, "presence_penalty": 1})
            .as_object()
            .cloned()
            .unwrap();
        let params = ChatParams::from_parameters(&map).unwrap();
        assert_eq!(params.temperature, Some(0.2));
        assert_eq!(params.max_tokens, Some(50));
        assert_eq!(params.stop, ["END"]);
        assert_eq!(params.anthropic_extra["top_k"], 5);
        assert_eq!(params.extra["presence_penalty"], 1);
        let over = ChatParams { temperature: Some(0.9), stop: vec!["X".into()], ..ChatParams::default() };
        let merged = params.overlay(over);
        assert_eq!((merged.temperature, merged.max_tokens, merged.stop), (Some(0.9), Some(50), vec!["X".into()]));

        let bad = json!({"max_tokens": 0}).as_object().cloned().unwrap();
        assert_eq!(ChatParams::from_parameters(&bad).unwrap_err().param(), Some("max_tokens"));
        let bad = json!({"temperature": "hot"}).as_object().cloned().unwrap();
        assert!(ChatParams::from_parameters(&bad).is_err());
    }

    #[test]
    fn finish_reasons_map_both_ways() {
        for (anthropic, canonical, back) in [
            ("end_turn", FinishReason::Stop, "end_turn"),
            ("stop_sequence", FinishReason::Stop, "end_turn"),
            ("max_tokens", FinishReason::Length, "max_tokens"),
            ("tool_use", FinishReason::ToolCalls, "tool_use"),
            ("refusal", FinishReason::ContentFilter, "refusal"),
        ] {
            assert_eq!(FinishReason::from_anthropic(anthropic), canonical);
            assert_eq!(canonical.to_anthropic(), back);
        }
        assert_eq!(FinishReason::from_openai("tool_calls"), FinishReason::ToolCalls);
        assert_eq!(FinishReason::from_openai("weird").as_str(), "weird");
        assert_eq!(serde_json::to_value(FinishReason::Length).unwrap(), json!("length"));
    }
}
