//! The OpenAI Chat Completions format: shapes, usage, streaming, tool calls, validation, auth.

use opm_mock_llm::{MockConfig, ReplyMode};
use serde_json::{Value, json};

use crate::support::{openai_body, parse_sse, post_openai, start, start_with, with};

const USER: &str = "Hello there, how are you today?";
const REPLY: &str = "mock reply to: Hello there, how are you today?";

#[tokio::test]
async fn completion_has_openai_shape_and_exact_usage() {
    let server = start().await;
    let response = post_openai(&server, &openai_body(USER), &[]).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert!(response.headers().contains_key("x-request-id"));
    let mut body: Value = response.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
    body.as_object_mut().unwrap().retain(|key, _| key != "id" && key != "created");
    assert_eq!(
        body,
        json!({
            "object": "chat.completion",
            "model": "mock-gpt",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": REPLY, "refusal": null },
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "system_fingerprint": null,
            // (3 + 3) for the system prompt, (3 + 6) for the user message; 9 reply words.
            "usage": {
                "prompt_tokens": 15,
                "completion_tokens": 9,
                "total_tokens": 24,
                "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
                "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0 },
            },
        })
    );
}

#[tokio::test]
async fn stream_with_include_usage_ends_with_a_usage_chunk_then_done() {
    let server = start().await;
    let body = with(openai_body(USER), "stream", json!(true));
    let body = with(body, "stream_options", json!({ "include_usage": true }));
    let response = post_openai(&server, &body, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
    let events = parse_sse(&response.text().await.unwrap());
    assert!(events.iter().all(|event| event.event.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|event| event.json()).collect();
    let id = chunks[0]["id"].clone();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], id);
        assert_eq!(chunk["model"], "mock-gpt");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({ "role": "assistant", "content": "", "refusal": null }));
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    let (finish_chunk, content_chunks) = rest.split_last().unwrap();
    let text: String =
        content_chunks[1..].iter().map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().unwrap()).collect();
    assert_eq!(text, REPLY);
    assert_eq!(content_chunks.len() - 1, 9, "one chunk per word");
    assert!(rest.iter().all(|chunk| chunk["usage"].is_null() && chunk.get("usage").is_some()));
    assert!(content_chunks.iter().all(|chunk| chunk["choices"][0]["finish_reason"].is_null()));
    assert_eq!(finish_chunk["choices"][0]["delta"], json!({}));
    assert_eq!(finish_chunk["choices"][0]["finish_reason"], "stop");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 15);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 9);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 24);
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_at_all() {
    let server = start().await;
    let body = with(openai_body(USER), "stream", json!(true));
    let events = parse_sse(&post_openai(&server, &body, &[]).await.text().await.unwrap());
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|event| event.json()).collect();
    assert_eq!(chunks.len(), 1 + 9 + 1);
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn max_tokens_cuts_the_reply_with_finish_reason_length() {
    let server = start().await;
    for field in ["max_tokens", "max_completion_tokens"] {
        let body = with(openai_body(USER), field, json!(2));
        let body: Value = post_openai(&server, &body, &[]).await.json().await.unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "mock reply");
        assert_eq!(body["choices"][0]["finish_reason"], "length");
        assert_eq!(body["usage"]["completion_tokens"], 2);
    }
    let body = with(with(openai_body(USER), "max_tokens", json!(3)), "stream", json!(true));
    let events = parse_sse(&post_openai(&server, &body, &[]).await.text().await.unwrap());
    let finish = events[events.len() - 2].json();
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert_eq!(events.len(), 1 + 3 + 1 + 1);
}

fn tool_request(stream: bool) -> Value {
    json!({
        "model": "mock-gpt",
        "stream": stream,
        "tools": [{ "type": "function", "function": { "name": "get_weather", "parameters": { "type": "object" } } }],
        "messages": [{ "role": "user", "content": "weather in Paris please call:get_weather" }],
    })
}

#[tokio::test]
async fn tool_calls_non_streaming_and_streaming() {
    let server = start().await;
    let body: Value = post_openai(&server, &tool_request(false), &[]).await.json().await.unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments = call["function"]["arguments"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(arguments).unwrap(), json!({ "query": "weather in Paris please" }));
    assert_eq!(body["usage"]["completion_tokens"], 1 + 4);

    let events = parse_sse(&post_openai(&server, &tool_request(true), &[]).await.text().await.unwrap());
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|event| event.json()).collect();
    let first = &chunks[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    assert_eq!(first["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(first["tool_calls"][0]["function"]["arguments"], "");
    let streamed: String = chunks[1..chunks.len() - 1]
        .iter()
        .map(|chunk| chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, arguments);
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");

    let undeclared = json!({ "model": "m", "messages": [{ "role": "user", "content": "call:get_weather" }] });
    let body: Value = post_openai(&server, &undeclared, &[]).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop", "no tools declared, no tool call");
}

#[tokio::test]
async fn invalid_requests_get_openai_400s() {
    let server = start().await;
    let user = json!([{ "role": "user", "content": "hi" }]);
    let cases = [
        (json!({ "messages": user }), None, None),
        (json!({ "model": "m" }), Some("messages"), Some("missing_required_parameter")),
        (json!({ "model": "m", "messages": "hi" }), Some("messages"), Some("invalid_type")),
        (json!({ "model": "m", "messages": [] }), Some("messages"), Some("empty_array")),
        (
            json!({ "model": "m", "messages": [{ "role": "robot", "content": "x" }] }),
            Some("messages[0].role"),
            Some("invalid_value"),
        ),
        (
            json!({ "model": "m", "messages": [{ "content": "x" }] }),
            Some("messages[0].role"),
            Some("missing_required_parameter"),
        ),
        (
            json!({ "model": "m", "messages": [{ "role": "user" }] }),
            Some("messages[0].content"),
            Some("missing_required_parameter"),
        ),
        (
            json!({ "model": "m", "messages": [{ "role": "tool", "content": "x" }] }),
            Some("messages[0].tool_call_id"),
            Some("missing_required_parameter"),
        ),
        (
            json!({ "model": "m", "messages": user, "max_tokens": 0 }),
            Some("max_tokens"),
            Some("integer_below_min_value"),
        ),
        (json!({ "model": "m", "messages": user, "stream": "yes" }), Some("stream"), Some("invalid_type")),
        (
            json!({ "model": "m", "messages": user, "stream_options": { "include_usage": true } }),
            Some("stream_options"),
            Some("invalid_value"),
        ),
    ];
    for (body, param, code) in cases {
        let response = post_openai(&server, &body, &[]).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{body}");
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(error["error"]["param"].as_str(), param, "{body}");
        assert_eq!(error["error"]["code"].as_str(), code, "{body}");
    }
    let response = crate::support::client()
        .post(format!("{}/v1/chat/completions", server.url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("could not parse the JSON body"));
}

#[tokio::test]
async fn bearer_key_is_checked_when_configured() {
    let server = start_with(MockConfig::default().with_openai_key("sk-test")).await;
    let body = openai_body(USER);
    let missing = post_openai(&server, &body, &[]).await;
    assert_eq!(missing.status(), 401);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["code"], Value::Null);
    let wrong = post_openai(&server, &body, &[("authorization", "Bearer sk-nope")]).await;
    assert_eq!(wrong.status(), 401);
    let error: Value = wrong.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_api_key");
    assert_eq!(post_openai(&server, &body, &[("authorization", "Bearer sk-test")]).await.status(), 200);
}

#[tokio::test]
async fn reply_modes_and_content_parts() {
    let echo = start_with(MockConfig::default().with_reply(ReplyMode::Echo)).await;
    let parts = json!({
        "model": "m",
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": "first" }, { "type": "text", "text": "second" }] }],
    });
    let body: Value = post_openai(&echo, &parts, &[]).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "first second");
    assert_eq!(body["usage"]["prompt_tokens"], 3 + 2);

    let words = start_with(MockConfig::default().with_reply(ReplyMode::Words(50))).await;
    let body: Value = post_openai(&words, &openai_body(USER), &[]).await.json().await.unwrap();
    assert_eq!(body["usage"]["completion_tokens"], 50);
    assert!(body["choices"][0]["message"]["content"].as_str().unwrap().ends_with("w49 w50"));
}
