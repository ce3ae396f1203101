//! The retention job: deletes stored generations older than the configured age (measured on the
//! registry's clock, which stamped them), in small batches so the SQLite writer is never held for
//! long, then sleeps until the next pass.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opm_registry::Clock;
use opm_store::Store;

use crate::metrics::Metrics;

/// Rows deleted per statement.
const DELETE_BATCH: u32 = 5_000;

/// How long stored generations are kept and how often the job runs.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Age past which generations are deleted, e.g. `30d`; `0s` keeps them forever.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// Time between passes.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { max_age: Duration::from_secs(30 * 24 * 3600), interval: Duration::from_secs(3600) }
    }
}

/// Starts the job; it runs one pass at once, then one per interval, until the task is aborted.
pub fn spawn(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    clock: Arc<Clock>,
    settings: RetentionSettings,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if settings.max_age.is_zero() {
            tracing::info!("generation retention disabled (max_age = 0)");
            return;
        }
        let mut ticker = tokio::time::interval(settings.interval.max(Duration::from_secs(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match run_once(store.as_ref(), &metrics, settings.max_age, clock.now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "retention deleted old generations"),
                Err(error) => tracing::warn!(%error, "retention pass failed; retrying next interval"),
            }
        }
    })
}

/// Deletes every generation older than `max_age` at `now`; returns how many.
pub async fn run_once(
    store: &dyn Store,
    metrics: &Metrics,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Result<u64, opm_store::StoreError> {
    let age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let cutoff = now.checked_sub_signed(age).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut total = 0;
    loop {
        let deleted = store.delete_generations_before(cutoff, DELETE_BATCH).await?;
        metrics.retention_deleted(deleted);
        total += deleted;
        if deleted < u64::from(DELETE_BATCH) {
            return Ok(total);
        }
        // Let other writers in between batches.
        tokio::task::yield_now().await;
    }
}
