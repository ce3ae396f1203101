//! The pure decision logic of a metric-gated canary rollout (Flagger / Argo Rollouts semantics):
//! a spec, a state machine, and the check that compares the canary arm with the stable arm.
//!
//! A rollout moves a label from a stable version to a canary version through the canary shares in
//! [`RolloutSpec::steps`] (e.g. 5, 25, 50, 100). The controller, which owns IO and the clock, loops:
//! measure both arms over [`RolloutState::window_start`]..now once [`RolloutState::next_check_at`]
//! has passed, [`evaluate`] the metrics, feed the [`CheckResult`] to [`RolloutState::next`], and
//! carry out the [`Decision`] (e.g. write [`crate::split::Split::canary`] for a new share).
//!
//! Rules:
//! - Only a **passed** check advances; reaching 100 is the promotion (the label then points at the
//!   canary alone). So promotion takes at least `interval × (steps − 1)`.
//! - An **inconclusive** check (too few samples, missing data) never advances or promotes: the
//!   rollout holds and the next check measures a longer window (low traffic accumulates). With an
//!   `inconclusive_limit`, more consecutive inconclusive checks than that pause it for a human
//!   (Argo).
//! - A **failed** check holds at the current share; more failed checks than `failure_limit` over the
//!   rollout abort it, returning the label to the stable version at once (Argo's `failureLimit`:
//!   0 aborts on the first failure; Flagger's `threshold` is `failure_limit + 1`).
//! - A check that arrives before `next_check_at` is not counted (a restarted or duplicate controller
//!   cannot rush a rollout).
//! - Manual actions: pause (progressing only), resume (paused only, with a fresh window), promote
//!   and abort (progressing or paused). Promoted and aborted are final: an aborted rollout is never
//!   resumed (start a new one).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;

mod check;
mod record;
mod spec;

pub use check::{ArmMetrics, COMPARISON_ALPHA, CheckResult, CheckSummary, Verdict, evaluate};
pub use record::{CONTROLLER_ACTOR, Rollout, canary_target, label_target_for};
pub use spec::{MAX_INTERVAL, MIN_INTERVAL, RolloutSpec, Thresholds};

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum RolloutState {
    /// The canary serves `steps[step_index]` percent and is being checked.
    Progressing {
        step_index: usize,
        /// Failed checks so far in this rollout.
        failures: u32,
        /// Consecutive inconclusive checks at this step.
        inconclusive: u32,
        /// The start of the window the next check measures.
        window_start: DateTime<Utc>,
        /// Checks before this instant are not counted.
        next_check_at: DateTime<Utc>,
    },
    /// Held at `steps[step_index]` percent until a human resumes, promotes or aborts.
    Paused { step_index: usize, failures: u32, reason: String, since: DateTime<Utc> },
    /// The label points at the canary version alone. Final.
    Promoted { at: DateTime<Utc> },
    /// The label was returned to the stable version. Final.
    Aborted { reason: String, at: DateTime<Utc> },
}

/// What the controller must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case", deny_unknown_fields)]
pub enum Decision {
    /// Route this share (percent) to the canary, the rest to the stable version.
    SetWeight { canary_percent: u8 },
    /// Keep the current share.
    Hold { reason: String },
    /// Keep the current share and wait for a human.
    Pause { reason: String },
    /// Point the label at the canary version alone.
    Promote,
    /// Point the label back at the stable version alone, at once.
    Abort { reason: String },
}

impl RolloutState {
    /// Starts a rollout of a validated `spec`: the canary gets the first step's share.
    pub fn start(spec: &RolloutSpec, now: DateTime<Utc>) -> Result<(RolloutState, Decision), CoreError> {
        spec.validate()?;
        let first = spec.steps.first().copied().unwrap_or(0);
        Ok((progressing(spec, 0, 0, now), Decision::SetWeight { canary_percent: first }))
    }

    /// The transition after a check measured at `now` (see the module docs for the rules).
    pub fn next(&self, spec: &RolloutSpec, check: &CheckResult, now: DateTime<Utc>) -> (RolloutState, Decision) {
        let RolloutState::Progressing { step_index, failures, inconclusive, window_start, next_check_at } = *self
        else {
            let reason = format!("the rollout is {}; checks are not applied", self.name());
            return (self.clone(), Decision::Hold { reason });
        };
        if now < next_check_at {
            let reason = format!("next check is due at {}", next_check_at.to_rfc3339());
            return (self.clone(), Decision::Hold { reason });
        }
        match &check.verdict {
            Verdict::Passed => match spec.steps.get(step_index + 1).copied() {
                Some(share) if share < 100 => {
                    (progressing(spec, step_index + 1, failures, now), Decision::SetWeight { canary_percent: share })
                }
                _ => (RolloutState::Promoted { at: now }, Decision::Promote),
            },
            Verdict::Failed { reasons } => {
                let failures = failures.saturating_add(1);
                let summary = format!("failed check {failures} (limit {}): {}", spec.failure_limit, reasons.join("; "));
                if failures > spec.failure_limit {
                    let reason = format!("aborted after {summary}");
                    (RolloutState::Aborted { reason: reason.clone(), at: now }, Decision::Abort { reason })
                } else {
                    (progressing(spec, step_index, failures, now), Decision::Hold { reason: summary })
                }
            }
            Verdict::Inconclusive { reasons } => {
                let inconclusive = inconclusive.saturating_add(1);
                let summary = format!("inconclusive check {inconclusive}: {}", reasons.join("; "));
                if spec.inconclusive_limit.is_some_and(|limit| inconclusive > limit) {
                    let reason = format!("paused after {summary}");
                    let paused = RolloutState::Paused { step_index, failures, reason: reason.clone(), since: now };
                    return (paused, Decision::Pause { reason });
                }
                let next_check_at = later(now, spec.interval);
                let state =
                    RolloutState::Progressing { step_index, failures, inconclusive, window_start, next_check_at };
                (state, Decision::Hold { reason: summary })
            }
        }
    }

    /// Pauses a progressing rollout.
    pub fn pause(&self, reason: &str, now: DateTime<Utc>) -> Result<(RolloutState, Decision), CoreError> {
        match *self {
            RolloutState::Progressing { step_index, failures, .. } => {
                let paused = RolloutState::Paused { step_index, failures, reason: reason.to_owned(), since: now };
                Ok((paused, Decision::Pause { reason: reason.to_owned() }))
            }
            _ => Err(self.refuse("pause")),
        }
    }

    /// Resumes a paused rollout at the same share, with a fresh window and a full interval to wait.
    pub fn resume(&self, spec: &RolloutSpec, now: DateTime<Utc>) -> Result<(RolloutState, Decision), CoreError> {
        match *self {
            RolloutState::Paused { step_index, failures, .. } => {
                let share = spec.steps.get(step_index).copied().unwrap_or(0);
                let reason = format!("resumed at {share}%");
                Ok((progressing(spec, step_index, failures, now), Decision::Hold { reason }))
            }
            _ => Err(self.refuse("resume")),
        }
    }

    /// Promotes a progressing or paused rollout at once (a human's decision, no check needed).
    pub fn promote(&self, now: DateTime<Utc>) -> Result<(RolloutState, Decision), CoreError> {
        match self {
            RolloutState::Progressing { .. } | RolloutState::Paused { .. } => {
                Ok((RolloutState::Promoted { at: now }, Decision::Promote))
            }
            _ => Err(self.refuse("promote")),
        }
    }

    /// Aborts a progressing or paused rollout, returning the label to the stable version.
    pub fn abort(&self, reason: &str, now: DateTime<Utc>) -> Result<(RolloutState, Decision), CoreError> {
        match self {
            RolloutState::Progressing { .. } | RolloutState::Paused { .. } => {
                let reason = reason.to_owned();
                Ok((RolloutState::Aborted { reason: reason.clone(), at: now }, Decision::Abort { reason }))
            }
            _ => Err(self.refuse("abort")),
        }
    }

    /// The share (percent) the canary serves in this state.
    pub fn canary_percent(&self, spec: &RolloutSpec) -> u8 {
        match self {
            RolloutState::Progressing { step_index, .. } | RolloutState::Paused { step_index, .. } => {
                spec.steps.get(*step_index).copied().unwrap_or(0)
            }
            RolloutState::Promoted { .. } => 100,
            RolloutState::Aborted { .. } => 0,
        }
    }

    /// The start of the window the next check should measure (progressing only).
    pub fn window_start(&self) -> Option<DateTime<Utc>> {
        match self {
            RolloutState::Progressing { window_start, .. } => Some(*window_start),
            _ => None,
        }
    }

    /// When the next check is due (progressing only).
    pub fn next_check_at(&self) -> Option<DateTime<Utc>> {
        match self {
            RolloutState::Progressing { next_check_at, .. } => Some(*next_check_at),
            _ => None,
        }
    }

    /// Whether the rollout is over (promoted or aborted).
    pub fn is_finished(&self) -> bool {
        matches!(self, RolloutState::Promoted { .. } | RolloutState::Aborted { .. })
    }

    /// The state's name as stored and shown: `progressing`, `paused`, `promoted`, `aborted`.
    pub fn name(&self) -> &'static str {
        match self {
            RolloutState::Progressing { .. } => "progressing",
            RolloutState::Paused { .. } => "paused",
            RolloutState::Promoted { .. } => "promoted",
            RolloutState::Aborted { .. } => "aborted",
        }
    }

    fn refuse(&self, action: &'static str) -> CoreError {
        CoreError::RolloutTransition { action, state: self.name() }
    }
}

fn progressing(spec: &RolloutSpec, step_index: usize, failures: u32, now: DateTime<Utc>) -> RolloutState {
    RolloutState::Progressing {
        step_index,
        failures,
        inconclusive: 0,
        window_start: now,
        next_check_at: later(now, spec.interval),
    }
}

/// `now + interval`, saturating at the latest representable instant.
fn later(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(interval)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests;
