//! Plain (non-streamed) calls through both wire formats: text, usage with cached tokens, unknown
//! usage, cost, tool calls both ways, length limits, auth failures, malformed answers.

use opm_core::ErrorKind;
use opm_gateway::{ChatMessage, FinishReason, GatewayError, Price, ProviderKind, Usage};

use crate::support::{
    COUNTER, anthropic, compatible, gateway, input_tokens, keyless_mock, mock, openai, request, weather_tool,
};

const USER: &str = "what is the capital of France";

#[tokio::test]
async fn openai_text_usage_with_cached_tokens_and_cost() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "cached=4"))]);
    let response = gateway.chat(request(&["openai/gpt-4o"], USER)).await.unwrap();
    assert_eq!(response.content, format!("mock reply to: {USER}"));
    assert_eq!((response.provider.as_str(), response.model.as_str()), ("openai", "gpt-4o"));
    assert_eq!(response.finish_reason, FinishReason::Stop);
    let input = input_tokens(USER);
    let usage = Usage { input_tokens: Some(input), output_tokens: Some(9), cached_input_tokens: Some(4) };
    assert_eq!(response.usage, usage);
    let expected = ((input - 4) as f64 * 2.5 + 4.0 * 1.25 + 9.0 * 10.0) / 1e6;
    assert!((response.cost_usd.unwrap() - expected).abs() < 1e-12, "{:?} vs {expected}", response.cost_usd);
    assert_eq!((response.attempts, response.fallback_index), (1, 0));
    assert!(response.id.starts_with("chatcmpl-"));
    assert!(response.upstream_latency > std::time::Duration::ZERO);
    assert_eq!(server.request_count(COUNTER), 1);
}

#[tokio::test]
async fn anthropic_text_usage_counts_cache_reads_as_input() {
    let server = mock().await;
    let gateway = gateway(vec![("claude", anthropic(&server, "cached=4"))]);
    let response = gateway.chat(request(&["claude/claude-haiku-4-5"], USER)).await.unwrap();
    assert_eq!(response.content, format!("mock reply to: {USER}"));
    assert_eq!(response.finish_reason, FinishReason::Stop);
    // The mock reports input_tokens without the 4 cached ones; the canonical count adds them back.
    let input = input_tokens(USER);
    assert_eq!(
        response.usage,
        Usage { input_tokens: Some(input), output_tokens: Some(9), cached_input_tokens: Some(4) }
    );
    let expected = ((input - 4) as f64 * 1.0 + 4.0 * 0.1 + 9.0 * 5.0) / 1e6;
    assert!((response.cost_usd.unwrap() - expected).abs() < 1e-12);
    assert!(response.id.starts_with("msg_"));
}

#[tokio::test]
async fn unknown_usage_stays_unknown_and_local_models_are_free() {
    let server = mock().await;
    let local = keyless_mock().await;
    let base = format!("{}/v1", local.url());
    let gateway = gateway(vec![
        ("openai", openai(&server, "no-usage")),
        ("claude", anthropic(&server, "no-usage")),
        ("local", compatible(&base, "")),
    ]);
    for target in ["openai/gpt-4o", "claude/claude-sonnet-4-5"] {
        let response = gateway.chat(request(&[target], USER)).await.unwrap();
        assert_eq!(response.usage, Usage::default(), "{target}");
        assert_eq!(response.cost_usd, None, "{target}");
    }
    let response = gateway.chat(request(&["local/smollm2"], USER)).await.unwrap();
    assert_eq!(response.cost_usd, Some(0.0));
    assert_eq!(response.usage.cached_input_tokens, Some(0));
    let response = gateway.chat(request(&["mock/demo"], USER)).await.unwrap();
    assert_eq!(
        (response.content.as_str(), response.cost_usd),
        ("mock reply to: what is the capital of France", Some(0.0))
    );
    let kinds = gateway.providers();
    assert!(kinds.contains(&("mock".to_owned(), ProviderKind::Mock)));
}

#[tokio::test]
async fn configured_prices_override_the_table() {
    let server = mock().await;
    let mut provider = openai(&server, "");
    provider.prices.insert("gpt-4o".into(), Price { input: 1_000_000.0, output: 0.0, cached_input: None });
    let gateway = gateway(vec![("openai", provider)]);
    let response = gateway.chat(request(&["openai/gpt-4o"], USER)).await.unwrap();
    assert_eq!(response.cost_usd, Some(input_tokens(USER) as f64));
}

#[tokio::test]
async fn tool_calls_both_ways_in_both_formats() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "")), ("claude", anthropic(&server, ""))]);
    for target in ["openai/gpt-4o", "claude/claude-sonnet-4-5"] {
        let mut call = request(&[target], "weather in Paris call:get_weather");
        call.tools = Some(weather_tool());
        call.tool_choice = Some(serde_json::json!("auto"));
        let response = gateway.chat(call.clone()).await.unwrap();
        assert_eq!(response.finish_reason, FinishReason::ToolCalls, "{target}");
        assert_eq!(response.tool_calls.len(), 1);
        let tool_call = &response.tool_calls[0];
        assert_eq!(tool_call.name, "get_weather");
        let arguments: serde_json::Value = serde_json::from_str(&tool_call.arguments).unwrap();
        assert_eq!(arguments, serde_json::json!({"query": "weather in Paris"}), "{target}");
        assert!(!tool_call.id.is_empty());

        // The follow-up turn carries the assistant's call and the tool's result back upstream.
        call.messages.push(ChatMessage { tool_calls: response.tool_calls.clone(), ..ChatMessage::assistant("") });
        call.messages.push(ChatMessage::tool(tool_call.id.clone(), "sunny, 24 degrees"));
        call.messages.push(ChatMessage::user("thanks, and tomorrow"));
        let response = gateway.chat(call).await.unwrap();
        assert_eq!(response.content, "mock reply to: thanks, and tomorrow", "{target}");
        assert_eq!(response.finish_reason, FinishReason::Stop);
    }
}

#[tokio::test]
async fn max_tokens_gives_length_in_both_formats() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "")), ("claude", anthropic(&server, ""))]);
    for target in ["openai/gpt-5", "claude/claude-opus-4-1"] {
        let mut call = request(&[target], USER);
        call.params.max_tokens = Some(3);
        let response = gateway.chat(call).await.unwrap();
        assert_eq!(response.content, "mock reply to:", "{target}");
        assert_eq!(response.finish_reason, FinishReason::Length);
    }
}

#[tokio::test]
async fn auth_failures_are_not_retried_and_name_the_provider() {
    let server = mock().await;
    let mut provider = openai(&server, "");
    provider.headers.insert("authorization".into(), "Bearer wrong".into());
    let gateway = gateway(vec![("openai", provider)]);
    let error = gateway.chat(request(&["openai/gpt-4o"], USER)).await.unwrap_err();
    assert_eq!(
        (error.code(), error.kind(), error.upstream_status()),
        ("upstream_auth", ErrorKind::UpstreamFailed, Some(401))
    );
    assert!(error.to_string().contains("provider `openai`"), "{error}");
    assert!(!error.to_string().contains("wrong"), "{error}");
    assert_eq!(server.request_count(COUNTER), 1);
}

#[tokio::test]
async fn a_provider_without_its_key_fails_without_network() {
    let server = mock().await;
    let mut provider = anthropic(&server, "");
    provider.api_key_file = None;
    provider.api_key_env = Some("OPM_GATEWAY_TEST_NO_SUCH_VARIABLE".into());
    let gateway = gateway(vec![("claude", provider)]);
    let error = gateway.chat(request(&["claude/claude-haiku-4-5", "mock/demo"], USER)).await;
    let response = error.unwrap();
    assert_eq!(response.fallback_index, 1, "falls back past the unusable provider");
    let error = gateway.chat(request(&["claude/claude-haiku-4-5"], USER)).await.unwrap_err();
    assert_eq!(error.code(), "upstream_auth");
    assert!(error.to_string().contains("OPM_GATEWAY_TEST_NO_SUCH_VARIABLE"), "{error}");
    assert_eq!(server.request_count(COUNTER), 0);
}

#[tokio::test]
async fn malformed_answers_are_bad_responses() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "malformed")), ("claude", anthropic(&server, "malformed"))]);
    for target in ["openai/gpt-4o", "claude/claude-haiku-4-5"] {
        let error = gateway.chat(request(&[target], USER)).await.unwrap_err();
        assert_eq!(error.code(), "upstream_bad_response", "{target}: {error}");
        assert_eq!(error.kind(), ErrorKind::UpstreamFailed);
    }
    assert_eq!(server.request_count(COUNTER), 2, "bad responses are not retried");
    let error: GatewayError = gateway.chat(request(&["nowhere/x"], USER)).await.unwrap_err();
    assert_eq!((error.code(), error.kind()), ("unknown_provider", ErrorKind::Malformed));
    let error = gateway.chat(request(&[], USER)).await.unwrap_err();
    assert_eq!(error.code(), "invalid_request");
}

#[tokio::test]
async fn traceparent_is_sent_upstream_for_both_formats_and_streams() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "")), ("claude", anthropic(&server, ""))]);
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for target in ["openai/gpt-4o", "claude/claude-haiku-4-5"] {
        let mut traced = request(&[target], USER);
        traced.traceparent = Some(traceparent.to_owned());
        gateway.chat(traced.clone()).await.unwrap();
        assert_eq!(server.last_traceparent().as_deref(), Some(traceparent), "{target}");
        gateway.chat(request(&[target], USER)).await.unwrap();
        assert_eq!(server.last_traceparent(), None, "{target}: no traceparent, none sent");
        let stream = gateway.chat_stream(traced).await.unwrap();
        drop(stream);
        assert_eq!(server.last_traceparent().as_deref(), Some(traceparent), "{target} streamed");
    }
}
