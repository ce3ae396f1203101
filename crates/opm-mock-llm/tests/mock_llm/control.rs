//! Models, health, the router without a socket, keep-alive latency, graceful stop, and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use opm_mock_llm::{MockConfig, router};
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{client, openai_body, start};

#[tokio::test]
async fn models_in_both_shapes_and_health() {
    let server = start().await;
    let openai: Value = client().get(format!("{}/v1/models", server.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(openai["object"], "list");
    assert_eq!(openai["data"][0]["id"], "mock-gpt");
    assert_eq!(openai["data"][0]["object"], "model");
    let anthropic: Value = client()
        .get(format!("{}/v1/models", server.url()))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["data"][1]["type"], "model");
    assert_eq!(anthropic["has_more"], false);
    assert_eq!(anthropic["last_id"], "mock-claude");
    let health = client().get(format!("{}/healthz", server.url())).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn router_answers_without_a_socket() {
    let request = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(openai_body("ping").to_string()))
        .unwrap();
    let response = router(MockConfig::default()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "mock reply to: ping");
}

#[tokio::test]
async fn sequential_requests_on_one_connection_are_fast() {
    let server = start().await;
    let client = client();
    let url = format!("{}/v1/chat/completions", server.url());
    let body = openai_body("hi");
    client.post(&url).json(&body).send().await.unwrap().bytes().await.unwrap();
    let started = Instant::now();
    for _ in 0..25 {
        client.post(&url).json(&body).send().await.unwrap().bytes().await.unwrap();
    }
    // A stall per request (Nagle plus delayed ACKs costs ~40 ms) would show here. hyper writes these small
    // responses in one piece, so this passes without TCP_NODELAY too: it guards keep-alive latency, not the flag.
    assert!(started.elapsed() < Duration::from_millis(600), "{:?}", started.elapsed());
}

#[tokio::test]
async fn stop_closes_the_listener() {
    let server = start().await;
    let url = server.url();
    server.stop().await.unwrap();
    assert!(client().get(format!("{url}/healthz")).send().await.is_err());
}

#[test]
fn binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opm-mock-llm"))
        .args(["--addr", "127.0.0.1:0", "--latency-ms", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("opm-mock-llm listening on ").unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = runtime.block_on(async {
        client().post(format!("{url}/v1/chat/completions")).json(&openai_body("hi")).send().await.unwrap().status()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, 200);
}
