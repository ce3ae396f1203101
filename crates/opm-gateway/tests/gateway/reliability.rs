//! Retries, Retry-After, fallbacks, circuit breakers, deadlines and timeouts, counted by the mock.

use opm_core::ErrorKind;
use std::time::{Duration, Instant};

use opm_gateway::{BreakerPolicy, BreakerState};

use crate::support::{COUNTER, anthropic, compatible, gateway, mock, openai, request};

const USER: &str = "hello there";

fn breaker_state(gateway: &opm_gateway::Gateway, name: &str) -> BreakerState {
    gateway.breaker_states().into_iter().find(|(provider, _)| provider == name).unwrap().1
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "fail-first=2,status=503"))]);
    let response = gateway.chat(request(&["openai/gpt-4o"], USER)).await.unwrap();
    assert_eq!((response.attempts, response.fallback_index), (3, 0));
    assert_eq!(server.request_count(COUNTER), 3);

    let server = mock().await;
    let claude = crate::support::gateway(vec![("claude", anthropic(&server, "fail-first=1,status=529"))]);
    let response = claude.chat(request(&["claude/claude-haiku-4-5"], USER)).await.unwrap();
    assert_eq!(response.attempts, 2, "Anthropic's 529 is retried");
}

#[tokio::test]
async fn retries_give_up_after_max_attempts() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "status=500"))]);
    let error = gateway.chat(request(&["openai/gpt-4o"], USER)).await.unwrap_err();
    assert_eq!(
        (error.code(), error.upstream_status(), error.kind()),
        ("upstream_unavailable", Some(500), ErrorKind::UpstreamFailed)
    );
    assert!(error.to_string().contains("provider `openai` is unavailable"), "{error}");
    assert_eq!(server.request_count(COUNTER), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "status=400"))]);
    let error = gateway.chat(request(&["openai/gpt-4o"], USER)).await.unwrap_err();
    assert_eq!((error.code(), error.kind()), ("upstream_error", ErrorKind::Malformed));
    assert_eq!(server.request_count(COUNTER), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "fail-first=1,status=429,retry-after=1"))]);
    let started = Instant::now();
    let response = gateway.chat(request(&["openai/gpt-4o"], USER)).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(1), "retried after {elapsed:?}, before Retry-After");
    assert!(elapsed < Duration::from_millis(1_800), "{elapsed:?}");
    assert_eq!(response.attempts, 2);
    assert!(response.upstream_latency < Duration::from_millis(500), "the wait is not upstream time");
}

#[tokio::test]
async fn rate_limits_beyond_the_deadline_end_the_call_with_429() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "status=429,retry-after=30"))]);
    let mut call = request(&["openai/gpt-4o"], USER);
    call.deadline = Some(tokio::time::Instant::now() + Duration::from_secs(2));
    let started = Instant::now();
    let error = gateway.chat(call).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!((error.code(), error.kind()), ("upstream_rate_limited", ErrorKind::RateLimited));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(error.kind(), opm_core::ErrorKind::RateLimited);
    assert_eq!(server.request_count(COUNTER), 1);
}

#[tokio::test]
async fn the_next_target_answers_when_the_first_keeps_failing() {
    let primary = mock().await;
    let backup = mock().await;
    let mut first = openai(&primary, "");
    first.retry.max_attempts = 2;
    let gateway = gateway(vec![("primary", first), ("backup", anthropic(&backup, ""))]);
    // The model-name suffix makes the mock fail every request with 503.
    let response = gateway.chat(request(&["primary/gpt-4o-fail-503", "backup/claude-haiku-4-5"], USER)).await.unwrap();
    assert_eq!((response.provider.as_str(), response.fallback_index, response.attempts), ("backup", 1, 3));
    assert_eq!((primary.request_count(COUNTER), backup.request_count(COUNTER)), (2, 1));
    assert_eq!(response.content, "mock reply to: hello there");
}

#[tokio::test]
async fn the_breaker_opens_skips_and_closes_after_a_good_probe() {
    let server = mock().await;
    let mut provider = openai(&server, "fail-first=2,status=503");
    provider.retry.max_attempts = 1;
    provider.breaker = BreakerPolicy { failure_threshold: 2, open_ms: 200 };
    let gateway = gateway(vec![("flaky", provider)]);
    for _ in 0..2 {
        let error = gateway.chat(request(&["flaky/gpt-4o"], USER)).await.unwrap_err();
        assert_eq!(error.code(), "upstream_unavailable");
    }
    assert_eq!(breaker_state(&gateway, "flaky"), BreakerState::Open);

    let started = Instant::now();
    let error = gateway.chat(request(&["flaky/gpt-4o"], USER)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!((error.code(), error.kind()), ("breaker_open", ErrorKind::Unavailable));
    assert_eq!(error.kind(), opm_core::ErrorKind::Unavailable);
    let response = gateway.chat(request(&["flaky/gpt-4o", "mock/demo"], USER)).await.unwrap();
    assert_eq!((response.fallback_index, response.attempts), (1, 1), "an open breaker skips at once");
    assert_eq!(server.request_count(COUNTER), 2, "skipped calls never reach the upstream");

    tokio::time::sleep(Duration::from_millis(220)).await;
    assert_eq!(breaker_state(&gateway, "flaky"), BreakerState::HalfOpen);
    let response = gateway.chat(request(&["flaky/gpt-4o"], USER)).await.unwrap();
    assert_eq!(response.attempts, 1);
    assert_eq!(breaker_state(&gateway, "flaky"), BreakerState::Closed);
    assert_eq!(breaker_state(&gateway, "mock"), BreakerState::Closed);
}

#[tokio::test]
async fn a_failed_probe_reopens_the_breaker() {
    let server = mock().await;
    let mut provider = openai(&server, "status=502");
    provider.retry.max_attempts = 1;
    provider.breaker = BreakerPolicy { failure_threshold: 1, open_ms: 100 };
    let gateway = gateway(vec![("down", provider)]);
    assert!(gateway.chat(request(&["down/gpt-4o"], USER)).await.is_err());
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(gateway.chat(request(&["down/gpt-4o"], USER)).await.unwrap_err().code(), "upstream_unavailable");
    assert_eq!(breaker_state(&gateway, "down"), BreakerState::Open);
    assert_eq!(gateway.chat(request(&["down/gpt-4o"], USER)).await.unwrap_err().code(), "breaker_open");
    assert_eq!(server.request_count(COUNTER), 2);
}

#[tokio::test]
async fn the_deadline_ends_a_slow_call() {
    let server = mock().await;
    let gateway = gateway(vec![("openai", openai(&server, "latency=1000"))]);
    let mut call = request(&["openai/gpt-4o", "mock/demo"], USER);
    call.deadline = Some(tokio::time::Instant::now() + Duration::from_millis(150));
    let started = Instant::now();
    let error = gateway.chat(call).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!((error.code(), error.kind()), ("deadline_exceeded", ErrorKind::TimedOut));
    assert!(elapsed >= Duration::from_millis(140) && elapsed < Duration::from_millis(500), "{elapsed:?}");
    assert_eq!(server.request_count(COUNTER), 1, "no retry and no fallback past the deadline");
}

#[tokio::test]
async fn a_slow_first_byte_times_out_each_attempt() {
    let server = mock().await;
    let mut provider = openai(&server, "latency=400");
    provider.timeouts.first_byte_ms = 100;
    provider.retry.max_attempts = 2;
    let gateway = gateway(vec![("openai", provider)]);
    let started = Instant::now();
    let error = gateway.chat(request(&["openai/gpt-4o"], USER)).await.unwrap_err();
    assert_eq!((error.code(), error.kind()), ("upstream_timeout", ErrorKind::TimedOut));
    assert!(error.to_string().contains("first byte"), "{error}");
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(server.request_count(COUNTER), 2);
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let gateway = gateway(vec![("gone", compatible(&format!("http://{address}/v1"), ""))]);
    let error = gateway.chat(request(&["gone/model"], USER)).await.unwrap_err();
    assert_eq!((error.code(), error.kind()), ("upstream_unavailable", ErrorKind::UpstreamFailed));
    assert!(error.to_string().contains("cannot connect"), "{error}");
}
