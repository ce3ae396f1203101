//! Plain templates render byte for byte as minijinja does: every planned template is rendered both
//! ways with many variable sets (errors included), and templates that are not plain are refused.

use std::collections::BTreeMap;

use opm_core::content::VersionContent;
use opm_core::template::{CompiledPrompt, MAX_OUTPUT_BYTES};
use serde_json::{Map, Value, json};

use super::ServingTemplate;
use crate::entry::ServingContent;

fn variables() -> Value {
    json!({
        "question": {"type": "string"},
        "tone": {"type": "string", "required": false, "default": "polite"},
        "maybe": {"type": "string", "required": false},
        "count": {"type": "number"},
        "none": {"type": "string"}
    })
}

fn chat(template: &str) -> VersionContent {
    serde_json::from_value(json!({
        "type": "chat",
        "messages": [{"role": "system", "content": "You are terse.\n"}, {"role": "user", "content": template}],
        "variables": variables()
    }))
    .unwrap()
}

fn text(template: &str) -> VersionContent {
    serde_json::from_value(json!({"type": "text", "template": template, "variables": variables()})).unwrap()
}

fn givens(with_large: bool) -> Vec<Map<String, Value>> {
    let cases = [
        json!({"question": "where is my order?", "count": 1, "none": "n"}),
        json!({"question": "a {{ b }} {% c %}\n", "tone": "rude\r\n", "count": 2.5, "none": ""}),
        json!({"question": "ü 🚀 \u{0}", "maybe": "m", "count": 0, "none": "x"}),
        json!({"count": 1, "none": "n"}),
        json!({"question": 3, "count": 1, "none": "n"}),
        json!({"question": "q", "count": 1, "none": "n", "extra": "e"}),
        json!({"question": "q", "count": "one", "none": "n"}),
        json!({"question": "x".repeat(MAX_OUTPUT_BYTES), "count": 1, "none": "n"}),
    ];
    let count = if with_large { cases.len() } else { cases.len() - 1 };
    cases.into_iter().take(count).map(|case| case.as_object().cloned().unwrap()).collect()
}

/// `template` is planned as plain exactly when `plain`, and a plan renders as minijinja does.
fn check(template: &str, plain: bool) {
    for content in [chat(template), text(template)] {
        let planned = ServingTemplate::plain(&ServingContent::new(&content));
        assert_eq!(planned.is_some(), plain, "{template:?}");
        if let Some(planned) = planned {
            same_render(&planned, &content, true);
        }
    }
}

fn same_render(planned: &ServingTemplate, content: &VersionContent, with_large: bool) {
    let compiled = CompiledPrompt::compile(content, &BTreeMap::new()).unwrap();
    for given in givens(with_large) {
        let ours = format!("{:?}", planned.render(&ServingContent::new(content), &given));
        let theirs = format!("{:?}", compiled.render(&given));
        assert_eq!(ours, theirs, "{content:?} with {given:?}");
    }
}

#[test]
fn plain_templates_render_as_minijinja_does() {
    for template in [
        "Customer question: {{ question }}",
        "{{question}}",
        "{{  question  }} in a {{ tone }} way",
        "{{ question }}{{ tone }}",
        "no markers at all",
        "",
        "ends with a newline\n",
        "ends with CRLF\r\n",
        "two newlines\n\n",
        "a lone CR\r",
        "LF then CR\n\r",
        "{{ question }}\n",
        "braces { alone } and }} and {",
        "{ {question}} and {}",
        "unicode é {{ question }} 日本\n",
        "trailing brace {",
        "{{ question }}}",
    ] {
        check(template, true);
    }
}

#[test]
fn other_templates_are_compiled() {
    for template in [
        "{{ maybe }}",
        "{{ count }}",
        "{{ undeclared }}",
        "{{ none }}",
        "{{ question|upper }}",
        "{{ question.x }}",
        "{{- question }}",
        "{{ question -}}",
        "{{+ question }}",
        "{{\tquestion }}",
        "{{\nquestion }}",
        "{{{ question }}}",
        "{{ 'literal' }}",
        "{% if question %}x{% endif %}",
        "{# a comment #}",
        "{% include \"other\" %}",
        "text then {{ question",
        "{{ question }} then {%",
        "{{}}",
    ] {
        check(template, false);
    }
}

/// Templates built from pieces that trip tokenizers: whatever is planned renders as minijinja does.
#[test]
fn generated_templates_render_as_minijinja_does() {
    const PIECES: [&str; 14] =
        ["{", "}", "{{ question }}", "{{question}}", "{{ tone }}", " ", "\n", "\r", "a", "%", "#", "-", "é", "{{ "];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut planned_count = 0;
    for _ in 0..3000 {
        let mut template = String::new();
        for _ in 0..(state % 7) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            template.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let content = chat(&template);
        if let Some(planned) = ServingTemplate::plain(&ServingContent::new(&content)) {
            planned_count += 1;
            same_render(&planned, &content, false);
        } else {
            // Not plain: fine, as long as the source has a marker minijinja would read.
            assert!(template.contains('{'), "{template:?} is plain text but was not planned");
        }
    }
    assert!(planned_count > 300, "only {planned_count} generated templates were plain");
}
