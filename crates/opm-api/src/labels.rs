//! Labels, their history and rollback.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ActorDto;

/// Where a label points: `{"type": "version", "version": 3}`, or a weighted split
/// `{"type": "split", "arms": [{"version": 7, "weight": 90}, {"version": 8, "weight": 10}], …}`
/// whose first arm is the stable one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LabelTargetDto {
    Version {
        version: u32,
    },
    Split {
        arms: Vec<SplitArmDto>,
        /// The stickiness group keys are hashed in (`project/prompt/label`).
        group: String,
        /// The bucketing algorithm (`unleash-murmur3-x86_32`) and its version.
        algorithm: String,
        algorithm_version: u32,
    },
}

/// One arm of a split: a version and its share in percent (the shares sum to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitArmDto {
    #[schema(minimum = 1)]
    pub version: u32,
    #[schema(maximum = 100)]
    pub weight: u32,
}

/// Which arm of a split served a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArmDto {
    /// The version served (the arm).
    pub version: u32,
    /// The arm's position in the split (0 is the stable arm).
    pub index: u32,
    /// The arm's share in percent.
    pub weight: u32,
    /// Whether a stickiness key chose the arm (`false`: chosen at random, no key given).
    pub sticky: bool,
    pub algorithm: String,
    pub algorithm_version: u32,
}

/// `PUT /api/v1/prompts/{name}/labels/{label}`: give `version` or `split`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLabelRequest {
    /// The version to point at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, nullable = false)]
    pub version: Option<u32>,
    /// A weighted split instead: arms with shares summing to 100, the stable arm first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Vec<SplitArmDto>>,
    /// Why the label moves; required, recorded in history and audit.
    #[schema(pattern = r"\S")]
    pub reason: String,
}

/// `POST /api/v1/prompts/{name}/labels/{label}/rollback`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// Why; required, not blank.
    #[schema(pattern = r"\S")]
    pub reason: String,
}

/// A label.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LabelDto {
    pub name: String,
    pub target: LabelTargetDto,
    /// The stable version (the target's only version, or a split's first arm).
    pub version: u32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: ActorDto,
    pub reason: String,
}

/// One change in a label's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LabelChangeDto {
    pub seq: i64,
    /// `set` or `rollback`.
    pub kind: String,
    pub from: Option<LabelTargetDto>,
    pub to: LabelTargetDto,
    pub reason: String,
    pub actor: ActorDto,
    pub at: DateTime<Utc>,
}
