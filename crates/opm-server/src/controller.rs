//! The rollout controller's loop: one replica at a time (the leader, elected through the store: a
//! PostgreSQL advisory lock held on its own connection) wakes every tick and, when a rollout's check
//! is due, writes out its queued generation records and checks it
//! ([`opm_registry::Registry::check_rollouts`]) on the registry's clock (with the Prometheus checks when configured). When the leader dies its connection closes, the lock is released, and
//! another replica takes over at its next tick.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opm_core::rollout::Decision;
use opm_store::Leadership;

use crate::AppState;

/// The advisory lock's name.
pub const LEADER_LOCK: &str = "opm-rollout-controller";

/// How often the controller wakes up by default.
pub const DEFAULT_TICK: Duration = Duration::from_secs(1);

/// Whether this replica currently leads (it then also delivers webhooks).
#[derive(Debug, Default, Clone)]
pub struct LeaderFlag(Arc<AtomicBool>);

impl LeaderFlag {
    pub fn is_leader(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, leader: bool) {
        self.0.store(leader, Ordering::Release);
    }
}

/// Starts the loop; it runs until the task is aborted.
pub fn spawn(
    state: AppState,
    tick: Duration,
    flag: LeaderFlag,
    external: Option<Arc<dyn opm_registry::ExternalChecks>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lease: Option<Box<dyn Leadership>> = None;
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            lease = keep_or_take(state.registry.store().as_ref(), lease, &flag).await;
            state.metrics.rollout_leader(lease.is_some());
            if lease.is_none() {
                continue;
            }
            let now = state.registry.clock().now();
            let due = match state.registry.due_rollouts(now).await {
                Ok(due) if due.is_empty() => continue,
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "rollout controller cannot list rollouts");
                    continue;
                }
            };
            // The check must see this replica's calls up to now: write out the queued records first
            // (only when a check is due, so an idle controller adds no commits).
            state.writer.flush().await;
            match state.registry.check_rollouts(due, now, external.as_deref()).await {
                Ok(outcomes) => {
                    for outcome in outcomes {
                        let rollout = &outcome.rollout;
                        let decision = decision_name(&outcome.decision);
                        state.metrics.rollout_decision(rollout.prompt.as_str(), rollout.label.as_str(), decision);
                        tracing::info!(
                            rollout = rollout.id, prompt = %rollout.prompt, label = %rollout.label,
                            state = rollout.state.name(), decision, "rollout check"
                        );
                    }
                }
                Err(error) => tracing::warn!(%error, "rollout controller pass failed"),
            }
        }
    })
}

async fn keep_or_take(
    store: &dyn opm_store::Store,
    lease: Option<Box<dyn Leadership>>,
    flag: &LeaderFlag,
) -> Option<Box<dyn Leadership>> {
    if let Some(lease) = lease {
        if lease.still_held().await {
            return Some(lease);
        }
        tracing::warn!("lost the rollout controller lock");
        flag.set(false);
    }
    match store.try_lead(LEADER_LOCK).await {
        Ok(Some(lease)) => {
            tracing::info!("this replica now runs the rollout controller");
            flag.set(true);
            Some(lease)
        }
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, "cannot try the rollout controller lock");
            None
        }
    }
}

/// The decision's name as metrics and logs show it.
pub fn decision_name(decision: &Decision) -> &'static str {
    match decision {
        Decision::SetWeight { .. } => "advance",
        Decision::Hold { .. } => "hold",
        Decision::Pause { .. } => "pause",
        Decision::Promote => "promote",
        Decision::Abort { .. } => "abort",
    }
}
