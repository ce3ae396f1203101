//! Labels: movable pointers from a name to a version, with a history of targets.
//!
//! A label's target is a tagged value (`{"type": "version", "version": 3}`) rather than a bare
//! number, so that weighted splits across versions can be added as another variant without changing
//! what stored targets mean.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::names::LabelName;
use crate::prompt::Actor;

/// Where a label points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LabelTarget {
    /// All traffic to one version.
    Version { version: u32 },
}

impl LabelTarget {
    /// The versions this target can serve.
    pub fn versions(&self) -> Vec<u32> {
        match self {
            LabelTarget::Version { version } => vec![*version],
        }
    }

    /// The version served when no stickiness key decides (the only one, for a plain target).
    pub fn primary_version(&self) -> u32 {
        match self {
            LabelTarget::Version { version } => *version,
        }
    }

    /// Checks the target is well formed.
    pub fn validate(&self) -> Result<(), CoreError> {
        match self {
            LabelTarget::Version { version: 0 } => Err(CoreError::InvalidTarget("versions start at 1".into())),
            LabelTarget::Version { .. } => Ok(()),
        }
    }
}

/// Rejects moving the automatic `latest` label.
pub fn check_movable(label: &LabelName) -> Result<(), CoreError> {
    if label.is_latest() {
        return Err(CoreError::ReservedLabel(label.to_string()));
    }
    Ok(())
}

/// A label and its current target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub name: LabelName,
    pub target: LabelTarget,
    pub updated_at: DateTime<Utc>,
    /// Who moved it last (`opm` for the automatic `latest`).
    pub updated_by: Actor,
    pub reason: String,
}

/// How a label came to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelChangeKind {
    Set,
    Rollback,
}

/// One entry in a label's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelChange {
    /// Increases with every change of this label.
    pub seq: i64,
    pub kind: LabelChangeKind,
    /// The target before the change (`None` when the label was created).
    pub from: Option<LabelTarget>,
    pub to: LabelTarget,
    pub reason: String,
    pub actor: Actor,
    pub at: DateTime<Utc>,
}

/// The target a rollback restores: the `from` of the newest change.
pub fn rollback_target(history_newest_first: &[LabelChange]) -> Option<&LabelTarget> {
    history_newest_first.first().and_then(|change| change.from.as_ref())
}
