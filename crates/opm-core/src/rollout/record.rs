//! A rollout as it is stored and served: which label moves from which version to which, its spec,
//! its state, and the last check's result.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CheckResult, RolloutSpec, RolloutState};
use crate::CoreError;
use crate::label::LabelTarget;
use crate::names::{LabelName, ProjectName, PromptName};
use crate::prompt::Actor;
use crate::split::{Split, stickiness_group};

/// The actor recorded on every change the controller makes.
pub const CONTROLLER_ACTOR: &str = "rollout-controller";

/// A canary rollout of one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Assigned by the store, increasing.
    pub id: i64,
    pub project: ProjectName,
    pub prompt: PromptName,
    pub label: LabelName,
    /// The version the label pointed at when the rollout started; an abort returns to it.
    pub stable_version: u32,
    pub canary_version: u32,
    pub spec: RolloutSpec,
    pub state: RolloutState,
    /// The newest check, with the metrics it measured.
    pub last_check: Option<CheckResult>,
    /// Checks made so far.
    pub checks: u32,
    /// Increases with every update; updates name the revision they read (optimistic locking).
    pub revision: i64,
    pub reason: String,
    pub created_by: Actor,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Rollout {
    /// Whether the controller still acts on it (progressing or paused).
    pub fn is_active(&self) -> bool {
        !self.state.is_finished()
    }

    /// The label target the state calls for: a canary split at the current share, the canary
    /// alone once promoted, the stable version alone once aborted.
    pub fn label_target(&self) -> Result<LabelTarget, CoreError> {
        label_target_for(self, self.state.canary_percent(&self.spec))
    }
}

/// The label target that routes `percent` of the traffic to the canary (0: stable alone; 100:
/// canary alone), hashed in the label's stickiness group so keys keep their arm as it grows.
pub fn label_target_for(rollout: &Rollout, percent: u8) -> Result<LabelTarget, CoreError> {
    canary_target(
        &rollout.project,
        &rollout.prompt,
        &rollout.label,
        rollout.stable_version,
        rollout.canary_version,
        percent,
    )
}

/// See [`label_target_for`].
pub fn canary_target(
    project: &ProjectName,
    prompt: &PromptName,
    label: &LabelName,
    stable: u32,
    canary: u32,
    percent: u8,
) -> Result<LabelTarget, CoreError> {
    Ok(match percent {
        0 => LabelTarget::Version { version: stable },
        100.. => LabelTarget::Version { version: canary },
        share => LabelTarget::Split(Split::canary(
            stable,
            canary,
            u32::from(share),
            stickiness_group(project, prompt, label),
        )?),
    })
}
