//! A recording webhook receiver (axum on 127.0.0.1:0) with scripted answers, and test helpers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opm_api::events::ChangeEventDto;
use opm_webhooks::WebhookConfig;

pub const SECRET: &str = "test-secret-0123456789";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
    /// The status the receiver answered (or, when the client gave up first, would have answered) with.
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn event(&self) -> ChangeEventDto {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| panic!("the body is not an event: {error}"))
    }
}

/// A scripted answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<&'static str>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply { status, retry_after: None }
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    delay: Duration,
}

/// A receiver answering from its script, then 200.
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start(script: Vec<Reply>) -> Receiver {
        Self::start_with_delay(script, Duration::ZERO).await
    }

    /// A receiver that waits `delay` before each answer.
    pub async fn start_with_delay(script: Vec<Reply>, delay: Duration) -> Receiver {
        let shared = Arc::new(Shared { script: Mutex::new(script.into()), delay, ..Shared::default() });
        let router = Router::new().route("/hook", post(receive)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|error| panic!("{error}"));
        let address = listener.local_addr().unwrap_or_else(|error| panic!("{error}"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { url: format!("http://{address}/hook?token=query-token"), shared }
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().map(|received| received.clone()).unwrap_or_default()
    }

    /// Waits until `count` requests arrived (at most 10 s).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let received = wait_until(Duration::from_secs(10), || {
            let received = self.received();
            (received.len() >= count).then_some(received)
        })
        .await;
        received.unwrap_or_else(|| panic!("expected {count} requests, got {:?}", self.received().len()))
    }

    /// The ids of the events the receiver accepted (answered 2xx), in arrival order.
    pub fn accepted_ids(&self) -> Vec<i64> {
        self.received().iter().filter(|r| (200..300).contains(&r.answered)).map(|r| r.event().id).collect()
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    // Recorded on arrival: a client that times out drops the connection, and with it this future.
    let reply = shared.script.lock().ok().and_then(|mut script| script.pop_front()).unwrap_or(Reply::status(200));
    if let Ok(mut received) = shared.received.lock() {
        received.push(Received { headers, body, at: Instant::now(), answered: reply.status });
    }
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply.retry_after {
        Some(seconds) => (status, [("retry-after", seconds)], "scripted").into_response(),
        None => (status, "scripted").into_response(),
    }
}

/// Polls `check` every 5 ms until it returns something or `limit` passes.
pub async fn wait_until<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A change event.
pub fn event(id: i64, name: &str, project: &str) -> Arc<ChangeEventDto> {
    Arc::new(ChangeEventDto {
        id,
        event: name.to_owned(),
        project: project.to_owned(),
        prompt: Some("welcome".into()),
        label: Some("production".into()),
        actor: "alice".into(),
        at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        reason: Some("ship it — ünïcode too".into()),
        data: Some(serde_json::json!({"type": "version", "version": id})),
    })
}

/// A config for `url` with fast retries.
pub fn config(url: &str) -> WebhookConfig {
    WebhookConfig {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        ..WebhookConfig::new(url, SECRET)
    }
}

/// A URL on a loopback port nothing listens on.
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|error| panic!("{error}"));
    let address = listener.local_addr().unwrap_or_else(|error| panic!("{error}"));
    drop(listener);
    format!("http://{address}/hook")
}
