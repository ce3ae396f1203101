//! The gateway ingress through the router against `opm-mock-llm` on loopback: OpenAI and Anthropic
//! shapes, managed prompts and plain routing, streaming, errors in the client's wire format,
//! response headers and generation records.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use opm_gateway::{
    Gateway, GatewayConfig, GenerationRecord, GenerationRecorder, GenerationStatus, PriceTable, ProviderConfig,
    ProviderKind,
};
use opm_mock_llm::{MockConfig, MockServer};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{ADMIN_SECRET, TestApp};

#[derive(Default)]
pub struct Captured(pub Mutex<Vec<GenerationRecord>>);

impl GenerationRecorder for Captured {
    fn record(&self, record: GenerationRecord) {
        self.0.lock().unwrap().push(record);
    }
}

pub struct GatewayApp {
    pub app: TestApp,
    pub router: axum::Router,
    pub records: Arc<Captured>,
    pub mock: MockServer,
    _key_dir: tempfile::TempDir,
}

pub async fn gateway_app() -> GatewayApp {
    gateway_app_with(opm_telemetry::Telemetry::disabled(), true).await
}

/// Prompts `support` (OpenAI wire), `claude-support` (Anthropic wire) and `limited` (always 429)
/// on a mock upstream. `capture` swaps the telemetry pipeline for an in-memory list of records.
pub async fn gateway_app_with(otel: opm_telemetry::Telemetry, capture: bool) -> GatewayApp {
    let mut app = TestApp::new().await;
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("key");
    std::fs::write(&key_file, "upstream-key").unwrap();
    let mut openai = ProviderConfig::new(ProviderKind::Openai).with_base_url(format!("{}/v1", mock.url()));
    openai.api_key_file = Some(key_file.clone());
    openai.retry.base_delay_ms = 1;
    openai.retry.max_delay_ms = 5;
    let mut anthropic = ProviderConfig::new(ProviderKind::Anthropic).with_base_url(format!("{}/v1", mock.url()));
    anthropic.api_key_file = Some(key_file);
    let config = GatewayConfig::default().with_provider("up-openai", openai).with_provider("up-anthropic", anthropic);
    let gateway = Arc::new(Gateway::new(config, PriceTable::builtin()).unwrap());
    let records = Arc::new(Captured::default());
    let mut state = opm_server::AppState::new(app.registry.clone(), gateway, otel, &Default::default());
    if capture {
        state = state.with_recorder(records.clone());
    }
    let router = opm_server::build_router(state);
    // The test app's helpers go through this router too (same store and registry).
    app.router = router.clone();
    for (name, provider, model) in [
        ("support", "up-openai", "gpt-4o-mini"),
        ("claude-support", "up-anthropic", "claude-haiku-4-5"),
        ("limited", "up-openai", "mock-fail-429"),
    ] {
        let body = json!({"content": {"type": "chat", "messages": [
            {"role": "system", "content": "You help with {{ product }}."},
            {"role": "user", "content": "Tell me about {{ product }} please"}
        ], "variables": {"product": {}}, "model": {"provider": provider, "model": model, "parameters": {"temperature": 0}}},
        "message": "seed"});
        let reply = app.admin(Method::POST, &format!("/api/v1/prompts/{name}/versions"), Some(body)).await;
        assert!(reply.status.is_success(), "{:?}", reply.body);
        let reply = app
            .admin(
                Method::PUT,
                &format!("/api/v1/prompts/{name}/labels/production"),
                Some(json!({"version": 1, "reason": "seed"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    GatewayApp { app, router, records, mock, _key_dir: key_dir }
}

pub struct Raw {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Raw {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

pub async fn post(router: &axum::Router, path: &str, auth: (&str, &str), body: Value) -> Raw {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(auth.0, auth.1)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    Raw { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
}

pub fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {ADMIN_SECRET}"))
}

#[tokio::test]
async fn openai_shape_with_a_managed_prompt() {
    let g = gateway_app().await;
    let auth = bearer();
    let body = json!({"model": "ignored", "prompt_id": "support", "prompt_variables": {"product": "OPM"},
        "messages": [{"role": "user", "content": "and what about labels"}]});
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let answer = reply.json();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["content"], "mock reply to: and what about labels");
    assert!(answer["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(reply.headers["x-opm-prompt"], "support");
    assert_eq!(reply.headers["x-opm-prompt-version"], "1");
    assert_eq!(reply.headers["x-opm-label"], "production");
    assert!(reply.headers["x-opm-overhead-ms"].to_str().unwrap().parse::<f64>().unwrap() >= 0.0);
    let id = reply.headers["x-opm-generation-id"].to_str().unwrap().to_owned();

    let records = g.records.0.lock().unwrap().clone();
    let record = records.iter().find(|r| r.id == id).expect("a generation record");
    assert_eq!(record.status, GenerationStatus::Ok);
    assert_eq!((record.prompt.as_deref(), record.prompt_version), (Some("support"), Some(1)));
    assert_eq!(record.provider, "up-openai");
    assert_eq!(record.usage.input_tokens, answer["usage"]["prompt_tokens"].as_u64());
    assert!(record.cost_usd.is_some(), "gpt-4o-mini is priced");
}

#[tokio::test]
async fn short_form_and_plain_routing_and_anthropic_shape() {
    let g = gateway_app().await;
    let auth = bearer();
    let body = json!({"model": "opm:support@production", "prompt_variables": {"product": "OPM"}, "messages": []});
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "mock reply to: Tell me about OPM please");

    let body = json!({"model": "mock/demo", "messages": [{"role": "user", "content": "hello there"}]});
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.headers.get("x-opm-prompt").is_none());

    // Anthropic-shaped ingress, key in x-api-key, upstream an Anthropic-shaped provider.
    let body = json!({"model": "opm:claude-support", "max_tokens": 100, "prompt_variables": {"product": "OPM"},
        "messages": [{"role": "user", "content": "one more question"}]});
    let reply = post(&g.router, "/v1/messages", ("x-api-key", ADMIN_SECRET), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let answer = reply.json();
    assert_eq!(answer["type"], "message");
    // Anthropic needs alternating turns: the rendered user message and the request's are merged.
    assert_eq!(answer["content"][0]["text"], "mock reply to: Tell me about OPM please one more question");
    assert_eq!(answer["stop_reason"], "end_turn");
    // OpenAI-shaped prompt through Anthropic-shaped ingress.
    let body =
        json!({"model": "opm:support", "max_tokens": 100, "prompt_variables": {"product": "OPM"}, "messages": []});
    let reply = post(&g.router, "/v1/messages", ("x-api-key", ADMIN_SECRET), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn streams_in_the_clients_format() {
    let g = gateway_app().await;
    let auth = bearer();
    let body = json!({"model": "opm:support", "stream": true, "stream_options": {"include_usage": true},
        "prompt_variables": {"product": "OPM"}, "messages": []});
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "text/event-stream");
    assert!(reply.text.ends_with("data: [DONE]\n\n"), "{}", reply.text);
    let chunks: Vec<Value> = reply
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "mock reply to: Tell me about OPM please");
    assert!(chunks.last().unwrap()["usage"]["completion_tokens"].as_u64().is_some());

    let mut without_usage = body;
    without_usage.as_object_mut().unwrap().remove("stream_options");
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), without_usage).await;
    assert!(!reply.text.contains("\"usage\":{"), "usage only when asked: {}", reply.text);
    // …but it is still recorded.
    let records = g.records.0.lock().unwrap().clone();
    assert!(records.iter().filter(|r| r.streamed).all(|r| r.usage.output_tokens.is_some()));

    let body = json!({"model": "opm:claude-support", "max_tokens": 50, "stream": true, "prompt_variables": {"product": "OPM"}, "messages": []});
    let reply = post(&g.router, "/v1/messages", ("x-api-key", ADMIN_SECRET), body).await;
    let events: Vec<&str> = reply.text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(events.first(), Some(&"message_start"));
    assert_eq!(events.last(), Some(&"message_stop"));
    assert!(events.contains(&"content_block_delta") && events.contains(&"message_delta"));
}

#[tokio::test]
async fn errors_come_in_the_clients_wire_format() {
    let g = gateway_app().await;
    let auth = bearer();
    let reply = post(
        &g.router,
        "/v1/chat/completions",
        ("authorization", "Bearer wrong"),
        json!({"model": "mock/x", "messages": []}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"]["type"], "authentication_error");

    let body = json!({"model": "opm:nope", "messages": []});
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error"]["code"], "prompt_not_found");

    let body = json!({"model": "opm:support", "messages": []});
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("product"), "{}", reply.text);

    // The upstream keeps answering 429: after OPM's retries the client gets a 429 it can back off on.
    let body = json!({"model": "opm:limited", "prompt_variables": {"product": "x"}, "messages": []});
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "rate_limit_error");
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("up-openai"));
    // A failed call still says which prompt version it used and its generation id (no overhead figure).
    assert_eq!(reply.headers["x-opm-prompt-version"], "1");
    assert!(reply.headers.contains_key("x-opm-generation-id"));
    assert!(!reply.headers.contains_key("x-opm-overhead-ms"));
    assert!(!reply.text.contains("upstream-key"), "secrets never leak");
    let records = g.records.0.lock().unwrap().clone();
    assert!(
        records
            .iter()
            .any(|r| r.status == GenerationStatus::Error && r.error_kind.as_deref() == Some("upstream_rate_limited"))
    );

    let body = json!({"model": "opm:nope", "max_tokens": 5, "messages": []});
    let reply = post(&g.router, "/v1/messages", ("x-api-key", ADMIN_SECRET), body).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["type"], "error");
    assert_eq!(reply.json()["error"]["type"], "not_found_error");

    let reply = post(
        &g.router,
        "/v1/chat/completions",
        (auth.0, &auth.1),
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.text.contains("PROVIDER/MODEL"), "{}", reply.text);
}

#[tokio::test]
async fn native_invoke() {
    let g = gateway_app().await;
    let auth = bearer();
    let body = json!({"variables": {"product": "OPM"}, "messages": [{"role": "user", "content": "follow up"}]});
    let reply = post(&g.router, "/api/v1/prompts/support/invoke", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let answer = reply.json();
    assert_eq!(answer["content"], "mock reply to: follow up");
    assert_eq!(answer["version"], 1);
    assert_eq!(answer["label"], "production");
    assert_eq!(answer["provider"], "up-openai");
    assert!(answer["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(answer["overhead_ms"].as_f64().unwrap() <= answer["latency_ms"].as_f64().unwrap());

    let reply =
        post(&g.router, "/api/v1/prompts/limited/invoke", (auth.0, &auth.1), json!({"variables": {"product": "x"}}))
            .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.json()["code"], "upstream_rate_limited");
}

#[tokio::test]
async fn dropping_a_stream_cancels_it_and_is_recorded() {
    let g = gateway_app().await;
    let body = json!({"model": "up-openai/gpt-4o-mini", "stream": true,
        "messages": [{"role": "user", "content": "one two three four five six seven eight nine ten"}]});
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/chat/completions")
        .header("authorization", format!("Bearer {ADMIN_SECRET}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    // The router cannot add upstream faults per request, so use a slow drip on the mock's default
    // through a second gateway; here, read one frame and drop the body.
    let response = g.router.clone().oneshot(request).await.unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let records = g.records.0.lock().unwrap().clone();
    let record = records.iter().find(|r| r.streamed && r.provider == "up-openai").expect("recorded");
    assert!(matches!(record.status, GenerationStatus::Cancelled | GenerationStatus::Ok), "{record:?}");
    drop(g.mock);
    let _ = g.app;
}
