//! Differences between two versions: a unified text diff of their canonical YAML-like rendering
//! plus a per-field summary.

use serde::{Deserialize, Serialize};
use similar::TextDiff;

use crate::content::{PromptBody, VersionContent};

/// The difference between two versions of a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDiff {
    /// Top-level fields that differ (`messages`, `template`, `variables`, `model`, `metadata`, `type`).
    pub changed_fields: Vec<String>,
    /// A unified diff (`---`/`+++`/`@@` hunks) of the two contents rendered as readable text.
    pub unified: String,
}

/// Renders content as stable, line-oriented text for diffing.
pub fn render_for_diff(content: &VersionContent) -> String {
    let mut out = String::new();
    out.push_str(&format!("type: {}\n", content.body.type_name()));
    match &content.body {
        PromptBody::Chat { messages } => {
            for (index, message) in messages.iter().enumerate() {
                out.push_str(&format!("messages[{index}] ({}):\n", message.role));
                for line in message.content.lines() {
                    out.push_str(&format!("  {line}\n"));
                }
            }
        }
        PromptBody::Text { template } => {
            out.push_str("template:\n");
            for line in template.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    let pretty = |value: serde_json::Value| serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push_str(&format!("variables: {}\n", pretty(serde_json::to_value(&content.variables).unwrap_or_default())));
    out.push_str(&format!("model: {}\n", pretty(serde_json::to_value(&content.model).unwrap_or_default())));
    out.push_str(&format!("metadata: {}\n", pretty(serde_json::Value::Object(content.metadata.clone()))));
    out
}

/// Compares version `from` (numbered `from_number`) with `to`.
pub fn diff_versions(from_number: u32, from: &VersionContent, to_number: u32, to: &VersionContent) -> VersionDiff {
    let mut changed_fields = Vec::new();
    if from.body.type_name() != to.body.type_name() {
        changed_fields.push("type".to_owned());
    }
    match (&from.body, &to.body) {
        (PromptBody::Chat { messages: a }, PromptBody::Chat { messages: b }) if a != b => {
            changed_fields.push("messages".to_owned())
        }
        (PromptBody::Text { template: a }, PromptBody::Text { template: b }) if a != b => {
            changed_fields.push("template".to_owned())
        }
        _ => {}
    }
    if from.variables != to.variables {
        changed_fields.push("variables".to_owned());
    }
    if from.model != to.model {
        changed_fields.push("model".to_owned());
    }
    if from.metadata != to.metadata {
        changed_fields.push("metadata".to_owned());
    }
    let old = render_for_diff(from);
    let new = render_for_diff(to);
    let unified = TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("v{from_number}"), &format!("v{to_number}"))
        .to_string();
    VersionDiff { changed_fields, unified }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(template: &str) -> VersionContent {
        serde_json::from_value(json!({"type": "text", "template": template})).unwrap()
    }

    #[test]
    fn diff_shows_changed_lines() {
        let diff = diff_versions(1, &content("Hello\nworld"), 2, &content("Hello\nthere"));
        assert_eq!(diff.changed_fields, vec!["template"]);
        assert!(diff.unified.contains("--- v1\n+++ v2\n"), "{}", diff.unified);
        assert!(diff.unified.contains("-  world\n+  there\n"), "{}", diff.unified);
    }

    #[test]
    fn identical_versions_have_an_empty_diff() {
        let diff = diff_versions(1, &content("same"), 2, &content("same"));
        assert!(diff.changed_fields.is_empty());
        assert!(diff.unified.is_empty());
    }
}
