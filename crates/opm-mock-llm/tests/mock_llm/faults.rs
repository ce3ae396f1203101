//! Fault injection: statuses and error bodies, timing, resets, malformed output, fail-first, no-usage.

use std::time::{Duration, Instant};

use opm_mock_llm::{Fault, MockConfig};
use serde_json::{Value, json};

use crate::support::{
    anthropic_body, client, openai_body, parse_sse, post_anthropic, post_openai, read_until_error, start, start_with,
    with,
};

fn streamed(body: Value) -> Value {
    with(body, "stream", json!(true))
}

#[tokio::test]
async fn injected_statuses_use_each_formats_error_body() {
    let server = start().await;
    let cases = [
        (429, "requests", "rate_limit_error"),
        (500, "server_error", "api_error"),
        (503, "server_error", "api_error"),
        (529, "server_error", "overloaded_error"),
        (418, "invalid_request_error", "invalid_request_error"),
    ];
    for (status, openai_type, anthropic_type) in cases {
        let fault = format!("status={status}");
        let response = post_openai(&server, &openai_body("hi"), &[("x-mock-fault", &fault)]).await;
        assert_eq!(response.status().as_u16(), status);
        assert!(!response.headers().contains_key("retry-after"));
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], openai_type, "{status}");
        let keys: Vec<&String> = error["error"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["code", "message", "param", "type"]);

        let response = post_anthropic(&server, &anthropic_body("hi"), &[("x-mock-fault", &fault)]).await;
        assert_eq!(response.status().as_u16(), status);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], anthropic_type, "{status}");
        assert!(error["error"]["message"].is_string());
    }
    let response = post_openai(&server, &openai_body("hi"), &[("x-mock-fault", "status=429, retry-after=2")]).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    let response =
        post_anthropic(&server, &anthropic_body("hi"), &[("x-mock-fault", "status=429;retry-after=7")]).await;
    assert_eq!(response.headers()["retry-after"], "7");
}

#[tokio::test]
async fn invalid_fault_header_is_a_400_naming_the_header() {
    let server = start().await;
    let response = post_openai(&server, &openai_body("hi"), &[("x-mock-fault", "explode=1")]).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["param"], "x-mock-fault");
    assert!(error["error"]["message"].as_str().unwrap().contains("explode=1"));
}

#[tokio::test]
async fn latency_delays_the_response_headers() {
    let server = start().await;
    let started = Instant::now();
    let response = post_openai(&server, &openai_body("hi"), &[("x-mock-fault", "latency=150")]).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    let response = post_anthropic(&server, &anthropic_body("hi"), &[("x-mock-fault", "latency=150,status=500")]).await;
    assert!(started.elapsed() >= Duration::from_millis(150), "errors wait too");
    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn ttft_and_drip_pace_the_stream() {
    let server = start().await;
    let started = Instant::now();
    let mut response =
        post_openai(&server, &streamed(openai_body("one two three")), &[("x-mock-fault", "ttft=250,drip=30")]).await;
    let headers_after = started.elapsed();
    assert!(headers_after < Duration::from_millis(200), "headers come before the ttft wait: {headers_after:?}");
    let first = response.chunk().await.unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(std::str::from_utf8(&first).unwrap().contains("\"role\":\"assistant\""));
    let before_rest = Instant::now();
    let rest = response.text().await.unwrap();
    // role chunk + 6 words + finish + [DONE] = 9 frames, 8 drips after the first.
    assert!(before_rest.elapsed() >= Duration::from_millis(8 * 30 - 10), "{:?}", before_rest.elapsed());
    assert!(rest.ends_with("data: [DONE]\n\n"));

    let started = Instant::now();
    let response = post_anthropic(&server, &streamed(anthropic_body("hi")), &[("x-mock-fault", "ttft=100")]).await;
    let events = parse_sse(&response.text().await.unwrap());
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(events.last().unwrap().event.as_deref(), Some("message_stop"));
}

#[tokio::test]
async fn reset_after_drops_the_stream_mid_way() {
    let server = start().await;
    let response =
        post_openai(&server, &streamed(openai_body("a b c d e f")), &[("x-mock-fault", "reset-after=3")]).await;
    assert_eq!(response.status(), 200);
    let (received, failed) = read_until_error(response).await;
    assert!(failed, "the body must end in an error, got {received:?}");
    assert_eq!(parse_sse(&received).len(), 3);
    assert!(!received.contains("[DONE]"));

    let response =
        post_anthropic(&server, &streamed(anthropic_body("a b c")), &[("x-mock-fault", "reset-after=4")]).await;
    let (received, failed) = read_until_error(response).await;
    assert!(failed);
    let names: Vec<String> = parse_sse(&received).into_iter().filter_map(|event| event.event).collect();
    assert_eq!(names, ["message_start", "content_block_start", "ping", "content_block_delta"]);

    let response = post_openai(&server, &openai_body("hi"), &[("x-mock-fault", "reset-after=10")]).await;
    assert_eq!(response.status(), 200);
    let (received, failed) = read_until_error(response).await;
    assert!(failed);
    assert_eq!(received.len(), 10, "non-streamed bodies are cut after N bytes: {received:?}");

    let error = response_text_error(&server).await;
    assert!(error.is_body() || error.is_decode() || error.is_request(), "{error:?}");
}

async fn response_text_error(server: &opm_mock_llm::MockServer) -> reqwest::Error {
    let response = post_openai(server, &streamed(openai_body("a b c")), &[("x-mock-fault", "reset-after=1")]).await;
    response.text().await.unwrap_err()
}

#[tokio::test]
async fn error_after_sends_an_in_stream_error_event() {
    let server = start().await;
    let response = post_openai(&server, &streamed(openai_body("a b c")), &[("x-mock-fault", "error-after=2")]).await;
    let events = parse_sse(&response.text().await.unwrap());
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].json()["error"]["type"], "server_error");

    let response =
        post_anthropic(&server, &streamed(anthropic_body("a b c")), &[("x-mock-fault", "error-after=1")]).await;
    let events = parse_sse(&response.text().await.unwrap());
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].event.as_deref(), Some("error"));
    assert_eq!(
        events[1].json(),
        json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } })
    );
}

#[tokio::test]
async fn malformed_sends_invalid_json() {
    let server = start().await;
    let response = post_openai(&server, &openai_body("hi"), &[("x-mock-fault", "malformed")]).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert!(text.starts_with('{'));

    let response = post_openai(&server, &streamed(openai_body("a b")), &[("x-mock-fault", "malformed")]).await;
    let events = parse_sse(&response.text().await.unwrap());
    let invalid: Vec<usize> = (0..events.len())
        .filter(|&index| events[index].data != "[DONE]" && serde_json::from_str::<Value>(&events[index].data).is_err())
        .collect();
    assert_eq!(invalid, [1], "exactly the first content chunk is malformed");

    let response = post_anthropic(&server, &streamed(anthropic_body("a b")), &[("x-mock-fault", "malformed")]).await;
    let events = parse_sse(&response.text().await.unwrap());
    assert_eq!(events[3].event.as_deref(), Some("content_block_delta"));
    assert!(serde_json::from_str::<Value>(&events[3].data).is_err());
    assert!(serde_json::from_str::<Value>(&events[4].data).is_ok());
}

#[tokio::test]
async fn fail_first_fails_then_succeeds_per_key_and_counts_requests() {
    let server = start().await;
    let count = |key: &str| {
        let url = format!("{}/mock/requests?key={key}", server.url());
        async move { client().get(url).send().await.unwrap().json::<Value>().await.unwrap()["count"].clone() }
    };
    let fault = [("x-mock-fault", "fail-first=2"), ("x-mock-key", "retry-test")];
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post_openai(&server, &openai_body("hi"), &fault).await.status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(count("retry-test").await, 3);
    assert_eq!(server.request_count("retry-test"), 3);
    assert_eq!(count("other").await, 0);

    let fault = [("x-mock-fault", "fail-first=1,status=429"), ("x-mock-key", "anthropic-test")];
    let first = post_anthropic(&server, &anthropic_body("hi"), &fault).await;
    assert_eq!(first.status(), 429);
    assert_eq!(post_anthropic(&server, &anthropic_body("hi"), &fault).await.status(), 200);

    let reset = client().delete(format!("{}/mock/requests?key=anthropic-test", server.url())).send().await.unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(count("anthropic-test").await, 0);
    assert_eq!(post_anthropic(&server, &anthropic_body("hi"), &fault).await.status(), 429, "counter starts over");
}

#[tokio::test]
async fn no_usage_omits_usage_everywhere() {
    let server = start().await;
    let fault = [("x-mock-fault", "no-usage")];
    let body: Value = post_openai(&server, &openai_body("hi"), &fault).await.json().await.unwrap();
    assert!(body.get("usage").is_none());
    let request = with(streamed(openai_body("hi")), "stream_options", json!({ "include_usage": true }));
    let events = parse_sse(&post_openai(&server, &request, &fault).await.text().await.unwrap());
    assert!(events.iter().all(|event| !event.data.contains("usage")));
    assert_eq!(events.last().unwrap().data, "[DONE]");

    let body: Value = post_anthropic(&server, &anthropic_body("hi"), &fault).await.json().await.unwrap();
    assert!(body.get("usage").is_none());
    let events =
        parse_sse(&post_anthropic(&server, &streamed(anthropic_body("hi")), &fault).await.text().await.unwrap());
    assert!(events.iter().all(|event| !event.data.contains("usage")));
}

#[tokio::test]
async fn model_suffix_and_server_default_faults() {
    let server = start().await;
    let failing = with(openai_body("hi"), "model", json!("mock-fail-500"));
    assert_eq!(post_openai(&server, &failing, &[]).await.status(), 500);
    let failing = with(anthropic_body("hi"), "model", json!("claude-fail-529"));
    assert_eq!(post_anthropic(&server, &failing, &[]).await.status(), 529);
    let slow = with(openai_body("hi"), "model", json!("mock-slow-120"));
    let started = Instant::now();
    assert_eq!(post_openai(&server, &slow, &[]).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(120));

    let default = Fault::parse("status=503,latency=50").unwrap();
    let server = start_with(MockConfig::default().with_fault(default)).await;
    let started = Instant::now();
    assert_eq!(post_openai(&server, &openai_body("hi"), &[]).await.status(), 503);
    assert!(started.elapsed() >= Duration::from_millis(50));
    let overridden = post_openai(&server, &openai_body("hi"), &[("x-mock-fault", "status=429")]).await;
    assert_eq!(overridden.status(), 429, "the header wins over the server default");
}
