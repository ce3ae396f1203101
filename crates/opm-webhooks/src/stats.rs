//! Delivery counters: what [`crate::Webhooks::stats`] reports, for the server to export as metrics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts since [`crate::Webhooks::start`], summed over endpoints or for one endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Events the receiver acknowledged with a 2xx.
    pub delivered: u64,
    /// Events given up: a permanent failure (a 4xx other than 408, 425 and 429) or `max_attempts`
    /// failed attempts.
    pub failed: u64,
    /// Events never queued because the endpoint's queue was full.
    pub dropped: u64,
    /// Attempts after the first (each retry of each event counts once).
    pub retries: u64,
    /// Events queued or being delivered right now; after [`crate::Webhooks::shutdown`], the events
    /// it abandoned.
    pub pending: u64,
}

impl WebhookStats {
    fn plus(self, other: WebhookStats) -> WebhookStats {
        WebhookStats {
            delivered: self.delivered + other.delivered,
            failed: self.failed + other.failed,
            dropped: self.dropped + other.dropped,
            retries: self.retries + other.retries,
            pending: self.pending + other.pending,
        }
    }

    /// The sum of several endpoints' counts.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a WebhookStats>) -> WebhookStats {
        all.into_iter().fold(WebhookStats::default(), |total, stats| total.plus(*stats))
    }
}

/// One endpoint's counts, named by `host[:port]` (never the full URL, whose path or query may
/// carry a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStats {
    pub endpoint: String,
    pub stats: WebhookStats,
}

/// How often a full queue is logged per endpoint at most.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// One endpoint's live counters, shared by the dispatcher and the delivery task.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
    pending: AtomicU64,
    last_drop_warning: Mutex<Option<Instant>>,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> WebhookStats {
        WebhookStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
        }
    }

    /// An event entered the queue.
    pub(crate) fn queued(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// A queued event could not be sent after all (the queue was closed).
    pub(crate) fn unqueued(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a dropped event; returns whether to log it (at most once per interval).
    pub(crate) fn dropped(&self, now: Instant) -> bool {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        let Ok(mut last) = self.last_drop_warning.lock() else {
            return false;
        };
        match *last {
            Some(at) if now.saturating_duration_since(at) < DROP_WARNING_INTERVAL => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_sums() {
        let counters = Counters::default();
        counters.queued();
        counters.queued();
        counters.queued();
        counters.retried();
        counters.delivered();
        counters.failed();
        let start = Instant::now();
        assert!(counters.dropped(start), "the first drop is logged");
        assert!(!counters.dropped(start + Duration::from_secs(1)), "the next ones are not");
        assert!(counters.dropped(start + DROP_WARNING_INTERVAL), "until the interval passed");
        let stats = counters.snapshot();
        assert_eq!(stats, WebhookStats { delivered: 1, failed: 1, dropped: 3, retries: 1, pending: 1 });
        let total = WebhookStats::sum(&[stats, stats]);
        assert_eq!(total, WebhookStats { delivered: 2, failed: 2, dropped: 6, retries: 2, pending: 2 });
    }
}
