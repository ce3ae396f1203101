//! Helpers: start a server, post to either format, parse SSE streams.

use std::sync::Once;

use opm_mock_llm::{MockConfig, MockServer};
use serde_json::Value;

pub async fn start() -> MockServer {
    start_with(MockConfig::default()).await
}

pub async fn start_with(config: MockConfig) -> MockServer {
    MockServer::start(config).await.unwrap()
}

pub fn client() -> reqwest::Client {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::new()
}

/// Posts `body` to `/v1/chat/completions` with extra headers.
pub async fn post_openai(server: &MockServer, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client().post(format!("{}/v1/chat/completions", server.url())).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Posts `body` to `/v1/messages` with `anthropic-version` and extra headers.
pub async fn post_anthropic(server: &MockServer, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request =
        client().post(format!("{}/v1/messages", server.url())).header("anthropic-version", "2023-06-01").json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// One SSE event: its `event:` name (if any) and its `data:` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|error| panic!("bad JSON in {:?}: {error}", self.data))
    }
}

/// Splits an SSE body into events, checking that every frame ends with a blank line.
pub fn parse_sse(body: &str) -> Vec<SseEvent> {
    assert!(body.is_empty() || body.ends_with("\n\n"), "stream does not end with a blank line: {body:?}");
    body.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            let mut event = None;
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_owned());
                } else if let Some(text) = line.strip_prefix("data: ") {
                    data.push(text);
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            SseEvent { event, data: data.join("\n") }
        })
        .collect()
}

/// Reads a body chunk by chunk until it ends or fails; returns what arrived and whether it failed.
pub async fn read_until_error(mut response: reqwest::Response) -> (String, bool) {
    let mut received = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => return (String::from_utf8(received).unwrap(), false),
            Err(_) => return (String::from_utf8(received).unwrap(), true),
        }
    }
}

/// A chat request with a system prompt and one user message.
pub fn openai_body(user: &str) -> Value {
    serde_json::json!({
        "model": "mock-gpt",
        "messages": [
            { "role": "system", "content": "You are terse." },
            { "role": "user", "content": user },
        ],
    })
}

/// A Messages request with a system prompt and one user message.
pub fn anthropic_body(user: &str) -> Value {
    serde_json::json!({
        "model": "mock-claude",
        "max_tokens": 100,
        "system": "You are terse.",
        "messages": [{ "role": "user", "content": user }],
    })
}

/// Sets `body[key] = value` and returns the body.
pub fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}
