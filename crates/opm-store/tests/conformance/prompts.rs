//! Prompts: creation, updates, archiving, listing with filters and cursors.

use std::sync::Arc;

use opm_core::CoreError;
use opm_store::{PromptFilter, PromptPatch, Store, StoreError};
use serde_json::json;

use crate::assert_err;
use crate::fixtures::*;

pub async fn create_and_get_prompt(store: Arc<dyn Store>) {
    let mut new = new_prompt("welcome");
    new.tags = vec![tag("onboarding"), tag("email")];
    let created = store.create_prompt(&new, &ctx()).await.unwrap();
    assert_eq!(created.name, prompt("welcome"));
    assert_eq!(created.description, "the welcome prompt");
    assert_eq!(created.tags, new.tags, "tags keep their order");
    assert!(!created.archived);
    assert_eq!(created.latest_version, None);
    assert_eq!(store.get_prompt(&default_project(), &prompt("welcome")).await.unwrap(), created);

    assert_err!(store.create_prompt(&new, &ctx()).await, StoreError::PromptExists(_));
    assert_err!(store.get_prompt(&default_project(), &prompt("nope")).await, StoreError::PromptNotFound(_));

    let trail = audit_trail(&store).await;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].record.action, "prompt.create");
    assert_eq!(trail[0].record.target, "prompt/welcome");
    assert_eq!(trail[0].record.project, "default");
    assert_eq!(
        trail[0].record.after,
        Some(json!({"description": "the welcome prompt", "tags": ["onboarding", "email"]}))
    );
}

pub async fn create_prompt_validates_its_fields(store: Arc<dyn Store>) {
    let mut long = new_prompt("long");
    long.description = "x".repeat(5000);
    assert_err!(store.create_prompt(&long, &ctx()).await, StoreError::Domain(CoreError::InvalidContent(_)));
    let mut tagged = new_prompt("tagged");
    tagged.tags = (0..33).map(|i| tag(&format!("t{i}"))).collect();
    assert_err!(store.create_prompt(&tagged, &ctx()).await, StoreError::Domain(CoreError::InvalidContent(_)));
    assert!(audit_trail(&store).await.is_empty());
    assert!(store.list_prompts(&default_project(), &all_prompts()).await.unwrap().is_empty());
}

pub async fn update_prompt_changes_description_and_tags(store: Arc<dyn Store>) {
    let mut new = new_prompt("welcome");
    new.tags = vec![tag("old")];
    let created = store.create_prompt(&new, &ctx()).await.unwrap();

    let patch = PromptPatch { description: Some("greets users".into()), tags: None };
    let updated = store.update_prompt(&default_project(), &prompt("welcome"), &patch, &ctx()).await.unwrap();
    assert_eq!(updated.description, "greets users");
    assert_eq!(updated.tags, vec![tag("old")]);
    assert!(updated.updated_at >= created.updated_at);

    let patch = PromptPatch { description: None, tags: Some(vec![tag("new")]) };
    let updated = store.update_prompt(&default_project(), &prompt("welcome"), &patch, &ctx()).await.unwrap();
    assert_eq!(updated.tags, vec![tag("new")]);
    assert_eq!(store.get_prompt(&default_project(), &prompt("welcome")).await.unwrap(), updated);
    let by_tag = |name: &str| PromptFilter { tag: Some(tag(name)), ..all_prompts() };
    assert!(store.list_prompts(&default_project(), &by_tag("old")).await.unwrap().is_empty());
    assert_eq!(store.list_prompts(&default_project(), &by_tag("new")).await.unwrap().len(), 1);

    let trail = audit_trail(&store).await;
    let last = &trail.last().unwrap().record;
    assert_eq!(last.action, "prompt.update");
    assert_eq!(last.before, Some(json!({"description": "greets users", "tags": ["old"]})));
    assert_eq!(last.after, Some(json!({"description": "greets users", "tags": ["new"]})));

    // A patch that changes nothing writes nothing.
    let same = PromptPatch { description: Some("greets users".into()), tags: Some(vec![tag("new")]) };
    let unchanged = store.update_prompt(&default_project(), &prompt("welcome"), &same, &ctx()).await.unwrap();
    assert_eq!(unchanged, updated);
    assert_eq!(audit_trail(&store).await.len(), trail.len());

    let missing = store.update_prompt(&default_project(), &prompt("nope"), &same, &ctx()).await;
    assert_err!(missing, StoreError::PromptNotFound(_));
    let too_long = PromptPatch { description: Some("x".repeat(5000)), tags: None };
    let invalid = store.update_prompt(&default_project(), &prompt("welcome"), &too_long, &ctx()).await;
    assert_err!(invalid, StoreError::Domain(_));
}

pub async fn archive_and_restore(store: Arc<dyn Store>) {
    publish(&store, "welcome", "hi").await;
    publish(&store, "other", "hey").await;
    let name = prompt("welcome");
    let archived = store.set_archived(&default_project(), &name, true, &ctx()).await.unwrap();
    assert!(archived.archived);
    assert!(store.get_prompt(&default_project(), &name).await.unwrap().archived, "get returns archived prompts");

    let active: Vec<_> = store.list_prompts(&default_project(), &active_prompts()).await.unwrap();
    assert_eq!(active.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["other"]);
    let all = store.list_prompts(&default_project(), &all_prompts()).await.unwrap();
    assert_eq!(all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["other", "welcome"]);

    assert_err!(store.set_archived(&default_project(), &name, true, &ctx()).await, StoreError::PromptArchived(_));
    let patch = PromptPatch { description: Some("x".into()), tags: None };
    assert_err!(store.update_prompt(&default_project(), &name, &patch, &ctx()).await, StoreError::PromptArchived(_));

    let restored = store.set_archived(&default_project(), &name, false, &ctx()).await.unwrap();
    assert!(!restored.archived);
    assert_err!(store.set_archived(&default_project(), &name, false, &ctx()).await, StoreError::PromptNotArchived(_));
    assert_err!(
        store.set_archived(&default_project(), &prompt("nope"), true, &ctx()).await,
        StoreError::PromptNotFound(_)
    );

    let trail = audit_trail(&store).await;
    let archive = trail.iter().find(|e| e.record.action == "prompt.archive").unwrap();
    assert_eq!(archive.record.target, "prompt/welcome");
    assert_eq!(archive.record.before, Some(json!({"archived": false})));
    assert_eq!(archive.record.after, Some(json!({"archived": true})));
    assert_eq!(trail.last().unwrap().record.action, "prompt.restore");
}

pub async fn list_prompts_orders_by_name_and_pages(store: Arc<dyn Store>) {
    for name in ["b", "a-b", "a.b", "a_b", "a", "ab", "a0"] {
        store.create_prompt(&new_prompt(name), &ctx()).await.unwrap();
    }
    let names =
        |prompts: Vec<opm_core::prompt::Prompt>| prompts.into_iter().map(|p| p.name.to_string()).collect::<Vec<_>>();
    let all = store.list_prompts(&default_project(), &all_prompts()).await.unwrap();
    assert_eq!(names(all), ["a", "a-b", "a.b", "a0", "a_b", "ab", "b"], "byte order on every backend");

    let page = |after: Option<&str>| PromptFilter { after: after.map(prompt), limit: 3, ..all_prompts() };
    assert_eq!(names(store.list_prompts(&default_project(), &page(None)).await.unwrap()), ["a", "a-b", "a.b"]);
    assert_eq!(names(store.list_prompts(&default_project(), &page(Some("a.b"))).await.unwrap()), ["a0", "a_b", "ab"]);
    assert_eq!(names(store.list_prompts(&default_project(), &page(Some("ab"))).await.unwrap()), ["b"]);
    assert!(store.list_prompts(&default_project(), &page(Some("b"))).await.unwrap().is_empty());
}

pub async fn list_prompts_filters_by_tag(store: Arc<dyn Store>) {
    let tagged = |name: &str, tags: &[&str]| {
        let mut new = new_prompt(name);
        new.tags = tags.iter().map(|t| tag(t)).collect();
        new
    };
    store.create_prompt(&tagged("one", &["support", "email"]), &ctx()).await.unwrap();
    store.create_prompt(&tagged("two", &["support-v2"]), &ctx()).await.unwrap();
    store.create_prompt(&tagged("three", &["xsupport", "support"]), &ctx()).await.unwrap();
    store.create_prompt(&tagged("four", &[]), &ctx()).await.unwrap();
    let with_tag = |name: &str| PromptFilter { tag: Some(tag(name)), ..all_prompts() };
    let names =
        |prompts: Vec<opm_core::prompt::Prompt>| prompts.into_iter().map(|p| p.name.to_string()).collect::<Vec<_>>();
    assert_eq!(names(store.list_prompts(&default_project(), &with_tag("support")).await.unwrap()), ["one", "three"]);
    assert_eq!(names(store.list_prompts(&default_project(), &with_tag("email")).await.unwrap()), ["one"]);
    assert_eq!(names(store.list_prompts(&default_project(), &with_tag("support-v2")).await.unwrap()), ["two"]);
    assert!(store.list_prompts(&default_project(), &with_tag("supp")).await.unwrap().is_empty());
}

pub async fn list_prompts_filters_by_label(store: Arc<dyn Store>) {
    publish(&store, "labelled", "v1").await;
    publish(&store, "versioned", "v1").await;
    store.create_prompt(&new_prompt("empty"), &ctx()).await.unwrap();
    let production = label("production");
    store
        .set_label(&default_project(), &prompt("labelled"), &production, &version_target(1), "ship", &ctx())
        .await
        .unwrap();
    let with_label = |name: &str| PromptFilter { label: Some(label(name)), ..all_prompts() };
    let names =
        |prompts: Vec<opm_core::prompt::Prompt>| prompts.into_iter().map(|p| p.name.to_string()).collect::<Vec<_>>();
    assert_eq!(names(store.list_prompts(&default_project(), &with_label("production")).await.unwrap()), ["labelled"]);
    assert_eq!(
        names(store.list_prompts(&default_project(), &with_label("latest")).await.unwrap()),
        ["labelled", "versioned"]
    );
    assert!(store.list_prompts(&default_project(), &with_label("staging")).await.unwrap().is_empty());
}

pub async fn list_prompts_fills_latest_version(store: Arc<dyn Store>) {
    for template in ["one", "two", "three"] {
        publish(&store, "welcome", template).await;
    }
    store.create_prompt(&new_prompt("empty"), &ctx()).await.unwrap();
    let listed = store.list_prompts(&default_project(), &all_prompts()).await.unwrap();
    let latest: Vec<_> = listed.iter().map(|p| (p.name.as_str(), p.latest_version)).collect();
    assert_eq!(latest, [("empty", None), ("welcome", Some(3))]);
    assert_eq!(store.get_prompt(&default_project(), &prompt("welcome")).await.unwrap().latest_version, Some(3));
}
