//! MCP `prompts/list` and `prompts/get` over OPM's registry: declared variables become prompt
//! arguments, string argument values are converted to the declared types, and the version is
//! rendered by OPM (full minijinja, includes, the same checks as `/render`). MCP messages are only
//! `user` or `assistant`, so `system`, `developer` and `tool` messages become `user` messages
//! (their text unchanged; `_meta.opm/roles` keeps the original roles).

use opm_api::mcp::{McpGetPromptResult, McpPrompt, McpPromptArgument, McpPromptList, McpPromptMessage, McpTextContent};
use opm_core::ErrorKind;
use opm_core::content::{VariableSpec, VariableType};
use opm_core::names::{LabelName, PromptName};
use opm_core::template::{RenderedBody, VariableSpecs};
use opm_store::{PromptFilter, Selector};
use serde_json::{Map, Value, json};

use super::RpcError;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// `prompts/list`: the prompts that have `label`, by name, `limit` per page.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    label: &LabelName,
    limit: u32,
    params: &Value,
) -> Result<McpPromptList, RpcError> {
    let after = match params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) => {
            Some(PromptName::parse(cursor).map_err(|_| RpcError::invalid_params("`cursor` is not a cursor OPM gave"))?)
        }
        Some(_) => return Err(RpcError::invalid_params("`cursor` must be a string")),
    };
    let filter = PromptFilter { tag: None, label: Some(label.clone()), include_archived: false, after, limit };
    let prompts = state.registry.store().list_prompts(&caller.project, &filter).await.map_err(ApiError::from)?;
    let next_cursor = (prompts.len() == limit as usize).then(|| prompts.last().map(|p| p.name.to_string())).flatten();
    let selector = Selector::Label(label.clone());
    let mut listed = Vec::with_capacity(prompts.len());
    for prompt in &prompts {
        let served = state.registry.route(&caller.project, &prompt.name, &selector, Some(&caller.key.id)).await;
        let Ok(served) = served else { continue };
        let entry = &served.entry;
        let arguments = entry.content.variables().iter().map(|(name, spec)| argument(name, spec)).collect();
        listed.push(McpPrompt {
            name: prompt.name.to_string(),
            description: (!prompt.description.is_empty()).then(|| prompt.description.clone()),
            arguments,
            meta: meta(entry.version, label, entry.content.type_name()),
        });
    }
    Ok(McpPromptList { prompts: listed, next_cursor })
}

/// `prompts/get`: render `name` at `label` with the arguments converted to the declared types.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    label: &LabelName,
    params: &Value,
) -> Result<McpGetPromptResult, RpcError> {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Err(RpcError::invalid_params("`name` is required"));
    };
    let unknown = || RpcError::invalid_params(format!("Unknown prompt: {name}"));
    let prompt_name = PromptName::parse(name).map_err(|_| unknown())?;
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(arguments)) => arguments.clone(),
        Some(_) => return Err(RpcError::invalid_params("`arguments` must be an object of strings")),
    };
    let selector = Selector::Label(label.clone());
    let key = Some(caller.key.id.as_str());
    let served = state.registry.route(&caller.project, &prompt_name, &selector, key).await.map_err(|error| {
        let error = ApiError::from(error);
        if error.kind == ErrorKind::NotFound { unknown() } else { RpcError::from(error) }
    })?;
    let declared = served.entry.content.variables();
    let missing: Vec<&str> = declared
        .iter()
        .filter(|(name, spec)| spec.required && spec.default.is_none() && !arguments.contains_key(&**name))
        .map(|(name, _)| &**name)
        .collect();
    if !missing.is_empty() {
        return Err(RpcError::invalid_params(format!("Missing required arguments: [{}]", missing.join(", "))));
    }
    let mut variables = Map::new();
    for (argument, value) in arguments {
        let value = match (declared.spec(&argument), value) {
            (Some(spec), Value::String(text)) => convert(&argument, spec.kind, &text)?,
            (_, value) => value,
        };
        variables.insert(argument, value);
    }
    let rendered = state.registry.render(&caller.project, &prompt_name, &selector, key, &variables).await;
    let rendered = rendered.map_err(|error| RpcError::from(ApiError::from(error)))?;
    let entry = &rendered.entry;
    state.metrics.render_served(
        caller.project.as_str(),
        prompt_name.as_str(),
        entry.version,
        entry.label_name(),
        rendered.assignment.as_ref(),
    );
    let (roles, messages): (Vec<String>, Vec<McpPromptMessage>) = match rendered.body {
        RenderedBody::Text { text } => (vec!["user".to_owned()], vec![message("user", text)]),
        RenderedBody::Chat { messages } => messages
            .into_iter()
            .map(|m| {
                let role = if m.role == "assistant" { "assistant" } else { "user" };
                (m.role.to_string(), message(role, m.content))
            })
            .unzip(),
    };
    let mut meta = meta(entry.version, label, entry.content.type_name());
    meta.insert("opm/roles".into(), json!(roles));
    let description = (!entry.description.is_empty()).then(|| entry.description.to_string());
    Ok(McpGetPromptResult { description, messages, meta })
}

fn argument(name: &str, spec: &VariableSpec) -> McpPromptArgument {
    let kind = (spec.kind != VariableType::String).then(|| format!("({})", spec.kind.name()));
    let description = match (spec.description.as_deref(), kind) {
        (Some(text), Some(kind)) => Some(format!("{text} {kind}")),
        (Some(text), None) => Some(text.to_owned()),
        (None, kind) => kind,
    };
    McpPromptArgument { name: name.to_owned(), description, required: spec.required && spec.default.is_none() }
}

/// An MCP argument (always a string) as the declared type.
fn convert(name: &str, kind: VariableType, text: &str) -> Result<Value, RpcError> {
    let wrong = || RpcError::invalid_params(format!("argument `{name}` must be {}, got `{text}`", kind.name()));
    match kind {
        VariableType::String => Ok(Value::String(text.to_owned())),
        VariableType::Number => {
            let trimmed = text.trim();
            if let Ok(integer) = trimmed.parse::<i64>() {
                return Ok(Value::from(integer));
            }
            let float = trimmed.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(wrong)?;
            Ok(Value::from(float))
        }
        VariableType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(wrong()),
        },
        VariableType::Object | VariableType::Array => {
            let value: Value = serde_json::from_str(text).map_err(|_| wrong())?;
            if kind.matches(&value) { Ok(value) } else { Err(wrong()) }
        }
    }
}

fn message(role: &str, text: String) -> McpPromptMessage {
    McpPromptMessage { role: role.to_owned(), content: McpTextContent { kind: "text".to_owned(), text } }
}

fn meta(version: u32, label: &LabelName, kind: &str) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("opm/version".into(), json!(version));
    meta.insert("opm/label".into(), json!(label.as_str()));
    meta.insert("opm/type".into(), json!(kind));
    meta
}

#[cfg(test)]
mod tests {
    use opm_core::content::VariableType;
    use serde_json::{Value, json};

    use super::convert;

    fn check(kind: VariableType, text: &str, expected: Option<Value>) {
        assert_eq!(convert("x", kind, text).ok(), expected, "{kind:?} {text:?}");
    }

    #[test]
    fn arguments_become_the_declared_types() {
        check(VariableType::String, " 1 ", Some(json!(" 1 ")));
        check(VariableType::Number, "42", Some(json!(42)));
        check(VariableType::Number, "2.5", Some(json!(2.5)));
        check(VariableType::Number, "NaN", None);
        check(VariableType::Number, "ten", None);
        check(VariableType::Boolean, "True", Some(json!(true)));
        check(VariableType::Boolean, "false", Some(json!(false)));
        check(VariableType::Boolean, "yes", None);
        check(VariableType::Object, "{\"a\": 1}", Some(json!({"a": 1})));
        check(VariableType::Object, "[1]", None);
        check(VariableType::Array, "[1, 2]", Some(json!([1, 2])));
        check(VariableType::Array, "nope", None);
    }
}
