//! End-to-end export: spans and metrics made through `Telemetry`, sent over real OTLP (HTTP/protobuf
//! and gRPC) to the loopback receiver, decoded there and checked attribute by attribute.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use opm_otlp_receiver::{OtlpReceiver, ReceivedMetric, ReceivedSpan, SpanKind, StatusCode, Transport};
use opm_telemetry::genai;
use opm_telemetry::{ModelCallMetrics, ModelCallOutcome, ModelCallStart, OtelConfig, OtlpProtocol, Telemetry};

const INCOMING_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING_PARENT_ID: &str = "00f067aa0ba902b7";
const INPUT_JSON: &str = r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#;
const OUTPUT_JSON: &str = r#"[{"role":"assistant","parts":[{"type":"text","content":"hello"}]}]"#;
const WAIT: Duration = Duration::from_secs(20);

async fn start(protocol: OtlpProtocol, capture_content: bool) -> (OtlpReceiver, Telemetry) {
    let receiver = OtlpReceiver::start().await.unwrap();
    let base = match protocol {
        OtlpProtocol::HttpProtobuf => receiver.http_endpoint(),
        OtlpProtocol::Grpc => receiver.grpc_endpoint(),
    };
    let config = OtelConfig { service_name: "opm-test".into(), capture_content, ..OtelConfig::otlp(protocol, &base) };
    let telemetry = Telemetry::init(config).unwrap();
    assert!(telemetry.is_enabled());
    assert_eq!(telemetry.captures_content(), capture_content);
    (receiver, telemetry)
}

fn incoming_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let traceparent = format!("00-{INCOMING_TRACE_ID}-{INCOMING_PARENT_ID}-01");
    headers.insert("traceparent", HeaderValue::from_str(&traceparent).unwrap());
    headers
}

/// One request with a model call, one failed model call outside any request, one 503 without a
/// `traceparent`, and two calls' metrics; then shutdown (which must flush everything).
async fn exercise(telemetry: &Telemetry) -> String {
    let request = telemetry.server_span("POST", "/v1/chat/completions", &incoming_headers());
    request.set_url_path("/v1/chat/completions");
    assert_eq!(request.trace_id().as_deref(), Some(INCOMING_TRACE_ID));
    let start = ModelCallStart {
        prompt_name: Some("welcome"),
        prompt_version: Some(3),
        label: Some("production"),
        arm: Some("canary"),
        temperature: Some(0.25),
        max_tokens: Some(256),
        stream: true,
        server_address: Some("api.openai.com"),
        server_port: Some(443),
        input_messages_json: Some(INPUT_JSON),
        ..ModelCallStart::chat("openai", "gpt-4o")
    };
    let call = telemetry.model_span(Some(&request.context()), &start);
    assert_eq!(call.trace_id().as_deref(), Some(INCOMING_TRACE_ID));
    let traceparent = call.traceparent().unwrap();
    call.finish(&ModelCallOutcome {
        response_model: Some("gpt-4o-2024-08-06"),
        response_id: Some("chatcmpl-123"),
        finish_reasons: &["stop"],
        input_tokens: Some(12),
        output_tokens: None,
        output_messages_json: Some(OUTPUT_JSON),
        generation_id: Some("0190-gen"),
        ..ModelCallOutcome::default()
    });
    request.finish(200);

    let failed = telemetry.model_span(None, &ModelCallStart::chat("anthropic", "claude-sonnet"));
    failed.finish(&ModelCallOutcome { error_type: Some("upstream_timeout"), ..ModelCallOutcome::default() });
    telemetry.server_span("GET", "", &HeaderMap::new()).finish(503);

    let ok_call = ModelCallMetrics {
        operation: genai::OPERATION_CHAT,
        provider: "openai",
        request_model: "gpt-4o",
        response_model: Some("gpt-4o-2024-08-06"),
        duration: Duration::from_millis(1500),
        input_tokens: Some(12),
        output_tokens: Some(30),
        prompt_name: Some("welcome"),
        prompt_version: Some(3),
        label: Some("production"),
        ..ModelCallMetrics::default()
    };
    telemetry.record_model_call(&ok_call);
    telemetry.record_model_call(&ModelCallMetrics {
        error_type: Some("upstream_timeout"),
        duration: Duration::from_millis(30),
        input_tokens: None,
        output_tokens: None,
        ..ok_call
    });
    telemetry.shutdown().await;
    traceparent
}

fn span<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|span| span.name == name).unwrap_or_else(|| panic!("no span `{name}` in {spans:#?}"))
}

fn check_spans(spans: &[ReceivedSpan], traceparent: &str, transport: Transport, capture_content: bool) {
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let server = span(spans, "POST /v1/chat/completions");
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.trace_id, INCOMING_TRACE_ID);
    assert_eq!(server.parent_span_id, INCOMING_PARENT_ID);
    assert_eq!(server.str_attribute(genai::HTTP_REQUEST_METHOD), Some("POST"));
    assert_eq!(server.str_attribute(genai::HTTP_ROUTE), Some("/v1/chat/completions"));
    assert_eq!(server.str_attribute(genai::URL_PATH), Some("/v1/chat/completions"));
    assert_eq!(server.int_attribute(genai::HTTP_RESPONSE_STATUS_CODE), Some(200));
    assert_eq!(server.status_code, StatusCode::Unset);
    assert_eq!(server.service_name.as_deref(), Some("opm-test"));
    assert_eq!(server.scope_name, "opm");
    assert_eq!(server.transport, transport);

    let model = span(spans, "chat gpt-4o");
    assert_eq!(model.kind, SpanKind::Client);
    assert_eq!(model.trace_id, INCOMING_TRACE_ID);
    assert_eq!(model.parent_span_id, server.span_id);
    assert_eq!(traceparent, format!("00-{}-{}-01", model.trace_id, model.span_id));
    for (key, value) in [
        (genai::OPERATION_NAME, "chat"),
        (genai::PROVIDER_NAME, "openai"),
        (genai::REQUEST_MODEL, "gpt-4o"),
        (genai::RESPONSE_MODEL, "gpt-4o-2024-08-06"),
        (genai::RESPONSE_ID, "chatcmpl-123"),
        (genai::PROMPT_NAME, "welcome"),
        (genai::PROMPT_VERSION, "3"),
        (genai::OPM_PROMPT_LABEL, "production"),
        (genai::OPM_ROLLOUT_ARM, "canary"),
        (genai::SERVER_ADDRESS, "api.openai.com"),
        (genai::OPM_GENERATION_ID, "0190-gen"),
    ] {
        assert_eq!(model.str_attribute(key), Some(value), "{key} in {:#?}", model.attributes);
    }
    assert_eq!(model.double_attribute(genai::REQUEST_TEMPERATURE), Some(0.25));
    assert_eq!(model.int_attribute(genai::REQUEST_MAX_TOKENS), Some(256));
    assert_eq!(model.int_attribute(genai::SERVER_PORT), Some(443));
    assert_eq!(model.attribute(genai::REQUEST_STREAM).and_then(|value| value.as_bool()), Some(true));
    assert_eq!(model.int_attribute(genai::USAGE_INPUT_TOKENS), Some(12));
    assert_eq!(model.attribute(genai::USAGE_OUTPUT_TOKENS), None, "unknown output tokens must stay absent");
    let reasons = model.attribute(genai::RESPONSE_FINISH_REASONS).and_then(|value| value.as_str_array());
    assert_eq!(reasons, Some(vec!["stop"]));
    assert_eq!(model.attribute(genai::ERROR_TYPE), None);
    assert_eq!(model.status_code, StatusCode::Unset);
    if capture_content {
        assert_eq!(model.str_attribute(genai::INPUT_MESSAGES), Some(INPUT_JSON));
        assert_eq!(model.str_attribute(genai::OUTPUT_MESSAGES), Some(OUTPUT_JSON));
    } else {
        assert_eq!(model.attribute(genai::INPUT_MESSAGES), None);
        assert_eq!(model.attribute(genai::OUTPUT_MESSAGES), None);
    }

    let failed = span(spans, "chat claude-sonnet");
    assert_eq!(failed.kind, SpanKind::Client);
    assert_eq!(failed.parent_span_id, "", "a model span without a parent starts a trace");
    assert_ne!(failed.trace_id, INCOMING_TRACE_ID);
    assert_eq!(failed.status_code, StatusCode::Error);
    assert_eq!(failed.str_attribute(genai::ERROR_TYPE), Some("upstream_timeout"));
    assert_eq!(failed.str_attribute(genai::PROVIDER_NAME), Some("anthropic"));
    for absent in [genai::USAGE_INPUT_TOKENS, genai::PROMPT_NAME, genai::PROMPT_VERSION, genai::RESPONSE_MODEL] {
        assert_eq!(failed.attribute(absent), None, "{absent}");
    }

    let unrouted = span(spans, "GET");
    assert_eq!(unrouted.kind, SpanKind::Server);
    assert_eq!(unrouted.parent_span_id, "");
    assert_eq!(unrouted.attribute(genai::HTTP_ROUTE), None);
    assert_eq!(unrouted.int_attribute(genai::HTTP_RESPONSE_STATUS_CODE), Some(503));
    assert_eq!(unrouted.str_attribute(genai::ERROR_TYPE), Some("503"));
    assert_eq!(unrouted.status_code, StatusCode::Error);
}

fn latest<'a>(metrics: &'a [ReceivedMetric], name: &str) -> &'a ReceivedMetric {
    metrics.iter().rev().find(|metric| metric.name == name).unwrap_or_else(|| panic!("no metric `{name}`"))
}

fn check_metrics(metrics: &[ReceivedMetric], transport: Transport) {
    let duration = latest(metrics, genai::METRIC_OPERATION_DURATION);
    assert_eq!(duration.unit, "s");
    assert_eq!(duration.transport, transport);
    assert_eq!(duration.service_name.as_deref(), Some("opm-test"));
    assert_eq!(duration.histogram_points.len(), 2, "ok and failed calls differ in error.type");
    for point in &duration.histogram_points {
        assert_eq!(point.bounds, genai::duration_buckets());
        assert_eq!(point.count, 1);
        assert_eq!(point.attributes.get(genai::PROVIDER_NAME).and_then(|v| v.as_str()), Some("openai"));
        assert_eq!(point.attributes.get(genai::PROMPT_VERSION).and_then(|v| v.as_str()), Some("3"));
        assert_eq!(point.attributes.get(genai::OPM_PROMPT_LABEL).and_then(|v| v.as_str()), Some("production"));
    }
    let failed = duration
        .histogram_points
        .iter()
        .find(|point| point.attributes.get(genai::ERROR_TYPE).and_then(|v| v.as_str()) == Some("upstream_timeout"))
        .unwrap();
    assert_eq!(failed.sum, Some(0.03));
    assert_eq!(failed.bucket_counts[2], 1, "30 ms falls in the third bucket, (0.02, 0.04]");

    let tokens = latest(metrics, genai::METRIC_TOKEN_USAGE);
    assert_eq!(tokens.unit, "{token}");
    let mut by_type: Vec<(String, f64)> = tokens
        .histogram_points
        .iter()
        .map(|point| {
            assert_eq!(point.bounds, genai::token_usage_buckets());
            assert_eq!(point.attributes.get(genai::ERROR_TYPE), None);
            let kind = point.attributes.get(genai::TOKEN_TYPE).and_then(|v| v.as_str()).unwrap().to_owned();
            (kind, point.sum.unwrap())
        })
        .collect();
    by_type.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_type, vec![("input".to_owned(), 12.0), ("output".to_owned(), 30.0)]);
}

async fn round_trip(protocol: OtlpProtocol, transport: Transport, capture_content: bool) {
    let (receiver, telemetry) = start(protocol, capture_content).await;
    let traceparent = exercise(&telemetry).await;
    let spans = receiver.wait_for_spans(|spans| spans.len() >= 4, WAIT).await.unwrap();
    check_spans(&spans, &traceparent, transport, capture_content);
    let names = [genai::METRIC_OPERATION_DURATION, genai::METRIC_TOKEN_USAGE];
    let metrics = receiver
        .wait_for_metrics(|metrics| names.iter().all(|name| metrics.iter().any(|m| m.name == *name)), WAIT)
        .await
        .unwrap();
    check_metrics(&metrics, transport);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_exports_spans_and_metrics() {
    round_trip(OtlpProtocol::HttpProtobuf, Transport::Http, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_exports_content_when_captured() {
    round_trip(OtlpProtocol::HttpProtobuf, Transport::Http, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_exports_spans_and_metrics() {
    round_trip(OtlpProtocol::Grpc, Transport::Grpc, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_exports_content_when_captured() {
    round_trip(OtlpProtocol::Grpc, Transport::Grpc, true).await;
}
