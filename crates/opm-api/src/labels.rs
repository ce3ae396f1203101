//! Labels, their history and rollback.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ActorDto;

/// Where a label points: `{"type": "version", "version": 3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LabelTargetDto {
    Version { version: u32 },
}

/// `PUT /api/v1/prompts/{name}/labels/{label}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLabelRequest {
    /// The version to point at.
    pub version: u32,
    /// Why the label moves; required, recorded in history and audit.
    pub reason: String,
}

/// `POST /api/v1/prompts/{name}/labels/{label}/rollback`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub reason: String,
}

/// A label.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LabelDto {
    pub name: String,
    pub target: LabelTargetDto,
    /// The version served (the target's only version).
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
