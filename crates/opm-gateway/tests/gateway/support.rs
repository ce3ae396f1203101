//! Helpers: mock servers, gateways with fast test policies, requests and stream collection.

use futures::StreamExt;
use opm_gateway::{
    BreakerPolicy, ChatMessage, ChatRequest, ChatStream, Gateway, GatewayConfig, GatewayError, ModelTarget, PriceTable,
    ProviderConfig, ProviderKind, RetryPolicy, StreamEvent, Timeouts,
};
use opm_mock_llm::{MockConfig, MockServer};

/// The API keys the mock servers expect.
pub const OPENAI_KEY: &str = "sk-test-openai";
pub const ANTHROPIC_KEY: &str = "sk-ant-test";
/// The `x-mock-key` every test provider sends, so the mock counts its requests.
pub const COUNTER: &str = "k";

pub async fn mock() -> MockServer {
    MockServer::start(MockConfig::default().with_openai_key(OPENAI_KEY).with_anthropic_key(ANTHROPIC_KEY))
        .await
        .unwrap()
}

/// A mock that asks for no key (a local OpenAI-compatible server).
pub async fn keyless_mock() -> MockServer {
    MockServer::start(MockConfig::default()).await.unwrap()
}

/// Small timeouts, 1–5 ms backoffs, breaker off: tests change what they exercise.
pub fn fast(mut provider: ProviderConfig) -> ProviderConfig {
    provider.timeouts = Timeouts { connect_ms: 1_000, first_byte_ms: 2_000, total_ms: 5_000 };
    provider.retry = RetryPolicy { max_attempts: 3, base_delay_ms: 1, max_delay_ms: 5 };
    provider.breaker = BreakerPolicy { failure_threshold: 0, open_ms: 1_000 };
    provider.with_header("x-mock-key", COUNTER)
}

/// An `openai` provider at the mock with `fault` (may be empty) in `x-mock-fault`.
pub fn openai(server: &MockServer, fault: &str) -> ProviderConfig {
    with_fault(
        keyed(ProviderConfig::new(ProviderKind::Openai), OPENAI_KEY).with_base_url(format!("{}/v1", server.url())),
        fault,
    )
}

/// An `anthropic` provider at the mock.
pub fn anthropic(server: &MockServer, fault: &str) -> ProviderConfig {
    with_fault(
        keyed(ProviderConfig::new(ProviderKind::Anthropic), ANTHROPIC_KEY)
            .with_base_url(format!("{}/v1", server.url())),
        fault,
    )
}

/// An `openai-compatible` provider (no key) at `base_url`.
pub fn compatible(base_url: &str, fault: &str) -> ProviderConfig {
    with_fault(fast(ProviderConfig::new(ProviderKind::OpenaiCompatible).with_base_url(base_url)), fault)
}

fn with_fault(provider: ProviderConfig, fault: &str) -> ProviderConfig {
    if fault.is_empty() { provider } else { provider.with_header("x-mock-fault", fault) }
}

/// Writes `key` to a file the provider reads it from (the file may go once the gateway is built).
fn keyed(provider: ProviderConfig, key: &str) -> ProviderConfig {
    let path = std::env::temp_dir().join(format!("opm-gateway-test-key-{}", uuid_like()));
    std::fs::write(&path, key).unwrap();
    let mut provider = fast(provider);
    provider.api_key_file = Some(path);
    provider
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn gateway(providers: Vec<(&str, ProviderConfig)>) -> Gateway {
    let config = providers
        .into_iter()
        .fold(GatewayConfig::default(), |config, (name, provider)| config.with_provider(name, provider));
    let key_files: Vec<_> = config.providers.values().filter_map(|provider| provider.api_key_file.clone()).collect();
    let gateway = Gateway::new(config, PriceTable::builtin());
    for file in key_files {
        let _ = std::fs::remove_file(file);
    }
    gateway.unwrap()
}

/// A request for `targets` (`"provider/model"`) with a system prompt and one user message.
pub fn request(targets: &[&str], user: &str) -> ChatRequest {
    ChatRequest {
        targets: targets.iter().map(|target| ModelTarget::parse(target).unwrap()).collect(),
        messages: vec![ChatMessage::system("You are terse."), ChatMessage::user(user)],
        ..ChatRequest::default()
    }
}

/// The mock's input tokens for [`request`]: 3 per message plus the words.
pub fn input_tokens(user: &str) -> u64 {
    (3 + 3) + (3 + user.split_whitespace().count() as u64)
}

/// Reads a stream to its end: the events, then the error it ended with, if any.
pub async fn collect(mut stream: ChatStream) -> (Vec<StreamEvent>, Option<GatewayError>) {
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(error) => {
                assert!(stream.next().await.is_none(), "nothing may follow an error");
                return (events, Some(error));
            }
        }
    }
    (events, None)
}

/// The text of the text deltas.
pub fn text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::TextDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The tool calls assembled from the deltas: (id, name, arguments) per index.
pub fn tool_calls(events: &[StreamEvent]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for event in events {
        if let StreamEvent::ToolCallDelta { index, id, name, arguments } = event {
            if *index == calls.len() {
                calls.push(Default::default());
            }
            let call = &mut calls[*index];
            if let Some(id) = id {
                call.0.clone_from(id);
            }
            if let Some(name) = name {
                call.1.clone_from(name);
            }
            call.2.push_str(arguments);
        }
    }
    calls
}

/// The tools the mock knows how to call (`call:get_weather` in a user message).
pub fn weather_tool() -> serde_json::Value {
    serde_json::json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }])
}
