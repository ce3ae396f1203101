//! The generation-record seam: one [`GenerationRecord`] per gateway call, handed to a
//! [`GenerationRecorder`] that must never block the request path.
//!
//! The gateway does not record by itself: the server builds records because it knows the prompt,
//! the label and the API key behind a call.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::Usage;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationStatus {
    Ok,
    Error,
    /// The caller went away before the end (a dropped stream).
    Cancelled,
}

impl GenerationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationStatus::Ok => "ok",
            GenerationStatus::Error => "error",
            GenerationStatus::Cancelled => "cancelled",
        }
    }
}

/// What is kept about one generation. Field names follow the OTel GenAI conventions where they exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRecord {
    /// A UUID v7 (time-ordered): see [`GenerationRecord::new_id`].
    pub id: String,
    pub started_at: DateTime<Utc>,
    /// `gen_ai.prompt.name`, when a managed prompt was used.
    pub prompt: Option<String>,
    /// `gen_ai.prompt.version`.
    pub prompt_version: Option<u32>,
    pub label: Option<String>,
    /// The split arm that served (the version, as text), when the label's target is a split.
    pub arm: Option<String>,
    /// Whether a stickiness key chose the arm (`false`: random); `None` without a split.
    pub sticky: Option<bool>,
    pub project: Option<String>,
    /// `gen_ai.provider.name` (the configured provider name).
    pub provider: String,
    /// `gen_ai.response.model` when known, else the requested model.
    pub model: String,
    pub status: GenerationStatus,
    /// `error.type`: the error's stable code.
    pub error_kind: Option<String>,
    /// The whole call as the caller saw it.
    pub latency_ms: f64,
    /// Time to the first streamed token.
    pub ttft_ms: Option<f64>,
    /// Time spent waiting on upstreams (so `latency_ms - upstream_ms` is OPM's own overhead).
    pub upstream_ms: f64,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    /// The id (never the secret) of the API key that made the call.
    pub key_id: Option<String>,
    pub attempts: u32,
    pub fallback_index: usize,
    pub streamed: bool,
}

impl GenerationRecord {
    /// A fresh time-ordered id.
    pub fn new_id() -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// Milliseconds as `f64`, for the `*_ms` fields.
pub fn duration_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Takes finished records somewhere (a database writer, a log). Implementations must return at once.
pub trait GenerationRecorder: Send + Sync {
    fn record(&self, record: GenerationRecord);
}

/// Discards every record.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopRecorder;

impl GenerationRecorder for NoopRecorder {
    fn record(&self, _record: GenerationRecord) {}
}

/// The least time between two "records dropped" warnings.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Sends records into a bounded channel without waiting: when the channel is full the record is
/// dropped and counted, with a warning at most every ten seconds.
#[derive(Debug)]
pub struct ChannelRecorder {
    sender: mpsc::Sender<GenerationRecord>,
    dropped: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

impl ChannelRecorder {
    /// A recorder and the receiving end of its channel, which holds at most `capacity` records.
    pub fn new(capacity: usize) -> (ChannelRecorder, mpsc::Receiver<GenerationRecord>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (ChannelRecorder { sender, dropped: AtomicU64::new(0), last_warning: Mutex::new(None) }, receiver)
    }

    /// Records dropped so far because the channel was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn warn_rate_limited(&self, reason: &'static str) {
        let now = Instant::now();
        let Ok(mut last) = self.last_warning.try_lock() else { return };
        if last.is_some_and(|at| now.duration_since(at) < DROP_WARNING_INTERVAL) {
            return;
        }
        *last = Some(now);
        tracing::warn!(dropped_total = self.dropped(), reason, "generation records are being dropped");
    }
}

impl GenerationRecorder for ChannelRecorder {
    fn record(&self, record: GenerationRecord) {
        if let Err(error) = self.sender.try_send(record) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            let reason = match error {
                mpsc::error::TrySendError::Full(_) => "channel full",
                mpsc::error::TrySendError::Closed(_) => "channel closed",
            };
            self.warn_rate_limited(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(provider: &str) -> GenerationRecord {
        GenerationRecord {
            id: GenerationRecord::new_id(),
            started_at: Utc::now(),
            prompt: Some("welcome".into()),
            prompt_version: Some(3),
            label: Some("production".into()),
            arm: None,
            sticky: None,
            project: None,
            provider: provider.into(),
            model: "gpt-4o".into(),
            status: GenerationStatus::Ok,
            error_kind: None,
            latency_ms: 12.5,
            ttft_ms: None,
            upstream_ms: 10.0,
            usage: Usage::default(),
            cost_usd: None,
            key_id: None,
            attempts: 1,
            fallback_index: 0,
            streamed: false,
        }
    }

    #[tokio::test]
    async fn channel_recorder_never_blocks_and_counts_drops() {
        let (recorder, mut receiver) = ChannelRecorder::new(2);
        for provider in ["a", "b", "c", "d"] {
            recorder.record(record(provider));
        }
        assert_eq!(recorder.dropped(), 2);
        assert_eq!(receiver.recv().await.unwrap().provider, "a");
        assert_eq!(receiver.recv().await.unwrap().provider, "b");
        drop(receiver);
        recorder.record(record("e"));
        assert_eq!(recorder.dropped(), 3);
        NoopRecorder.record(record("f"));
    }

    #[test]
    fn ids_are_uuid_v7_and_status_serializes_lowercase() {
        let id = GenerationRecord::new_id();
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
        assert_eq!(serde_json::to_value(GenerationStatus::Cancelled).unwrap(), "cancelled");
        assert_eq!(duration_ms(Duration::from_micros(1500)), 1.5);
    }
}
