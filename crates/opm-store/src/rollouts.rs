//! Canary rollouts as the store keeps them: what starting one and each transition carry, the
//! listing filter, and the checks they pass before anything is written.
//!
//! The decisions (which state follows which check) live in [`opm_core::rollout`]; the store only
//! keeps the record, moves the label in the same transaction, refuses a stale revision, and
//! allows at most one active (progressing or paused) rollout per label.

use opm_core::CoreError;
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::rollout::{CheckResult, RolloutSpec, RolloutState};

use crate::{StoreError, StoreResult};

/// A rollout to start: the label moves from `expected_target` to `target` in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRollout {
    pub project: ProjectName,
    pub prompt: PromptName,
    pub label: LabelName,
    pub stable_version: u32,
    pub canary_version: u32,
    pub spec: RolloutSpec,
    /// Progressing or paused (a finished rollout cannot be started).
    pub state: RolloutState,
    /// The label's target as the caller read it; a different stored target is a conflict.
    pub expected_target: LabelTarget,
    /// The label's target once started; it serves only the stable and canary versions.
    pub target: LabelTarget,
    pub reason: String,
}

/// A transition of a stored rollout (optimistic: fails with a conflict if `expected_revision` is
/// not the stored revision).
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutUpdate {
    pub project: ProjectName,
    pub prompt: PromptName,
    pub id: i64,
    pub expected_revision: i64,
    pub state: RolloutState,
    /// Replaces the stored last check when `Some`, and then increments `checks`.
    pub check: Option<CheckResult>,
    /// Moves the label too (in the same transaction) when `Some` and different from the current
    /// target; it serves only the stable and canary versions.
    pub label_target: Option<LabelTarget>,
    /// The audit action, e.g. [`opm_core::audit::action::ROLLOUT_ADVANCE`].
    pub action: &'static str,
    pub reason: String,
    /// Stored in the audit entry's `after` (the metrics that justified the decision).
    pub details: serde_json::Value,
}

/// Which rollouts to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutFilter {
    pub project: Option<ProjectName>,
    pub prompt: Option<PromptName>,
    pub label: Option<LabelName>,
    /// Only progressing or paused ones.
    pub active_only: bool,
    pub limit: u32,
}

/// Checks a new rollout before the transaction.
pub(crate) fn check_new_rollout(new: &NewRollout) -> StoreResult<()> {
    opm_core::label::check_movable(&new.label)?;
    new.spec.validate()?;
    opm_core::prompt::check_text("reason", &new.reason, true)?;
    if new.state.is_finished() {
        return Err(invalid(format!("a rollout starts progressing or paused, not {}", new.state.name())));
    }
    if new.stable_version == new.canary_version {
        return Err(invalid(format!("the canary version is the stable version ({})", new.stable_version)));
    }
    new.expected_target.validate()?;
    check_serves_arms(&new.target, new.stable_version, new.canary_version)
}

/// Checks a transition before the transaction.
pub(crate) fn check_update(update: &RolloutUpdate) -> StoreResult<()> {
    opm_core::prompt::check_text("reason", &update.reason, true)?;
    if update.action.trim().is_empty() {
        return Err(StoreError::InvalidInput("a rollout update needs an audit action".to_owned()));
    }
    if let Some(target) = &update.label_target {
        target.validate()?;
    }
    Ok(())
}

/// A rollout's label target may serve only its stable and canary versions.
pub(crate) fn check_serves_arms(target: &LabelTarget, stable: u32, canary: u32) -> StoreResult<()> {
    target.validate()?;
    match target.versions().into_iter().find(|version| *version != stable && *version != canary) {
        Some(version) => Err(invalid(format!(
            "the label target serves version {version}, which is neither the stable ({stable}) nor the canary \
             ({canary}) version"
        ))),
        None => Ok(()),
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::Domain(CoreError::InvalidRollout(message))
}
