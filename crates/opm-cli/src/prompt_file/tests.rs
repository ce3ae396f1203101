//! Tests of prompt-file parsing, validation errors with positions, loading and export.

use std::path::Path;

use super::*;

fn parse_text(text: &str) -> Result<PromptFile, FileError> {
    parse(Path::new("p.yaml"), text)
}

/// `text` must fail with `expected` in the message, at `line` (when given).
fn check_error(text: &str, line: Option<u64>, expected: &str) {
    let error = parse_text(text).unwrap_err();
    assert!(error.message.contains(expected), "`{}` should contain `{expected}`", error.message);
    assert_eq!(error.line, line, "line of `{error}`");
}

const CHAT: &str = "\
name: support-reply
description: Answers a ticket
tags: [support, chat]
type: chat
messages:
  - role: system
    content: You help {{ product }} customers.
  - role: user
    content: |
      {{ question }}
variables:
  product: {type: string, default: OPM}
  question: {description: The customer's question}
model:
  provider: openai
  model: gpt-4o-mini
  parameters: {temperature: 0.2}
metadata: {owner: support}
";

#[test]
fn a_chat_file_parses_into_content() {
    let file = parse_text(CHAT).unwrap();
    assert_eq!(file.name, "support-reply");
    assert_eq!(file.tags, vec!["support", "chat"]);
    assert_eq!(file.message, DEFAULT_MESSAGE);
    let PromptBody::Chat { messages } = &file.content.body else { panic!("chat expected") };
    assert_eq!(messages[1].content, "{{ question }}\n");
    assert_eq!(file.content.variables["product"].default, Some(serde_json::json!("OPM")));
    assert_eq!(file.content.model.as_ref().unwrap().parameters["temperature"], serde_json::json!(0.2));
}

#[test]
fn type_is_inferred_and_message_is_kept() {
    let file = parse_text("name: t\nmessage: first\ntemplate: hello\n").unwrap();
    assert_eq!(file.content.body, PromptBody::Text { template: "hello".into() });
    assert_eq!(file.message, "first");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let error = parse_text("name: x\ntemplate: [unclosed\n").unwrap_err();
    assert!(error.line.is_some(), "{error}");
    assert!(error.to_string().starts_with("p.yaml:"), "{error}");
    check_error("name: x\ntemplate: hi\ncolour: red\n", Some(3), "colour");
    check_error("name: x\ntemplate: hi\nvariables:\n  a: {kind: string}\n", Some(4), "kind");
}

#[test]
fn semantic_errors_point_at_the_field() {
    check_error("name: Bad Name\ntemplate: hi\n", Some(1), "invalid prompt name");
    check_error("name: x\ntags:\n  - ok\n  - NotOk\ntemplate: hi\n", Some(4), "invalid tag");
    check_error("name: x\n\ntemplate: 'Hi {{ who }}'\n", Some(3), "uses undeclared variables: who");
    check_error(
        "name: x\nmessages:\n  - role: system\n    content: a\n  - role: user\n    content: '{{ q }}'\n",
        Some(5),
        "`messages[1]` uses undeclared variables: q",
    );
    check_error("name: x\nmessages:\n  - role: robot\n    content: a\n", Some(3), "messages[0].role `robot`");
    check_error("name: x\ntemplate: '{% if %}'\n", Some(2), "does not parse");
    check_error(
        "name: x\ntemplate: '{{ n }}'\nvariables:\n  n:\n    type: number\n    default: two\n",
        Some(4),
        "default of variable `n` must be number",
    );
    check_error("name: x\ntype: chat\ntemplate: hi\n", Some(3), "a chat prompt has `messages`");
    check_error("name: x\ndescription: nothing else\n", None, "needs `messages` (chat) or `template` (text)");
}

#[test]
fn loading_a_directory_reports_every_bad_file_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "name: a\ntemplate: hi\n").unwrap();
    std::fs::write(dir.path().join("b.yml"), "name: a\ntemplate: again\n").unwrap();
    std::fs::write(dir.path().join("c.yaml"), "name: c\ntemplate: '{{ x }}'\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let errors = load(dir.path()).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].to_string().contains("prompt `a` is also defined in"), "{}", errors[0]);
    assert!(errors[1].to_string().contains("c.yaml:2: template `template` uses undeclared"), "{}", errors[1]);
    std::fs::remove_file(dir.path().join("b.yml")).unwrap();
    std::fs::remove_file(dir.path().join("c.yaml")).unwrap();
    let files = load(dir.path()).unwrap();
    assert_eq!(files.len(), 1);
    let empty = tempfile::tempdir().unwrap();
    assert!(load(empty.path()).unwrap_err()[0].message.contains("no prompt files"));
}

#[test]
fn export_round_trips_through_parse() {
    let file = parse_text(CHAT).unwrap();
    let dto = content_to_dto(&file.content).unwrap();
    let yaml = to_yaml(&file.name, &file.description, &file.tags, &dto).unwrap();
    let again = parse_text(&yaml).unwrap_or_else(|error| panic!("{error}\n{yaml}"));
    assert_eq!(again.content.content_hash(), file.content.content_hash(), "{yaml}");
    assert_eq!((again.description, again.tags), (file.description, file.tags));
    let long = format!("name: t\ntemplate: \"{}\\n  indented\\n\\ntrailing  \"\n", "word ".repeat(40));
    let file = parse_text(&long).unwrap();
    let yaml = to_yaml(&file.name, "", &[], &content_to_dto(&file.content).unwrap()).unwrap();
    assert_eq!(parse_text(&yaml).unwrap().content, file.content, "{yaml}");
}
