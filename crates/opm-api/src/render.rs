//! Rendering a prompt with variables.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::prompts::{MessageDto, ModelConfigDto, PromptTypeDto};

/// `POST /api/v1/prompts/{name}/render`: give `label` or `version`, or neither for `production`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::names::name)]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, nullable = false)]
    pub version: Option<u32>,
    /// Stickiness key for a split label (e.g. a user id): the same key gets the same arm. The
    /// `x-opm-sticky-key` header works too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// An included prompt version used by a render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncludedDto {
    /// As written in the template: `name` or `name@N`.
    pub reference: String,
    pub prompt: String,
    pub version: u32,
}

/// The rendered prompt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RenderResponse {
    pub prompt: String,
    pub version: u32,
    pub label: Option<String>,
    /// The split arm that served, when the label's target is a split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<crate::labels::ArmDto>,
    #[serde(rename = "type")]
    pub kind: PromptTypeDto,
    /// For chat prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageDto>>,
    /// For text prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelConfigDto>,
    pub included: Vec<IncludedDto>,
}

/// `POST /api/v1/prompts/{name}/preview`: render unpublished content as a version of the prompt
/// would render (includes resolved at `label`, default `production`); nothing is stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub content: crate::prompts::ContentDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// The rendered draft.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PreviewResponse {
    pub prompt: String,
    /// The label unpinned includes resolved at.
    pub label: String,
    #[serde(rename = "type")]
    pub kind: PromptTypeDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageDto>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub included: Vec<IncludedDto>,
}
