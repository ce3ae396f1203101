//! The receiver decodes what arrives over OTLP/HTTP and OTLP/gRPC into plain values, answers with
//! the protocol's empty responses, refuses bodies it cannot decode, and waits with a bound.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, metric,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status};
use opm_otlp_receiver::{AttributeValue, MetricKind, OtlpReceiver, ReceiverError, SpanKind, StatusCode, Transport};
use prost::Message;

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![attribute("service.name", any_value::Value::StringValue("svc".into()))],
        ..Default::default()
    })
}

fn trace_request(name: &str) -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: vec![0xab; 8],
        parent_span_id: vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
        name: name.into(),
        kind: span::SpanKind::Client as i32,
        attributes: vec![
            attribute("gen_ai.request.model", any_value::Value::StringValue("gpt-4o".into())),
            attribute("gen_ai.usage.input_tokens", any_value::Value::IntValue(12)),
            attribute("gen_ai.request.temperature", any_value::Value::DoubleValue(0.5)),
            attribute("gen_ai.request.stream", any_value::Value::BoolValue(true)),
        ],
        status: Some(Status { code: status::StatusCode::Error as i32, message: "boom".into() }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "scope".into(), ..Default::default() }),
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics_request() -> ExportMetricsServiceRequest {
    let point = HistogramDataPoint {
        attributes: vec![attribute("gen_ai.token.type", any_value::Value::StringValue("input".into()))],
        count: 2,
        sum: Some(20.0),
        bucket_counts: vec![0, 1, 1],
        explicit_bounds: vec![1.0, 4.0],
        ..Default::default()
    };
    let metric = Metric {
        name: "gen_ai.client.token.usage".into(),
        unit: "{token}".into(),
        data: Some(metric::Data::Histogram(Histogram { data_points: vec![point], aggregation_temporality: 2 })),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics { metrics: vec![metric], ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test]
async fn http_protobuf_spans_are_decoded_and_answered() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let response = client()
        .post(format!("{}/v1/traces", receiver.http_endpoint()))
        .header("content-type", "application/x-protobuf")
        .body(trace_request("chat gpt-4o").encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();

    let spans = receiver.spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, "chat gpt-4o");
    assert_eq!(span.kind, SpanKind::Client);
    assert_eq!(span.trace_id, "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(span.span_id, "abababababababab");
    assert_eq!(span.parent_span_id, "0102030405060708");
    assert_eq!(span.str_attribute("gen_ai.request.model"), Some("gpt-4o"));
    assert_eq!(span.int_attribute("gen_ai.usage.input_tokens"), Some(12));
    assert_eq!(span.double_attribute("gen_ai.request.temperature"), Some(0.5));
    assert_eq!(span.attribute("gen_ai.request.stream"), Some(&AttributeValue::Bool(true)));
    assert_eq!((span.status_code, span.status_message.as_str()), (StatusCode::Error, "boom"));
    assert_eq!(span.service_name.as_deref(), Some("svc"));
    assert_eq!(span.scope_name, "scope");
    assert_eq!(span.transport, Transport::Http);
}

#[tokio::test]
async fn http_refuses_json_and_garbage_and_keeps_nothing() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let url = format!("{}/v1/traces", receiver.http_endpoint());
    let json = client().post(&url).header("content-type", "application/json").body("{}").send().await.unwrap();
    assert_eq!(json.status(), 415);
    let garbage =
        client().post(&url).header("content-type", "application/x-protobuf").body(vec![0xff; 7]).send().await.unwrap();
    assert_eq!(garbage.status(), 400);
    assert!(receiver.spans().is_empty());
}

#[tokio::test]
async fn grpc_spans_and_metrics_are_decoded() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let mut traces = TraceServiceClient::connect(receiver.grpc_endpoint()).await.unwrap();
    traces.export(trace_request("over grpc")).await.unwrap();
    let mut metrics = MetricsServiceClient::connect(receiver.grpc_endpoint()).await.unwrap();
    metrics.export(metrics_request()).await.unwrap();

    let spans = receiver.wait_for_spans(|spans| !spans.is_empty(), Duration::from_secs(5)).await.unwrap();
    assert_eq!((spans[0].name.as_str(), spans[0].transport), ("over grpc", Transport::Grpc));
    let metric = receiver.latest_metric("gen_ai.client.token.usage").unwrap();
    assert_eq!(
        (metric.unit.as_str(), metric.kind, metric.transport),
        ("{token}", MetricKind::Histogram, Transport::Grpc)
    );
    let point = &metric.histogram_points[0];
    assert_eq!((point.count, point.sum), (2, Some(20.0)));
    assert_eq!(
        (point.bounds.as_slice(), point.bucket_counts.as_slice()),
        ([1.0, 4.0].as_slice(), [0, 1, 1].as_slice())
    );
    assert_eq!(point.attributes["gen_ai.token.type"].as_str(), Some("input"));

    receiver.clear();
    assert!(receiver.spans().is_empty() && receiver.metrics().is_empty());
}

#[tokio::test]
async fn waiting_is_bounded_and_says_what_arrived() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let mut traces = TraceServiceClient::connect(receiver.grpc_endpoint()).await.unwrap();
    traces.export(trace_request("only one")).await.unwrap();
    let started = Instant::now();
    let error = receiver.wait_for_spans(|spans| spans.len() >= 2, Duration::from_millis(200)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(error, ReceiverError::Timeout { .. }));
    assert!(error.to_string().contains("only one"), "{error}");
}
