//! Walks every route with every role (and with no key, a revoked key and a wrong project) and
//! checks each is allowed or refused as the role model says. The route table must cover every
//! path in the OpenAPI document, so a new route cannot skip this test.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::TestApp;

struct Route {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    min_role: &'static str,
}

fn route(method: Method, path: &'static str, body: Option<Value>, min_role: &'static str) -> Route {
    Route { method, path, body, min_role }
}

fn routes() -> Vec<Route> {
    let version = json!({"content": {"type": "text", "template": "hi"}, "message": "m"});
    vec![
        route(Method::GET, "/openapi.json", None, "public"),
        route(Method::GET, "/api/v1/prompts", None, "viewer"),
        route(Method::POST, "/api/v1/prompts", Some(json!({"name": "made-by-role"})), "editor"),
        route(Method::GET, "/api/v1/prompts/walk", None, "viewer"),
        route(Method::PATCH, "/api/v1/prompts/walk", Some(json!({"description": "d"})), "editor"),
        route(Method::POST, "/api/v1/prompts/walk/archive", None, "editor"),
        route(Method::POST, "/api/v1/prompts/walk/restore", None, "editor"),
        route(Method::POST, "/api/v1/prompts/walk/versions", Some(version), "editor"),
        route(Method::GET, "/api/v1/prompts/walk/versions", None, "viewer"),
        route(Method::GET, "/api/v1/prompts/walk/versions/1", None, "viewer"),
        route(Method::GET, "/api/v1/prompts/walk/diff?from=1&to=1", None, "viewer"),
        route(Method::GET, "/api/v1/prompts/walk/resolve?label=latest", None, "viewer"),
        route(Method::POST, "/api/v1/prompts/walk/render", Some(json!({"label": "latest"})), "viewer"),
        route(Method::GET, "/api/v1/prompts/walk/labels", None, "viewer"),
        route(
            Method::PUT,
            "/api/v1/prompts/walk/labels/production",
            Some(json!({"version": 1, "reason": "r"})),
            "editor",
        ),
        route(Method::GET, "/api/v1/prompts/walk/labels/production/history", None, "viewer"),
        route(Method::POST, "/api/v1/prompts/walk/labels/production/rollback", Some(json!({"reason": "r"})), "editor"),
        route(Method::POST, "/api/v1/prompts/walk/rollouts", Some(json!({"to": 2, "reason": "r"})), "editor"),
        route(Method::POST, "/api/v1/prompts/walk/rollouts/requests", Some(json!({"to": 2, "reason": "r"})), "editor"),
        route(Method::GET, "/api/v1/prompts/walk/rollouts", None, "viewer"),
        route(Method::GET, "/api/v1/prompts/walk/rollouts/1", None, "viewer"),
        route(Method::POST, "/api/v1/prompts/walk/rollouts/1/pause", Some(json!({"reason": "r"})), "editor"),
        route(Method::GET, "/api/v1/watch", None, "viewer"),
        route(Method::GET, "/api/v1/audit", None, "viewer"),
        route(Method::GET, "/api/v1/audit/verify", None, "viewer"),
        route(Method::POST, "/api/v1/keys", Some(json!({"name": "k", "role": "viewer"})), "admin"),
        route(Method::GET, "/api/v1/keys", None, "admin"),
        route(Method::DELETE, "/api/v1/keys/doesnotexist?force=true", None, "admin"),
        route(Method::POST, "/api/v1/projects", Some(json!({"name": "made-by-role"})), "global-admin"),
        route(Method::GET, "/api/v1/projects", None, "admin"),
        route(
            Method::POST,
            "/v1/chat/completions",
            Some(json!({"model": "mock/demo", "messages": [{"role": "user", "content": "hi"}]})),
            "viewer",
        ),
        route(
            Method::POST,
            "/v1/messages",
            Some(json!({"model": "mock/demo", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})),
            "viewer",
        ),
        route(Method::POST, "/api/v1/prompts/walk/invoke", Some(json!({"label": "latest"})), "viewer"),
        route(Method::GET, "/api/v1/prompts/walk/stats?window=1h&by=version", None, "viewer"),
        route(Method::GET, "/api/v1/prompts/walk/stats/series?window=1h&buckets=4", None, "viewer"),
        route(
            Method::POST,
            "/api/v1/prompts/walk/preview",
            Some(json!({"content": {"type": "text", "template": "hi"}})),
            "viewer",
        ),
        route(Method::GET, "/api/v1/whoami", None, "viewer"),
        route(Method::GET, "/api/v1/generations/doesnotexist", None, "viewer"),
        route(Method::POST, "/api/v1/feedback", Some(json!({"generation_id": "doesnotexist", "score": 1})), "viewer"),
        route(Method::GET, "/api/v1/governance", None, "viewer"),
        route(
            Method::PUT,
            "/api/v1/governance",
            Some(json!({"rules": {}, "expected_revision": 0, "reason": "r"})),
            "admin",
        ),
        route(
            Method::POST,
            "/api/v1/prompts/walk/labels/production/requests",
            Some(json!({"version": 1, "reason": "r"})),
            "editor",
        ),
        route(Method::GET, "/api/v1/prompts/walk/labels/production/requests", None, "viewer"),
        route(Method::GET, "/api/v1/change-requests?state=pending", None, "viewer"),
        route(Method::GET, "/api/v1/change-requests/999", None, "viewer"),
        route(Method::POST, "/api/v1/change-requests/999/approve", Some(json!({"reason": "r"})), "editor"),
        route(
            Method::POST,
            "/api/v1/prompts/walk/versions/check",
            Some(json!({"content": {"type": "text", "template": "hi"}})),
            "editor",
        ),
        // Last among the writes: a freeze refuses label moves until lifted.
        route(Method::POST, "/api/v1/governance/freeze", Some(json!({"reason": "r"})), "deployer"),
        route(Method::POST, "/api/v1/governance/unfreeze", Some(json!({"reason": "r"})), "deployer"),
        route(Method::GET, "/metrics", None, "public"),
        route(Method::GET, "/healthz", None, "public"),
        route(Method::GET, "/readyz", None, "public"),
    ]
}

fn rank(role: &str) -> u8 {
    match role {
        "public" => 0,
        "viewer" => 1,
        "editor" => 2,
        "deployer" => 3,
        "admin" => 4,
        "global-admin" => 5,
        other => panic!("unknown role {other}"),
    }
}

fn template_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.replace("/walk", "/{name}")
        .replace("/versions/1", "/versions/{version}")
        .replace("/labels/production", "/labels/{label}")
        .replace("/keys/doesnotexist", "/keys/{id}")
        .replace("/generations/doesnotexist", "/generations/{id}")
        .replace("/rollouts/1/pause", "/rollouts/{id}/{action}")
        .replace("/rollouts/1", "/rollouts/{id}")
        .replace("/change-requests/999/approve", "/change-requests/{id}/{action}")
        .replace("/change-requests/999", "/change-requests/{id}")
}

#[tokio::test]
async fn route_table_covers_the_openapi_document() {
    let document = serde_json::to_value(opm_server::openapi_document()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let walked: BTreeSet<String> = routes().iter().map(|r| format!("{} {}", r.method, template_path(r.path))).collect();
    assert_eq!(documented, walked, "every documented route must be in the role walk and vice versa");
}

#[tokio::test]
async fn every_route_enforces_its_role() {
    let app = TestApp::new().await;
    app.publish_text("walk", "hi", json!({})).await;
    let keys = [
        ("viewer", app.key("viewer", Some("default")).await),
        ("editor", app.key("editor", Some("default")).await),
        ("deployer", app.key("deployer", Some("default")).await),
        ("admin", app.key("admin", Some("default")).await),
        ("global-admin", crate::ADMIN_SECRET.to_owned()),
    ];
    for route in routes() {
        let reply = app.call(route.method.clone(), route.path, None, route.body.clone()).await;
        if route.min_role == "public" {
            assert_eq!(reply.status, StatusCode::OK, "{} {} without a key", route.method, route.path);
        } else {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{} {} without a key", route.method, route.path);
            if !route.path.starts_with("/v1/") {
                assert_eq!(reply.body["code"], "unauthenticated");
            }
        }
        for (role, secret) in &keys {
            let reply = app.call(route.method.clone(), route.path, Some(secret), route.body.clone()).await;
            let allowed = rank(role) >= rank(route.min_role);
            if allowed {
                assert!(
                    reply.status != StatusCode::FORBIDDEN && reply.status != StatusCode::UNAUTHORIZED,
                    "{role} should be allowed {} {}: {} {:?}",
                    route.method,
                    route.path,
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{role} on {} {}: {:?}",
                    route.method,
                    route.path,
                    reply.body
                );
                assert_eq!(reply.body["code"], "forbidden");
                assert_eq!(reply.headers["content-type"], "application/problem+json");
            }
        }
    }
    let denied = app.admin(Method::GET, "/api/v1/audit?action=auth.denied&limit=500", None).await;
    assert!(denied.body["items"].as_array().unwrap().len() >= 10, "refusals are audited: {:?}", denied.body);
}

#[tokio::test]
async fn project_keys_stay_in_their_project() {
    let app = TestApp::new().await;
    let created = app.admin(Method::POST, "/api/v1/projects", Some(json!({"name": "team-b"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let b_editor = app.key("editor", Some("team-b")).await;
    let reply = app.call(Method::POST, "/api/v1/prompts", Some(&b_editor), Some(json!({"name": "only-in-b"}))).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["project"], "team-b");
    // The default project does not see it; a global admin selects the project by header.
    let reply = app.admin(Method::GET, "/api/v1/prompts/only-in-b", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .call_with(
            Method::GET,
            "/api/v1/prompts/only-in-b",
            Some(crate::ADMIN_SECRET),
            None,
            &[("x-opm-project", "team-b")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // A project key cannot switch projects.
    let reply =
        app.call_with(Method::GET, "/api/v1/prompts", Some(&b_editor), None, &[("x-opm-project", "default")]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // An unknown project is a clear 404.
    let reply = app
        .call_with(Method::GET, "/api/v1/prompts", Some(crate::ADMIN_SECRET), None, &[("x-opm-project", "nope")])
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["code"], "project_not_found");
}

#[tokio::test]
async fn revoked_keys_stop_working_at_once() {
    let app = TestApp::new().await;
    let secret = app.key("viewer", Some("default")).await;
    assert_eq!(app.call(Method::GET, "/api/v1/prompts", Some(&secret), None).await.status, StatusCode::OK);
    let keys = app.admin(Method::GET, "/api/v1/keys", None).await;
    let id = keys.body["items"].as_array().unwrap().iter().find(|k| k["role"] == "viewer").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app.admin(Method::DELETE, &format!("/api/v1/keys/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(revoked.body["revoked_at"].is_string());
    let reply = app.call(Method::GET, "/api/v1/prompts", Some(&secret), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.body["detail"].as_str().unwrap().contains("revoked"));
    let again = app.admin(Method::DELETE, &format!("/api/v1/keys/{id}"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}
