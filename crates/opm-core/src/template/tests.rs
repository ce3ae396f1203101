//! Tests for template checking, variable binding, includes and the sandbox limits.

use super::*;
use serde_json::json;

fn content(value: Value) -> VersionContent {
    serde_json::from_value(value).unwrap()
}

fn render(value: Value, given: Value, includes: &[(&str, &str)]) -> Result<RenderedBody, String> {
    let content = content(value);
    let includes = includes.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let compiled = CompiledPrompt::compile(&content, &includes).map_err(|e| e.to_string())?;
    let given = given.as_object().cloned().unwrap_or_default();
    compiled.render(&given).map_err(|e| e.to_string())
}

fn text(body: RenderedBody) -> String {
    match body {
        RenderedBody::Text { text } => text,
        RenderedBody::Chat { messages } => messages.into_iter().map(|m| format!("{}: {}", m.role, m.content)).collect(),
    }
}

fn vars() -> Value {
    json!({
        "name": {"type": "string"},
        "count": {"type": "number", "default": 3},
        "vip": {"type": "boolean", "required": false},
        "items": {"type": "array", "required": false, "default": []}
    })
}

#[test]
fn renders_with_defaults_and_conditionals() {
    let body = json!({"type": "text", "template": "Hi {{ name }} x{{ count }}{% if vip %} (VIP){% endif %}{% for i in items %} {{ i }}{% endfor %}", "variables": vars()});
    assert_eq!(text(render(body.clone(), json!({"name": "Ada"}), &[]).unwrap()), "Hi Ada x3");
    assert_eq!(
        text(render(body, json!({"name": "Ada", "vip": true, "count": 5, "items": ["a", "b"]}), &[]).unwrap()),
        "Hi Ada x5 (VIP) a b"
    );
}

#[test]
fn chat_messages_keep_roles() {
    let body = json!({"type": "chat", "messages": [
        {"role": "system", "content": "You are {{ name }}."},
        {"role": "user", "content": "Count {{ count }}"}
    ], "variables": vars()});
    match render(body, json!({"name": "Bot"}), &[]).unwrap() {
        RenderedBody::Chat { messages } => {
            assert_eq!(messages[0], ChatMessage { role: "system".into(), content: "You are Bot.".into() });
            assert_eq!(messages[1].content, "Count 3");
        }
        other => panic!("expected chat, got {other:?}"),
    }
}

#[test]
fn variable_errors_name_the_variables() {
    let body = json!({"type": "text", "template": "{{ name }}", "variables": vars()});
    let check = |given: Value, expected: &str| {
        let error = render(body.clone(), given, &[]).unwrap_err();
        assert!(error.contains(expected), "{error:?} should contain {expected:?}");
    };
    check(json!({}), "missing required variables: name");
    check(json!({"name": "a", "nme": "b", "zzz": 1}), "undeclared variables given: nme, zzz");
    check(json!({"name": 5}), "variable `name` must be string, got number");
    check(json!({"name": "a", "count": "5"}), "variable `count` must be number, got string");
    check(json!({"name": "a", "items": {}}), "variable `items` must be array, got object");
}

#[test]
fn includes_render_and_nest() {
    let body = json!({"type": "text", "template": "A[{% include \"footer\" %}]B", "variables": vars()});
    let includes = [("footer", "F {{ name }} {% include 'sig@2' %}"), ("sig@2", "S")];
    assert_eq!(text(render(body, json!({"name": "n"}), &includes).unwrap()), "A[F n S]B");
}

#[test]
fn unresolved_include_is_a_clear_error() {
    let body = json!({"type": "text", "template": "{% include \"missing\" %}"});
    let error = render(body, json!({}), &[]).unwrap_err();
    assert!(error.contains("included prompt not resolved"), "{error}");
}

#[test]
fn find_includes_accepts_only_literals() {
    let refs = find_includes("{% include \"a\" %} {%- include 'b@3' -%} {% include \"a\" %}").unwrap();
    let names: Vec<String> = refs.iter().map(IncludeRef::template_name).collect();
    assert_eq!(names, vec!["a", "b@3"]);
    assert!(find_includes("{% include name %}").is_err());
    assert!(find_includes("{% include \"Bad Name\" %}").is_err());
    assert!(find_includes("{% include \"a@0\" %}").is_err());
    assert!(find_includes("{% include \"a@x\" %}").is_err());
}

#[test]
fn check_template_reports_undeclared_and_allows_loop_locals() {
    let specs: BTreeMap<String, VariableSpec> = serde_json::from_value(vars()).unwrap();
    assert!(
        check_template("t", "{% for i in range(3) %}{{ i }}{{ loop.index }}{% endfor %}{{ name }}", &specs).is_ok()
    );
    assert!(check_template("t", "{% set x = 1 %}{{ x }}", &specs).is_ok());
    let error = check_template("t", "{{ nmae }} {{ other }}", &specs).unwrap_err();
    assert_eq!(error.to_string(), "template `t` uses undeclared variables: nmae, other");
    let error = check_template("t", "{% for %}", &specs).unwrap_err();
    assert!(error.to_string().contains("does not parse"), "{error}");
    assert!(error.to_string().contains("line 1"), "{error}");
}

#[test]
fn hostile_templates_are_bounded() {
    let looping = json!({"type": "text", "template": "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}"});
    let error = render(looping, json!({}), &[]).unwrap_err();
    assert!(error.contains("execution budget") || error.contains("exceeds"), "{error}");

    let huge = json!({"type": "text", "template": "{% for a in range(2000) %}{{ 'x' * 1000 }}{% endfor %}"});
    let error = render(huge, json!({}), &[]).unwrap_err();
    assert!(error.contains("exceeds") || error.contains("budget"), "{error}");

    let recursive = json!({"type": "text", "template": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"});
    assert!(render(recursive, json!({}), &[]).is_err());
}

#[test]
fn no_html_escaping() {
    let body = json!({"type": "text", "template": "{{ name }}", "variables": {"name": {}}});
    assert_eq!(text(render(body, json!({"name": "<b>&</b>"}), &[]).unwrap()), "<b>&</b>");
}
