//! Versions: numbering, no-op publishes, implicit prompt creation, validation, lookup.

use std::sync::Arc;

use opm_core::CoreError;
use opm_store::{ChangeEvent, NewApiKey, NewVersion, Store, StoreError};
use serde_json::json;

use crate::assert_err;
use crate::fixtures::*;

pub async fn publish_numbers_versions_from_one(store: Arc<dyn Store>) {
    store.create_prompt(&new_prompt("welcome"), &ctx()).await.unwrap();
    let name = prompt("welcome");
    for (index, template) in ["one", "two", "three"].into_iter().enumerate() {
        let outcome = store.publish_version(&default_project(), &name, &new_version(template), &ctx()).await.unwrap();
        assert!(outcome.created && !outcome.prompt_created);
        assert_eq!(outcome.version.version, index as u32 + 1);
        assert_eq!(outcome.version.content_hash, text(template).content_hash());
        assert_eq!(outcome.version.author, ctx().actor);
        assert_eq!(outcome.version.message, format!("publish {template}"));
    }
    let two = store.get_version(&default_project(), &name, 2).await.unwrap();
    assert_eq!(two.content, text("two"));
    assert_eq!(two.prompt, name);

    let numbers =
        |versions: Vec<opm_core::prompt::PromptVersion>| versions.iter().map(|v| v.version).collect::<Vec<_>>();
    assert_eq!(numbers(store.list_versions(&default_project(), &name, None, 10).await.unwrap()), [3, 2, 1]);
    assert_eq!(numbers(store.list_versions(&default_project(), &name, Some(3), 1).await.unwrap()), [2]);
    assert_eq!(numbers(store.list_versions(&default_project(), &name, Some(2), 10).await.unwrap()), [1]);
    assert!(store.list_versions(&default_project(), &name, Some(1), 10).await.unwrap().is_empty());

    let trail = audit_trail(&store).await;
    let last = &trail.last().unwrap().record;
    assert_eq!(last.action, "version.create");
    assert_eq!(last.target, "prompt/welcome/version/3");
    assert_eq!(last.after, Some(json!({"version": 3, "content_hash": text("three").content_hash()})));
}

pub async fn publishing_the_latest_content_again_is_a_no_op(store: Arc<dyn Store>) {
    let mut events = store.subscribe();
    let first = publish(&store, "welcome", "same").await;
    assert_eq!(next_event(&mut events).await, prompt_event("welcome"));
    let entries = audit_trail(&store).await.len();

    let name = prompt("welcome");
    let again = store.publish_version(&default_project(), &name, &new_version("same"), &ctx()).await.unwrap();
    assert!(!again.created && !again.prompt_created);
    assert_eq!(again.version, first);
    assert_eq!(audit_trail(&store).await.len(), entries, "a no-op publish is not audited");
    // No event for it: the next event is the marker key's.
    let marker = NewApiKey {
        id: "marker".into(),
        name: "marker".into(),
        role: opm_core::auth::Role::Viewer,
        project: None,
        secret_hash: "marker-hash".into(),
        expires_at: None,
    };
    store.create_key(&marker, &ctx()).await.unwrap();
    assert_eq!(next_event(&mut events).await, ChangeEvent::Key { id: "marker".into() });

    // Equal to an older version but not the latest: a new version.
    store.publish_version(&default_project(), &name, &new_version("different"), &ctx()).await.unwrap();
    let back = store.publish_version(&default_project(), &name, &new_version("same"), &ctx()).await.unwrap();
    assert!(back.created);
    assert_eq!(back.version.version, 3);
}

pub async fn publish_creates_the_prompt_when_asked(store: Arc<dyn Store>) {
    let name = prompt("fresh");
    let without = store.publish_version(&default_project(), &name, &new_version("x"), &ctx()).await;
    assert_err!(without, StoreError::PromptNotFound(_));

    let created = store.publish_version(&default_project(), &name, &new_version_creating("fresh", "x"), &ctx()).await;
    let created = created.unwrap();
    assert!(created.created && created.prompt_created);
    assert_eq!(created.version.version, 1);
    let prompt_now = store.get_prompt(&default_project(), &name).await.unwrap();
    assert_eq!(prompt_now.description, "the fresh prompt");
    assert_eq!(prompt_now.latest_version, Some(1));

    let next = store.publish_version(&default_project(), &name, &new_version_creating("fresh", "y"), &ctx()).await;
    let next = next.unwrap();
    assert!(next.created && !next.prompt_created);
    assert_eq!(next.version.version, 2);

    let trail = audit_trail(&store).await;
    let actions: Vec<_> = trail.iter().map(|e| (e.record.action.as_str(), e.record.target.as_str())).collect();
    assert_eq!(
        actions,
        [
            ("prompt.create", "prompt/fresh"),
            ("version.create", "prompt/fresh/version/1"),
            ("version.create", "prompt/fresh/version/2")
        ]
    );

    let mut elsewhere = new_version("x");
    elsewhere.create_prompt = Some(new_prompt_in(&project("nope"), "fresh"));
    let missing_project = store.publish_version(&project("nope"), &name, &elsewhere, &ctx()).await;
    assert_err!(missing_project, StoreError::ProjectNotFound(_));
    let mismatch =
        store.publish_version(&default_project(), &prompt("other"), &new_version_creating("fresh", "z"), &ctx()).await;
    assert_err!(mismatch, StoreError::InvalidInput(_));
}

pub async fn archived_prompts_refuse_versions(store: Arc<dyn Store>) {
    publish(&store, "welcome", "v1").await;
    store.set_archived(&default_project(), &prompt("welcome"), true, &ctx()).await.unwrap();
    let entries = audit_trail(&store).await.len();
    let refused = store.publish_version(&default_project(), &prompt("welcome"), &new_version("v2"), &ctx()).await;
    assert_err!(refused, StoreError::PromptArchived(_));
    assert_eq!(audit_trail(&store).await.len(), entries);
    assert_eq!(store.list_versions(&default_project(), &prompt("welcome"), None, 10).await.unwrap().len(), 1);
}

pub async fn publish_validates_content_and_message(store: Arc<dyn Store>) {
    let invalid: opm_core::content::VersionContent =
        serde_json::from_value(json!({"type": "text", "template": "Hello {{ name }}"})).unwrap();
    let new = NewVersion { content: invalid, ..new_version_creating("welcome", "unused") };
    let refused = store.publish_version(&default_project(), &prompt("welcome"), &new, &ctx()).await;
    assert_err!(refused, StoreError::Domain(CoreError::TemplateUsesUndeclared { .. }));

    let long_message = NewVersion { message: "m".repeat(5000), ..new_version_creating("welcome", "ok") };
    let refused = store.publish_version(&default_project(), &prompt("welcome"), &long_message, &ctx()).await;
    assert_err!(refused, StoreError::Domain(CoreError::InvalidContent(_)));

    assert_err!(store.get_prompt(&default_project(), &prompt("welcome")).await, StoreError::PromptNotFound(_));
    assert!(audit_trail(&store).await.is_empty());
}

pub async fn missing_versions_are_not_found(store: Arc<dyn Store>) {
    publish(&store, "welcome", "v1").await;
    let missing = store.get_version(&default_project(), &prompt("welcome"), 2).await;
    assert_err!(missing, StoreError::VersionNotFound { version: 2, .. });
    assert_err!(store.get_version(&default_project(), &prompt("nope"), 1).await, StoreError::PromptNotFound(_));
    assert_err!(
        store.list_versions(&default_project(), &prompt("nope"), None, 10).await,
        StoreError::PromptNotFound(_)
    );
}
