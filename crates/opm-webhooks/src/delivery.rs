//! One endpoint's delivery task: takes events from its queue in order and posts each one, signed,
//! retrying with backoff until it is delivered or given up, before taking the next.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opm_api::events::ChangeEventDto;
use reqwest::header::CONTENT_TYPE;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::WebhookError;
use crate::config::Endpoint;
use crate::retry::{Backoff, StatusClass, classify, retry_after};
use crate::signature::{SIGNATURE_HEADER, signature_header};
use crate::stats::Counters;

/// The `user-agent` of every delivery.
pub const USER_AGENT: &str = concat!("opm-webhooks/", env!("CARGO_PKG_VERSION"));

/// At most this much of a response body is read (and ignored), so the connection can be reused.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Delivers one endpoint's events.
pub(crate) struct Deliverer {
    endpoint: Endpoint,
    client: reqwest::Client,
    backoff: Backoff,
    counters: Arc<Counters>,
}

/// How one attempt ended.
enum Attempt {
    Delivered { status: u16 },
    Retryable { status: Option<u16>, retry_after: Option<Duration>, error: String },
    Permanent { status: Option<u16>, error: String },
}

impl Deliverer {
    pub(crate) fn new(endpoint: Endpoint, jitter: bool, counters: Arc<Counters>) -> Result<Self, WebhookError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.timeout)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|error| WebhookError::Config {
                webhook: endpoint.label.clone(),
                message: format!("cannot build the HTTP client: {}", error_chain(&error)),
            })?;
        let backoff = Backoff { initial: endpoint.initial_backoff, max: endpoint.max_backoff, jitter };
        Ok(Self { endpoint, client, backoff, counters })
    }

    /// Delivers queued events one after the other until the queue is closed and empty.
    pub(crate) async fn run(self, mut queue: mpsc::Receiver<Arc<ChangeEventDto>>) {
        while let Some(event) = queue.recv().await {
            self.deliver(&event).await;
        }
    }

    /// Posts one event until it is delivered or given up, and counts the outcome.
    async fn deliver(&self, event: &ChangeEventDto) {
        let webhook = self.endpoint.label.as_str();
        let max_attempts = self.endpoint.max_attempts;
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(webhook, event = %event.event, event_id = event.id, %error, "cannot serialize a change event");
                self.counters.failed();
                return;
            }
        };
        let delivery = Uuid::now_v7();
        for attempt in 1..=max_attempts {
            if attempt > 1 {
                self.counters.retried();
            }
            match self.attempt(event, &body, delivery).await {
                Attempt::Delivered { status } => {
                    tracing::debug!(webhook, status, attempt, event = %event.event, event_id = event.id, %delivery, "webhook delivered");
                    self.counters.delivered();
                    return;
                }
                Attempt::Permanent { status, error } => {
                    tracing::warn!(
                        webhook, status, attempt, max_attempts, event = %event.event, event_id = event.id, %delivery, %error,
                        "webhook delivery refused; not retried"
                    );
                    self.counters.failed();
                    return;
                }
                Attempt::Retryable { status, error, .. } if attempt == max_attempts => {
                    tracing::warn!(
                        webhook, status, attempt, max_attempts, event = %event.event, event_id = event.id, %delivery, %error,
                        "webhook delivery failed; giving up after the last attempt"
                    );
                    self.counters.failed();
                    return;
                }
                Attempt::Retryable { status, retry_after, error } => {
                    let delay = self.backoff.delay(attempt, retry_after);
                    tracing::warn!(
                        webhook, status, attempt, max_attempts, event = %event.event, event_id = event.id, %delivery, %error,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "webhook delivery attempt failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One signed POST.
    async fn attempt(&self, event: &ChangeEventDto, body: &[u8], delivery: Uuid) -> Attempt {
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or(0);
        let request = self
            .client
            .post(self.endpoint.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("x-opm-event", event.event.as_str())
            .header("x-opm-delivery", delivery.to_string())
            .header("x-opm-event-id", event.id.to_string())
            .header(SIGNATURE_HEADER, signature_header(self.endpoint.secret.bytes(), timestamp, body))
            .body(body.to_vec());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_builder() => {
                return Attempt::Permanent {
                    status: None,
                    error: format!("cannot build the request: {}", error_chain(&error)),
                };
            }
            Err(error) => return Attempt::Retryable { status: None, retry_after: None, error: self.describe(&error) },
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        // Read (and ignore) a bounded part of the body so the connection returns to the pool.
        let mut read = 0;
        while read < MAX_RESPONSE_BODY
            && let Ok(Some(chunk)) = response.chunk().await
        {
            read += chunk.len();
        }
        match classify(status) {
            StatusClass::Delivered => Attempt::Delivered { status: status.as_u16() },
            StatusClass::Retryable => {
                Attempt::Retryable { status: Some(status.as_u16()), retry_after, error: format!("HTTP {status}") }
            }
            StatusClass::Permanent => {
                Attempt::Permanent { status: Some(status.as_u16()), error: format!("HTTP {status}") }
            }
        }
    }

    /// A transport failure in words, without the URL.
    fn describe(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("timed out after {}", humantime::format_duration(self.endpoint.timeout));
        }
        let what = if error.is_connect() { "cannot connect" } else { "the request failed" };
        format!("{what}: {}", error_chain(error))
    }
}

/// The error's sources joined, leaving out the top message (reqwest puts the URL in it).
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        return "no details".to_owned();
    }
    parts.join(": ")
}

/// Installs ring's rustls provider unless one is installed already (as `opm-gateway` does).
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
