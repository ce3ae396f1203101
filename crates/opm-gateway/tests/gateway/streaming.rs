//! Streamed calls: events in order for both formats, usage and cost at the finish, tool-call deltas,
//! failures mid-stream as `Err` items (never retried), retries before the first event, and
//! cancellation of the upstream when the caller drops the stream.

use opm_core::ErrorKind;
use std::time::Duration;

use futures::StreamExt;
use opm_gateway::{FinishReason, StreamEvent, Usage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{
    COUNTER, anthropic, collect, compatible, gateway, input_tokens, mock, openai, request, text, tool_calls,
    weather_tool,
};

const USER: &str = "stream me a short answer please";

#[tokio::test]
async fn both_formats_stream_start_deltas_and_a_priced_finish() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "cached=2")), ("claude", anthropic(&server, "cached=2"))]);
    for (target, model, price) in [
        ("openai/gpt-4o-mini", "gpt-4o-mini", (0.15, 0.075, 0.6)),
        ("claude/claude-3-5-haiku", "claude-3-5-haiku", (0.8, 0.08, 4.0)),
    ] {
        let stream = gateway.chat_stream(request(&[target], USER)).await.unwrap();
        assert_eq!((stream.model(), stream.attempts(), stream.fallback_index()), (model, 1, 0));
        let (events, error) = collect(stream).await;
        assert!(error.is_none(), "{target}: {error:?}");
        let StreamEvent::Start { provider, model: started_model, .. } = &events[0] else {
            panic!("{target}: {events:?}")
        };
        assert_eq!((provider.as_str(), started_model.as_str()), (target.split('/').next().unwrap(), model));
        assert_eq!(text(&events), format!("mock reply to: {USER}"), "{target}");
        let Some(StreamEvent::Finish { finish_reason, usage, cost_usd, upstream_latency, ttft }) = events.last() else {
            panic!("{target}: no finish in {events:?}")
        };
        assert_eq!(*finish_reason, FinishReason::Stop);
        let input = input_tokens(USER);
        assert_eq!(
            *usage,
            Usage { input_tokens: Some(input), output_tokens: Some(9), cached_input_tokens: Some(2) },
            "{target}"
        );
        let expected = ((input - 2) as f64 * price.0 + 2.0 * price.1 + 9.0 * price.2) / 1e6;
        assert!((cost_usd.unwrap() - expected).abs() < 1e-12, "{target}: {cost_usd:?} vs {expected}");
        assert!(ttft.unwrap() <= *upstream_latency + Duration::from_millis(50));
    }
    assert_eq!(server.request_count(COUNTER), 2);
}

#[tokio::test]
async fn streams_without_usage_report_it_unknown() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "no-usage")), ("claude", anthropic(&server, "no-usage"))]);
    for target in ["openai/gpt-4o", "claude/claude-haiku-4-5"] {
        let (events, error) = collect(gateway.chat_stream(request(&[target], USER)).await.unwrap()).await;
        assert!(error.is_none());
        let Some(StreamEvent::Finish { usage, cost_usd, .. }) = events.last() else { panic!("{events:?}") };
        assert_eq!((*usage, *cost_usd), (Usage::default(), None), "{target}");
    }
}

#[tokio::test]
async fn tool_call_deltas_in_both_formats() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "")), ("claude", anthropic(&server, ""))]);
    for target in ["openai/gpt-4.1", "claude/claude-sonnet-4-5"] {
        let mut call = request(&[target], "weather in Rome call:get_weather");
        call.tools = Some(weather_tool());
        let (events, error) = collect(gateway.chat_stream(call).await.unwrap()).await;
        assert!(error.is_none());
        let calls = tool_calls(&events);
        assert_eq!(calls.len(), 1, "{target}: {events:?}");
        assert_eq!(calls[0].1, "get_weather");
        assert!(!calls[0].0.is_empty());
        let arguments: serde_json::Value = serde_json::from_str(&calls[0].2).unwrap();
        assert_eq!(arguments, serde_json::json!({"query": "weather in Rome"}));
        assert!(matches!(events.last(), Some(StreamEvent::Finish { finish_reason: FinishReason::ToolCalls, .. })));
    }
}

#[tokio::test]
async fn a_reset_mid_stream_is_an_error_item_and_is_not_retried() {
    let server = mock().await;
    let gateway =
        gateway(vec![("openai", openai(&server, "reset-after=3")), ("claude", anthropic(&server, "reset-after=5"))]);
    for (target, count) in [("openai/gpt-4o", 1), ("claude/claude-haiku-4-5", 2)] {
        let (events, error) = collect(gateway.chat_stream(request(&[target], USER)).await.unwrap()).await;
        let error = error.unwrap_or_else(|| panic!("{target}: the stream must fail, got {events:?}"));
        assert_eq!(error.code(), "upstream_unavailable", "{target}: {error}");
        assert!(matches!(events[0], StreamEvent::Start { .. }));
        assert!(!events.iter().any(|event| matches!(event, StreamEvent::Finish { .. })));
        assert_eq!(server.request_count(COUNTER), count, "{target}: no retry after the first event");
    }
}

#[tokio::test]
async fn in_stream_error_events_and_malformed_chunks_are_error_items() {
    let server = mock().await;
    let gateway = gateway(vec![
        ("claude", anthropic(&server, "error-after=4")),
        ("openai", openai(&server, "error-after=2")),
        ("bad", openai(&server, "malformed")),
    ]);
    let (_, error) = collect(gateway.chat_stream(request(&["claude/claude-haiku-4-5"], USER)).await.unwrap()).await;
    let error = error.unwrap();
    assert_eq!(
        (error.code(), error.upstream_status(), error.kind()),
        ("upstream_unavailable", Some(529), ErrorKind::Unavailable)
    );
    let (events, error) = collect(gateway.chat_stream(request(&["openai/gpt-4o"], USER)).await.unwrap()).await;
    assert_eq!(error.unwrap().code(), "upstream_unavailable");
    assert_eq!(text(&events), "mock");
    let (_, error) = collect(gateway.chat_stream(request(&["bad/gpt-4o"], USER)).await.unwrap()).await;
    assert_eq!(error.unwrap().code(), "upstream_bad_response");
}

#[tokio::test]
async fn failures_before_the_first_event_are_retried() {
    let server = mock().await;
    let mut provider = openai(&server, "fail-first=2");
    provider.retry.max_attempts = 3;
    let gateway = gateway(vec![("openai", provider)]);
    let stream = gateway.chat_stream(request(&["openai/gpt-4o"], USER)).await.unwrap();
    assert_eq!(stream.attempts(), 3);
    let (events, error) = collect(stream).await;
    assert!(error.is_none());
    assert_eq!(text(&events), format!("mock reply to: {USER}"));
    assert_eq!(server.request_count(COUNTER), 3);
}

#[tokio::test]
async fn a_slow_first_event_times_out_and_is_retried() {
    let server = mock().await;
    let mut provider = anthropic(&server, "ttft=400");
    provider.timeouts.first_byte_ms = 100;
    provider.retry.max_attempts = 2;
    let gateway = gateway(vec![("claude", provider)]);
    let started = std::time::Instant::now();
    let error = gateway.chat_stream(request(&["claude/claude-haiku-4-5"], USER)).await.unwrap_err();
    assert_eq!((error.code(), error.kind()), ("upstream_timeout", ErrorKind::TimedOut));
    assert!(started.elapsed() < Duration::from_millis(600), "{:?}", started.elapsed());
    assert_eq!(server.request_count(COUNTER), 2);
}

#[tokio::test]
async fn the_total_limit_cuts_a_slow_stream() {
    let server = mock().await;
    let mut provider = openai(&server, "drip=100");
    provider.timeouts.total_ms = 250;
    let gateway = gateway(vec![("openai", provider)]);
    let (events, error) = collect(gateway.chat_stream(request(&["openai/gpt-4o"], USER)).await.unwrap()).await;
    assert_eq!(error.unwrap().code(), "upstream_timeout");
    assert!(events.len() >= 2 && events.len() < 6, "{events:?}");
}

#[tokio::test]
async fn the_built_in_mock_streams_too() {
    let gateway = gateway(Vec::new());
    let (events, error) = collect(gateway.chat_stream(request(&["mock/demo"], "hello there")).await.unwrap()).await;
    assert!(error.is_none());
    assert_eq!(text(&events), "mock reply to: hello there");
    assert!(matches!(events.last(), Some(StreamEvent::Finish { cost_usd: Some(0.0), ttft: Some(_), .. })));
}

/// A raw loopback server that streams SSE chunks every 20 ms and reports when the client goes away.
#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (closed_sender, closed) = tokio::sync::oneshot::channel::<usize>();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (mut reader, mut writer) = socket.into_split();
        let mut request = Vec::new();
        let mut buffer = [0_u8; 4096];
        while !request.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = reader.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..read]);
        }
        writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let chunk = |content: &str| {
            format!(
                "data: {{\"id\":\"c\",\"model\":\"slow\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}}}}]}}\n\n"
            )
        };
        let mut sent = 0;
        let reason = loop {
            tokio::select! {
                read = reader.read(&mut buffer) => {
                    if matches!(read, Ok(0) | Err(_)) { break sent; }
                }
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    if writer.write_all(chunk("w ").as_bytes()).await.is_err() { break sent; }
                    sent += 1;
                    if sent > 250 { break usize::MAX; }
                }
            }
        };
        let _ = closed_sender.send(reason);
    });
    let gateway = gateway(vec![("slow", compatible(&format!("http://{address}/v1"), ""))]);
    let mut stream = gateway.chat_stream(request(&["slow/slow"], USER)).await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(StreamEvent::Start { .. }))));
    assert!(matches!(stream.next().await, Some(Ok(StreamEvent::TextDelta(_)))));
    assert!(matches!(stream.next().await, Some(Ok(StreamEvent::TextDelta(_)))));
    drop(stream);
    let sent = tokio::time::timeout(Duration::from_secs(2), closed).await.unwrap().unwrap();
    assert!(sent < 20, "the upstream kept streaming to nobody: {sent} chunks");
}
