//! OPM versions ↔ Langfuse prompts: text/chat bodies, model configuration ↔ the flat `config`
//! object (OpenAI-style keys, as LiteLLM reads it), labels, tags and the commit message.
//!
//! Only versions whose templates are plain `{{ name }}` substitution over string or number
//! variables are served (see [`super::template`]); anything else is an error naming the construct.

use std::collections::BTreeMap;

use opm_api::langfuse::{LangfuseMessage, LangfusePrompt};
use opm_core::content::{ChatMessage, ModelConfig, PromptBody, VariableSpec, VariableType, VersionContent};
use opm_core::label::Label;
use opm_core::names::LabelName;
use opm_core::prompt::{Prompt, PromptVersion};
use serde_json::{Map, Value};

use super::template::plain_variables;
use crate::error::ApiError;

/// Metadata key keeping the `config` keys that are not model parameters, so they round-trip.
pub const EXTRA_CONFIG_KEY: &str = "langfuse_config";

/// `config` keys stored as model parameters (sent to the provider by OPM's gateway).
const PARAMETER_KEYS: [&str; 17] = [
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "seed",
    "n",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "tool_choice",
    "reasoning_effort",
    "user",
];

/// A version as the Langfuse SDKs parse it; `labels` are the prompt's labels (those pointing at
/// this version are listed, `latest` included when it is the newest).
pub fn prompt_out(prompt: &Prompt, version: &PromptVersion, labels: &[Label]) -> Result<LangfusePrompt, ApiError> {
    check_servable(version)?;
    let content = &version.content;
    let (kind, body) = match &content.body {
        PromptBody::Text { template } => ("text", Value::String(template.clone())),
        PromptBody::Chat { messages } => {
            let messages: Vec<LangfuseMessage> =
                messages.iter().map(|m| LangfuseMessage { role: m.role.clone(), content: m.content.clone() }).collect();
            ("chat", serde_json::to_value(messages).unwrap_or_default())
        }
    };
    let mut names: Vec<String> = labels
        .iter()
        .filter(|label| label.target.versions().contains(&version.version))
        .map(|label| label.name.to_string())
        .collect();
    if prompt.latest_version == Some(version.version) && !names.iter().any(|n| n == LabelName::LATEST) {
        names.push(LabelName::LATEST.to_owned());
    }
    Ok(LangfusePrompt {
        name: prompt.name.to_string(),
        version: version.version,
        kind: kind.to_owned(),
        prompt: body,
        config: config_out(content),
        labels: names,
        tags: prompt.tags.iter().map(ToString::to_string).collect(),
        commit_message: (!version.message.is_empty()).then(|| version.message.clone()),
        resolution_graph: None,
    })
}

/// Refuses a version the SDKs would compile differently from OPM, naming what is in the way.
pub fn check_servable(version: &PromptVersion) -> Result<(), ApiError> {
    let content = &version.content;
    for (place, template) in content.templates() {
        if let Err(construct) = plain_variables(template) {
            return Err(unsupported_template(format!(
                "prompt `{}` version {} uses {construct} in {place}: the Langfuse SDKs only substitute plain \
                 `{{{{ name }}}}` variables and would return it unrendered; serve it through OPM's render or \
                 gateway API instead",
                version.prompt, version.version
            )));
        }
    }
    for (name, spec) in &content.variables {
        if !matches!(spec.kind, VariableType::String | VariableType::Number) {
            return Err(unsupported_template(format!(
                "prompt `{}` version {} declares `{name}` as {}: the Langfuse SDKs print such values in their own \
                 language's syntax, not as OPM renders them; only string and number variables are served here",
                version.prompt,
                version.version,
                spec.kind.name()
            )));
        }
    }
    Ok(())
}

/// The flat `config`: `model` (`provider/model`), the parameters, `tools`, `response_format`,
/// and the non-parameter keys kept from a Langfuse create.
pub fn config_out(content: &VersionContent) -> Map<String, Value> {
    let mut config = match content.metadata.get(EXTRA_CONFIG_KEY) {
        Some(Value::Object(extra)) => extra.clone(),
        _ => Map::new(),
    };
    if let Some(model) = &content.model {
        let name = match (&model.provider, &model.model) {
            (Some(provider), Some(model)) => Some(format!("{provider}/{model}")),
            (None, Some(model)) => Some(model.clone()),
            _ => None,
        };
        if let Some(name) = name {
            config.insert("model".into(), Value::String(name));
        }
        config.extend(model.parameters.clone());
        if let Some(tools) = &model.tools {
            config.insert("tools".into(), tools.clone());
        }
        if let Some(format) = &model.response_format {
            config.insert("response_format".into(), format.clone());
        }
    }
    config
}

/// A Langfuse create request's `type`, `prompt` and `config` as OPM content. Variables are the
/// plain `{{ name }}` placeholders found, declared as required strings.
pub fn content_in(kind: Option<&str>, prompt: &Value, config: Option<&Value>) -> Result<VersionContent, ApiError> {
    let body = match (kind.unwrap_or("text"), prompt) {
        ("text", Value::String(template)) => PromptBody::Text { template: template.clone() },
        ("chat", Value::Array(items)) => PromptBody::Chat { messages: messages_in(items)? },
        ("text" | "chat", _) => {
            return Err(unsupported_prompt(
                "`prompt` must be a string for a text prompt and a list of messages for a chat prompt",
            ));
        }
        (other, _) => return Err(unsupported_prompt(format!("prompt type `{other}` is not `text` or `chat`"))),
    };
    let templates: Vec<&str> = match &body {
        PromptBody::Text { template } => vec![template],
        PromptBody::Chat { messages } => messages.iter().map(|m| m.content.as_str()).collect(),
    };
    let mut variables = BTreeMap::new();
    for template in templates {
        let names = plain_variables(template).map_err(|construct| {
            unsupported_template(format!(
                "the prompt uses {construct}: OPM serves Langfuse prompts with plain `{{{{ name }}}}` variables only, \
                 which OPM renders exactly as the Langfuse SDKs do"
            ))
        })?;
        for name in names {
            let spec = VariableSpec { kind: VariableType::String, required: true, default: None, description: None };
            variables.insert(name, spec);
        }
    }
    let (model, metadata) = config_in(config)?;
    Ok(VersionContent { body, variables, model, metadata })
}

fn messages_in(items: &[Value]) -> Result<Vec<ChatMessage>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let kind = item.get("type").and_then(Value::as_str);
            if kind == Some("placeholder") {
                let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
                return Err(unsupported_prompt(format!(
                    "prompt[{index}] is a placeholder (`{name}`): OPM chat prompts have no message placeholders; \
                     send the history as messages of the call instead"
                )));
            }
            if kind.is_some_and(|kind| kind != "chatmessage") {
                return Err(unsupported_prompt(format!("prompt[{index}] has type `{}`", kind.unwrap_or_default())));
            }
            match (item.get("role").and_then(Value::as_str), item.get("content").and_then(Value::as_str)) {
                (Some(role), Some(content)) => Ok(ChatMessage { role: role.to_owned(), content: content.to_owned() }),
                _ => Err(unsupported_prompt(format!("prompt[{index}] needs a string `role` and a string `content`"))),
            }
        })
        .collect()
}

fn config_in(config: Option<&Value>) -> Result<(Option<ModelConfig>, Map<String, Value>), ApiError> {
    let config = match config {
        None | Some(Value::Null) => return Ok((None, Map::new())),
        Some(Value::Object(config)) => config,
        Some(_) => return Err(unsupported_prompt("`config` must be a JSON object")),
    };
    let mut model = ModelConfig::default();
    let mut extra = Map::new();
    for (key, value) in config {
        match (key.as_str(), value) {
            ("model", Value::String(name)) => match name.split_once('/') {
                Some((provider, name)) => {
                    model.provider = Some(provider.to_owned());
                    model.model = Some(name.to_owned());
                }
                None => model.model = Some(name.clone()),
            },
            ("tools", _) => model.tools = Some(value.clone()),
            ("response_format", _) => model.response_format = Some(value.clone()),
            (key, _) if PARAMETER_KEYS.contains(&key) => {
                model.parameters.insert(key.to_owned(), value.clone());
            }
            _ => {
                extra.insert(key.clone(), value.clone());
            }
        }
    }
    let mut metadata = Map::new();
    if !extra.is_empty() {
        metadata.insert(EXTRA_CONFIG_KEY.into(), Value::Object(extra));
    }
    let model = (model != ModelConfig::default()).then_some(model);
    Ok((model, metadata))
}

fn unsupported_template(detail: String) -> ApiError {
    ApiError::invalid("langfuse_unsupported_template", detail)
}

fn unsupported_prompt(detail: impl Into<String>) -> ApiError {
    ApiError::invalid("langfuse_unsupported_prompt", detail)
}
