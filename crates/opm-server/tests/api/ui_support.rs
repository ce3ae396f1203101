//! The routes the web UI leans on: `whoami`, draft previews (includes, variable errors, nothing
//! stored) and stats series; and that the UI sits in front of the API without changing it.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::TestApp;

#[tokio::test]
async fn whoami_names_the_key_and_its_project() {
    let app = TestApp::new().await;
    let editor = app.key("editor", Some("default")).await;
    let reply = app.call(Method::GET, "/api/v1/whoami", Some(&editor), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["key"]["role"], "editor");
    assert_eq!(reply.body["project"], "default");
    assert!(reply.body["key"].get("secret").is_none());
    let reply = app.call(Method::GET, "/api/v1/whoami", Some("opm_wrong_key"), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn preview_renders_a_draft_with_includes_and_stores_nothing() {
    let app = TestApp::new().await;
    app.publish_text("footer", "-- {{ team }}", json!({"team": {"type": "string"}})).await;
    let set = json!({"version": 1, "reason": "r"});
    app.admin(Method::PUT, "/api/v1/prompts/footer/labels/production", Some(set)).await;
    let draft = json!({
        "content": {"type": "chat", "messages": [{"role": "system", "content": "Hi {{ name }} {% include \"footer\" %}"}],
                    "variables": {"name": {"type": "string"}, "team": {"type": "string"}}},
        "variables": {"name": "Ada", "team": "ops"}
    });
    let reply = app.admin(Method::POST, "/api/v1/prompts/draft-only/preview", Some(draft.clone())).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["messages"][0]["content"], "Hi Ada -- ops");
    assert_eq!(reply.body["included"][0]["prompt"], "footer");
    assert_eq!(reply.body["label"], "production");
    // nothing was stored
    let reply = app.admin(Method::GET, "/api/v1/prompts/draft-only", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // a missing variable is named, like a render of a published version
    let mut missing = draft.clone();
    missing["variables"] = json!({"team": "ops"});
    let reply = app.admin(Method::POST, "/api/v1/prompts/draft-only/preview", Some(missing)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    assert!(reply.body["detail"].as_str().unwrap().contains("name"), "{:?}", reply.body);
    // invalid content is refused as on publish
    let bad = json!({"content": {"type": "chat", "messages": []}});
    let reply = app.admin(Method::POST, "/api/v1/prompts/draft-only/preview", Some(bad)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
}

#[tokio::test]
async fn stats_series_cuts_the_window_into_buckets() {
    let app = TestApp::new().await;
    app.publish_text("charted", "hi", json!({})).await;
    let reply = app.admin(Method::GET, "/api/v1/prompts/charted/stats/series?window=1h&buckets=6", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let buckets = reply.body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 6);
    assert_eq!(buckets[0]["since"], reply.body["since"]);
    assert_eq!(buckets[5]["until"], reply.body["until"]);
    for pair in buckets.windows(2) {
        assert_eq!(pair[0]["until"], pair[1]["since"]);
    }
    for bad in ["buckets=0", "buckets=61", "window=10s", "by=colour"] {
        let reply = app.admin(Method::GET, &format!("/api/v1/prompts/charted/stats/series?{bad}"), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", reply.body);
    }
    let reply = app.admin(Method::GET, "/api/v1/prompts/nope/stats/series", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_ui_sits_in_front_without_touching_api_answers() {
    let app = TestApp::new().await;
    let reply = app.call(Method::GET, "/", None, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers["location"], "/ui/");
    let reply = app.call(Method::GET, "/ui/", None, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "signed out: to the sign-in page");
    assert!(reply.headers["location"].to_str().unwrap().starts_with("/ui/login"));
    assert!(reply.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let reply = app.call(Method::GET, "/ui/login", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.call(Method::GET, "/ui/static/app.css", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "text/css; charset=utf-8");
    // API answers keep their own headers and problem documents
    let reply = app.call(Method::GET, "/api/v1/nope", None, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["code"], "route_not_found");
    assert!(reply.headers.get("content-security-policy").is_none());
    let reply = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get("x-request-id").is_some());
}
