//! Wires `[[webhooks]]` to the change feed: the leader replica hands every change event to
//! [`opm_webhooks::Webhooks`] (signed, retried with backoff), so each event is delivered by one
//! replica, not by all of them; delivery counters become `opm_webhook_deliveries_total`.

use std::sync::Arc;
use std::time::Duration;

use opm_webhooks::{WebhookConfig, WebhookStats, Webhooks};

use crate::AppState;
use crate::controller::LeaderFlag;

/// How long shutdown waits for queued deliveries.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The running webhooks and their metrics task.
pub struct Running {
    events: Arc<crate::events::EventFeed>,
    webhooks: Arc<Webhooks>,
    metrics: tokio::task::JoinHandle<()>,
}

/// Starts delivering to `configs` (nothing when empty).
pub fn start(
    state: &AppState,
    configs: Vec<WebhookConfig>,
    leader: LeaderFlag,
) -> Result<Option<Running>, opm_webhooks::WebhookError> {
    if configs.is_empty() {
        return Ok(None);
    }
    let webhooks = Arc::new(Webhooks::start(configs)?);
    tracing::info!(endpoints = webhooks.len(), "webhooks configured");
    let sink = webhooks.clone();
    state.events.set_sink(Arc::new(move |event| {
        if leader.is_leader() {
            sink.dispatch(event.clone());
        }
    }));
    let metrics = {
        let (webhooks, metrics) = (webhooks.clone(), state.metrics.clone());
        tokio::spawn(async move {
            let mut seen = WebhookStats::default();
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticker.tick().await;
                let now = webhooks.stats();
                metrics.webhook_deliveries("delivered", now.delivered.saturating_sub(seen.delivered));
                metrics.webhook_deliveries("failed", now.failed.saturating_sub(seen.failed));
                metrics.webhook_deliveries("dropped", now.dropped.saturating_sub(seen.dropped));
                metrics.webhook_deliveries("retried", now.retries.saturating_sub(seen.retries));
                seen = now;
            }
        })
    };
    Ok(Some(Running { events: state.events.clone(), webhooks, metrics }))
}

impl Running {
    /// Stops the metrics task and drains queued deliveries for a few seconds.
    pub async fn stop(self) {
        self.metrics.abort();
        self.events.clear_sink();
        match Arc::try_unwrap(self.webhooks) {
            Ok(webhooks) => {
                let left = webhooks.shutdown(SHUTDOWN_GRACE).await;
                if left.pending > 0 {
                    tracing::warn!(pending = left.pending, "webhook deliveries abandoned at shutdown");
                }
            }
            Err(_) => tracing::debug!("webhooks still shared at shutdown; not drained"),
        }
    }
}
