//! Plan computation: each kind of change, label moves and include ordering.

use std::path::Path;

use super::*;
use crate::prompt_file::parse;

fn file(name: &str, template: &str) -> PromptFile {
    let text = format!("name: {name}\ndescription: d\ntags: [t]\ntemplate: {template:?}\n");
    parse(Path::new(&format!("{name}.yaml")), &text).unwrap()
}

fn remote(of: &PromptFile, version: u32, label_version: Option<u32>) -> RemoteState {
    RemoteState {
        description: of.description.clone(),
        tags: of.tags.clone(),
        archived: false,
        latest: Some(RemoteVersion {
            version,
            content_hash: of.content.content_hash(),
            content: of.content.clone(),
            message: of.message.clone(),
        }),
        label_version,
    }
}

fn with_message(name: &str, template: &str, message: &str) -> PromptFile {
    let text = format!("name: {name}\ndescription: d\ntags: [t]\nmessage: {message}\ntemplate: {template:?}\n");
    parse(Path::new(&format!("{name}.yaml")), &text).unwrap()
}

#[test]
fn a_changed_file_repeating_the_replaced_message_needs_a_reason() {
    let server = remote(&with_message("greet", "Hello", "First version"), 1, None);
    let local = with_message("greet", "Hello there", "First version");
    let refused = plan_item(&local, Some(&server), None, None).unwrap();
    assert_eq!(refused.message, None);
    assert_eq!(
        refused.refused.as_deref(),
        Some(
            "greet.yaml:4: `message: First version` is the message of v1 this version replaces; change `message:` or give --reason"
        )
    );
    let with_reason = plan_item(&local, Some(&server), None, Some("warmer")).unwrap();
    assert_eq!((with_reason.message.as_deref(), with_reason.refused.as_deref()), (Some("warmer"), None));
    assert_eq!(
        with_reason.message_note.as_deref(),
        Some("message from --reason: `message:` (greet.yaml:4) repeats v1's")
    );
    // A new message, an unchanged file, a file without `message:` and a new prompt are left alone.
    let new_message = plan_item(&with_message("greet", "Hello there", "Warmer"), Some(&server), None, None).unwrap();
    assert_eq!((new_message.message.as_deref(), new_message.refused), (Some("Warmer"), None));
    let unchanged = plan_item(&with_message("greet", "Hello", "First version"), Some(&server), None, None).unwrap();
    assert_eq!((unchanged.message, unchanged.refused), (None, None));
    let default_message = remote(&file("greet", "Hello"), 1, None);
    let no_line = plan_item(&file("greet", "Hi"), Some(&default_message), None, None).unwrap();
    assert_eq!((no_line.message.as_deref(), no_line.refused), (Some("opm apply"), None));
    let created = plan_item(&local, None, None, None).unwrap();
    assert_eq!(created.message.as_deref(), Some("First version"));
}

#[test]
fn a_missing_prompt_is_created_with_a_full_diff() {
    let local = file("greet", "Hello");
    let item = plan_item(&local, None, None, None).unwrap();
    assert_eq!((item.action, &item.content), ("create", &ContentChange::Create));
    assert!(item.diff.contains("+++ greet (new)\n") && item.diff.contains("+  Hello\n"), "{}", item.diff);
    assert!(!item.is_noop());
}

#[test]
fn equal_hashes_are_unchanged() {
    let local = file("greet", "Hello");
    let item = plan_item(&local, Some(&remote(&local, 3, None)), None, None).unwrap();
    assert_eq!((item.action, &item.content), ("unchanged", &ContentChange::Unchanged { version: 3 }));
    assert!(item.is_noop() && item.diff.is_empty());
}

#[test]
fn changed_content_is_a_new_version_with_fields_and_diff() {
    let local = file("greet", "Hello there");
    let server = remote(&file("greet", "Hello"), 2, None);
    let item = plan_item(&local, Some(&server), None, None).unwrap();
    assert_eq!(item.action, "new version");
    assert_eq!(item.content, ContentChange::NewVersion { from: Some(2), changed_fields: vec!["template".into()] });
    assert!(item.diff.contains("-  Hello\n+  Hello there\n"), "{}", item.diff);
}

#[test]
fn description_and_tags_alone_are_an_update() {
    let local = file("greet", "Hello");
    let mut server = remote(&local, 1, None);
    server.description = "old".into();
    server.tags = vec![];
    let item = plan_item(&local, Some(&server), None, None).unwrap();
    assert_eq!(item.action, "update");
    assert_eq!(item.metadata_changes, vec!["description", "tags"]);
}

#[test]
fn a_prompt_without_versions_gets_its_first() {
    let local = file("greet", "Hello");
    let mut server = remote(&local, 1, None);
    server.latest = None;
    let item = plan_item(&local, Some(&server), None, None).unwrap();
    assert_eq!(item.action, "new version");
    assert!(matches!(item.content, ContentChange::NewVersion { from: None, .. }));
}

#[test]
fn labels_move_only_when_they_point_elsewhere() {
    let local = file("greet", "Hello");
    let at_latest = plan_item(&local, Some(&remote(&local, 2, Some(2))), Some("production"), None).unwrap();
    assert_eq!(at_latest.label, None);
    assert!(at_latest.is_noop());
    let behind = plan_item(&local, Some(&remote(&local, 2, Some(1))), Some("production"), None).unwrap();
    assert_eq!(behind.label, Some(LabelMove { label: "production".into(), from: Some(1), to: Some(2) }));
    assert_eq!(behind.action, "unchanged");
    let created = plan_item(&local, None, Some("production"), None).unwrap();
    assert_eq!(created.label, Some(LabelMove { label: "production".into(), from: None, to: None }));
}

#[test]
fn archived_prompts_are_refused() {
    let local = file("greet", "Hello");
    let mut server = remote(&local, 1, None);
    server.archived = true;
    let error = plan_item(&local, Some(&server), None, None).unwrap_err();
    assert!(error.contains("greet.yaml: prompt `greet` is archived; run `opm restore greet` first"), "{error}");
}

#[test]
fn included_prompts_come_first() {
    let files = vec![
        file("answer", "{% include \"tone\" %} {% include \"footer@2\" %}"),
        file("footer", "{% include \"tone\" %}"),
        file("tone", "Be kind."),
        file("other", "{% include \"not-local\" %}"),
    ];
    let order: Vec<String> = order_by_includes(files).into_iter().map(|file| file.name).collect();
    assert_eq!(order, vec!["tone", "footer", "answer", "other"]);
}

#[test]
fn include_cycles_do_not_loop() {
    let files = vec![file("a", "{% include \"b\" %}"), file("b", "{% include \"a\" %}")];
    let order: Vec<String> = order_by_includes(files).into_iter().map(|file| file.name).collect();
    assert_eq!(order, vec!["b", "a"]);
}
