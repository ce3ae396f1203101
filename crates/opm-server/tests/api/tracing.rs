//! OpenTelemetry through the router, exported for real to an in-test OTLP receiver over HTTP and
//! gRPC and decoded: the SERVER span continues the caller's `traceparent`, the model call is a
//! CLIENT child span with the GenAI attributes, the upstream receives the child's `traceparent`,
//! and the GenAI client metrics arrive with the conventions' buckets.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use opm_otlp_receiver::{OtlpReceiver, SpanKind};
use opm_telemetry::{OtelConfig, OtlpProtocol, Telemetry};
use serde_json::json;
use tower::ServiceExt;

use crate::gateway::{bearer, gateway_app_with};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

async fn traced_call(protocol: OtlpProtocol) {
    let receiver = OtlpReceiver::start().await.unwrap();
    let endpoint = match protocol {
        OtlpProtocol::HttpProtobuf => receiver.http_endpoint(),
        OtlpProtocol::Grpc => receiver.grpc_endpoint(),
    };
    let otel = Telemetry::init(OtelConfig::otlp(protocol, &endpoint)).unwrap();
    assert!(otel.is_enabled());
    let g = gateway_app_with(otel.clone(), false).await;
    let auth = bearer();
    let body = json!({"model": "opm:support", "prompt_variables": {"product": "OPM"},
        "messages": [{"role": "user", "content": "hello"}], "max_tokens": 50});
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/chat/completions")
        .header(auth.0, &auth.1)
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = g.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-opm-trace-id"], TRACE_ID);
    let generation_id = response.headers()["x-opm-generation-id"].to_str().unwrap().to_owned();
    response.into_body().collect().await.unwrap();
    otel.shutdown().await;

    let spans = receiver
        .wait_for_spans(|spans| spans.iter().any(|s| s.kind == SpanKind::Client), Duration::from_secs(10))
        .await
        .unwrap();
    let server = spans.iter().find(|s| s.name == "POST /v1/chat/completions").expect("the request's span");
    assert_eq!(server.kind, SpanKind::Server);
    assert!(spans.iter().any(|s| s.name == "POST /api/v1/prompts/{name}/versions"), "API requests are traced too");
    assert_eq!(server.trace_id, TRACE_ID, "continues the caller's trace");
    assert_eq!(server.parent_span_id, CALLER_SPAN, "child of the caller's span");
    assert_eq!(server.str_attribute("http.route"), Some("/v1/chat/completions"));
    assert_eq!(server.int_attribute("http.response.status_code"), Some(200));
    assert_eq!(server.service_name.as_deref(), Some("opm"));

    let client = spans.iter().find(|s| s.kind == SpanKind::Client).unwrap();
    assert_eq!(client.name, "chat gpt-4o-mini");
    assert_eq!(client.trace_id, TRACE_ID);
    assert_eq!(client.parent_span_id, server.span_id, "the model call is a child of the request");
    assert_eq!(client.str_attribute("gen_ai.operation.name"), Some("chat"));
    assert_eq!(client.str_attribute("gen_ai.provider.name"), Some("up-openai"));
    assert_eq!(client.str_attribute("gen_ai.request.model"), Some("gpt-4o-mini"));
    assert_eq!(client.str_attribute("gen_ai.response.model"), Some("gpt-4o-mini"));
    assert_eq!(client.str_attribute("gen_ai.prompt.name"), Some("support"));
    assert_eq!(client.str_attribute("gen_ai.prompt.version"), Some("1"));
    assert_eq!(client.str_attribute("opm.prompt.label"), Some("production"));
    assert_eq!(client.str_attribute("opm.generation.id"), Some(generation_id.as_str()));
    assert_eq!(client.int_attribute("gen_ai.request.max_tokens"), Some(50));
    assert!(client.int_attribute("gen_ai.usage.input_tokens").unwrap() > 0);
    assert!(client.int_attribute("gen_ai.usage.output_tokens").unwrap() > 0);
    let finish = client.attribute("gen_ai.response.finish_reasons").and_then(|v| v.as_str_array());
    assert_eq!(finish, Some(vec!["stop"]));
    assert!(client.str_attribute("gen_ai.response.id").unwrap().starts_with("chatcmpl-"));
    assert!(client.attribute("error.type").is_none());
    // Content is opt-in: not captured by default.
    assert!(client.attributes.keys().all(|key| !key.contains("messages")), "{:?}", client.attributes.keys());

    // The upstream got the model call's span as its parent.
    let upstream = g.mock.last_traceparent().expect("a traceparent upstream");
    assert_eq!(upstream, format!("00-{TRACE_ID}-{}-01", client.span_id));

    let metrics = receiver
        .wait_for_metrics(
            |metrics| metrics.iter().any(|m| m.name == "gen_ai.client.token.usage"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let duration = metrics.iter().find(|m| m.name == "gen_ai.client.operation.duration").unwrap();
    assert_eq!(duration.unit, "s");
    let point = &duration.histogram_points[0];
    assert_eq!(point.count, 1);
    assert_eq!(point.bounds.first(), Some(&0.01));
    assert_eq!(point.bounds.last(), Some(&81.92));
    assert_eq!(point.attributes.get("gen_ai.prompt.name").and_then(|v| v.as_str()), Some("support"));
    let tokens = metrics.iter().find(|m| m.name == "gen_ai.client.token.usage").unwrap();
    assert_eq!(tokens.unit, "{token}");
    let mut types: Vec<&str> = tokens
        .histogram_points
        .iter()
        .filter_map(|p| p.attributes.get("gen_ai.token.type").and_then(|v| v.as_str()))
        .collect();
    types.sort_unstable();
    assert_eq!(types, ["input", "output"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_over_otlp_http() {
    traced_call(OtlpProtocol::HttpProtobuf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_over_otlp_grpc() {
    traced_call(OtlpProtocol::Grpc).await;
}

#[tokio::test]
async fn failed_model_calls_carry_error_type_and_no_export_when_disabled() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let otel = Telemetry::init(OtelConfig::otlp(OtlpProtocol::HttpProtobuf, &receiver.http_endpoint())).unwrap();
    let g = gateway_app_with(otel.clone(), false).await;
    let auth = bearer();
    let body = json!({"model": "opm:limited", "prompt_variables": {"product": "OPM"}, "messages": []});
    let reply = crate::gateway::post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.text);
    otel.shutdown().await;
    let spans = receiver
        .wait_for_spans(|spans| spans.iter().any(|s| s.kind == SpanKind::Client), Duration::from_secs(10))
        .await
        .unwrap();
    let client = spans.iter().find(|s| s.kind == SpanKind::Client).unwrap();
    assert_eq!(client.str_attribute("error.type"), Some("upstream_rate_limited"));
    assert_eq!(client.status_code, opm_otlp_receiver::StatusCode::Error);
    assert!(client.attribute("gen_ai.usage.input_tokens").is_none(), "unknown usage is absent, not 0");
    let server = spans.iter().find(|s| s.name == "POST /v1/chat/completions").unwrap();
    assert_eq!(server.int_attribute("http.response.status_code"), Some(429));
    assert_eq!(client.parent_span_id, server.span_id);

    // Disabled: no trace id header, nothing sent.
    let quiet = gateway_app_with(Telemetry::disabled(), false).await;
    let body = json!({"model": "opm:support", "prompt_variables": {"product": "OPM"}, "messages": []});
    let reply = crate::gateway::post(&quiet.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get("x-opm-trace-id").is_none());
    assert_eq!(quiet.mock.last_traceparent(), None);
}
