//! The key-usage flush: every few seconds, the key uses the registry noted in memory are written
//! to the store in one batch (`last_used_at`), so authenticating a request never writes to the
//! database. A last flush runs at shutdown.

use std::sync::Arc;
use std::time::Duration;

use opm_registry::Registry;

/// Time between flushes: `last_used_at` in key listings lags by at most this much (plus the
/// registry folds unflushed uses into its own listings).
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

/// Starts the periodic flush; abort the task and call [`flush`] once at shutdown.
pub fn spawn(registry: Arc<Registry>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            flush(&registry).await;
        }
    })
}

/// Writes the pending key uses; a failure is logged and the uses are kept for the next flush.
pub async fn flush(registry: &Registry) {
    match registry.flush_key_use().await {
        Ok(0) => {}
        Ok(keys) => tracing::debug!(keys, "flushed key usage"),
        Err(error) => tracing::warn!(%error, "could not record key usage; retrying at the next flush"),
    }
}
