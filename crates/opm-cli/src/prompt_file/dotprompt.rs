//! Dotprompt (`.prompt`, Google's format) → OPM content. The front matter's `model`
//! (`provider/model`), `config` (camelCase options normalized: `maxOutputTokens` → `max_tokens`,
//! `topP` → `top_p`, `stopSequences` → `stop`) and `input.schema` (Picoschema or JSON Schema) map
//! onto the model configuration and declared variables; the Handlebars body is translated to
//! Jinja: `{{x}}`, `{{{x}}}`, `{{#if}}`/`{{else}}`/`{{#unless}}`, `{{#each}}` with `this` and
//! `@index`/`@first`/`@last`, `{{json x}}`, comments, `~` trimming, and `{{role "…"}}` message
//! boundaries (text before the first is `user`; `model` is `assistant`). Partials, `history`,
//! `media`, `section`, `@root`/`@state`, tools and output schemas are errors with file and line.

use std::collections::BTreeMap;
use std::path::Path;

use opm_core::content::{ChatMessage, ModelConfig, PromptBody, VariableSpec, VariableType, VersionContent};
use serde_json::{Map, Value, json};

use super::front_matter::{error, key_line, split};
use super::prompty::declare_undeclared;
use super::{DEFAULT_MESSAGE, FileError, PromptFile};

const CONFIG_NAMES: [(&str, &str); 5] = [
    ("maxOutputTokens", "max_tokens"),
    ("topP", "top_p"),
    ("topK", "top_k"),
    ("stopSequences", "stop"),
    ("candidateCount", "n"),
];

/// Parses a `.prompt` file; the prompt name is `name:` or the file stem.
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
    for key in ["tools", "toolDefs", "output", "raw"] {
        if meta.contains_key(key) {
            return Err(error(path, at(key), format!("`{key}` has no OPM equivalent yet; remove it to import")));
        }
    }
    let mut model = ModelConfig::default();
    if let Some(value) = meta.remove("model") {
        let Value::String(name) = value else { return Err(error(path, at("model"), "`model` must be a string")) };
        match name.split_once('/') {
            Some((provider, name)) => (model.provider, model.model) = (Some(provider.into()), Some(name.into())),
            None => model.model = Some(name),
        }
    }
    match meta.remove("config") {
        None => {}
        Some(Value::Object(config)) => {
            for (key, value) in config {
                let renamed = CONFIG_NAMES.iter().find(|(from, _)| *from == key).map(|(_, to)| (*to).to_owned());
                model.parameters.insert(renamed.unwrap_or(key), value);
            }
        }
        Some(_) => return Err(error(path, at("config"), "`config` must be a mapping")),
    }
    let variables = match meta.remove("input") {
        None => BTreeMap::new(),
        Some(input) => input_in(&input).map_err(|m| error(path, at("input"), m))?,
    };
    let mut metadata = match meta.remove("metadata") {
        Some(Value::Object(metadata)) => metadata,
        _ => Map::new(),
    };
    metadata.extend(meta); // `variant`, `version`, `ext` keys…: kept
    let messages = messages_in(path, &split.body, split.body_line)?;
    let model = (model != ModelConfig::default()).then_some(model);
    let mut content = VersionContent { body: PromptBody::Chat { messages }, variables, model, metadata };
    declare_undeclared(&mut content).map_err(|e| error(path, Some(split.body_line), e.to_string()))?;
    Ok(PromptFile {
        path: path.to_owned(),
        name,
        description,
        tags: Vec::new(),
        message: DEFAULT_MESSAGE.into(),
        message_line: None,
        content,
    })
}

fn input_in(input: &Value) -> Result<BTreeMap<String, VariableSpec>, String> {
    let mut variables = BTreeMap::new();
    match input.get("schema") {
        None | Some(Value::Null) => {}
        Some(schema) if schema.get("type").is_some() => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = schema.get("properties") {
                for (name, property) in properties {
                    let kind = property.get("type").and_then(Value::as_str).unwrap_or("string");
                    let description = property.get("description").and_then(Value::as_str).map(str::to_owned);
                    variables.insert(name.clone(), spec(name, kind, required.contains(&name.as_str()), description)?);
                }
            }
        }
        Some(Value::Object(picoschema)) => {
            for (key, value) in picoschema {
                let (key, optional) = key.strip_suffix('?').map_or((key.as_str(), false), |k| (k, true));
                let (name, wrapper) = match key.split_once('(') {
                    Some((name, rest)) => (name, Some(rest.trim_end_matches(')'))),
                    None => (key, None),
                };
                let (kind, description) = match (wrapper, value) {
                    (Some("array"), _) => ("array", None),
                    (Some("object"), _) => ("object", None),
                    (Some(other), _) => return Err(format!("`{name}({other})` has no OPM variable type")),
                    (None, Value::String(text)) => match text.split_once(',') {
                        Some((kind, description)) => (kind.trim(), Some(description.trim().to_owned())),
                        None => (text.trim(), None),
                    },
                    (None, _) => return Err(format!("`{name}`: nested Picoschema needs `(object)`")),
                };
                variables.insert(name.to_owned(), spec(name, kind, !optional, description)?);
            }
        }
        Some(_) => return Err("`input.schema` must be Picoschema or JSON Schema".into()),
    }
    if let Some(Value::Object(defaults)) = input.get("default") {
        for (name, value) in defaults {
            let entry = variables.entry(name.clone()).or_insert_with(|| VariableSpec {
                kind: VariableType::String,
                required: false,
                default: None,
                description: None,
            });
            entry.default = Some(value.clone());
        }
    }
    Ok(variables)
}

fn spec(name: &str, kind: &str, required: bool, description: Option<String>) -> Result<VariableSpec, String> {
    let kind = match kind {
        "string" => VariableType::String,
        "number" | "integer" => VariableType::Number,
        "boolean" => VariableType::Boolean,
        "object" => VariableType::Object,
        "array" => VariableType::Array,
        other => return Err(format!("input `{name}` has type `{other}`, which OPM variables cannot hold")),
    };
    // Handlebars renders a missing value as empty: an optional string defaults to "".
    let default = (!required && kind == VariableType::String).then(|| json!(""));
    Ok(VariableSpec { kind, required, default, description })
}

/// Translates the body and splits it at `{{role "…"}}`.
fn messages_in(path: &Path, body: &str, first_line: u64) -> Result<Vec<ChatMessage>, FileError> {
    let line_of = |offset: usize| first_line + body[..offset].matches('\n').count() as u64;
    let fail = |offset: usize, message: String| error(path, Some(line_of(offset)), message);
    let mut messages = Vec::new();
    let (mut role, mut current) = ("user".to_owned(), String::new());
    let mut loops: Vec<usize> = Vec::new();
    let mut blocks: Vec<&str> = Vec::new();
    let mut rest = 0;
    while let Some(found) = body[rest..].find("{{") {
        let start = rest + found;
        let text = &body[rest..start];
        if let Some(bad) = ["{%", "{#"].iter().find(|t| text.contains(**t)) {
            return Err(fail(rest, format!("the text contains `{bad}`, which Jinja would read as template syntax")));
        }
        current.push_str(text);
        let triple = body[start..].starts_with("{{{");
        let closer = if triple { "}}}" } else { "}}" };
        let open_len = closer.len();
        let Some(length) = body[start + open_len..].find(closer) else {
            return Err(fail(start, "an unclosed `{{`".into()));
        };
        let inner = &body[start + open_len..start + open_len + length];
        rest = start + open_len + length + closer.len();
        let (left, inner) = inner.strip_prefix('~').map_or(("", inner), |i| ("-", i));
        let (inner, right) = inner.strip_suffix('~').map_or((inner, ""), |i| (i, "-"));
        let inner = inner.trim();
        if inner.starts_with('!') {
            continue; // a comment
        }
        let words: Vec<&str> = inner.split_whitespace().collect();
        let value = |name: &str| translate_value(name, loops.len()).map_err(|m| fail(start, m));
        let statement = |body: String| format!("{{%{left} {body} {right}%}}");
        match words.as_slice() {
            ["role", quoted] => {
                flush(&role, &current, &mut messages);
                current.clear();
                role = match quoted.trim_matches(['"', '\'']) {
                    "model" | "assistant" => "assistant".into(),
                    "system" => "system".into(),
                    "user" => "user".into(),
                    other => return Err(fail(start, format!("role `{other}` is not system, user or model"))),
                };
            }
            ["#if", name] => {
                blocks.push("if");
                current.push_str(&statement(format!("if {}", value(name)?)));
            }
            ["#unless", name] => {
                blocks.push("if");
                current.push_str(&statement(format!("if not {}", value(name)?)));
            }
            ["else"] => current.push_str(&statement("else".into())),
            ["#each", name] => {
                let list = value(name)?;
                blocks.push("for");
                loops.push(start);
                current.push_str(&statement(format!("for item{} in {list}", loops.len())));
            }
            ["/if" | "/unless"] if blocks.pop() == Some("if") => current.push_str(&statement("endif".into())),
            ["/each"] if blocks.pop() == Some("for") => {
                loops.pop();
                current.push_str(&statement("endfor".into()));
            }
            ["json", name] => current.push_str(&format!("{{{{{left} {} | tojson {right}}}}}", value(name)?)),
            [name] if !name.starts_with(['#', '/', '>']) && !matches!(*name, "history" | "section" | "media") => {
                current.push_str(&format!("{{{{{left} {} {right}}}}}", value(name)?));
            }
            _ => {
                let what = words.first().copied().unwrap_or_default();
                let why = match what.chars().next() {
                    Some('>') => "partials have no OPM equivalent (use `{% include %}` in an OPM file)".to_owned(),
                    Some('/') => format!("`{{{{{inner}}}}}` closes a block that is not open"),
                    _ => format!("`{{{{{inner}}}}}` has no OPM equivalent"),
                };
                return Err(fail(start, why));
            }
        }
    }
    if let Some(bad) = ["{%", "{#"].iter().find(|t| body[rest..].contains(**t)) {
        return Err(fail(rest, format!("the text contains `{bad}`, which Jinja would read as template syntax")));
    }
    current.push_str(&body[rest..]);
    if !blocks.is_empty() {
        return Err(fail(body.len(), format!("a `{{{{#{}}}}}` block is not closed", blocks[blocks.len() - 1])));
    }
    flush(&role, &current, &mut messages);
    if messages.is_empty() {
        return Err(error(path, Some(first_line), "the file has no prompt text after its front matter"));
    }
    Ok(messages)
}

fn flush(role: &str, text: &str, messages: &mut Vec<ChatMessage>) {
    let content = text.trim();
    if !content.is_empty() {
        messages.push(ChatMessage { role: role.to_owned(), content: content.to_owned() });
    }
}

/// A Handlebars path as a Jinja expression; inside `#each` only `this…` and `@index`-style
/// names are accepted (a bare name there means `this.name` in Handlebars).
fn translate_value(name: &str, depth: usize) -> Result<String, String> {
    let current = format!("item{depth}");
    let mapped = match name {
        "this" if depth > 0 => current,
        "@index" if depth > 0 => "loop.index0".into(),
        "@first" if depth > 0 => "loop.first".into(),
        "@last" if depth > 0 => "loop.last".into(),
        _ if name.starts_with("this.") && depth > 0 => format!("{current}.{}", &name[5..]),
        _ if name.starts_with('@') || name.starts_with("this") || name.starts_with("..") => {
            return Err(format!("`{name}` has no OPM equivalent here"));
        }
        _ if depth > 0 => {
            return Err(format!("inside `{{{{#each}}}}` write `this.{name}` (or move `{name}` outside the loop)"));
        }
        _ => name.to_owned(),
    };
    let valid = mapped.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if valid { Ok(mapped) } else { Err(format!("`{name}` is not a variable path OPM can translate")) }
}
