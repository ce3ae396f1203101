//! Prompty (`.prompty`, Microsoft's format, v1 and v2 front matter) ↔ OPM content. The body is
//! Jinja2 (OPM's engine too) split into messages at role lines (`system:`, `# user:`, …); text
//! before the first role line is a `system` message. `model` (a name or `{id, provider, options}`,
//! v1 `{configuration, parameters}`) becomes the model configuration (`maxOutputTokens` →
//! `max_completion_tokens` and the other spec renames), `inputs` the declared variables.
//! What OPM cannot hold (tools, outputs, `thread`/media inputs, role attributes, mustache,
//! literal API keys) is an error naming the file and line; Prompty's "undefined renders empty" is
//! kept by declaring undeclared template variables as optional strings defaulting to `""`.

use std::collections::BTreeMap;
use std::path::Path;

use opm_core::CoreError;
use opm_core::content::{ChatMessage, ModelConfig, PromptBody, VariableSpec, VariableType, VersionContent};
use serde_json::{Map, Value, json};

use super::front_matter::{error, key_line, split};
use super::{DEFAULT_MESSAGE, FileError, PromptFile};

/// Prompty option names → OpenAI parameter names (Prompty spec §7.1.5).
const OPTION_NAMES: [(&str, &str); 7] = [
    ("maxOutputTokens", "max_completion_tokens"),
    ("topP", "top_p"),
    ("topK", "top_k"),
    ("frequencyPenalty", "frequency_penalty"),
    ("presencePenalty", "presence_penalty"),
    ("stopSequences", "stop"),
    ("allowMultipleToolCalls", "parallel_tool_calls"),
];

/// Parses a `.prompty` file; the prompt name is `name:` or the file stem.
pub fn parse(path: &Path, text: &str) -> Result<PromptFile, FileError> {
    let split = split(path, text)?;
    let mut meta = split.meta;
    let at = |key: &str| key_line(text, key);
    let name = match meta.remove("name") {
        Some(Value::String(name)) => name,
        _ => path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned(),
    };
    opm_core::names::PromptName::parse(&name).map_err(|e| error(path, at("name"), e.to_string()))?;
    let description = meta.remove("description").and_then(|d| d.as_str().map(str::to_owned)).unwrap_or_default();
    meta.remove("displayName");
    let mut metadata = match meta.remove("metadata") {
        Some(Value::Object(metadata)) => metadata,
        _ => Map::new(),
    };
    let tags: Vec<String> = match metadata.remove("tags") {
        Some(Value::Array(tags)) => tags.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    for key in ["tools", "outputs"] {
        if meta.get(key).is_some_and(|v| !is_empty(v)) {
            return Err(error(path, at(key), format!("`{key}` has no OPM equivalent yet; remove it to import")));
        }
        meta.remove(key);
    }
    match meta.remove("template") {
        None => {}
        Some(Value::String(kind)) if kind == "jinja2" => {}
        Some(Value::Object(template))
            if template.get("format").and_then(|f| f.get("kind")) == Some(&json!("jinja2")) => {}
        Some(other) => {
            return Err(error(
                path,
                at("template"),
                format!("template {other}: OPM imports Jinja2 Prompty files only"),
            ));
        }
    }
    let model = match meta.remove("model") {
        None => None,
        Some(model) => Some(model_in(&model, &mut metadata).map_err(|m| error(path, at("model"), m))?),
    };
    let variables = match meta.remove("inputs") {
        None => BTreeMap::new(),
        Some(inputs) => inputs_in(&inputs).map_err(|m| error(path, at("inputs"), m))?,
    };
    if let Some(sample) = meta.remove("sample") {
        metadata.insert("prompty_sample".into(), sample);
    }
    // Keys OPM does not know (authors, version, …) are kept, not dropped.
    metadata.extend(meta);
    let messages = messages_in(path, &split.body, split.body_line)?;
    let mut content = VersionContent { body: PromptBody::Chat { messages }, variables, model, metadata };
    declare_undeclared(&mut content).map_err(|e| error(path, Some(split.body_line), e.to_string()))?;
    Ok(PromptFile {
        path: path.to_owned(),
        name,
        description,
        tags,
        message: DEFAULT_MESSAGE.into(),
        message_line: None,
        content,
    })
}

/// Validates, declaring each variable the templates read but `inputs` did not as an optional
/// string defaulting to `""` (Prompty renders undefined variables as empty).
pub fn declare_undeclared(content: &mut VersionContent) -> Result<(), CoreError> {
    for _ in 0..2 {
        match content.validate() {
            Err(CoreError::TemplateUsesUndeclared { names, .. }) => {
                for name in names {
                    let spec = VariableSpec {
                        kind: VariableType::String,
                        required: false,
                        default: Some(json!("")),
                        description: None,
                    };
                    content.variables.insert(name, spec);
                }
            }
            other => return other,
        }
    }
    content.validate()
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn model_in(model: &Value, metadata: &mut Map<String, Value>) -> Result<ModelConfig, String> {
    let mut config = ModelConfig::default();
    let object = match model {
        Value::String(id) => {
            config.model = Some(id.clone());
            return Ok(config);
        }
        Value::Object(object) => object,
        _ => return Err("`model` must be a model name or a mapping".into()),
    };
    if let Some(api) = object.get("apiType").or_else(|| object.get("api")).and_then(Value::as_str)
        && api != "chat"
    {
        return Err(format!("model api `{api}`: OPM runs chat models only"));
    }
    config.model = object.get("id").and_then(Value::as_str).map(str::to_owned);
    config.provider = object.get("provider").and_then(Value::as_str).map(str::to_owned);
    for key in ["connection", "configuration"] {
        let Some(Value::Object(connection)) = object.get(key) else { continue };
        for secret in ["apiKey", "api_key", "key"] {
            if connection.get(secret).and_then(Value::as_str).is_some_and(|v| !v.starts_with("${")) {
                return Err(format!(
                    "`model.{key}.{secret}` holds a literal key: OPM never stores secrets in prompts (configure providers in opm.toml)"
                ));
            }
        }
        // v1: the deployment is the model; the rest (endpoints, env references) is kept as metadata.
        if config.model.is_none() {
            let name = connection
                .get("azure_deployment")
                .or_else(|| connection.get("name"))
                .or_else(|| connection.get("model"));
            config.model = name.and_then(Value::as_str).map(str::to_owned);
        }
        if config.provider.is_none() {
            config.provider = connection.get("type").and_then(Value::as_str).map(str::to_owned);
        }
        metadata.insert(format!("prompty_{key}"), Value::Object(connection.clone()));
    }
    let options = object.get("options").or_else(|| object.get("parameters"));
    if let Some(Value::Object(options)) = options {
        for (key, value) in options {
            if key == "additionalProperties" {
                if let Value::Object(extra) = value {
                    config.parameters.extend(extra.clone());
                }
                continue;
            }
            let renamed = OPTION_NAMES.iter().find(|(from, _)| from == key).map(|(_, to)| *to).unwrap_or(key);
            config.parameters.insert(renamed.to_owned(), value.clone());
        }
    }
    Ok(config)
}

fn inputs_in(inputs: &Value) -> Result<BTreeMap<String, VariableSpec>, String> {
    let entries: Vec<(String, Value)> = match inputs {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let name = item.get("name").and_then(Value::as_str).ok_or("every input in the list needs a `name`")?;
                Ok((name.to_owned(), item.clone()))
            })
            .collect::<Result<_, String>>()?,
        Value::Null => Vec::new(),
        _ => return Err("`inputs` must be a mapping or a list".into()),
    };
    let mut variables = BTreeMap::new();
    for (name, input) in entries {
        let spec = match &input {
            Value::Object(input) => {
                let kind = input.get("kind").or_else(|| input.get("type")).and_then(Value::as_str).unwrap_or("string");
                let kind = match kind {
                    "string" => VariableType::String,
                    "integer" | "float" | "number" => VariableType::Number,
                    "boolean" => VariableType::Boolean,
                    "object" => VariableType::Object,
                    "array" | "list" => VariableType::Array,
                    other => {
                        return Err(format!("input `{name}` is of kind `{other}`, which OPM variables cannot hold"));
                    }
                };
                let default = input.get("default").cloned();
                let required = input.get("required").and_then(Value::as_bool).unwrap_or(false);
                let default = default.or_else(|| (!required && kind == VariableType::String).then(|| json!("")));
                let description = input.get("description").and_then(Value::as_str).map(str::to_owned);
                VariableSpec { kind, required, default, description }
            }
            // Scalar shorthand: `firstName: Jane` is an optional input defaulting to the value.
            scalar => {
                let kind = match scalar {
                    Value::Number(_) => VariableType::Number,
                    Value::Bool(_) => VariableType::Boolean,
                    Value::Array(_) => VariableType::Array,
                    _ => VariableType::String,
                };
                VariableSpec { kind, required: false, default: Some(scalar.clone()), description: None }
            }
        };
        variables.insert(name, spec);
    }
    Ok(variables)
}

/// A role line (`system:`, `# User:`), the role; `Err` for role attributes OPM cannot keep.
fn role_line(line: &str) -> Option<Result<String, ()>> {
    let line = line.trim();
    let line = line.strip_prefix('#').unwrap_or(line).trim_start();
    let head = line.strip_suffix(':')?.trim_end();
    let (role, attributes) = match head.split_once('[') {
        Some((role, rest)) if rest.ends_with(']') => (role.trim_end(), true),
        Some(_) => return None,
        None => (head, false),
    };
    let role = role.to_ascii_lowercase();
    if !matches!(role.as_str(), "system" | "user" | "assistant") {
        return None;
    }
    Some(if attributes { Err(()) } else { Ok(role) })
}

fn messages_in(path: &Path, body: &str, first_line: u64) -> Result<Vec<ChatMessage>, FileError> {
    let mut messages = Vec::new();
    let mut role = "system".to_owned();
    let mut current = String::new();
    let mut seen_marker = false;
    let flush = |role: &str, text: &str, messages: &mut Vec<ChatMessage>, keep_empty: bool| {
        let content = text.trim_start_matches(['\n', '\r']).trim_end().to_owned();
        if keep_empty || !content.is_empty() {
            messages.push(ChatMessage { role: role.to_owned(), content });
        }
    };
    for (index, line) in body.split_inclusive('\n').enumerate() {
        match role_line(line) {
            Some(Ok(next)) => {
                flush(&role, &current, &mut messages, seen_marker);
                current.clear();
                role = next;
                seen_marker = true;
            }
            Some(Err(())) => {
                let message = "role attributes (`user[name=…]:`) have no OPM equivalent";
                return Err(error(path, Some(first_line + index as u64), message));
            }
            None => current.push_str(line),
        }
    }
    flush(&role, &current, &mut messages, seen_marker);
    if messages.is_empty() {
        return Err(error(path, Some(first_line), "the file has no prompt text after its front matter"));
    }
    Ok(messages)
}

/// A version as a Prompty v2 file that [`parse`] reads back to the same content.
pub fn to_prompty(name: &str, description: &str, tags: &[String], content: &VersionContent) -> Result<String, String> {
    let PromptBody::Chat { messages } = &content.body else {
        return Err(format!("`{name}` is a text prompt: Prompty files hold chat prompts only"));
    };
    let mut front = Map::new();
    front.insert("name".into(), json!(name));
    if !description.is_empty() {
        front.insert("description".into(), json!(description));
    }
    let mut metadata = content.metadata.clone();
    let sample = metadata.remove("prompty_sample");
    let connection = metadata.remove("prompty_connection");
    if !tags.is_empty() {
        metadata.insert("tags".into(), json!(tags));
    }
    if !metadata.is_empty() {
        front.insert("metadata".into(), Value::Object(metadata));
    }
    if let Some(model) = &content.model {
        if model.tools.is_some() || model.response_format.is_some() || !model.fallbacks.is_empty() {
            return Err(format!(
                "`{name}` has tools, a response format or fallbacks, which this export does not write"
            ));
        }
        let mut out = Map::new();
        if let Some(id) = &model.model {
            out.insert("id".into(), json!(id));
        }
        if let Some(provider) = &model.provider {
            out.insert("provider".into(), json!(provider));
        }
        if let Some(connection) = connection {
            out.insert("connection".into(), connection);
        }
        if !model.parameters.is_empty() {
            out.insert("options".into(), Value::Object(model.parameters.clone()));
        }
        front.insert("model".into(), Value::Object(out));
    }
    if !content.variables.is_empty() {
        let inputs: Map<String, Value> = content
            .variables
            .iter()
            .map(|(name, spec)| {
                let mut input = Map::new();
                input.insert("kind".into(), json!(spec.kind.name()));
                input.insert("required".into(), json!(spec.required));
                if let Some(default) = &spec.default {
                    input.insert("default".into(), default.clone());
                }
                if let Some(description) = &spec.description {
                    input.insert("description".into(), json!(description));
                }
                (name.clone(), Value::Object(input))
            })
            .collect();
        front.insert("inputs".into(), Value::Object(inputs));
    }
    if let Some(sample) = sample {
        front.insert("sample".into(), sample);
    }
    front.insert("template".into(), json!("jinja2"));
    let yaml = serde_saphyr::to_string(&Value::Object(front)).map_err(|e| e.to_string())?;
    let mut out = format!("---\n{}---\n", yaml.trim_start_matches("---\n"));
    for message in messages {
        if !matches!(message.role.as_str(), "system" | "user" | "assistant") {
            return Err(format!("`{name}` has a `{}` message, which Prompty cannot hold", message.role));
        }
        if message.content.lines().any(|line| role_line(line).is_some()) {
            return Err(format!(
                "`{name}`: a {} message contains a line Prompty would read as a role marker",
                message.role
            ));
        }
        out.push_str(&format!("{}:\n{}\n\n", message.role, message.content));
    }
    Ok(out)
}
