//! API keys: creation, listing, lookup by hash, revocation, the last-admin rule, expiry and the
//! batched last-use record.

use std::sync::Arc;

use opm_core::auth::Role;
use opm_core::names::ProjectName;
use opm_store::{NewApiKey, Store, StoreError};
use serde_json::json;

use crate::assert_err;
use crate::fixtures::*;

fn new_key(id: &str, role: Role, project: Option<ProjectName>) -> NewApiKey {
    NewApiKey {
        id: id.into(),
        name: format!("{id} key"),
        role,
        project,
        secret_hash: format!("hash-of-{id}"),
        expires_at: None,
    }
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
    store.create_key(&new_key("admin1", Role::Admin, None), &ctx()).await.unwrap();
    store.create_key(&new_key("k1", Role::Viewer, None), &ctx()).await.unwrap();
    let revoked = store.revoke_key("k1", &ctx()).await.unwrap();
    assert!(revoked.is_revoked());
    assert_err!(store.revoke_key("k1", &ctx()).await, StoreError::KeyRevoked(_));
    assert_err!(store.revoke_key("nope", &ctx()).await, StoreError::KeyNotFound(_));
    let found = store.find_key_by_hash("hash-of-k1").await.unwrap().unwrap();
    assert_eq!(found, revoked);
    assert_eq!(store.count_keys().await.unwrap(), 2, "revoked keys are counted");

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

pub async fn the_last_active_global_admin_key_cannot_be_revoked(store: Arc<dyn Store>) {
    store.create_key(&new_key("admin1", Role::Admin, None), &ctx()).await.unwrap();
    store.create_key(&new_key("admin2", Role::Admin, None), &ctx()).await.unwrap();
    // Project admins and other roles do not keep the registry reachable: they cannot make global keys.
    store.create_key(&new_key("padmin", Role::Admin, Some(default_project())), &ctx()).await.unwrap();
    let expired = NewApiKey {
        expires_at: Some(chrono::Utc::now() + chrono::Duration::milliseconds(50)),
        ..new_key("soon", Role::Admin, None)
    };
    store.create_key(&expired, &ctx()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    store.revoke_key("admin1", &ctx()).await.unwrap();
    let entries = audit_trail(&store).await.len();
    // admin2 is the last one: `soon` has expired, `padmin` belongs to a project.
    assert_err!(store.revoke_key("admin2", &ctx()).await, StoreError::LastAdminKey(_));
    let admin2 = store.find_key_by_hash("hash-of-admin2").await.unwrap().unwrap();
    assert!(!admin2.is_revoked(), "a refused revocation writes nothing");
    assert_eq!(audit_trail(&store).await.len(), entries, "nor an audit entry");
    // Expired and project keys can still be revoked.
    store.revoke_key("soon", &ctx()).await.unwrap();
    store.revoke_key("padmin", &ctx()).await.unwrap();
    // With another global admin, it can.
    store.create_key(&new_key("admin3", Role::Admin, None), &ctx()).await.unwrap();
    store.revoke_key("admin2", &ctx()).await.unwrap();
    assert_err!(store.revoke_key("admin3", &ctx()).await, StoreError::LastAdminKey(_));
}

pub async fn concurrent_revocations_of_the_last_two_admin_keys_cannot_both_succeed(store: Arc<dyn Store>) {
    let mut survivor: Option<String> = None;
    for round in 0..10 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        store.create_key(&new_key(&a, Role::Admin, None), &ctx()).await.unwrap();
        store.create_key(&new_key(&b, Role::Admin, None), &ctx()).await.unwrap();
        // a and b become the only two active global admin keys.
        if let Some(previous) = survivor.take() {
            store.revoke_key(&previous, &ctx()).await.unwrap();
        }
        let revoke = |id: String| {
            let store = store.clone();
            tokio::spawn(async move { store.revoke_key(&id, &ctx()).await })
        };
        let (first, second) = (revoke(a.clone()), revoke(b.clone()));
        let results = [first.await.unwrap(), second.await.unwrap()];
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: one wins: {results:?}");
        let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(matches!(lost, StoreError::LastAdminKey(_)), "round {round}: {lost:?}");
        let active: Vec<_> =
            store.list_keys(None).await.unwrap().into_iter().filter(|key| !key.is_revoked()).map(|k| k.id).collect();
        assert_eq!(active.len(), 1, "round {round}: one admin key is left: {active:?}");
        survivor = active.into_iter().next();
    }
}

pub async fn keys_expire_and_expiry_is_stored(store: Arc<dyn Store>) {
    let at = chrono::Utc::now() + chrono::Duration::days(30);
    let new = NewApiKey { expires_at: Some(at), ..new_key("k1", Role::Viewer, None) };
    let key = store.create_key(&new, &ctx()).await.unwrap();
    let micros = chrono::DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap();
    assert_eq!(key.expires_at, Some(micros));
    assert_eq!(store.find_key_by_hash("hash-of-k1").await.unwrap(), Some(key.clone()));
    assert!(key.is_active(chrono::Utc::now()) && key.is_expired(at));
    let last = audit_trail(&store).await.pop().unwrap().record;
    assert_eq!(last.after.unwrap()["expires_at"], json!(micros));
    let past = NewApiKey { expires_at: Some(chrono::Utc::now()), ..new_key("k2", Role::Viewer, None) };
    assert_err!(store.create_key(&past, &ctx()).await, StoreError::InvalidInput(_));
    assert_eq!(store.count_keys().await.unwrap(), 1, "a refused key writes nothing");
}

pub async fn key_use_is_recorded_in_batches_and_never_moves_back(store: Arc<dyn Store>) {
    store.create_key(&new_key("k1", Role::Viewer, None), &ctx()).await.unwrap();
    store.create_key(&new_key("k2", Role::Editor, None), &ctx()).await.unwrap();
    let entries = audit_trail(&store).await.len();
    let mut events = store.subscribe();
    let t1 = chrono::DateTime::from_timestamp_micros(1_800_000_000_000_000).unwrap();
    let t2 = t1 + chrono::Duration::seconds(5);
    let uses = vec![("k1".to_owned(), t2), ("k2".to_owned(), t1), ("gone".to_owned(), t1)];
    store.record_key_use(&uses).await.unwrap();
    store.record_key_use(&[("k1".to_owned(), t1)]).await.unwrap();
    store.record_key_use(&[]).await.unwrap();
    let used = |id: &str| {
        let store = store.clone();
        let hash = format!("hash-of-{id}");
        async move { store.find_key_by_hash(&hash).await.unwrap().unwrap().last_used_at }
    };
    assert_eq!(used("k1").await, Some(t2), "an older use does not move it back");
    assert_eq!(used("k2").await, Some(t1));
    assert_eq!(audit_trail(&store).await.len(), entries, "usage is not audited");
    assert!(events.try_recv().is_err(), "usage announces no change event");
    let listed = store.list_keys(None).await.unwrap();
    assert_eq!(listed.iter().map(|key| key.last_used_at).collect::<Vec<_>>(), [Some(t2), Some(t1)]);
}
