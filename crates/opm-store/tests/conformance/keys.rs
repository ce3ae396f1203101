//! API keys: creation, listing, lookup by hash, revocation.

use std::sync::Arc;

use opm_core::auth::Role;
use opm_core::names::ProjectName;
use opm_store::{NewApiKey, Store, StoreError};
use serde_json::json;

use crate::assert_err;
use crate::fixtures::*;

fn new_key(id: &str, role: Role, project: Option<ProjectName>) -> NewApiKey {
    NewApiKey { id: id.into(), name: format!("{id} key"), role, project, secret_hash: format!("hash-of-{id}") }
}

pub async fn keys_are_created_listed_and_found(store: Arc<dyn Store>) {
    assert_eq!(store.count_keys().await.unwrap(), 0);
    let admin = store.create_key(&new_key("admin1", Role::Admin, None), &ctx()).await.unwrap();
    assert_eq!((admin.role, admin.project.clone(), admin.revoked_at), (Role::Admin, None, None));
    let editor = store.create_key(&new_key("editor1", Role::Editor, Some(default_project())), &ctx()).await.unwrap();
    assert_eq!(store.count_keys().await.unwrap(), 2);

    let ids = |keys: Vec<opm_core::auth::ApiKey>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_keys(None).await.unwrap()), ["admin1", "editor1"]);
    assert_eq!(ids(store.list_keys(Some(&default_project())).await.unwrap()), ["editor1"]);
    assert_eq!(store.find_key_by_hash("hash-of-editor1").await.unwrap(), Some(editor));
    assert_eq!(store.find_key_by_hash("hash-of-admin1").await.unwrap(), Some(admin));
    assert_eq!(store.find_key_by_hash("unknown").await.unwrap(), None);

    let trail = audit_trail(&store).await;
    let created: Vec<_> =
        trail.iter().map(|e| (e.record.action.as_str(), e.record.target.as_str(), e.record.project.as_str())).collect();
    assert_eq!(created, [("key.create", "key/admin1", ""), ("key.create", "key/editor1", "default")]);
    assert_eq!(trail[1].record.after, Some(json!({"name": "editor1 key", "role": "editor", "project": "default"})));
    assert!(!serde_json::to_string(&trail).unwrap().contains("hash-of"), "the secret hash is not audited");
}

pub async fn revoked_keys_stay_findable(store: Arc<dyn Store>) {
    store.create_key(&new_key("k1", Role::Viewer, None), &ctx()).await.unwrap();
    let revoked = store.revoke_key("k1", &ctx()).await.unwrap();
    assert!(revoked.is_revoked());
    assert_err!(store.revoke_key("k1", &ctx()).await, StoreError::KeyRevoked(_));
    assert_err!(store.revoke_key("nope", &ctx()).await, StoreError::KeyNotFound(_));
    let found = store.find_key_by_hash("hash-of-k1").await.unwrap().unwrap();
    assert_eq!(found, revoked);
    assert_eq!(store.count_keys().await.unwrap(), 1, "revoked keys are counted");

    let last = audit_trail(&store).await.pop().unwrap().record;
    assert_eq!((last.action.as_str(), last.target.as_str()), ("key.revoke", "key/k1"));
    assert_eq!(last.after, Some(json!({"revoked": true})));
}

pub async fn key_conflicts_and_invalid_keys_are_refused(store: Arc<dyn Store>) {
    store.create_key(&new_key("k1", Role::Viewer, None), &ctx()).await.unwrap();
    assert_err!(store.create_key(&new_key("k1", Role::Admin, None), &ctx()).await, StoreError::KeyExists(_));
    let same_secret = NewApiKey { secret_hash: "hash-of-k1".into(), ..new_key("k2", Role::Viewer, None) };
    assert_err!(store.create_key(&same_secret, &ctx()).await, StoreError::KeyExists(_));
    let elsewhere = new_key("k3", Role::Viewer, Some(project("nope")));
    assert_err!(store.create_key(&elsewhere, &ctx()).await, StoreError::ProjectNotFound(_));
    let unnamed = NewApiKey { name: " ".into(), ..new_key("k4", Role::Viewer, None) };
    assert_err!(store.create_key(&unnamed, &ctx()).await, StoreError::Domain(_));
    assert_eq!(store.count_keys().await.unwrap(), 1);
    assert_eq!(audit_trail(&store).await.len(), 1);
}
