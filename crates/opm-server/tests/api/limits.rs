//! Gateway limits over HTTP: a key's token bucket admits its burst then answers 429 with
//! `Retry-After` in each route's wire format (OpenAI, Anthropic, problem+json), other keys keep
//! their own bucket, a spent budget refuses until the next UTC day, refusals are counted in
//! `/metrics`, and malformed limits are refused.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::TestApp;

async fn set_limits(app: &TestApp, limits: Value, revision: i64) -> crate::Reply {
    let body = json!({"rules": {"limits": limits}, "expected_revision": revision, "reason": "limits"});
    app.admin(Method::PUT, "/api/v1/governance", Some(body)).await
}

fn openai_call() -> Value {
    json!({"model": "mock/demo", "messages": [{"role": "user", "content": "hello"}]})
}

fn anthropic_call() -> Value {
    json!({"model": "mock/demo", "max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]})
}

#[tokio::test]
async fn a_keys_rate_limit_answers_429_in_each_wire_format() {
    let app = TestApp::new().await;
    let set = set_limits(&app, json!({"per_key": {"requests_per_second": 0.5, "burst": 2}}), 0).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_eq!(set.body["rules"]["limits"]["per_key"]["burst"], 2, "{:?}", set.body);
    let viewer = app.key("viewer", Some("default")).await;
    for _ in 0..2 {
        let ok = app.call(Method::POST, "/v1/chat/completions", Some(&viewer), Some(openai_call())).await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    }
    let refused = app.call(Method::POST, "/v1/chat/completions", Some(&viewer), Some(openai_call())).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", refused.body);
    assert_eq!(refused.headers["retry-after"], "2", "a token every 2 s");
    assert_eq!(refused.body["error"]["type"], "rate_limit_error");
    assert_eq!(refused.body["error"]["code"], "rate_limited");
    assert!(
        refused.body["error"]["message"].as_str().unwrap().contains("this key's request rate"),
        "{:?}",
        refused.body
    );

    let refused = app.call(Method::POST, "/v1/messages", Some(&viewer), Some(anthropic_call())).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", refused.body);
    assert_eq!(
        (refused.body["type"].as_str(), refused.body["error"]["type"].as_str()),
        (Some("error"), Some("rate_limit_error"))
    );
    assert!(refused.headers.contains_key("retry-after"));

    let refused =
        app.call(Method::POST, "/api/v1/prompts/anything/invoke", Some(&viewer), Some(json!({"variables": {}}))).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "rate_limited");
    assert!(refused.headers["content-type"].to_str().unwrap().starts_with("application/problem+json"));

    // Another key has its own bucket; the registry API is not limited.
    let other = app.key("editor", Some("default")).await;
    let ok = app.call(Method::POST, "/v1/chat/completions", Some(&other), Some(openai_call())).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let listed = app.call(Method::GET, "/api/v1/prompts", Some(&viewer), None).await;
    assert_eq!(listed.status, StatusCode::OK);

    let scrape = app.call(Method::GET, "/metrics", None, None).await;
    let text = scrape.body.as_str().unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("opm_gateway_limited_total{") && line.contains("limit=\"rate\""))
        .unwrap_or_else(|| panic!("no limited counter in:\n{text}"));
    assert!(line.contains("scope=\"key\"") && line.ends_with(" 3"), "{line}");

    // Lifting the limit applies at once on this replica.
    let lifted = set_limits(&app, json!({}), 1).await;
    assert_eq!(lifted.status, StatusCode::OK, "{:?}", lifted.body);
    let ok = app.call(Method::POST, "/v1/chat/completions", Some(&viewer), Some(openai_call())).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
}

#[tokio::test]
async fn a_spent_project_budget_refuses_until_the_next_utc_day() {
    let app = TestApp::new().await;
    let set = set_limits(&app, json!({"project": {"daily_usd": 0.0, "monthly_usd": 100.0}}), 0).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let refused = app.admin(Method::POST, "/v1/chat/completions", Some(openai_call())).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["code"], "budget_exceeded");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("the project's daily budget of $0.00"), "{message}");
    let retry: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry), "until midnight UTC: {retry}");
}

#[tokio::test]
async fn malformed_limits_are_refused() {
    let app = TestApp::new().await;
    for (limits, needle) in [
        (json!({"per_key": {"burst": 3}}), "`burst` needs `requests_per_second`"),
        (json!({"project": {"requests_per_second": 0}}), "requests_per_second"),
        (json!({"project": {"daily_usd": -1}}), "daily_usd"),
    ] {
        let refused = set_limits(&app, limits.clone(), 0).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{limits}: {:?}", refused.body);
        assert_eq!(refused.body["code"], "invalid_policy", "{limits}");
        assert!(refused.body["detail"].as_str().unwrap().contains(needle), "{:?}", refused.body);
    }
    let unknown = set_limits(&app, json!({"per_key": {"rpm": 3}}), 0).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", unknown.body);
}
