//! [`Webhooks`]: the dispatcher the server hands every change event to, with one delivery task and
//! one bounded queue per endpoint.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opm_api::events::ChangeEventDto;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;

use crate::WebhookError;
use crate::config::WebhookConfig;
use crate::delivery::Deliverer;
use crate::filter::EventFilter;
use crate::stats::{Counters, EndpointStats, WebhookStats};

/// How many events wait per endpoint by default before new ones are dropped.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// Settings that are not part of a `[[webhooks]]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhooksOptions {
    /// Events waiting per endpoint before new ones are dropped (default 10,000).
    pub queue_capacity: usize,
    /// Full jitter on the retry backoff (default on). Tests that time the gaps between attempts
    /// turn it off to get exactly `initial_backoff × 2^(n-1)`.
    pub jitter: bool,
}

impl Default for WebhooksOptions {
    fn default() -> Self {
        Self { queue_capacity: DEFAULT_QUEUE_CAPACITY, jitter: true }
    }
}

/// The running webhook endpoints. Dropping it without [`Webhooks::shutdown`] lets the tasks finish
/// their queues in the background.
pub struct Webhooks {
    endpoints: Vec<EndpointHandle>,
}

struct EndpointHandle {
    label: String,
    filter: EventFilter,
    queue: mpsc::Sender<Arc<ChangeEventDto>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl Webhooks {
    /// Validates every entry, reads the secrets (from `secret_env` when set), and starts one
    /// delivery task per endpoint. Must run inside a Tokio runtime. No entries is fine: then
    /// [`Webhooks::dispatch`] does nothing.
    pub fn start(configs: Vec<WebhookConfig>) -> Result<Webhooks, WebhookError> {
        Self::start_with(configs, WebhooksOptions::default())
    }

    /// [`Webhooks::start`] with non-default options.
    pub fn start_with(configs: Vec<WebhookConfig>, options: WebhooksOptions) -> Result<Webhooks, WebhookError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WebhookError::NoRuntime)?;
        let env = |name: &str| std::env::var(name).ok();
        // Validate everything before starting anything.
        let resolved = configs
            .iter()
            .enumerate()
            .map(|(index, config)| config.resolve(index, &env))
            .collect::<Result<Vec<_>, _>>()?;
        let mut deliverers = Vec::with_capacity(resolved.len());
        for endpoint in resolved {
            let counters = Arc::new(Counters::default());
            let label = endpoint.label.clone();
            let filter = endpoint.filter.clone();
            deliverers.push((label, filter, Deliverer::new(endpoint, options.jitter, counters.clone())?, counters));
        }
        let endpoints = deliverers
            .into_iter()
            .map(|(label, filter, deliverer, counters)| {
                let (queue, receiver) = mpsc::channel(options.queue_capacity.max(1));
                let task = runtime.spawn(deliverer.run(receiver));
                tracing::info!(webhook = %label, "webhook endpoint started");
                EndpointHandle { label, filter, queue, counters, task }
            })
            .collect();
        Ok(Webhooks { endpoints })
    }

    /// Queues `event` for every endpoint whose filters match it, without waiting. When an
    /// endpoint's queue is full the event is dropped for that endpoint, counted, and logged (at
    /// most once per ten seconds per endpoint).
    pub fn dispatch(&self, event: Arc<ChangeEventDto>) {
        for endpoint in &self.endpoints {
            if !endpoint.filter.matches(&event) {
                continue;
            }
            endpoint.counters.queued();
            match endpoint.queue.try_send(event.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                    endpoint.counters.unqueued();
                    if endpoint.counters.dropped(Instant::now()) {
                        tracing::warn!(
                            webhook = %endpoint.label,
                            event = %event.event,
                            event_id = event.id,
                            dropped_total = endpoint.counters.snapshot().dropped,
                            "webhook queue is full: dropping events (the endpoint is slow or down)"
                        );
                    }
                }
            }
        }
    }

    /// The counts summed over every endpoint.
    pub fn stats(&self) -> WebhookStats {
        let each: Vec<WebhookStats> = self.endpoints.iter().map(|endpoint| endpoint.counters.snapshot()).collect();
        WebhookStats::sum(&each)
    }

    /// Each endpoint's counts, in configuration order.
    pub fn endpoint_stats(&self) -> Vec<EndpointStats> {
        self.endpoints
            .iter()
            .map(|endpoint| EndpointStats { endpoint: endpoint.label.clone(), stats: endpoint.counters.snapshot() })
            .collect()
    }

    /// How many endpoints are configured.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Whether no endpoint is configured.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Stops taking events and delivers what is queued, for at most `timeout` in all; then stops
    /// the tasks. Returns the final counts: `pending` is what was abandoned.
    pub async fn shutdown(self, timeout: Duration) -> WebhookStats {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut stopped = Vec::with_capacity(self.endpoints.len());
        for EndpointHandle { label, queue, counters, task, .. } in self.endpoints {
            // Closing the queue ends the task once it has delivered what is left.
            drop(queue);
            stopped.push((label, counters, task));
        }
        let mut all = Vec::with_capacity(stopped.len());
        for (label, counters, mut task) in stopped {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
            let stats = counters.snapshot();
            if stats.pending > 0 {
                tracing::warn!(webhook = %label, abandoned = stats.pending, "webhook shutdown timed out: events abandoned");
            }
            all.push(stats);
        }
        WebhookStats::sum(&all)
    }
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<&str> = self.endpoints.iter().map(|endpoint| endpoint.label.as_str()).collect();
        f.debug_struct("Webhooks").field("endpoints", &labels).finish()
    }
}
