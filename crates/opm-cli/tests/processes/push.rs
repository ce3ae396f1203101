//! Push on a real process: `GET /api/v1/watch` streams label and version changes as server-sent
//! events and resumes after `Last-Event-ID`; a configured webhook receives the same changes signed
//! with HMAC-SHA256 (checked with `opm_webhooks::verify_signature`), retried after a failure.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, StatusCode};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::server::{ADMIN, Options, Server};

const SECRET: &str = "webhook-secret-for-process-tests";

type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A webhook receiver on loopback that fails its first delivery with 503.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (store, calls) = (store.clone(), calls.clone());
            async move {
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                store.lock().unwrap().push((headers, body.to_vec()));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_changes_resumably_and_webhooks_are_signed_and_retried() {
    let (hook_url, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[[webhooks]]\nurl = \"{hook_url}\"\nsecret = \"{SECRET}\"\nevents = [\"label.*\", \"version.*\"]\n\
         initial_backoff = \"20ms\"\nmax_backoff = \"100ms\"\n"
    );
    std::fs::write(dir.path().join("opm.toml"), config).unwrap();
    let server =
        Server::start_with(dir.path(), None, &Options { args: &["--rollout-tick", "50ms"], ..Default::default() });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    // Webhooks are delivered by the controller's leader: wait until this replica leads.
    let started = Instant::now();
    loop {
        let metrics = http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
        if metrics.lines().any(|line| line == "opm_rollout_leader 1") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let watch = |last: Option<i64>| {
        let mut request = http.get(format!("{}/api/v1/watch", server.url)).bearer_auth(ADMIN);
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        request.send()
    };
    let response = watch(None).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = response.bytes_stream().eventsource();

    let client = server.client();
    let version: opm_api::prompts::CreateVersionRequest = serde_json::from_value(json!({
        "content": {"type": "text", "template": "hello"}, "message": "v1"}))
    .unwrap();
    client.publish_version("pushed", &version).await.unwrap();
    let request = opm_api::labels::SetLabelRequest { version: Some(1), split: None, reason: "go live".into() };
    client.set_label("pushed", "production", &request).await.unwrap();

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap().unwrap().unwrap();
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["id"].to_string(), event.id);
        assert_eq!(data["event"], event.event.as_str());
        seen.push(data);
    }
    assert_eq!(seen[0]["event"], "version.create");
    assert_eq!((seen[1]["event"].as_str(), seen[1]["label"].as_str()), (Some("label.set"), Some("production")));
    assert_eq!(seen[1]["prompt"], "pushed");
    assert_eq!(seen[1]["reason"], "go live");

    // Resuming after the first event replays the second, and only it, then goes live.
    let resumed = watch(Some(seen[0]["id"].as_i64().unwrap())).await.unwrap();
    let mut resumed = resumed.bytes_stream().eventsource();
    let replayed = tokio::time::timeout(Duration::from_secs(5), resumed.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(replayed.id, seen[1]["id"].to_string());
    let rollback = opm_api::labels::RollbackRequest { reason: "oops".into() };
    client
        .publish_version(
            "pushed",
            &serde_json::from_value(json!({
        "content": {"type": "text", "template": "hello again"}, "message": "v2"}))
            .unwrap(),
        )
        .await
        .unwrap();
    client
        .set_label(
            "pushed",
            "production",
            &opm_api::labels::SetLabelRequest { version: Some(2), split: None, reason: "v2".into() },
        )
        .await
        .unwrap();
    client.rollback_label("pushed", "production", &rollback).await.unwrap();
    let mut live = Vec::new();
    while live.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(5), resumed.next()).await.unwrap().unwrap().unwrap();
        live.push(event.event);
    }
    assert_eq!(live, ["version.create", "label.set", "label.rollback"]);

    // The webhook got the five changes in order, signed; the first attempt's 503 was retried.
    wait_for(Duration::from_secs(10), || received.lock().unwrap().len() >= 5).await;
    let deliveries = received.lock().unwrap().clone();
    let kinds: Vec<String> = deliveries
        .iter()
        .map(|(headers, body)| {
            let signature = headers["x-opm-signature"].to_str().unwrap();
            opm_webhooks::verify_signature(
                SECRET.as_bytes(),
                signature,
                body,
                SystemTime::now(),
                Duration::from_secs(300),
            )
            .expect("a valid signature");
            assert!(
                opm_webhooks::verify_signature(
                    b"another-secret-of-16+",
                    signature,
                    body,
                    SystemTime::now(),
                    Duration::from_secs(300)
                )
                .is_err()
            );
            let event: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(headers["x-opm-event"].to_str().unwrap(), event["event"].as_str().unwrap());
            event["event"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(kinds, ["version.create", "label.set", "version.create", "label.set", "label.rollback"]);
    // Delivery counters reach /metrics within a couple of seconds.
    let started = Instant::now();
    loop {
        let metrics = http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
        let count = |outcome: &str| {
            let prefix = format!("opm_webhook_deliveries_total{{outcome=\"{outcome}\"}} ");
            metrics.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|n| n.parse::<u64>().ok())
        };
        if count("retried") == Some(1) && count("delivered") == Some(5) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
