//! Prompts, versions, their content, diffs and resolution.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::ActorDto;
use crate::labels::LabelDto;

/// `POST /api/v1/prompts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePromptRequest {
    /// Lowercase letters, digits, `-`, `_`, `.`; 1 to 128 characters.
    #[schema(schema_with = crate::names::name)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(schema_with = crate::names::names)]
    pub tags: Vec<String>,
}

/// `PATCH /api/v1/prompts/{name}`: fields left out stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePromptRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::names::names)]
    pub tags: Option<Vec<String>>,
}

/// A prompt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromptDto {
    pub project: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub archived: bool,
    /// The newest version number, absent before the first version.
    pub latest_version: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The prompt's labels (in single-prompt responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<LabelDto>>,
}

/// `chat` or `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromptTypeDto {
    Chat,
    Text,
}

/// A chat message template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageDto {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A Jinja2 template.
    pub content: String,
}

/// A declared variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariableDto {
    /// `string` (default), `number`, `boolean`, `object` or `array`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A provider/model pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRefDto {
    pub provider: String,
    pub model: String,
}

/// Model configuration of a version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfigDto {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `temperature`, `max_tokens`, `top_p`, …
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<ModelRefDto>,
}

/// The content of a version: `messages` for `chat`, `template` for `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentDto {
    #[serde(rename = "type")]
    pub kind: PromptTypeDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageDto>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, VariableDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelConfigDto>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// `POST /api/v1/prompts/{name}/versions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVersionRequest {
    pub content: ContentDto,
    /// Commit message.
    #[serde(default)]
    pub message: String,
    /// Used when the prompt is created by this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Used when the prompt is created by this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// A version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionDto {
    pub prompt: String,
    pub version: u32,
    pub content: ContentDto,
    pub message: String,
    pub author: ActorDto,
    pub created_at: DateTime<Utc>,
    pub content_hash: String,
}

/// What `POST …/versions` did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishResponse {
    /// False when the content equalled the latest version, which is returned unchanged.
    pub created: bool,
    pub prompt_created: bool,
    pub version: VersionDto,
}

/// `GET /api/v1/prompts/{name}/diff?from=N&to=M`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiffDto {
    pub prompt: String,
    pub from: u32,
    pub to: u32,
    pub changed_fields: Vec<String>,
    /// Unified diff, empty when the versions are equal.
    pub unified: String,
}

/// `GET /api/v1/prompts/{name}/resolve`: the version a label (or number) selects.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResolveDto {
    pub prompt: String,
    pub version: u32,
    /// The label resolved through, absent when a version number was asked for.
    pub label: Option<String>,
    /// The split arm that served, when the label's target is a split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<crate::labels::ArmDto>,
    pub content: ContentDto,
    pub content_hash: String,
    pub created_at: DateTime<Utc>,
}
