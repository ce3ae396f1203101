//! The registry end to end through the router: versions, no-op publishes, labels, resolve with
//! ETags, rendering with includes, rollback, archive, diff, audit and its verification.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::TestApp;

#[tokio::test]
async fn publish_label_resolve_render_rollback_audit() {
    let app = TestApp::new().await;
    let variables = json!({"name": {"type": "string"}, "tone": {"type": "string", "default": "warm"}});
    let chat = |system: &str| {
        json!({"content": {"type": "chat", "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "Greet {{ name }}."}
        ], "variables": variables.clone(), "model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2}}},
        "message": "first", "description": "Greets people", "tags": ["demo"]})
    };
    let first = app.admin(Method::POST, "/api/v1/prompts/welcome/versions", Some(chat("Be {{ tone }}."))).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["version"]["version"], 1);
    assert_eq!(first.body["prompt_created"], true);
    assert_eq!(first.body["version"]["author"]["name"], "bootstrap-admin");

    let same = app.admin(Method::POST, "/api/v1/prompts/welcome/versions", Some(chat("Be {{ tone }}."))).await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(same.body["created"], false);
    assert_eq!(same.body["version"]["version"], 1);

    let second = app
        .admin(
            Method::POST,
            "/api/v1/prompts/welcome/versions",
            Some(chat("Be {{ tone }}. {% include \"signature\" %}")),
        )
        .await;
    assert_eq!(second.body["version"]["version"], 2);
    app.publish_text("signature", "-- The {{ tone }} team", json!({"tone": {}})).await;

    let set = |version: u64, reason: &str| {
        app.admin(
            Method::PUT,
            "/api/v1/prompts/welcome/labels/production",
            Some(json!({"version": version, "reason": reason})),
        )
    };
    assert_eq!(set(1, "launch").await.status, StatusCode::OK);
    let resolved = app.admin(Method::GET, "/api/v1/prompts/welcome/resolve", None).await;
    assert_eq!(resolved.status, StatusCode::OK);
    assert_eq!(resolved.body["version"], 1);
    assert_eq!(resolved.body["label"], "production");
    let etag = resolved.headers["etag"].to_str().unwrap().to_owned();
    let not_modified = app
        .call_with(
            Method::GET,
            "/api/v1/prompts/welcome/resolve",
            Some(crate::ADMIN_SECRET),
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);

    // Moving the label is visible at once (the cache is invalidated by the write).
    let moved = set(2, "new signature").await;
    assert_eq!(moved.body["version"], 2);
    let resolved = app.admin(Method::GET, "/api/v1/prompts/welcome/resolve?label=production", None).await;
    assert_eq!(resolved.body["version"], 2);
    assert_ne!(resolved.headers["etag"].to_str().unwrap(), etag);

    // Unpinned includes resolve at the same label: `signature` has no production label yet.
    let render_body = json!({"variables": {"name": "Ada"}});
    let reply = app.admin(Method::POST, "/api/v1/prompts/welcome/render", Some(render_body.clone())).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{:?}", reply.body);
    let label_sig = app
        .admin(
            Method::PUT,
            "/api/v1/prompts/signature/labels/production",
            Some(json!({"version": 1, "reason": "ship"})),
        )
        .await;
    assert_eq!(label_sig.status, StatusCode::OK);
    let reply = app.admin(Method::POST, "/api/v1/prompts/welcome/render", Some(render_body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["messages"][0]["content"], "Be warm. -- The warm team");
    assert_eq!(reply.body["messages"][1], json!({"role": "user", "content": "Greet Ada."}));
    assert_eq!(reply.body["included"], json!([{"reference": "signature", "prompt": "signature", "version": 1}]));
    assert_eq!(reply.body["model"]["model"], "gpt-4o-mini");
    assert_eq!(reply.body["version"], 2);

    // Rollback restores the previous target in one call.
    let rolled = app
        .admin(
            Method::POST,
            "/api/v1/prompts/welcome/labels/production/rollback",
            Some(json!({"reason": "bad signature"})),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{:?}", rolled.body);
    assert_eq!(rolled.body["version"], 1);
    let resolved = app.admin(Method::GET, "/api/v1/prompts/welcome/resolve", None).await;
    assert_eq!(resolved.body["version"], 1);
    let history = app.admin(Method::GET, "/api/v1/prompts/welcome/labels/production/history", None).await;
    let kinds: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["rollback", "set", "set"]);

    // A reason is required, and `latest` cannot be moved.
    let reply = set(1, "  ").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = app
        .admin(Method::PUT, "/api/v1/prompts/welcome/labels/latest", Some(json!({"version": 1, "reason": "x"})))
        .await;
    assert_eq!(reply.body["code"], "reserved_label");
    let labels = app.admin(Method::GET, "/api/v1/prompts/welcome/labels", None).await;
    let names: Vec<&str> =
        labels.body["items"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"latest") && names.contains(&"production"), "{names:?}");

    // Diff.
    let diff = app.admin(Method::GET, "/api/v1/prompts/welcome/diff?from=1&to=2", None).await;
    assert_eq!(diff.body["changed_fields"], json!(["messages"]));
    assert!(diff.body["unified"].as_str().unwrap().contains("+  Be {{ tone }}. {% include \"signature\" %}"));

    // Archive hides and blocks resolution; restore brings it back.
    assert_eq!(app.admin(Method::POST, "/api/v1/prompts/welcome/archive", None).await.status, StatusCode::OK);
    let hidden = app.admin(Method::GET, "/api/v1/prompts", None).await;
    assert!(!hidden.body["items"].as_array().unwrap().iter().any(|p| p["name"] == "welcome"));
    let reply = app.admin(Method::GET, "/api/v1/prompts/welcome/resolve", None).await;
    assert_eq!(reply.body["code"], "prompt_archived");
    assert_eq!(app.admin(Method::POST, "/api/v1/prompts/welcome/restore", None).await.status, StatusCode::OK);
    assert_eq!(app.admin(Method::GET, "/api/v1/prompts/welcome/resolve", None).await.status, StatusCode::OK);

    // Filters.
    let tagged = app.admin(Method::GET, "/api/v1/prompts?tag=demo", None).await;
    assert_eq!(tagged.body["items"].as_array().unwrap().len(), 1);
    let labelled = app.admin(Method::GET, "/api/v1/prompts?label=production", None).await;
    assert_eq!(labelled.body["items"].as_array().unwrap().len(), 2);

    // The audit trail has every change, with reasons, and verifies.
    let audit = app.admin(Method::GET, "/api/v1/audit?prompt=welcome&limit=100", None).await;
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in
        ["prompt.create", "version.create", "label.set", "label.rollback", "prompt.archive", "prompt.restore"]
    {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let rollback = audit.body["items"].as_array().unwrap().iter().find(|e| e["action"] == "label.rollback").unwrap();
    assert_eq!(rollback["reason"], "bad signature");
    assert!(rollback["request_id"].is_string());
    let verify = app.admin(Method::GET, "/api/v1/audit/verify", None).await;
    assert_eq!(verify.body["ok"], true, "{:?}", verify.body);
    assert!(verify.body["checked"].as_u64().unwrap() >= 10);
}

#[tokio::test]
async fn include_cycles_and_depth_are_errors() {
    let app = TestApp::new().await;
    app.publish_text("a", "{% include \"b\" %}", json!({})).await;
    app.publish_text("b", "{% include \"a\" %}", json!({})).await;
    let reply = app.admin(Method::POST, "/api/v1/prompts/a/render", Some(json!({"label": "latest"}))).await;
    assert_eq!(reply.body["code"], "include_cycle", "{:?}", reply.body);
    assert!(reply.body["detail"].as_str().unwrap().contains("a -> b -> a"));

    for level in 0..7 {
        let template = if level == 6 { "end".to_owned() } else { format!("{{% include \"d{}\" %}}", level + 1) };
        app.publish_text(&format!("d{level}"), &template, json!({})).await;
    }
    let reply = app.admin(Method::POST, "/api/v1/prompts/d1/render", Some(json!({"label": "latest"}))).await;
    assert_eq!(reply.status, StatusCode::OK, "five levels are allowed: {:?}", reply.body);
    assert_eq!(reply.body["text"], "end");
    let reply = app.admin(Method::POST, "/api/v1/prompts/d0/render", Some(json!({"label": "latest"}))).await;
    assert_eq!(reply.body["code"], "include_depth", "{:?}", reply.body);

    // Pinned includes.
    app.publish_text("pin", "v1", json!({})).await;
    app.publish_text("pin", "v2", json!({})).await;
    app.publish_text("uses-pin", "[{% include \"pin@1\" %}|{% include \"pin\" %}]", json!({})).await;
    let reply = app.admin(Method::POST, "/api/v1/prompts/uses-pin/render", Some(json!({"label": "latest"}))).await;
    assert_eq!(reply.body["text"], "[v1|v2]", "{:?}", reply.body);
}

#[tokio::test]
async fn openapi_and_health() {
    let app = TestApp::new().await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in
        ["/api/v1/prompts/{name}/resolve", "/api/v1/prompts/{name}/labels/{label}/rollback", "/api/v1/audit/verify"]
    {
        assert!(doc.body["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc.body["components"]["schemas"].get("Problem").is_some());
    assert!(doc.body["components"]["securitySchemes"].get("bearer").is_some());
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.body["store"]["backend"], "sqlite");
    assert_eq!(ready.body["store"]["ok"], true);
}
