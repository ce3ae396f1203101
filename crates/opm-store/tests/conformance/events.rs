//! Change events: announced after commit, one per changed thing, none for no-ops or failures.

use std::sync::Arc;

use opm_core::auth::Role;
use opm_store::{ChangeEvent, NewApiKey, Store};

use crate::fixtures::*;

pub async fn mutations_announce_changes(store: Arc<dyn Store>) {
    let mut events = store.subscribe();
    store.create_project(&project("team-a"), &ctx()).await.unwrap();
    assert_eq!(next_event(&mut events).await, ChangeEvent::Project { project: project("team-a") });

    publish(&store, "welcome", "v1").await;
    assert_eq!(next_event(&mut events).await, prompt_event("welcome"), "creation and version: one event");
    store.create_prompt(&new_prompt("other"), &ctx()).await.unwrap();
    assert_eq!(next_event(&mut events).await, prompt_event("other"));
    let name = prompt("welcome");
    store.set_label(&default_project(), &name, &label("production"), &version_target(1), "ship", &ctx()).await.unwrap();
    assert_eq!(next_event(&mut events).await, prompt_event("welcome"));
    store.set_archived(&default_project(), &name, true, &ctx()).await.unwrap();
    assert_eq!(next_event(&mut events).await, prompt_event("welcome"));

    // Failures and no-ops announce nothing: the next event is the key's.
    let _ = store.publish_version(&default_project(), &name, &new_version("v2"), &ctx()).await.unwrap_err();
    store.set_archived(&default_project(), &name, false, &ctx()).await.unwrap();
    assert_eq!(next_event(&mut events).await, prompt_event("welcome"));
    publish(&store, "welcome", "v1").await;
    let key = NewApiKey {
        id: "k1".into(),
        name: "ci".into(),
        role: Role::Viewer,
        project: None,
        secret_hash: "h".into(),
        expires_at: None,
    };
    store.create_key(&key, &ctx()).await.unwrap();
    assert_eq!(next_event(&mut events).await, ChangeEvent::Key { id: "k1".into() });
    store.revoke_key("k1", &ctx()).await.unwrap();
    assert_eq!(next_event(&mut events).await, ChangeEvent::Key { id: "k1".into() });
    assert!(events.try_recv().is_err(), "nothing else was announced");
}
