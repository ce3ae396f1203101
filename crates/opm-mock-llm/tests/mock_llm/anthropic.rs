//! The Anthropic Messages format: shapes, usage, the exact event sequence, tool use, validation, auth.

use opm_mock_llm::MockConfig;
use serde_json::{Value, json};

use crate::support::{anthropic_body, client, parse_sse, post_anthropic, start, start_with, with};

const USER: &str = "Hello there, how are you today?";
const REPLY: &str = "mock reply to: Hello there, how are you today?";

#[tokio::test]
async fn message_has_anthropic_shape_and_exact_usage() {
    let server = start().await;
    let response = post_anthropic(&server, &anthropic_body(USER), &[]).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("request-id"));
    let mut body: Value = response.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    body.as_object_mut().unwrap().remove("id");
    assert_eq!(
        body,
        json!({
            "type": "message",
            "role": "assistant",
            "model": "mock-claude",
            "content": [{ "type": "text", "text": REPLY }],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {
                "input_tokens": 15,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 9,
            },
        })
    );
}

#[tokio::test]
async fn system_as_blocks_and_content_as_blocks_count_the_same() {
    let server = start().await;
    let body = json!({
        "model": "mock-claude",
        "max_tokens": 100,
        "system": [{ "type": "text", "text": "You are terse." }],
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": USER }] }],
    });
    let body: Value = post_anthropic(&server, &body, &[]).await.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], REPLY);
    assert_eq!(body["usage"]["input_tokens"], 15);
}

#[tokio::test]
async fn cached_tokens_are_excluded_from_input_tokens() {
    let server = start().await;
    let body: Value =
        post_anthropic(&server, &anthropic_body(USER), &[("x-mock-fault", "cached=10")]).await.json().await.unwrap();
    assert_eq!(body["usage"]["input_tokens"], 5);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 10);
}

#[tokio::test]
async fn stream_sends_the_exact_event_sequence() {
    let server = start().await;
    let response = post_anthropic(&server, &with(anthropic_body(USER), "stream", json!(true)), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
    let events = parse_sse(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|event| event.event.as_deref().unwrap()).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 9]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    for event in &events {
        assert_eq!(event.json()["type"], event.event.as_deref().unwrap(), "data.type matches the event name");
    }
    let start = events[0].json();
    assert!(start["message"]["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["stop_reason"], Value::Null);
    assert_eq!(
        start["message"]["usage"],
        json!({ "input_tokens": 15, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1 })
    );
    assert_eq!(
        events[1].json(),
        json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } })
    );
    let text: String = events[3..12]
        .iter()
        .map(|event| {
            let delta = event.json();
            assert_eq!(delta["index"], 0);
            assert_eq!(delta["delta"]["type"], "text_delta");
            delta["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, REPLY);
    assert_eq!(events[12].json(), json!({ "type": "content_block_stop", "index": 0 }));
    assert_eq!(
        events[13].json(),
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": "end_turn", "stop_sequence": null },
            "usage": { "output_tokens": 9 },
        })
    );
    assert_eq!(events[14].json(), json!({ "type": "message_stop" }));
}

#[tokio::test]
async fn max_tokens_stops_with_max_tokens() {
    let server = start().await;
    let body: Value =
        post_anthropic(&server, &with(anthropic_body(USER), "max_tokens", json!(3)), &[]).await.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "mock reply to:");
    assert_eq!(body["stop_reason"], "max_tokens");
    assert_eq!(body["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn tool_use_non_streaming_and_streaming() {
    let server = start().await;
    let request = json!({
        "model": "mock-claude",
        "max_tokens": 100,
        "tools": [{ "name": "get_weather", "input_schema": { "type": "object" } }],
        "messages": [{ "role": "user", "content": "weather in Paris please call:get_weather" }],
    });
    let body: Value = post_anthropic(&server, &request, &[]).await.json().await.unwrap();
    assert_eq!(body["stop_reason"], "tool_use");
    let block = &body["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({ "query": "weather in Paris please" }));

    let stream = post_anthropic(&server, &with(request, "stream", json!(true)), &[]).await;
    let events = parse_sse(&stream.text().await.unwrap());
    let start = events[1].json();
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["input"], json!({}));
    let partial: String = events
        .iter()
        .filter(|event| event.event.as_deref() == Some("content_block_delta"))
        .map(|event| {
            let delta = event.json();
            assert_eq!(delta["delta"]["type"], "input_json_delta");
            delta["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&partial).unwrap(), json!({ "query": "weather in Paris please" }));
    let message_delta = events.iter().find(|event| event.event.as_deref() == Some("message_delta")).unwrap();
    assert_eq!(message_delta.json()["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn invalid_requests_get_anthropic_400s() {
    let server = start().await;
    let user = json!([{ "role": "user", "content": "hi" }]);
    let cases = [
        (json!({ "messages": user, "max_tokens": 5 }), "model: Field required"),
        (json!({ "model": "m", "messages": user }), "max_tokens: Field required"),
        (
            json!({ "model": "m", "messages": user, "max_tokens": 0 }),
            "max_tokens: Input should be greater than or equal to 1",
        ),
        (json!({ "model": "m", "max_tokens": 5 }), "messages: Field required"),
        (json!({ "model": "m", "max_tokens": 5, "messages": [] }), "messages: at least one message is required"),
        (
            json!({ "model": "m", "max_tokens": 5, "messages": [{ "role": "system", "content": "x" }] }),
            "top-level `system`",
        ),
        (json!({ "model": "m", "max_tokens": 5, "messages": [{ "role": "bot", "content": "x" }] }), "messages.0.role"),
        (
            json!({ "model": "m", "max_tokens": 5, "messages": [{ "role": "user" }] }),
            "messages.0.content: Field required",
        ),
        (json!({ "model": "m", "max_tokens": 5, "messages": user, "system": 7 }), "system:"),
    ];
    for (body, message) in cases {
        let response = post_anthropic(&server, &body, &[]).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let text = error["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{text:?} should contain {message:?}");
    }
    let response =
        client().post(format!("{}/v1/messages", server.url())).json(&anthropic_body(USER)).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["message"], "anthropic-version: header is required");
}

#[tokio::test]
async fn api_key_is_checked_when_configured() {
    let server = start_with(MockConfig::default().with_anthropic_key("sk-ant")).await;
    let body = anthropic_body(USER);
    for headers in [&[][..], &[("x-api-key", "wrong")][..]] {
        let response = post_anthropic(&server, &body, headers).await;
        assert_eq!(response.status(), 401);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "authentication_error");
    }
    assert_eq!(post_anthropic(&server, &body, &[("x-api-key", "sk-ant")]).await.status(), 200);
}
