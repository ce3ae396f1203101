//! Labels: setting, the automatic `latest`, rollback, history and resolution.

use std::sync::Arc;

use opm_core::CoreError;
use opm_core::label::LabelChangeKind;
use opm_core::prompt::Actor;
use opm_store::{Selector, Store, StoreError};
use serde_json::json;

use crate::assert_err;
use crate::fixtures::*;

pub async fn set_label_points_at_a_version(store: Arc<dyn Store>) {
    publish(&store, "welcome", "v1").await;
    publish(&store, "welcome", "v2").await;
    let (name, production) = (prompt("welcome"), label("production"));
    let set =
        store.set_label(&default_project(), &name, &production, &version_target(1), "ship", &ctx()).await.unwrap();
    assert_eq!(set.target, version_target(1));
    assert_eq!(set.updated_by, ctx().actor);
    assert_eq!(set.reason, "ship");

    let resolved = store.resolve(&default_project(), &name, &Selector::Label(production.clone())).await.unwrap();
    assert_eq!(resolved.version.version, 1);
    assert_eq!(resolved.label, Some(set.clone()));
    assert_eq!(resolved.prompt.name, name);

    let labels = store.list_labels(&default_project(), &name).await.unwrap();
    let listed: Vec<_> = labels.iter().map(|l| (l.name.as_str(), l.target.primary_version())).collect();
    assert_eq!(listed, [("latest", 2), ("production", 1)]);

    let history = store.label_history(&default_project(), &name, &production, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, LabelChangeKind::Set);
    assert_eq!(history[0].from, None);
    assert_eq!(history[0].to, version_target(1));
    assert_eq!(history[0].actor, ctx().actor);

    let last = audit_trail(&store).await.pop().unwrap().record;
    assert_eq!(last.action, "label.set");
    assert_eq!(last.target, "prompt/welcome/label/production");
    assert_eq!(last.before, Some(json!({"target": null})));
    assert_eq!(last.after, Some(json!({"target": {"type": "version", "version": 1}})));
    assert_eq!(last.reason.as_deref(), Some("ship"));
}

pub async fn set_label_validates_and_writes_nothing_on_failure(store: Arc<dyn Store>) {
    publish(&store, "welcome", "v1").await;
    let entries = audit_trail(&store).await.len();
    let name = prompt("welcome");
    let set = |label_name: &str, version: u32, reason: &'static str| {
        let store = store.clone();
        let (name, label_name) = (name.clone(), label(label_name));
        async move {
            store.set_label(&default_project(), &name, &label_name, &version_target(version), reason, &ctx()).await
        }
    };
    assert_err!(set("latest", 1, "r").await, StoreError::Domain(CoreError::ReservedLabel(_)));
    assert_err!(set("production", 0, "r").await, StoreError::Domain(CoreError::InvalidTarget(_)));
    assert_err!(set("production", 1, "  ").await, StoreError::Domain(CoreError::InvalidContent(_)));
    assert_err!(set("production", 9, "r").await, StoreError::VersionNotFound { version: 9, .. });
    let missing = store
        .set_label(&default_project(), &prompt("nope"), &label("production"), &version_target(1), "r", &ctx())
        .await;
    assert_err!(missing, StoreError::PromptNotFound(_));
    store.set_archived(&default_project(), &name, true, &ctx()).await.unwrap();
    assert_err!(set("production", 1, "r").await, StoreError::PromptArchived(_));

    assert_eq!(audit_trail(&store).await.len(), entries + 1, "only the archive is audited");
    store.set_archived(&default_project(), &name, false, &ctx()).await.unwrap();
    let labels = store.list_labels(&default_project(), &name).await.unwrap();
    assert_eq!(labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["latest"]);
}

pub async fn setting_the_current_target_again_is_a_no_op(store: Arc<dyn Store>) {
    publish(&store, "welcome", "v1").await;
    let (name, production) = (prompt("welcome"), label("production"));
    let first =
        store.set_label(&default_project(), &name, &production, &version_target(1), "ship", &ctx()).await.unwrap();
    let entries = audit_trail(&store).await.len();
    let again =
        store.set_label(&default_project(), &name, &production, &version_target(1), "again", &ctx()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(audit_trail(&store).await.len(), entries);
    assert_eq!(store.label_history(&default_project(), &name, &production, 10).await.unwrap().len(), 1);
}

pub async fn latest_is_automatic(store: Arc<dyn Store>) {
    store.create_prompt(&new_prompt("welcome"), &ctx()).await.unwrap();
    let name = prompt("welcome");
    let latest = Selector::Label(label("latest"));
    assert!(store.list_labels(&default_project(), &name).await.unwrap().is_empty());
    assert_err!(store.resolve(&default_project(), &name, &latest).await, StoreError::NoVersions(_));

    publish(&store, "welcome", "v1").await;
    let two = publish(&store, "welcome", "v2").await;
    let labels = store.list_labels(&default_project(), &name).await.unwrap();
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].name, label("latest"));
    assert_eq!(labels[0].target, version_target(2));
    assert_eq!(labels[0].updated_by, Actor::system("opm"));
    assert_eq!(labels[0].reason, "newest version");
    assert_eq!(labels[0].updated_at, two.created_at);

    let resolved = store.resolve(&default_project(), &name, &latest).await.unwrap();
    assert_eq!(resolved.version, two);
    assert_eq!(resolved.label.as_ref().map(|l| &l.target), Some(&version_target(2)));
    assert!(store.label_history(&default_project(), &name, &label("latest"), 10).await.unwrap().is_empty());
    let rollback = store.rollback_label(&default_project(), &name, &label("latest"), "undo", &ctx()).await;
    assert_err!(rollback, StoreError::Domain(CoreError::ReservedLabel(_)));
}

pub async fn rollback_toggles_between_the_last_two_targets(store: Arc<dyn Store>) {
    for template in ["v1", "v2", "v3"] {
        publish(&store, "welcome", template).await;
    }
    let (name, production) = (prompt("welcome"), label("production"));
    store.set_label(&default_project(), &name, &production, &version_target(1), "ship 1", &ctx()).await.unwrap();
    store.set_label(&default_project(), &name, &production, &version_target(2), "ship 2", &ctx()).await.unwrap();
    let (project_name, ctx) = (default_project(), ctx());
    let rollback = || store.rollback_label(&project_name, &name, &production, "undo", &ctx);
    assert_eq!(rollback().await.unwrap().target, version_target(1));
    assert_eq!(rollback().await.unwrap().target, version_target(2));
    let back = rollback().await.unwrap();
    assert_eq!(back.target, version_target(1));
    assert_eq!(back.reason, "undo");

    let resolved = store.resolve(&default_project(), &name, &Selector::Label(production.clone())).await.unwrap();
    assert_eq!(resolved.version.version, 1);

    let history = store.label_history(&default_project(), &name, &production, 10).await.unwrap();
    let steps: Vec<_> = history
        .iter()
        .map(|c| (c.kind, c.from.as_ref().map(|t| t.primary_version()), c.to.primary_version()))
        .collect();
    use LabelChangeKind::{Rollback, Set};
    assert_eq!(
        steps,
        [(Rollback, Some(2), 1), (Rollback, Some(1), 2), (Rollback, Some(2), 1), (Set, Some(1), 2), (Set, None, 1)]
    );
    assert!(history.windows(2).all(|pair| pair[0].seq > pair[1].seq), "newest first");

    let last = audit_trail(&store).await.pop().unwrap().record;
    assert_eq!(last.action, "label.rollback");
    assert_eq!(last.target, "prompt/welcome/label/production");
    assert_eq!(last.before, Some(json!({"target": {"type": "version", "version": 2}})));
    assert_eq!(last.after, Some(json!({"target": {"type": "version", "version": 1}})));
}

pub async fn rollback_needs_a_previous_target(store: Arc<dyn Store>) {
    publish(&store, "welcome", "v1").await;
    let (name, production) = (prompt("welcome"), label("production"));
    let missing = store.rollback_label(&default_project(), &name, &production, "undo", &ctx()).await;
    assert_err!(missing, StoreError::LabelNotFound { .. });
    store.set_label(&default_project(), &name, &production, &version_target(1), "ship", &ctx()).await.unwrap();
    let entries = audit_trail(&store).await.len();
    let nothing = store.rollback_label(&default_project(), &name, &production, "undo", &ctx()).await;
    assert_err!(nothing, StoreError::NothingToRollBack { .. });
    let blank = store.rollback_label(&default_project(), &name, &production, "", &ctx()).await;
    assert_err!(blank, StoreError::Domain(CoreError::InvalidContent(_)));
    assert_eq!(audit_trail(&store).await.len(), entries);
}

pub async fn label_history_is_newest_first_and_limited(store: Arc<dyn Store>) {
    for template in ["v1", "v2", "v3"] {
        publish(&store, "welcome", template).await;
    }
    let (name, production) = (prompt("welcome"), label("production"));
    for version in 1..=3 {
        store
            .set_label(&default_project(), &name, &production, &version_target(version), "ship", &ctx())
            .await
            .unwrap();
    }
    let history = store.label_history(&default_project(), &name, &production, 2).await.unwrap();
    assert_eq!(history.iter().map(|c| c.to.primary_version()).collect::<Vec<_>>(), [3, 2]);
    let unknown = store.label_history(&default_project(), &name, &label("staging"), 10).await;
    assert_err!(unknown, StoreError::LabelNotFound { .. });
    let no_prompt = store.label_history(&default_project(), &prompt("nope"), &production, 10).await;
    assert_err!(no_prompt, StoreError::PromptNotFound(_));
}

pub async fn resolve_follows_the_rules(store: Arc<dyn Store>) {
    publish(&store, "welcome", "v1").await;
    publish(&store, "welcome", "v2").await;
    let name = prompt("welcome");
    store.set_label(&default_project(), &name, &label("production"), &version_target(1), "ship", &ctx()).await.unwrap();

    let by_version = store.resolve(&default_project(), &name, &Selector::Version(2)).await.unwrap();
    assert_eq!(by_version.version.version, 2);
    assert_eq!(by_version.label, None);
    assert_err!(
        store.resolve(&default_project(), &name, &Selector::Version(9)).await,
        StoreError::VersionNotFound { .. }
    );
    let staging = Selector::Label(label("staging"));
    assert_err!(store.resolve(&default_project(), &name, &staging).await, StoreError::LabelNotFound { .. });
    let production = Selector::Label(label("production"));
    assert_err!(store.resolve(&default_project(), &prompt("nope"), &production).await, StoreError::PromptNotFound(_));

    store.set_archived(&default_project(), &name, true, &ctx()).await.unwrap();
    assert_err!(store.resolve(&default_project(), &name, &production).await, StoreError::PromptArchived(_));
    assert_err!(store.resolve(&default_project(), &name, &Selector::Version(1)).await, StoreError::PromptArchived(_));
    let latest = Selector::Label(label("latest"));
    assert_err!(store.resolve(&default_project(), &name, &latest).await, StoreError::PromptArchived(_));
}
