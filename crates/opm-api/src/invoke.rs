//! Running a managed prompt on its configured model (`POST /api/v1/prompts/{name}/invoke`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::prompts::MessageDto;

/// Give `label` or `version`, or neither for `production`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvokeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Stickiness key for a split label (e.g. a user id): the same key gets the same arm. The
    /// `x-opm-sticky-key` header works too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    /// Conversation turns appended after the rendered messages.
    #[serde(default)]
    pub messages: Vec<MessageDto>,
    /// Stream the answer as server-sent events (OpenAI `chat.completion.chunk` frames).
    #[serde(default)]
    pub stream: bool,
}

/// Token counts; absent numbers were not reported by the provider (unknown, not zero).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageDto {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
}

/// A tool call requested by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolCallDto {
    pub id: String,
    pub name: String,
    /// JSON text.
    pub arguments: String,
}

/// The model's answer and what it cost.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvokeResponse {
    pub generation_id: String,
    pub prompt: String,
    pub version: u32,
    pub label: Option<String>,
    /// The split arm that served, when the label's target is a split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<crate::labels::ArmDto>,
    /// The configured provider that answered.
    pub provider: String,
    /// The model as the provider named it.
    pub model: String,
    pub content: String,
    pub tool_calls: Vec<ToolCallDto>,
    /// `stop`, `length`, `tool_calls`, `content_filter`, …
    pub finish_reason: String,
    pub usage: UsageDto,
    /// USD; absent when tokens or the model's price are unknown.
    pub cost_usd: Option<f64>,
    pub latency_ms: f64,
    /// Time spent in OPM itself (latency minus time waiting on the provider).
    pub overhead_ms: f64,
    /// Upstream requests made (retries and fallbacks included).
    pub attempts: u32,
}
