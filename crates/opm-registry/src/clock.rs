//! The time OPM acts on: the system clock, optionally shifted by an offset that tests advance so
//! that a rollout's ten-minute intervals pass in milliseconds. Everything that compares times
//! (generation timestamps, rollout windows and checks) reads this one clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// System time plus an offset (0 unless the clock is adjustable and was advanced).
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    adjustable: bool,
}

impl Clock {
    /// The system clock; [`Clock::advance`] refuses to move it.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock tests can move forward (`opm serve --adjustable-clock`).
    pub fn adjustable() -> Self {
        Self { offset_ms: AtomicI64::new(0), adjustable: true }
    }

    /// Whether [`Clock::advance`] works.
    pub fn is_adjustable(&self) -> bool {
        self.adjustable
    }

    /// Now, as OPM sees it.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        Utc::now() + TimeDelta::milliseconds(offset)
    }

    /// Moves an adjustable clock forward by `by` and returns the new now; `None` for the system clock.
    pub fn advance(&self, by: Duration) -> Option<DateTime<Utc>> {
        if !self.adjustable {
            return None;
        }
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        Some(self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_adjustable_clock_moves() {
        assert!(Clock::system().advance(Duration::from_secs(60)).is_none());
        let clock = Clock::adjustable();
        let before = clock.now();
        let after = clock.advance(Duration::from_secs(600)).unwrap();
        assert!(after - before >= TimeDelta::seconds(600));
    }
}
