//! Telemetry on a real process: every acknowledged model call is stored even when SIGTERM comes
//! right after (the writer drains its queue before exit); JSON logs carry the request id and the
//! trace id; OTLP export is switched on by the standard environment variables alone.

use std::time::Duration;

use opm_api::invoke::InvokeRequest;
use opm_api::prompts::CreateVersionRequest;
use opm_otlp_receiver::{OtlpReceiver, SpanKind};
use serde_json::{Value, json};

use crate::server::{Options, Server};

const CALLS: usize = 200;

/// Publishes `greet`: one chat message on the built-in `mock` provider (every call is a generation).
pub async fn publish_greet(client: &opm_client::Client) {
    let version: CreateVersionRequest = serde_json::from_value(json!({"content": {"type": "chat",
        "messages": [{"role": "user", "content": "hello"}], "model": {"provider": "mock", "model": "demo"}},
        "message": "v1"}))
    .unwrap();
    client.publish_version("greet", &version).await.unwrap();
}

/// An invoke of the newest version.
pub fn invoke_latest() -> InvokeRequest {
    serde_json::from_value(json!({"label": "latest"})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_keeps_every_generation_and_logs_carry_request_and_trace_ids() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = receiver.http_endpoint();
    let options = Options {
        args: &["--log-format", "json"],
        env: &[("RUST_LOG", "info"), ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_SERVICE_NAME", "opm-proc")],
        capture_logs: true,
    };
    let server = Server::start_with(dir.path(), None, &options);
    let client = server.client();
    publish_greet(&client).await;
    let invoke = invoke_latest();
    let calls = (0..CALLS).map(|_| {
        let client = client.clone();
        let invoke = invoke.clone();
        async move { client.invoke("greet", &invoke).await.unwrap().generation_id }
    });
    let ids = futures::future::join_all(calls).await;
    let captured = server.logs.clone();
    let status = server.terminate();
    assert!(status.success(), "graceful exit: {status:?}");

    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await.unwrap();
    assert_eq!(store.count_generations().await.unwrap(), CALLS as u64, "every acknowledged call is stored");
    let project = opm_core::names::ProjectName::parse("default").unwrap();
    let stored = store.get_generation(&project, &ids[CALLS - 1]).await.unwrap();
    assert_eq!((stored.prompt.as_deref(), stored.prompt_version), (Some("greet"), Some(1)));

    receiver
        .wait_for_spans(|spans| spans.iter().any(|s| s.kind == SpanKind::Client), Duration::from_secs(10))
        .await
        .unwrap();
    let logs: Vec<Value> = captured
        .lock()
        .unwrap()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("a log line that is not JSON: {line}")))
        .collect();
    let access: Vec<&Value> = logs.iter().filter(|line| line["target"] == "opm::access").collect();
    assert!(access.len() > CALLS, "one access line per request: {}", access.len());
    let spans = receiver.spans();
    for line in &access {
        let span = &line["span"];
        assert!(span["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
        let trace_id = span["trace_id"].as_str().unwrap_or_else(|| panic!("no trace id: {line}"));
        assert!(spans.iter().any(|s| s.trace_id == trace_id), "log trace id {trace_id} matches an exported trace");
    }
    let server_span = spans.iter().find(|s| s.name == "POST /api/v1/prompts/{name}/invoke").unwrap();
    assert_eq!(server_span.service_name.as_deref(), Some("opm-proc"));
    assert!(spans.iter().any(|s| s.kind == SpanKind::Client && s.str_attribute("gen_ai.prompt.name") == Some("greet")));
}
