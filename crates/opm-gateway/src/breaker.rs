//! One circuit breaker per provider: closed → open after `failure_threshold` consecutive failed
//! attempts → half-open after `open_ms`, letting one probe through → closed when the probe succeeds
//! (open again when it fails).
//!
//! Every method takes the current time, so tests drive the clock themselves.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::BreakerPolicy;
use crate::error::BreakerOutcome;

/// What a breaker lets through, as reported by [`crate::Gateway::breaker_states`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Every attempt goes through.
    Closed,
    /// Attempts are skipped.
    Open,
    /// One probe may go through (or is in flight).
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
}

/// A provider's breaker; shared between calls behind an `Arc`.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    provider: String,
    policy: BreakerPolicy,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub(crate) fn new(provider: &str, policy: BreakerPolicy) -> Self {
        Self {
            provider: provider.to_owned(),
            policy,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_at: None,
                probe_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open_for(&self) -> Duration {
        Duration::from_millis(self.policy.open_ms)
    }

    /// The state at `now` (an open breaker whose time is up reports half-open).
    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        let inner = self.lock();
        match (inner.state, inner.opened_at) {
            (BreakerState::Open, Some(at)) if now >= at + self.open_for() => BreakerState::HalfOpen,
            (state, _) => state,
        }
    }

    /// Asks to make an attempt at `now`; `None` means skip this provider.
    pub(crate) fn try_acquire(self: &Arc<Self>, now: Instant) -> Option<BreakerPermit> {
        let mut inner = self.lock();
        let probe = match inner.state {
            BreakerState::Closed => false,
            BreakerState::Open => {
                let due = inner.opened_at.is_none_or(|at| now >= at + self.open_for());
                if !due {
                    return None;
                }
                inner.state = BreakerState::HalfOpen;
                inner.probe_in_flight = true;
                tracing::info!(provider = %self.provider, "circuit breaker half-open: sending one probe");
                true
            }
            BreakerState::HalfOpen if inner.probe_in_flight => return None,
            BreakerState::HalfOpen => {
                inner.probe_in_flight = true;
                true
            }
        };
        Some(BreakerPermit { breaker: Arc::clone(self), probe, settled: false })
    }

    /// Counts an outcome that did not come through a permit (a failure in the middle of a stream).
    pub(crate) fn record(&self, outcome: BreakerOutcome, now: Instant) {
        self.settle(false, outcome, now);
    }

    fn settle(&self, probe: bool, outcome: BreakerOutcome, now: Instant) {
        let mut inner = self.lock();
        if probe {
            inner.probe_in_flight = false;
        }
        match outcome {
            BreakerOutcome::Neutral => {}
            BreakerOutcome::Success => {
                inner.consecutive_failures = 0;
                if probe || inner.state == BreakerState::HalfOpen {
                    if inner.state != BreakerState::Closed {
                        tracing::info!(provider = %self.provider, "circuit breaker closed");
                    }
                    inner.state = BreakerState::Closed;
                    inner.opened_at = None;
                }
            }
            BreakerOutcome::Failure => {
                inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
                let threshold_reached =
                    self.policy.failure_threshold > 0 && inner.consecutive_failures >= self.policy.failure_threshold;
                let reopen = probe || inner.state == BreakerState::HalfOpen;
                if reopen || (inner.state == BreakerState::Closed && threshold_reached) {
                    tracing::warn!(
                        provider = %self.provider,
                        consecutive_failures = inner.consecutive_failures,
                        open_ms = self.policy.open_ms,
                        "circuit breaker open"
                    );
                    inner.state = BreakerState::Open;
                    inner.opened_at = Some(now);
                }
            }
        }
    }
}

/// Leave to make one attempt. Settle it with [`BreakerPermit::finish`]; dropping it unsettled (the
/// caller went away) frees a half-open breaker for the next probe without counting anything.
#[derive(Debug)]
pub(crate) struct BreakerPermit {
    breaker: Arc<CircuitBreaker>,
    probe: bool,
    settled: bool,
}

impl BreakerPermit {
    pub(crate) fn finish(mut self, outcome: BreakerOutcome, now: Instant) {
        self.settled = true;
        self.breaker.settle(self.probe, outcome, now);
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.settle(true, BreakerOutcome::Neutral, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> Arc<CircuitBreaker> {
        Arc::new(CircuitBreaker::new("p", BreakerPolicy { failure_threshold: threshold, open_ms: 1_000 }))
    }

    fn fail(breaker: &Arc<CircuitBreaker>, now: Instant) {
        breaker.try_acquire(now).unwrap().finish(BreakerOutcome::Failure, now);
    }

    #[test]
    fn opens_after_consecutive_failures_then_probes_and_closes() {
        let t0 = Instant::now();
        let breaker = breaker(3);
        fail(&breaker, t0);
        fail(&breaker, t0);
        breaker.try_acquire(t0).unwrap().finish(BreakerOutcome::Success, t0);
        fail(&breaker, t0);
        fail(&breaker, t0);
        assert_eq!(breaker.state(t0), BreakerState::Closed, "a success resets the count");
        fail(&breaker, t0);
        assert_eq!(breaker.state(t0), BreakerState::Open);
        assert!(breaker.try_acquire(t0 + Duration::from_millis(999)).is_none());

        let t1 = t0 + Duration::from_millis(1_000);
        assert_eq!(breaker.state(t1), BreakerState::HalfOpen);
        let probe = breaker.try_acquire(t1).unwrap();
        assert!(breaker.try_acquire(t1).is_none(), "one probe at a time");
        probe.finish(BreakerOutcome::Success, t1);
        assert_eq!(breaker.state(t1), BreakerState::Closed);
        assert!(breaker.try_acquire(t1).is_some());
    }

    #[test]
    fn a_failed_probe_reopens_and_a_dropped_probe_frees_the_slot() {
        let t0 = Instant::now();
        let breaker = breaker(1);
        fail(&breaker, t0);
        let t1 = t0 + Duration::from_secs(1);
        fail(&breaker, t1);
        assert_eq!(breaker.state(t1), BreakerState::Open);
        assert!(breaker.try_acquire(t1 + Duration::from_millis(500)).is_none());

        let t2 = t1 + Duration::from_secs(1);
        drop(breaker.try_acquire(t2).unwrap());
        assert_eq!(breaker.state(t2), BreakerState::HalfOpen);
        let probe = breaker.try_acquire(t2).unwrap();
        probe.finish(BreakerOutcome::Neutral, t2);
        breaker.try_acquire(t2).unwrap().finish(BreakerOutcome::Success, t2);
        assert_eq!(breaker.state(t2), BreakerState::Closed);
    }

    #[test]
    fn threshold_zero_disables_the_breaker() {
        let t0 = Instant::now();
        let breaker = breaker(0);
        for _ in 0..10 {
            fail(&breaker, t0);
        }
        assert_eq!(breaker.state(t0), BreakerState::Closed);
        breaker.record(BreakerOutcome::Failure, t0);
        assert_eq!(breaker.state(t0).as_str(), "closed");
    }
}
