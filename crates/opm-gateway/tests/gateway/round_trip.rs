//! Whole paths: an ingress request in one format, through the gateway to an upstream of the other
//! format (the mock), back out in the client's format; system, tool and stop-reason mapping included.

use futures::StreamExt;
use opm_gateway::ingress::{anthropic, openai};
use opm_gateway::{GatewayError, ModelTarget, StreamEvent};
use serde_json::{Value, json};

use crate::support::{anthropic as anthropic_provider, gateway, mock, openai as openai_provider};

#[tokio::test]
async fn openai_clients_reach_anthropic_upstreams_with_tools() {
    let server = mock().await;
    let gateway = gateway(vec![("claude", anthropic_provider(&server, ""))]);
    let request = openai::parse_request(&json!({
        "model": "claude/claude-haiku-4-5",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "weather in Oslo call:get_weather"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "tool_choice": "required",
    }))
    .unwrap();
    let target = request.direct_target().unwrap();
    let model = request.model.clone();
    let response = gateway.chat(request.into_chat_request(vec![target])).await.unwrap();
    let body = openai::response_json(&response, &model);
    assert_eq!(body["model"], "claude/claude-haiku-4-5");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"query": "weather in Oslo"}));
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn anthropic_clients_reach_openai_upstreams_and_stream_back() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai_provider(&server, ""))]);
    let request = anthropic::parse_request(&json!({
        "model": "openai/gpt-4o-mini",
        "max_tokens": 3,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "tell me a long story"}]}],
        "stream": true,
    }))
    .unwrap();
    assert!(request.stream);
    let model = request.model.clone();
    let targets = vec![request.direct_target().unwrap()];
    let mut stream = gateway.chat_stream(request.into_chat_request(targets)).await.unwrap();
    let mut encoder = anthropic::StreamEncoder::new(model);
    let mut sse = String::new();
    while let Some(event) = stream.next().await {
        sse.push_str(&encoder.encode(&event.unwrap()));
    }
    let names: Vec<&str> = sse.lines().filter_map(|line| line.strip_prefix("event: ")).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(sse.contains(r#""stop_reason":"max_tokens""#), "length maps to max_tokens: {sse}");
}

#[tokio::test]
async fn errors_come_back_in_the_clients_format() {
    let server = mock().await;
    let gateway = gateway(vec![("claude", anthropic_provider(&server, "status=529"))]);
    let mut request = openai::parse_request(
        &json!({"model": "claude/claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .unwrap();
    request.params.max_tokens = Some(5);
    let error: GatewayError = gateway
        .chat(request.clone().into_chat_request(vec![ModelTarget::new("claude", "claude-haiku-4-5")]))
        .await
        .unwrap_err();
    assert_eq!((error.kind(), error.upstream_status()), (opm_core::ErrorKind::Unavailable, Some(529)));
    let stream = gateway.chat_stream(request.into_chat_request(vec![ModelTarget::new("mock", "demo")])).await.unwrap();
    let events: Vec<StreamEvent> = stream.map(Result::unwrap).collect().await;
    let mut encoder = openai::StreamEncoder::new("mock/demo", false);
    let sse: String = events.iter().map(|event| encoder.encode(event)).collect();
    assert!(sse.ends_with("data: [DONE]\n\n"));
    assert!(!sse.contains("\"usage\""), "no usage chunk unless asked");
}
