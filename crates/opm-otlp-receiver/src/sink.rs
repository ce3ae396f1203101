//! Where received spans and metrics are kept, with a change counter that waiters watch.

use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

use crate::received::{ReceivedMetric, ReceivedSpan};

/// Everything received so far, in arrival order.
pub struct Sink {
    spans: Mutex<Vec<ReceivedSpan>>,
    metrics: Mutex<Vec<ReceivedMetric>>,
    /// Bumped after every batch; waiters re-check their condition when it changes.
    changes: watch::Sender<u64>,
}

impl Sink {
    pub fn new() -> Self {
        Self { spans: Mutex::default(), metrics: Mutex::default(), changes: watch::Sender::new(0) }
    }

    pub fn add_spans(&self, spans: Vec<ReceivedSpan>) {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).extend(spans);
        self.changes.send_modify(|n| *n += 1);
    }

    pub fn add_metrics(&self, metrics: Vec<ReceivedMetric>) {
        self.metrics.lock().unwrap_or_else(PoisonError::into_inner).extend(metrics);
        self.changes.send_modify(|n| *n += 1);
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.metrics.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn clear(&self) {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.metrics.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}
