//! Templates: Jinja2 syntax through minijinja, sandboxed (no filesystem, no auto-escaping, fuel
//! bounded), with declared-variable checking and `{% include "prompt" %}` / `"prompt@3"` composition.
//!
//! Includes are resolved by the caller (it knows labels and storage): [`find_includes`] lists the
//! literal include references of a template, and [`CompiledPrompt::compile`] takes their sources.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CoreError;
use crate::content::{ChatMessage, PromptBody, VariableSpec, VersionContent, json_type_name};
use crate::names::PromptName;

/// How deep includes may nest (an include of an include … counts each level).
pub const MAX_INCLUDE_DEPTH: usize = 5;
/// Execution budget of one render, in minijinja fuel units (roughly instructions).
pub const RENDER_FUEL: u64 = 250_000;
/// Largest rendered output of one render, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Names minijinja provides as globals; they are not template variables.
const BUILTIN_GLOBALS: [&str; 6] = ["range", "dict", "namespace", "debug", "loop", "self"];

static INCLUDE_STATEMENT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\{%[-+]?\s*include\s+(.*?)\s*[-+]?%\}").ok());
static STRING_LITERAL: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r#"^(?:"([^"\\]*)"|'([^'\\]*)')$"#).ok());

/// A literal include reference: `name` (resolved at the caller's label) or `name@VERSION` (pinned).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IncludeRef {
    pub prompt: PromptName,
    pub version: Option<u32>,
}

impl IncludeRef {
    /// Parses `name` or `name@N`.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let invalid = || CoreError::InvalidInclude(text.to_owned());
        let (name, version) = match text.split_once('@') {
            Some((name, version)) => {
                let number: u32 = version.parse().map_err(|_| invalid())?;
                if number == 0 {
                    return Err(invalid());
                }
                (name, Some(number))
            }
            None => (text, None),
        };
        let prompt = PromptName::parse(name).map_err(|_| invalid())?;
        Ok(Self { prompt, version })
    }

    /// The name the template uses for it (`name` or `name@N`).
    pub fn template_name(&self) -> String {
        match self.version {
            Some(version) => format!("{}@{version}", self.prompt),
            None => self.prompt.to_string(),
        }
    }
}

/// The literal includes used by a template, in order of first use, without duplicates.
pub fn find_includes(source: &str) -> Result<Vec<IncludeRef>, CoreError> {
    let (Some(statement), Some(literal)) = (INCLUDE_STATEMENT.as_ref(), STRING_LITERAL.as_ref()) else {
        return Err(CoreError::Render("include pattern failed to compile".into()));
    };
    let mut found = Vec::new();
    for capture in statement.captures_iter(source) {
        let argument = capture.get(1).map(|m| m.as_str()).unwrap_or_default();
        let inner = literal
            .captures(argument)
            .and_then(|c| c.get(1).or_else(|| c.get(2)))
            .ok_or_else(|| CoreError::InvalidInclude(argument.to_owned()))?;
        let reference = IncludeRef::parse(inner.as_str())?;
        if !found.contains(&reference) {
            found.push(reference);
        }
    }
    Ok(found)
}

fn sandboxed_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_fuel(Some(RENDER_FUEL));
    env.set_recursion_limit(64);
    env
}

fn syntax_error(template: &str, error: &minijinja::Error) -> CoreError {
    let line = error.line().map(|line| format!(" (line {line})")).unwrap_or_default();
    let detail = error.detail().map(str::to_owned).unwrap_or_else(|| error.kind().to_string());
    CoreError::TemplateSyntax { template: template.to_owned(), message: format!("{detail}{line}") }
}

/// Checks that `source` parses, that its includes are literal references, and that every variable
/// it reads is declared.
pub fn check_template(label: &str, source: &str, variables: &BTreeMap<String, VariableSpec>) -> Result<(), CoreError> {
    find_includes(source)?;
    let mut env = sandboxed_environment();
    env.add_template_owned(label.to_owned(), source.to_owned()).map_err(|e| syntax_error(label, &e))?;
    let template = env.get_template(label).map_err(|e| syntax_error(label, &e))?;
    let mut undeclared: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| !variables.contains_key(name) && !BUILTIN_GLOBALS.contains(&name.as_str()))
        .collect();
    undeclared.sort();
    if !undeclared.is_empty() {
        return Err(CoreError::TemplateUsesUndeclared { template: label.to_owned(), names: undeclared });
    }
    Ok(())
}

/// Variable declarations by name, in name order: a version's map, or a compact sorted list (the
/// serving cache keeps one, a `BTreeMap` allocates a node of eleven entries for one variable).
pub trait VariableSpecs {
    /// The declaration of `name`.
    fn spec(&self, name: &str) -> Option<&VariableSpec>;
    /// Every declaration, in name order.
    fn specs(&self) -> impl Iterator<Item = (&str, &VariableSpec)>;
}

impl VariableSpecs for BTreeMap<String, VariableSpec> {
    fn spec(&self, name: &str) -> Option<&VariableSpec> {
        self.get(name)
    }

    fn specs(&self) -> impl Iterator<Item = (&str, &VariableSpec)> {
        self.iter().map(|(name, spec)| (name.as_str(), spec))
    }
}

/// Sorted by name (as built from a `BTreeMap`); looked up by binary search.
impl VariableSpecs for [(Box<str>, VariableSpec)] {
    fn spec(&self, name: &str) -> Option<&VariableSpec> {
        self.binary_search_by(|(declared, _)| (**declared).cmp(name)).ok().map(|at| &self[at].1)
    }

    fn specs(&self) -> impl Iterator<Item = (&str, &VariableSpec)> {
        self.iter().map(|(name, spec)| (&**name, spec))
    }
}

/// Applies defaults and checks the given variables against the declarations: missing required
/// ones, undeclared ones and wrongly typed ones are errors that name them.
pub fn bind_variables<S: VariableSpecs + ?Sized>(
    specs: &S,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, CoreError> {
    Ok(bind_refs(specs, given)?.into_iter().map(|(name, value)| (name.to_owned(), value.clone())).collect())
}

/// [`bind_variables`] without copying values: the bound names and values, borrowed.
fn bind_refs<'a, S: VariableSpecs + ?Sized>(
    specs: &'a S,
    given: &'a Map<String, Value>,
) -> Result<BTreeMap<&'a str, &'a Value>, CoreError> {
    if given.keys().any(|name| specs.spec(name).is_none()) {
        let undeclared = given.keys().filter(|name| specs.spec(name).is_none()).cloned().collect();
        let declared = specs.specs().map(|(name, _)| name.to_owned()).collect();
        return Err(CoreError::UndeclaredVariables { names: undeclared, declared });
    }
    let mut bound = BTreeMap::new();
    let mut missing = Vec::new();
    for (name, spec) in specs.specs() {
        match given.get(name).or(spec.default.as_ref()) {
            Some(value) => {
                if !spec.kind.matches(value) {
                    return Err(CoreError::VariableType {
                        name: name.to_owned(),
                        expected: spec.kind.name().to_owned(),
                        actual: json_type_name(value).to_owned(),
                    });
                }
                bound.insert(name, value);
            }
            None if spec.required => missing.push(name.to_owned()),
            None => {}
        }
    }
    if !missing.is_empty() {
        return Err(CoreError::MissingVariables(missing));
    }
    Ok(bound)
}

/// The rendered body of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RenderedBody {
    Chat { messages: Vec<ChatMessage> },
    Text { text: String },
}

/// A version's templates parsed once, with the sources of its includes, ready to render many times.
#[derive(Debug)]
pub struct CompiledPrompt {
    env: Environment<'static>,
    /// `(role, template name)` per chat message; one entry with an empty role for a text prompt.
    parts: Vec<(String, String)>,
    is_chat: bool,
    variables: BTreeMap<String, VariableSpec>,
}

impl CompiledPrompt {
    /// Parses the version's templates. `includes` maps each include reference's template name
    /// (`name` or `name@N`) to the source it resolves to, for every level of nesting.
    pub fn compile(content: &VersionContent, includes: &BTreeMap<String, String>) -> Result<Self, CoreError> {
        let mut env = sandboxed_environment();
        for (name, source) in includes {
            env.add_template_owned(name.clone(), source.clone()).map_err(|e| syntax_error(name, &e))?;
        }
        let mut parts = Vec::new();
        let (is_chat, templates): (bool, Vec<(String, String, String)>) = match &content.body {
            PromptBody::Chat { messages } => (
                true,
                messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (m.role.clone(), format!("messages[{i}]"), m.content.clone()))
                    .collect(),
            ),
            PromptBody::Text { template } => (false, vec![(String::new(), "template".to_owned(), template.clone())]),
        };
        for (role, name, source) in templates {
            env.add_template_owned(name.clone(), source).map_err(|e| syntax_error(&name, &e))?;
            parts.push((role, name));
        }
        Ok(Self { env, parts, is_chat, variables: content.variables.clone() })
    }

    /// Binds `given` against the declarations and renders every template.
    pub fn render(&self, given: &Map<String, Value>) -> Result<RenderedBody, CoreError> {
        let bound = bind_refs(&self.variables, given)?;
        let context = minijinja::Value::from(minijinja::value::Serde(&bound));
        let mut total = 0usize;
        let mut rendered = Vec::with_capacity(self.parts.len());
        for (role, name) in &self.parts {
            let template = self.env.get_template(name).map_err(|e| render_error(name, &e))?;
            let text = template.render(&context).map_err(|e| render_error(name, &e))?;
            total += text.len();
            if total > MAX_OUTPUT_BYTES {
                return Err(CoreError::Render(format!("rendered output exceeds {MAX_OUTPUT_BYTES} bytes")));
            }
            rendered.push((role.clone(), text));
        }
        if self.is_chat {
            let messages = rendered.into_iter().map(|(role, content)| ChatMessage { role, content }).collect();
            Ok(RenderedBody::Chat { messages })
        } else {
            let text = rendered.into_iter().map(|(_, text)| text).collect::<String>();
            Ok(RenderedBody::Text { text })
        }
    }
}

fn render_error(template: &str, error: &minijinja::Error) -> CoreError {
    if error.kind() == minijinja::ErrorKind::OutOfFuel {
        return CoreError::Render(format!("{template}: template exceeded its execution budget"));
    }
    let mut message = error.detail().map(str::to_owned).unwrap_or_else(|| error.kind().to_string());
    if let Some(name) = error.name()
        && let Some(line) = error.line()
    {
        message = format!("{message} ({name} line {line})");
    }
    if error.kind() == minijinja::ErrorKind::TemplateNotFound {
        message = format!("included prompt not resolved: {message}");
    }
    CoreError::Render(format!("{template}: {message}"))
}

/// Names of variables declared but unused by any template, for lint-style warnings.
pub fn unused_variables(content: &VersionContent) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut env = sandboxed_environment();
    for (label, source) in content.templates() {
        if env.add_template_owned(label.clone(), source.to_owned()).is_ok()
            && let Ok(template) = env.get_template(&label)
        {
            used.extend(template.undeclared_variables(false));
        }
    }
    content.variables.keys().filter(|name| !used.contains(*name)).cloned().collect()
}

#[cfg(test)]
mod tests;
