//! Publish policies: the rules a project sets for every new version, checked before anything is
//! written (the API, the CLI, `opm apply` and the UI all publish through the registry, which calls
//! [`check_publish`]). Each violation names its rule and its place (template or message index, and
//! line when there is one), so the author can fix all of them in one pass.

use regex::RegexBuilder;
use serde::{Deserialize, Serialize};

use super::MAX_POLICY_ITEMS;
use super::secrets;
use crate::CoreError;
use crate::content::VersionContent;

/// Largest compiled size of one forbidden pattern.
const MAX_PATTERN_BYTES: usize = 1 << 20;

/// A project's publish rules. The default checks only for secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishPolicy {
    /// The version's message (its change description) must not be blank.
    #[serde(default)]
    pub require_message: bool,
    /// The prompt's description must not be blank.
    #[serde(default)]
    pub require_description: bool,
    /// Longest template (or message content), in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_template_chars: Option<u32>,
    /// Providers a version may name (empty: any).
    #[serde(default)]
    pub allowed_providers: Vec<String>,
    /// Models a version may name, as `model` or `provider/model` (empty: any).
    #[serde(default)]
    pub allowed_models: Vec<String>,
    /// Every declared variable needs a description.
    #[serde(default)]
    pub require_documented_variables: bool,
    /// Regular expressions no template may match.
    #[serde(default)]
    pub forbidden_patterns: Vec<ForbiddenPattern>,
    /// The built-in credential scan ([`secrets::scan`]); on unless turned off.
    #[serde(default = "default_true")]
    pub secret_scan: bool,
}

fn default_true() -> bool {
    true
}

impl Default for PublishPolicy {
    fn default() -> Self {
        Self {
            require_message: false,
            require_description: false,
            max_template_chars: None,
            allowed_providers: Vec::new(),
            allowed_models: Vec::new(),
            require_documented_variables: false,
            forbidden_patterns: Vec::new(),
            secret_scan: true,
        }
    }
}

/// A named regular expression templates must not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenPattern {
    pub name: String,
    pub pattern: String,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The rule's name, e.g. `secret_scan`, `forbidden_pattern:internal-urls`.
    pub rule: String,
    /// Where: `message`, `description`, `template`, `messages[2] line 3`, `model`, `variables.user`.
    pub place: String,
    pub detail: String,
}

/// What is being published.
#[derive(Debug, Clone, Copy)]
pub struct PublishInput<'a> {
    pub content: &'a VersionContent,
    pub message: &'a str,
    /// The prompt's description (the new one when the publish creates the prompt).
    pub description: &'a str,
}

impl PublishPolicy {
    /// Checks every pattern compiles (with a size limit) and the lists are bounded.
    pub fn validate(&self) -> Result<(), CoreError> {
        let lists = [self.allowed_providers.len(), self.allowed_models.len(), self.forbidden_patterns.len()];
        if lists.iter().any(|len| *len > MAX_POLICY_ITEMS) {
            return Err(CoreError::InvalidPolicy(format!("publish lists hold at most {MAX_POLICY_ITEMS} items")));
        }
        for pattern in &self.forbidden_patterns {
            if pattern.name.trim().is_empty() {
                return Err(CoreError::InvalidPolicy("a forbidden pattern needs a `name`".into()));
            }
            compile(pattern)?;
        }
        Ok(())
    }
}

fn compile(pattern: &ForbiddenPattern) -> Result<regex::Regex, CoreError> {
    RegexBuilder::new(&pattern.pattern).size_limit(MAX_PATTERN_BYTES).build().map_err(|error| {
        CoreError::InvalidPolicy(format!("forbidden pattern `{}` does not compile: {error}", pattern.name))
    })
}

/// Every violation of `policy` by `input`, in a stable order (empty: may publish).
pub fn check_publish(policy: &PublishPolicy, input: PublishInput<'_>) -> Result<Vec<Violation>, CoreError> {
    let mut violations = Vec::new();
    let mut add = |rule: &str, place: String, detail: String| {
        violations.push(Violation { rule: rule.to_owned(), place, detail });
    };
    if policy.require_message && input.message.trim().is_empty() {
        add("require_message", "message".into(), "a version message describing the change is required".into());
    }
    if policy.require_description && input.description.trim().is_empty() {
        add("require_description", "description".into(), "the prompt needs a description".into());
    }
    let templates = input.content.templates();
    if let Some(max) = policy.max_template_chars {
        for (place, text) in &templates {
            let chars = text.chars().count();
            if chars > max as usize {
                add("max_template_chars", place.clone(), format!("{chars} characters, the limit is {max}"));
            }
        }
    }
    if let Some(model) = &input.content.model {
        let mut named: Vec<(String, Option<&str>, Option<&str>)> =
            vec![("model".into(), model.provider.as_deref(), model.model.as_deref())];
        for (index, fallback) in model.fallbacks.iter().enumerate() {
            named.push((format!("model.fallbacks[{index}]"), Some(&fallback.provider), Some(&fallback.model)));
        }
        for (place, provider, name) in named {
            if let Some(provider) = provider
                && !policy.allowed_providers.is_empty()
                && !policy.allowed_providers.iter().any(|allowed| allowed == provider)
            {
                let allowed = policy.allowed_providers.join(", ");
                add("allowed_providers", place.clone(), format!("provider `{provider}` is not allowed ({allowed})"));
            }
            if let Some(name) = name
                && !policy.allowed_models.is_empty()
                && !model_allowed(&policy.allowed_models, provider, name)
            {
                let allowed = policy.allowed_models.join(", ");
                add("allowed_models", place, format!("model `{name}` is not allowed ({allowed})"));
            }
        }
    }
    if policy.require_documented_variables {
        for (name, spec) in &input.content.variables {
            if spec.description.as_deref().is_none_or(|text| text.trim().is_empty()) {
                add(
                    "require_documented_variables",
                    format!("variables.{name}"),
                    "the variable has no description".into(),
                );
            }
        }
    }
    for pattern in &policy.forbidden_patterns {
        let regex = compile(pattern)?;
        for (place, text) in &templates {
            if let Some(line) = text.lines().position(|line| regex.is_match(line)) {
                let rule = format!("forbidden_pattern:{}", pattern.name);
                add(&rule, format!("{place} line {}", line + 1), format!("matches `{}`", pattern.pattern));
            }
        }
    }
    if policy.secret_scan {
        let mut parts: Vec<(String, String)> =
            templates.iter().map(|(place, text)| (place.clone(), (*text).to_owned())).collect();
        parts.push(("message".into(), input.message.to_owned()));
        parts.push(("description".into(), input.description.to_owned()));
        if let Some(model) = &input.content.model {
            parts.push(("model".into(), serde_json::to_string(model).unwrap_or_default()));
        }
        parts.push(("metadata".into(), serde_json::Value::Object(input.content.metadata.clone()).to_string()));
        for (name, spec) in &input.content.variables {
            parts.push((format!("variables.{name}"), serde_json::to_string(spec).unwrap_or_default()));
        }
        for (place, text) in &parts {
            for finding in secrets::scan(place, text) {
                let place = match finding.line {
                    Some(line) if text.contains('\n') => format!("{} line {line}", finding.place),
                    _ => finding.place,
                };
                add(
                    "secret_scan",
                    place,
                    format!("looks like a credential ({}); use a variable instead", finding.kind),
                );
            }
        }
    }
    Ok(violations)
}

fn model_allowed(allowed: &[String], provider: Option<&str>, model: &str) -> bool {
    allowed.iter().any(|entry| match entry.split_once('/') {
        Some((entry_provider, entry_model)) => provider == Some(entry_provider) && entry_model == model,
        None => entry == model,
    })
}

/// The error refusing a publish with `violations` (none: `Ok`).
pub fn refuse(violations: Vec<Violation>) -> Result<(), CoreError> {
    if violations.is_empty() { Ok(()) } else { Err(CoreError::PublishRefused(violations)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(value: serde_json::Value) -> VersionContent {
        serde_json::from_value(value).unwrap()
    }

    fn rules(policy: &PublishPolicy, content: &VersionContent, message: &str) -> Vec<(String, String)> {
        let input = PublishInput { content, message, description: "d" };
        check_publish(policy, input).unwrap().into_iter().map(|v| (v.rule, v.place)).collect()
    }

    #[test]
    fn default_policy_only_scans_for_secrets() {
        let policy = PublishPolicy::default();
        let clean = content(json!({"type": "text", "template": "Hello {{ name }}", "variables": {"name": {}}}));
        assert!(rules(&policy, &clean, "").is_empty());
        let key = format!("sk-ant-{}", "x".repeat(30));
        let chat = content(json!({"type": "chat", "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": format!("first line\nmy key is {key}")}
        ]}));
        assert_eq!(rules(&policy, &chat, ""), vec![("secret_scan".to_owned(), "messages[1] line 2".to_owned())]);
        assert_eq!(rules(&policy, &clean, &key), vec![("secret_scan".to_owned(), "message".to_owned())]);
    }

    #[test]
    fn every_rule_names_its_place() {
        let policy = PublishPolicy {
            require_message: true,
            max_template_chars: Some(10),
            allowed_providers: vec!["openai".into()],
            allowed_models: vec!["gpt-4o-mini".into(), "anthropic/claude-x".into()],
            require_documented_variables: true,
            forbidden_patterns: vec![ForbiddenPattern { name: "internal".into(), pattern: r"corp\.internal".into() }],
            ..PublishPolicy::default()
        };
        let version = content(json!({"type": "text", "template": "see\nwiki.corp.internal {{ x }}",
            "variables": {"x": {}},
            "model": {"provider": "anthropic", "model": "claude-y", "fallbacks": [{"provider": "openai", "model": "gpt-4o-mini"}]}}));
        let found = rules(&policy, &version, " ");
        let expected = [
            ("require_message", "message"),
            ("max_template_chars", "template"),
            ("allowed_providers", "model"),
            ("allowed_models", "model"),
            ("require_documented_variables", "variables.x"),
            ("forbidden_pattern:internal", "template line 2"),
        ];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn bad_patterns_are_refused_when_set() {
        let policy = PublishPolicy {
            forbidden_patterns: vec![ForbiddenPattern { name: "broken".into(), pattern: "(".into() }],
            ..PublishPolicy::default()
        };
        assert!(matches!(policy.validate(), Err(CoreError::InvalidPolicy(_))));
    }
}
