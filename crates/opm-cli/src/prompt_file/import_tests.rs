//! Tests of the Dotprompt and Prompty imports (mapping, translation, errors with lines) and of the
//! Prompty export round trip. Rendered output is checked with OPM's own engine.

use std::collections::BTreeMap;
use std::path::Path;

use opm_core::content::{PromptBody, VariableType};
use opm_core::template::{CompiledPrompt, RenderedBody};
use serde_json::{Value, json};

use super::{FileError, PromptFile, dotprompt, parse_any, prompty};

fn load(file: &str, text: &str) -> Result<PromptFile, FileError> {
    parse_any(Path::new(file), text)
}

fn render(file: &PromptFile, variables: Value) -> Vec<(String, String)> {
    let compiled = CompiledPrompt::compile(&file.content, &BTreeMap::new()).unwrap();
    let Value::Object(variables) = variables else { panic!("variables must be an object") };
    match compiled.render(&variables).unwrap() {
        RenderedBody::Chat { messages } => messages.into_iter().map(|m| (m.role, m.content)).collect(),
        RenderedBody::Text { text } => vec![(String::new(), text)],
    }
}

fn check_error(file: &str, text: &str, line: u64, expected: &str) {
    let error = load(file, text).unwrap_err();
    assert!(error.message.contains(expected), "`{}` should contain `{expected}`", error.message);
    assert_eq!(error.line, Some(line), "line of `{error}`");
}

const PROMPTY: &str = "\
---
name: shakespeare
description: Answers like the bard
metadata:
  authors: [ada]
  tags: [fun]
model:
  id: gpt-4o-mini
  provider: openai
  connection: {kind: key, endpoint: '${env:OPENAI_ENDPOINT}'}
  options: {temperature: 0.7, maxOutputTokens: 200, stopSequences: [END]}
inputs:
  question: {kind: string, required: true, description: what to ask}
  count: {kind: integer, default: 2}
  style: plain
sample: {question: Why?}
template: jinja2
---
system:
You are Shakespeare.{% if count > 1 %} Give {{ count }} answers.{% endif %}

# user:
{{ question }} {{ mood }}
";

#[test]
fn prompty_maps_model_inputs_and_roles() {
    let file = load("x/shakespeare.prompty", PROMPTY).unwrap();
    assert_eq!(
        (file.name.as_str(), file.description.as_str(), file.tags.clone()),
        ("shakespeare", "Answers like the bard", vec!["fun".to_owned()])
    );
    let model = file.content.model.clone().unwrap();
    assert_eq!((model.provider.as_deref(), model.model.as_deref()), (Some("openai"), Some("gpt-4o-mini")));
    assert_eq!(
        Value::Object(model.parameters),
        json!({"temperature": 0.7, "max_completion_tokens": 200, "stop": ["END"]})
    );
    let variables = &file.content.variables;
    assert!(variables["question"].required);
    assert_eq!(variables["count"].kind, VariableType::Number);
    assert_eq!(variables["style"].default, Some(json!("plain")));
    assert_eq!(variables["mood"].default, Some(json!("")), "undeclared variables render empty, as in Prompty");
    assert_eq!(file.content.metadata["prompty_sample"], json!({"question": "Why?"}));
    assert_eq!(file.content.metadata["authors"], json!(["ada"]));
    assert_eq!(
        render(&file, json!({"question": "Why?"})),
        vec![("system".into(), "You are Shakespeare. Give 2 answers.".into()), ("user".into(), "Why? ".into())]
    );
}

#[test]
fn prompty_export_round_trips() {
    let file = load("shakespeare.prompty", PROMPTY).unwrap();
    let text = prompty::to_prompty(&file.name, &file.description, &file.tags, &file.content).unwrap();
    let again = load("shakespeare.prompty", &text).unwrap();
    assert_eq!((again.name, again.description, again.tags), (file.name, file.description, file.tags));
    assert_eq!(again.content, file.content, "{text}");
    // An OPM YAML prompt exports and reads back the same too.
    let yaml = "name: greet\nmessages:\n  - {role: system, content: 'Hi {{ name }}'}\n  - {role: assistant, content: 'ok'}\nvariables:\n  name: {type: string}\nmodel: {provider: up, model: m, parameters: {top_p: 0.5}}\n";
    let file = load("greet.yaml", yaml).unwrap();
    let text = prompty::to_prompty(&file.name, "", &[], &file.content).unwrap();
    assert_eq!(load("greet.prompty", &text).unwrap().content, file.content, "{text}");
    let text_prompt = load("t.yaml", "name: t\ntemplate: hi\n").unwrap();
    assert!(prompty::to_prompty("t", "", &[], &text_prompt.content).unwrap_err().contains("text prompt"));
}

#[test]
fn prompty_v1_and_text_before_any_role_is_system() {
    let v1 = "---\nname: v1\nmodel:\n  api: chat\n  configuration:\n    type: azure_openai\n    azure_deployment: gpt-35\n  parameters: {max_tokens: 100}\ninputs:\n  name: {type: string}\n---\nBe brief.\nuser:\nHi {{name}}\n";
    let file = load("v1.prompty", v1).unwrap();
    let model = file.content.model.clone().unwrap();
    assert_eq!((model.provider.as_deref(), model.model.as_deref()), (Some("azure_openai"), Some("gpt-35")));
    assert_eq!(
        render(&file, json!({"name": "Ada"})),
        vec![("system".into(), "Be brief.".into()), ("user".into(), "Hi Ada".into())]
    );
}

#[test]
fn prompty_refuses_what_opm_cannot_hold_with_lines() {
    check_error(
        "a.prompty",
        "---\nname: a\ntools:\n  - {name: f, kind: function}\n---\nuser:\nhi\n",
        3,
        "`tools` has no OPM equivalent",
    );
    check_error("a.prompty", "---\nname: a\ninputs:\n  h: {kind: thread}\n---\nuser:\nhi\n", 3, "kind `thread`");
    check_error("a.prompty", "---\nname: a\n---\nsystem:\nx\nuser[name=\"bob\"]:\nhi\n", 6, "role attributes");
    check_error(
        "a.prompty",
        "---\nname: a\nmodel:\n  connection: {apiKey: sk-123}\n---\nuser:\nhi\n",
        3,
        "literal key",
    );
    check_error("a.prompty", "---\nname: a\ntemplate: mustache\n---\nuser:\nhi\n", 3, "Jinja2 Prompty files only");
    check_error("a.prompty", "---\nname: Bad Name\n---\nuser:\nhi\n", 2, "");
}

const DOTPROMPT: &str = "\
---
model: googleai/gemini-2.5-flash
config:
  temperature: 0.4
  maxOutputTokens: 300
input:
  schema:
    customer: string, who asks
    vip?: boolean
    items(array): string
  default:
    customer: friend
---
{{role \"system\"}}
You help {{customer}}.{{#if vip}} They are a VIP.{{else}} Be kind.{{/if}}
{{! a comment }}
{{role \"user\"}}
{{#each items}}{{@index}}={{this}} {{/each}}{{json items}}
";

#[test]
fn dotprompt_translates_to_jinja_and_maps_the_front_matter() {
    let file = load("shop/support.prompt", DOTPROMPT).unwrap();
    assert_eq!(file.name, "support");
    let model = file.content.model.clone().unwrap();
    assert_eq!((model.provider.as_deref(), model.model.as_deref()), (Some("googleai"), Some("gemini-2.5-flash")));
    assert_eq!(Value::Object(model.parameters), json!({"temperature": 0.4, "max_tokens": 300}));
    let variables = &file.content.variables;
    assert_eq!(variables["customer"].description.as_deref(), Some("who asks"));
    assert_eq!(variables["customer"].default, Some(json!("friend")));
    assert!(!variables["vip"].required && variables["items"].required);
    let PromptBody::Chat { messages } = &file.content.body else { panic!("chat expected") };
    assert_eq!(
        messages[1].content,
        "{% for item1 in items %}{{ loop.index0 }}={{ item1 }} {% endfor %}{{ items | tojson }}"
    );
    assert_eq!(
        render(&file, json!({"vip": true, "items": ["a", "b"]})),
        vec![
            ("system".into(), "You help friend. They are a VIP.".into()),
            ("user".into(), "0=a 1=b [\"a\", \"b\"]".into()) // minijinja's tojson spaces items
        ]
    );
    // Text before any role is a user message (Dotprompt's default), and `model` is the assistant.
    let plain = load("p.prompt", "Hello {{name}}\n{{role \"model\"}}\nHi").unwrap();
    assert_eq!(
        render(&plain, json!({"name": "Ada"})),
        vec![("user".into(), "Hello Ada".into()), ("assistant".into(), "Hi".into())]
    );
}

#[test]
fn dotprompt_refuses_what_opm_cannot_hold_with_lines() {
    check_error("a.prompt", "---\nname: a\n---\nHi\n{{> header}}\n", 5, "partials have no OPM equivalent");
    check_error("a.prompt", "hello\n{{history}}\n", 2, "`{{history}}` has no OPM equivalent");
    check_error("a.prompt", "hello\n\n{{media url=photo}}\n", 3, "`{{media url=photo}}` has no OPM equivalent");
    check_error("a.prompt", "{{#each xs}}{{name}}{{/each}}", 1, "write `this.name`");
    check_error("a.prompt", "{{@root.x}}", 1, "`@root.x` has no OPM equivalent");
    check_error("a.prompt", "---\ntools: [search]\n---\nhi", 2, "`tools` has no OPM equivalent");
    check_error("a.prompt", "---\ninput:\n  schema:\n    pick(enum): [a, b]\n---\nhi", 2, "`pick(enum)`");
    check_error("a.prompt", "{{#if x}}open", 1, "is not closed");
    check_error("a.prompt", "a {% raw %}", 1, "Jinja would read");
    assert!(dotprompt::parse(Path::new("ok.prompt"), "{{{raw_html}}}").is_ok());
}
