//! Side-by-side diffs of two versions: each part (messages, template, variables, model
//! configuration, metadata) as lines, aligned by `similar`, changed lines marked with − and + so
//! the diff reads without colour.

use maud::{Markup, html};
use opm_api::prompts::ContentDto;
use similar::{ChangeTag, TextDiff};

/// The parts of a version compared one by one, as text.
pub fn parts(content: &ContentDto) -> Vec<(&'static str, String)> {
    let mut parts = Vec::new();
    if let Some(messages) = &content.messages {
        let text = messages.iter().map(|m| format!("[{}]\n{}", m.role, m.content)).collect::<Vec<_>>().join("\n");
        parts.push(("Messages", text));
    }
    if let Some(template) = &content.template {
        parts.push(("Template", template.clone()));
    }
    let variables = content
        .variables
        .iter()
        .map(|(name, v)| {
            let mut line = format!("{name}: {}", v.kind.as_deref().unwrap_or("string"));
            if v.required == Some(false) {
                line.push_str(", optional");
            }
            if let Some(default) = &v.default {
                line.push_str(&format!(", default {default}"));
            }
            if let Some(description) = &v.description {
                line.push_str(&format!(" — {description}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n");
    parts.push(("Variables", variables));
    parts.push(("Model", model_text(content)));
    if !content.metadata.is_empty() {
        parts.push(("Metadata", serde_json::to_string_pretty(&content.metadata).unwrap_or_default()));
    }
    parts
}

/// The model configuration as `key: value` lines.
pub fn model_text(content: &ContentDto) -> String {
    let Some(model) = &content.model else { return String::new() };
    let mut lines = Vec::new();
    if let Some(provider) = &model.provider {
        lines.push(format!("provider: {provider}"));
    }
    if let Some(name) = &model.model {
        lines.push(format!("model: {name}"));
    }
    for (key, value) in &model.parameters {
        lines.push(format!("{key}: {value}"));
    }
    for (index, fallback) in model.fallbacks.iter().enumerate() {
        lines.push(format!("fallback {}: {}/{}", index + 1, fallback.provider, fallback.model));
    }
    if let Some(tools) = &model.tools {
        lines.push(format!("tools: {tools}"));
    }
    if let Some(format) = &model.response_format {
        lines.push(format!("response_format: {format}"));
    }
    lines.join("\n")
}

/// One row of a side-by-side table: left and right cells, each `(line number, text, changed)`.
type Cell = Option<(usize, String, bool)>;

fn rows(old: &str, new: &str) -> Vec<(Cell, Cell)> {
    // Every line ends with a newline, so a last line is not "changed" only for lacking one.
    let with_end =
        |text: &str| if text.is_empty() || text.ends_with('\n') { text.to_owned() } else { format!("{text}\n") };
    let (old, new) = (with_end(old), with_end(new));
    let diff = TextDiff::from_lines(&old, &new);
    let mut rows = Vec::new();
    for op in diff.ops() {
        let mut left: Vec<(usize, String, bool)> = Vec::new();
        let mut right: Vec<(usize, String, bool)> = Vec::new();
        let mut equal: Vec<(Cell, Cell)> = Vec::new();
        for change in diff.iter_changes(op) {
            let text = change.value().trim_end_matches('\n').to_owned();
            match change.tag() {
                ChangeTag::Equal => equal.push((
                    Some((change.old_index().unwrap_or(0) + 1, text.clone(), false)),
                    Some((change.new_index().unwrap_or(0) + 1, text, false)),
                )),
                ChangeTag::Delete => left.push((change.old_index().unwrap_or(0) + 1, text, true)),
                ChangeTag::Insert => right.push((change.new_index().unwrap_or(0) + 1, text, true)),
            }
        }
        rows.extend(equal);
        let n = left.len().max(right.len());
        let mut left = left.into_iter();
        let mut right = right.into_iter();
        for _ in 0..n {
            rows.push((left.next(), right.next()));
        }
    }
    rows
}

/// The side-by-side diff of two versions, part by part.
pub fn side_by_side(from: (u32, &ContentDto), to: (u32, &ContentDto)) -> Markup {
    let old = parts(from.1);
    let new = parts(to.1);
    let mut names: Vec<&str> = old.iter().map(|(n, _)| *n).collect();
    for (name, _) in &new {
        if !names.contains(name) {
            names.push(name);
        }
    }
    let text = |parts: &[(&str, String)], name: &str| {
        parts.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone()).unwrap_or_default()
    };
    html! {
        @for name in names {
            @let (a, b) = (text(&old, name), text(&new, name));
            section.diff-part {
                h3 {
                    (name)
                    @if a == b { " " span.badge { "unchanged" } } @else { " " span.badge.changed { "changed" } }
                }
                table.diff {
                    colgroup { col.num; col; col.num; col; }
                    thead { tr { th colspan="2" { "v" (from.0) } th colspan="2" { "v" (to.0) } } }
                    tbody {
                        @for (left, right) in rows(&a, &b) {
                            tr { (cell(left, "del", "−")) (cell(right, "ins", "+")) }
                        }
                    }
                }
            }
        }
    }
}

fn cell(cell: Cell, class: &str, mark: &str) -> Markup {
    match cell {
        Some((line, text, true)) => html! {
            td.num { (line) } td class=(class) { span.mark aria-label=(if mark == "+" { "added" } else { "removed" }) { (mark) " " } (text) }
        },
        Some((line, text, false)) => html! { td.num { (line) } td { (text) } },
        None => html! { td.num {} td.empty {} },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_changed_lines() {
        let rows = rows("a\nb\nc\n", "a\nB\nc\nd\n");
        let flat: Vec<(Option<&str>, Option<&str>)> =
            rows.iter().map(|(l, r)| (l.as_ref().map(|c| c.1.as_str()), r.as_ref().map(|c| c.1.as_str()))).collect();
        assert_eq!(
            flat,
            vec![(Some("a"), Some("a")), (Some("b"), Some("B")), (Some("c"), Some("c")), (None, Some("d"))]
        );
        assert!(rows[1].0.as_ref().is_some_and(|c| c.2) && rows[1].1.as_ref().is_some_and(|c| c.2));
        assert!(!rows[0].0.as_ref().is_some_and(|c| c.2));
    }
}
