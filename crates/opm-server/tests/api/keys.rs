//! Key safety over HTTP: the last active global admin key cannot be revoked, revoking the calling
//! key needs `?force=true`, expired keys are refused with `key_expired`, and `last_used_at` shows
//! up in listings without a write per request.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{ADMIN_SECRET, TestApp};

async fn key_id(app: &TestApp, secret: &str) -> String {
    let who = app.call(Method::GET, "/api/v1/whoami", Some(secret), None).await;
    assert_eq!(who.status, StatusCode::OK, "{:?}", who.body);
    who.body["key"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_last_global_admin_key_cannot_be_revoked_and_self_revocation_needs_force() {
    let app = TestApp::new().await;
    let bootstrap = key_id(&app, ADMIN_SECRET).await;
    // Alone: refused with or without force, and nothing changes.
    let own = app.admin(Method::DELETE, &format!("/api/v1/keys/{bootstrap}"), None).await;
    assert_eq!(
        (own.status, own.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("self_revocation")),
        "{:?}",
        own.body
    );
    assert_eq!(own.headers["content-type"], "application/problem+json");
    let forced = app.admin(Method::DELETE, &format!("/api/v1/keys/{bootstrap}?force=true"), None).await;
    assert_eq!((forced.status, forced.body["code"].as_str()), (StatusCode::CONFLICT, Some("last_admin_key")));
    assert_eq!(app.admin(Method::GET, "/api/v1/whoami", None).await.status, StatusCode::OK);

    // With a second global admin key, the bootstrap key can revoke itself, but only with force.
    let created = app.admin(Method::POST, "/api/v1/keys", Some(json!({"name": "second", "role": "admin"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert!(created.body["key"]["project"].is_null());
    let second = created.body["secret"].as_str().unwrap().to_owned();
    let own = app.admin(Method::DELETE, &format!("/api/v1/keys/{bootstrap}"), None).await;
    assert_eq!(own.body["code"], "self_revocation");
    let bad_flag = app.admin(Method::DELETE, &format!("/api/v1/keys/{bootstrap}?force=maybe"), None).await;
    assert_eq!((bad_flag.status, bad_flag.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")));
    let forced = app.admin(Method::DELETE, &format!("/api/v1/keys/{bootstrap}?force=true"), None).await;
    assert_eq!(forced.status, StatusCode::OK, "{:?}", forced.body);
    assert_eq!(app.admin(Method::GET, "/api/v1/whoami", None).await.status, StatusCode::UNAUTHORIZED);
    // Now the second key is the last one.
    let second_id = key_id(&app, &second).await;
    let last = app.call(Method::DELETE, &format!("/api/v1/keys/{second_id}?force=true"), Some(&second), None).await;
    assert_eq!((last.status, last.body["code"].as_str()), (StatusCode::CONFLICT, Some("last_admin_key")));
}

#[tokio::test]
async fn expired_keys_are_refused_with_their_own_code() {
    let app = TestApp::new().await;
    let past = app
        .admin(
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "old", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!((past.status, past.body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_expiry")));
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(300)).to_rfc3339();
    let created = app
        .admin(Method::POST, "/api/v1/keys", Some(json!({"name": "brief", "role": "viewer", "expires_at": soon})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert!(created.body["key"]["expires_at"].is_string());
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.call(Method::GET, "/api/v1/prompts", Some(&secret), None).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let refused = app.call(Method::GET, "/api/v1/prompts", Some(&secret), None).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("key_expired")));
    let denied = app.admin(Method::GET, "/api/v1/audit?action=auth.denied", None).await;
    assert!(denied.body["items"].as_array().unwrap().iter().any(|e| e["reason"] == "expired key used"));
}

#[tokio::test]
async fn last_use_is_listed_and_flushed_in_a_batch() {
    let app = TestApp::new().await;
    let secret = app.key("viewer", Some("default")).await;
    let id = key_id(&app, &secret).await;
    let before = app.registry.store().list_keys(None).await.unwrap();
    assert!(before.iter().all(|key| key.last_used_at.is_none()), "nothing is written per request");
    // The listing folds in the uses not yet flushed.
    let keys = app.admin(Method::GET, "/api/v1/keys", None).await;
    let listed = keys.body["items"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
    assert!(listed["last_used_at"].is_string(), "{listed}");
    assert_eq!(app.registry.flush_key_use().await.unwrap(), 2, "the viewer and the admin key, one batch");
    let stored = app.registry.store().list_keys(None).await.unwrap();
    let viewer = stored.iter().find(|key| key.id == id).unwrap();
    assert!(viewer.last_used_at.is_some());
    assert_eq!(app.registry.flush_key_use().await.unwrap(), 0, "nothing pending after a flush");
}
