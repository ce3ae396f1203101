//! Bad input gets a clear problem document with a stable code, and writes nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::{ADMIN_SECRET, TestApp};

fn check(reply: &crate::Reply, status: StatusCode, code: &str, detail_contains: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["code"], code, "{:?}", reply.body);
    assert_eq!(reply.body["status"], status.as_u16());
    assert!(reply.body["type"].as_str().unwrap().ends_with(code));
    assert!(reply.body["request_id"].is_string(), "problems carry the request id: {:?}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(detail.contains(detail_contains), "{detail:?} should contain {detail_contains:?}");
}

#[tokio::test]
async fn invalid_requests_are_clear_problems() {
    let app = TestApp::new().await;
    let reply = app.admin(Method::POST, "/api/v1/prompts", Some(json!({"name": "Bad Name"}))).await;
    check(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_name", "invalid prompt name `Bad Name`");

    let reply = app.admin(Method::POST, "/api/v1/prompts", Some(json!({"name": "ok", "colour": "red"}))).await;
    check(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "unknown field `colour`");

    let body = json!({"content": {"type": "text", "template": "{{ who }}"}, "message": "m"});
    let reply = app.admin(Method::POST, "/api/v1/prompts/p/versions", Some(body)).await;
    check(&reply, StatusCode::UNPROCESSABLE_ENTITY, "template_undeclared_variable", "undeclared variables: who");

    let body = json!({"content": {"type": "text", "template": "{% if %}"}, "message": "m"});
    let reply = app.admin(Method::POST, "/api/v1/prompts/p/versions", Some(body)).await;
    check(&reply, StatusCode::UNPROCESSABLE_ENTITY, "template_syntax", "does not parse");

    let reply = app.admin(Method::GET, "/api/v1/prompts/missing", None).await;
    check(&reply, StatusCode::NOT_FOUND, "prompt_not_found", "prompt `missing` does not exist");

    let reply = app.admin(Method::GET, "/api/v1/prompts/p/versions/zero", None).await;
    check(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_version", "`zero` is not a version number");

    let reply = app.admin(Method::GET, "/api/v1/prompts?limit=abc", None).await;
    check(&reply, StatusCode::BAD_REQUEST, "invalid_query", "limit");

    let reply = app.admin(Method::GET, "/api/v1/nothing-here", None).await;
    check(&reply, StatusCode::NOT_FOUND, "route_not_found", "no such route");

    let reply = app.admin(Method::DELETE, "/api/v1/prompts", None).await;
    check(&reply, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "HTTP method");

    // Nothing above wrote a prompt or a version.
    let reply = app.admin(Method::GET, "/api/v1/prompts?include_archived=true", None).await;
    assert_eq!(reply.body["items"], json!([]));
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let app = TestApp::new().await;
    let send = |body: Body, content_type: &'static str| {
        let router = app.router.clone();
        async move {
            let request = Request::builder()
                .method(Method::POST)
                .uri("/api/v1/prompts")
                .header("authorization", format!("Bearer {ADMIN_SECRET}"))
                .header("content-type", content_type)
                .body(body)
                .unwrap();
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
            crate::Reply { status, headers, body: serde_json::from_slice(&bytes).unwrap() }
        }
    };
    let reply = send(Body::from("{\"name\": "), "application/json").await;
    check(&reply, StatusCode::BAD_REQUEST, "malformed_json", "");
    let reply = send(Body::from("name=x"), "application/x-www-form-urlencoded").await;
    check(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "application/json");
    let huge = format!("{{\"name\": \"x\", \"description\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let reply = send(Body::from(huge), "application/json").await;
    check(&reply, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "byte limit");
}

#[tokio::test]
async fn render_errors_name_the_variables() {
    let app = TestApp::new().await;
    app.publish_text(
        "greet",
        "Hello {{ name }}, you have {{ n }} messages",
        json!({"name": {}, "n": {"type": "number"}}),
    )
    .await;
    let render = |variables: serde_json::Value| {
        app.admin(
            Method::POST,
            "/api/v1/prompts/greet/render",
            Some(json!({"label": "latest", "variables": variables})),
        )
    };
    check(&render(json!({"name": "a"})).await, StatusCode::UNPROCESSABLE_ENTITY, "missing_variables", "n");
    check(
        &render(json!({"name": "a", "n": 1, "extra": true})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "undeclared_variables",
        "extra",
    );
    check(
        &render(json!({"name": "a", "n": "one"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "variable_type",
        "`n` must be number, got string",
    );
    let reply = app.admin(Method::POST, "/api/v1/prompts/greet/render", Some(json!({"variables": {}}))).await;
    check(&reply, StatusCode::NOT_FOUND, "label_not_found", "no label `production`");
}
