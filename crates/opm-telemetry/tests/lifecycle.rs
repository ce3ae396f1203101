//! Telemetry that is off does nothing, reports no trace id and sends nothing; a signal turned off
//! alone stays off; shutdown is bounded when the collector never answers; gRPC export outside a
//! Tokio runtime and invalid endpoints are errors, not panics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue};
use opm_otlp_receiver::OtlpReceiver;
use opm_telemetry::genai;
use opm_telemetry::{
    ModelCallMetrics, ModelCallOutcome, ModelCallStart, OtelConfig, OtlpProtocol, Telemetry, TelemetryError,
};

fn exercise(telemetry: &Telemetry) {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    let request = telemetry.server_span("POST", "/v1/messages", &headers);
    assert_eq!(request.trace_id(), None);
    assert!(!request.is_recording());
    let call = telemetry.model_span(Some(&request.context()), &ModelCallStart::chat("openai", "gpt-4o"));
    assert_eq!(call.traceparent(), None);
    assert_eq!(call.trace_id(), None);
    assert!(!call.is_recording());
    call.finish(&ModelCallOutcome { input_tokens: Some(3), ..ModelCallOutcome::default() });
    request.finish(500);
}

#[tokio::test]
async fn disabled_telemetry_does_nothing() {
    for telemetry in [Telemetry::disabled(), Telemetry::init(OtelConfig::disabled()).unwrap(), Telemetry::default()] {
        assert!(!telemetry.is_enabled());
        assert!(!telemetry.captures_content());
        exercise(&telemetry);
        telemetry.record_model_call(&ModelCallMetrics {
            operation: genai::OPERATION_CHAT,
            duration: Duration::from_millis(5),
            input_tokens: Some(1),
            ..ModelCallMetrics::default()
        });
        telemetry.shutdown().await;
        telemetry.shutdown_blocking();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_only_builds_no_spans() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let config = OtelConfig {
        traces: None,
        capture_content: true,
        ..OtelConfig::otlp(OtlpProtocol::HttpProtobuf, &receiver.http_endpoint())
    };
    let telemetry = Telemetry::init(config).unwrap();
    assert!(telemetry.is_enabled());
    assert!(!telemetry.captures_content(), "no spans, so no content either");
    exercise(&telemetry);
    telemetry.record_model_call(&ModelCallMetrics {
        operation: genai::OPERATION_CHAT,
        provider: "mock",
        request_model: "echo",
        duration: Duration::from_millis(5),
        ..ModelCallMetrics::default()
    });
    let blocking = telemetry.clone();
    tokio::task::spawn_blocking(move || blocking.shutdown_blocking()).await.unwrap();
    telemetry.shutdown().await;
    let metrics = receiver.wait_for_metrics(|metrics| !metrics.is_empty(), Duration::from_secs(20)).await.unwrap();
    assert!(metrics.iter().all(|metric| metric.name == genai::METRIC_OPERATION_DURATION), "{metrics:#?}");
    assert!(receiver.spans().is_empty());
}

/// A collector that accepts connections (the kernel completes the handshake) but never answers.
async fn black_hole() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    (listener, endpoint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_when_the_collector_never_answers() {
    for protocol in [OtlpProtocol::HttpProtobuf, OtlpProtocol::Grpc] {
        let (_listener, endpoint) = black_hole().await;
        let config =
            OtelConfig { shutdown_timeout: Duration::from_millis(500), ..OtelConfig::otlp(protocol, &endpoint) };
        let telemetry = Telemetry::init(config).unwrap();
        telemetry.server_span("GET", "/healthz", &HeaderMap::new()).finish(200);
        telemetry.record_model_call(&ModelCallMetrics { operation: "chat", ..ModelCallMetrics::default() });
        let started = Instant::now();
        telemetry.shutdown().await;
        let waited = started.elapsed();
        assert!(waited < Duration::from_secs(3), "{protocol:?}: shutdown took {waited:?}");
    }
}

#[test]
fn grpc_outside_a_tokio_runtime_is_an_error() {
    let config = OtelConfig::otlp(OtlpProtocol::Grpc, "http://127.0.0.1:4317");
    let error = Telemetry::init(config).unwrap_err();
    assert!(matches!(error, TelemetryError::NoTokioRuntime), "{error}");
}

#[test]
fn invalid_endpoint_is_an_error() {
    let mut config = OtelConfig::otlp(OtlpProtocol::HttpProtobuf, "http://127.0.0.1:4318");
    if let Some(traces) = &mut config.traces {
        traces.endpoint = "localhost:4318".into();
    }
    let error = Telemetry::init(config).unwrap_err();
    assert!(matches!(error, TelemetryError::InvalidEndpoint { .. }), "{error}");
}
