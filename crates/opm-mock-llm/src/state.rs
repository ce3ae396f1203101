//! Shared server state: the config, per-key request counters and the id sequence.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::MockConfig;

/// State shared by every handler of one server, behind an `Arc`.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: MockConfig,
    request_counts: Mutex<HashMap<String, u64>>,
    id_sequence: AtomicU64,
    /// The W3C `traceparent` of the latest completion request (None when it sent none).
    last_traceparent: Mutex<Option<String>>,
}

impl AppState {
    pub(crate) fn new(config: MockConfig) -> Self {
        Self {
            config,
            request_counts: Mutex::new(HashMap::new()),
            id_sequence: AtomicU64::new(1),
            last_traceparent: Mutex::new(None),
        }
    }

    /// Counts one completion request for `key` and returns its 1-based number.
    pub(crate) fn record_request(&self, key: &str) -> u64 {
        let mut counts = self.request_counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key.to_owned()).or_insert(0);
        *count += 1;
        *count
    }

    /// Keeps the latest completion request's `traceparent`, so tests can check trace propagation.
    pub(crate) fn remember_traceparent(&self, traceparent: Option<&str>) {
        *self.last_traceparent.lock().unwrap_or_else(PoisonError::into_inner) = traceparent.map(str::to_owned);
    }

    /// The latest completion request's `traceparent`.
    pub(crate) fn last_traceparent(&self) -> Option<String> {
        self.last_traceparent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many completion requests `key` has made so far.
    pub(crate) fn request_count(&self, key: &str) -> u64 {
        let counts = self.request_counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(key).copied().unwrap_or(0)
    }

    /// Forgets the count of `key`, so `fail-first` starts over.
    pub(crate) fn reset_count(&self, key: &str) {
        let mut counts = self.request_counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.remove(key);
    }

    /// A fresh id such as `chatcmpl-mock000000000000002a`.
    pub(crate) fn next_id(&self, prefix: &str) -> String {
        let n = self.id_sequence.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}mock{n:016x}")
    }
}

/// Seconds since the Unix epoch, for `created` fields.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}
