//! Labels: movable pointers from a name to a version, with a history of targets.
//!
//! A label's target is a tagged value: `{"type": "version", "version": 3}` for one version, or
//! `{"type": "split", "arms": [{"version": 7, "weight": 90}, …], "group": …, "algorithm": …,
//! "algorithm_version": 1}` for a weighted sticky split ([`crate::split`]); the first arm is the
//! stable (base) one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::names::LabelName;
use crate::prompt::Actor;
use crate::split::Split;

/// Where a label points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LabelTarget {
    /// All traffic to one version.
    Version { version: u32 },
    /// Traffic divided between versions by weight, sticky per caller key.
    Split(Split),
}

impl LabelTarget {
    /// The versions this target can serve.
    pub fn versions(&self) -> Vec<u32> {
        match self {
            LabelTarget::Version { version } => vec![*version],
            LabelTarget::Split(split) => split.versions(),
        }
    }

    /// The stable version: the only one of a plain target, the first arm of a split.
    pub fn primary_version(&self) -> u32 {
        match self {
            LabelTarget::Version { version } => *version,
            LabelTarget::Split(split) => split.base_version(),
        }
    }

    /// The split, when the target is one.
    pub fn split(&self) -> Option<&Split> {
        match self {
            LabelTarget::Version { .. } => None,
            LabelTarget::Split(split) => Some(split),
        }
    }

    /// Checks the target is well formed.
    pub fn validate(&self) -> Result<(), CoreError> {
        match self {
            LabelTarget::Version { version: 0 } => Err(CoreError::InvalidTarget("versions start at 1".into())),
            LabelTarget::Version { .. } => Ok(()),
            // A `Split` is validated when it is built or deserialized.
            LabelTarget::Split(_) => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_targets_round_trip_as_tagged_values() {
        let split = Split::parse("7=90,8=10", "default/welcome/production").unwrap();
        let target = LabelTarget::Split(split);
        let json = serde_json::to_value(&target).unwrap();
        assert_eq!(json["type"], "split");
        assert_eq!(json["arms"][1]["version"], 8);
        assert_eq!(json["algorithm"], crate::bucketing::ALGORITHM);
        let back: LabelTarget = serde_json::from_value(json).unwrap();
        assert_eq!(back, target);
        assert_eq!(back.primary_version(), 7);
        assert_eq!(back.versions(), vec![7, 8]);
        let plain: LabelTarget = serde_json::from_str(r#"{"type":"version","version":3}"#).unwrap();
        assert_eq!(plain, LabelTarget::Version { version: 3 });
    }

    #[test]
    fn split_targets_reject_unknown_fields_and_bad_weights() {
        let bad = [
            r#"{"type":"split","arms":[{"version":7,"weight":90},{"version":8,"weight":20}],"group":"g","algorithm":"unleash-murmur3-x86_32","algorithm_version":1}"#,
            r#"{"type":"split","arms":[{"version":7,"weight":100}],"group":"g","algorithm":"unleash-murmur3-x86_32","algorithm_version":1,"extra":1}"#,
            r#"{"type":"split","arms":[{"version":7,"weight":100}],"group":"g","algorithm":"md5","algorithm_version":1}"#,
        ];
        for text in bad {
            assert!(serde_json::from_str::<LabelTarget>(text).is_err(), "{text}");
        }
    }
}
