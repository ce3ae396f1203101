//! The immutable content of a prompt version: chat messages or a text template, declared
//! variables, model configuration and free metadata, plus its validation and content hash.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CoreError;
use crate::canonical::{canonical_json, sha256_hex};
use crate::template;

/// Largest accepted size of one template (a message content or a text template), in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;
/// Most messages in one chat prompt.
pub const MAX_MESSAGES: usize = 256;
/// Most declared variables.
pub const MAX_VARIABLES: usize = 256;

/// Roles accepted in chat messages.
pub const MESSAGE_ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

/// What a version contains: a chat message list or a text template.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptBody {
    /// A list of messages, each content a template.
    Chat { messages: Vec<ChatMessage> },
    /// A single template.
    Text { template: String },
}

impl PromptBody {
    /// `"chat"` or `"text"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            PromptBody::Chat { .. } => "chat",
            PromptBody::Text { .. } => "text",
        }
    }
}

/// The two prompt types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptType {
    Chat,
    Text,
}

/// One chat message template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// The JSON type a variable must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VariableType {
    #[default]
    String,
    Number,
    Boolean,
    Object,
    Array,
}

impl VariableType {
    /// Whether `value` has this type.
    pub fn matches(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (VariableType::String, Value::String(_))
                | (VariableType::Number, Value::Number(_))
                | (VariableType::Boolean, Value::Bool(_))
                | (VariableType::Object, Value::Object(_))
                | (VariableType::Array, Value::Array(_))
        )
    }

    /// The lowercase name used in errors and files.
    pub fn name(self) -> &'static str {
        match self {
            VariableType::String => "string",
            VariableType::Number => "number",
            VariableType::Boolean => "boolean",
            VariableType::Object => "object",
            VariableType::Array => "array",
        }
    }
}

/// The JSON type name of a value, for error messages.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A declared template variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    #[serde(rename = "type", default)]
    pub kind: VariableType,
    /// Required variables without a default must be given at render time.
    #[serde(default = "default_true")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn default_true() -> bool {
    true
}

/// A provider/model pair, used for the primary model and for fallbacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

/// Which model runs the prompt and with what parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sampling parameters such as `temperature`, `max_tokens`, `top_p`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
    /// Passed through to the provider unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Value>,
    /// Passed through to the provider unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Tried in order when the primary model fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<ModelRef>,
}

/// Everything that makes a version what it is. Two versions with equal content have equal hashes.
///
/// On the wire and in storage it is one flat object: `type` (`chat` or `text`), then `messages` or
/// `template`, `variables`, `model` and `metadata`. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawContent", into = "RawContent")]
pub struct VersionContent {
    pub body: PromptBody,
    pub variables: BTreeMap<String, VariableSpec>,
    pub model: Option<ModelConfig>,
    pub metadata: Map<String, Value>,
}

/// The flat serialized form of [`VersionContent`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContent {
    #[serde(rename = "type")]
    kind: PromptType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<ChatMessage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<String>,
    #[serde(default)]
    variables: BTreeMap<String, VariableSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<ModelConfig>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    metadata: Map<String, Value>,
}

impl TryFrom<RawContent> for VersionContent {
    type Error = String;

    fn try_from(raw: RawContent) -> Result<Self, Self::Error> {
        let body = match (raw.kind, raw.messages, raw.template) {
            (PromptType::Chat, Some(messages), None) => PromptBody::Chat { messages },
            (PromptType::Text, None, Some(template)) => PromptBody::Text { template },
            (PromptType::Chat, _, Some(_)) => return Err("a chat prompt has `messages`, not `template`".into()),
            (PromptType::Chat, None, None) => return Err("a chat prompt needs `messages`".into()),
            (PromptType::Text, Some(_), _) => return Err("a text prompt has `template`, not `messages`".into()),
            (PromptType::Text, None, None) => return Err("a text prompt needs `template`".into()),
        };
        Ok(VersionContent { body, variables: raw.variables, model: raw.model, metadata: raw.metadata })
    }
}

impl From<VersionContent> for RawContent {
    fn from(content: VersionContent) -> Self {
        let (kind, messages, template) = match content.body {
            PromptBody::Chat { messages } => (PromptType::Chat, Some(messages), None),
            PromptBody::Text { template } => (PromptType::Text, None, Some(template)),
        };
        RawContent {
            kind,
            messages,
            template,
            variables: content.variables,
            model: content.model,
            metadata: content.metadata,
        }
    }
}

impl VersionContent {
    /// The templates of this content, named the way errors refer to them.
    pub fn templates(&self) -> Vec<(String, &str)> {
        match &self.body {
            PromptBody::Text { template } => vec![("template".to_owned(), template.as_str())],
            PromptBody::Chat { messages } => messages
                .iter()
                .enumerate()
                .map(|(index, message)| (format!("messages[{index}]"), message.content.as_str()))
                .collect(),
        }
    }

    /// Checks structure, sizes, variable declarations and that every template parses and uses only
    /// declared variables.
    pub fn validate(&self) -> Result<(), CoreError> {
        if let PromptBody::Chat { messages } = &self.body {
            if messages.is_empty() {
                return Err(CoreError::InvalidContent("a chat prompt needs at least one message".into()));
            }
            if messages.len() > MAX_MESSAGES {
                return Err(CoreError::InvalidContent(format!("at most {MAX_MESSAGES} messages are allowed")));
            }
            for (index, message) in messages.iter().enumerate() {
                if !MESSAGE_ROLES.contains(&message.role.as_str()) {
                    return Err(CoreError::InvalidContent(format!(
                        "messages[{index}].role `{}` is not one of {}",
                        message.role,
                        MESSAGE_ROLES.join(", ")
                    )));
                }
            }
        }
        if self.variables.len() > MAX_VARIABLES {
            return Err(CoreError::InvalidContent(format!("at most {MAX_VARIABLES} variables are allowed")));
        }
        for (name, spec) in &self.variables {
            if !is_identifier(name) {
                return Err(CoreError::InvalidContent(format!(
                    "variable name `{name}` must be an identifier (letters, digits, `_`, not starting with a digit)"
                )));
            }
            if let Some(default) = &spec.default
                && !spec.kind.matches(default)
            {
                return Err(CoreError::InvalidContent(format!(
                    "default of variable `{name}` must be {}, got {}",
                    spec.kind.name(),
                    json_type_name(default)
                )));
            }
        }
        for (label, source) in self.templates() {
            if source.len() > MAX_TEMPLATE_BYTES {
                return Err(CoreError::InvalidContent(format!(
                    "{label} is {} bytes; the limit is {MAX_TEMPLATE_BYTES}",
                    source.len()
                )));
            }
            template::check_template(&label, source, &self.variables)?;
        }
        Ok(())
    }

    /// The content as canonical JSON.
    pub fn canonical_json(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        canonical_json(&value)
    }

    /// `sha256:<hex>` of the canonical JSON; equal content gives an equal hash on every backend.
    pub fn content_hash(&self) -> String {
        format!("sha256:{}", sha256_hex(self.canonical_json().as_bytes()))
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(value: Value) -> Result<VersionContent, String> {
        let content: VersionContent = serde_json::from_value(value).map_err(|e| e.to_string())?;
        content.validate().map_err(|e| e.to_string())?;
        Ok(content)
    }

    #[test]
    fn chat_content_round_trips() {
        let value = json!({
            "type": "chat",
            "messages": [{"role": "system", "content": "You help {{ product }} users."}],
            "variables": {"product": {"type": "string"}},
            "model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2}}
        });
        let parsed = content(value).unwrap();
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(back["type"], "chat");
        assert_eq!(back["variables"]["product"]["required"], true);
    }

    #[test]
    fn hash_ignores_key_order_but_not_content() {
        let a = content(json!({"type": "text", "template": "hi", "metadata": {"a": 1, "b": 2}})).unwrap();
        let b = content(json!({"metadata": {"b": 2, "a": 1}, "template": "hi", "type": "text"})).unwrap();
        let c = content(json!({"type": "text", "template": "hi!", "metadata": {"a": 1, "b": 2}})).unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), c.content_hash());
        assert!(a.content_hash().starts_with("sha256:"));
    }

    #[test]
    fn validation_errors_are_specific() {
        let check = |value: Value, expected: &str| {
            let error = content(value).unwrap_err();
            assert!(error.contains(expected), "{error} should contain {expected}");
        };
        check(json!({"type": "chat", "messages": []}), "at least one message");
        check(json!({"type": "chat", "messages": [{"role": "robot", "content": "x"}]}), "messages[0].role `robot`");
        check(json!({"type": "text", "template": "{{ x }}"}), "undeclared variables: x");
        check(json!({"type": "text", "template": "{% if %}"}), "does not parse");
        check(json!({"type": "text", "template": "x", "variables": {"1a": {}}}), "must be an identifier");
        check(
            json!({"type": "text", "template": "{{ n }}", "variables": {"n": {"type": "number", "default": "x"}}}),
            "default of variable `n` must be number, got string",
        );
        check(json!({"type": "text", "template": "x", "extra": 1}), "unknown field");
        check(json!({"type": "poem", "template": "x"}), "unknown variant");
        check(json!({"type": "text", "messages": []}), "a text prompt has `template`, not `messages`");
        check(json!({"type": "chat"}), "a chat prompt needs `messages`");
    }
}
