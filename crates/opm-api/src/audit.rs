//! The audit trail and its verification.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::ActorDto;

/// One audit entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryDto {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: ActorDto,
    /// e.g. `version.create`, `label.set`, `label.rollback`, `key.revoke`, `auth.denied`.
    pub action: String,
    pub project: String,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// `GET /api/v1/audit/verify`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerifyDto {
    /// True when every entry's hash and link checked out.
    pub ok: bool,
    /// Entries verified before the first break (all of them when ok).
    pub checked: u64,
    /// Hash of the last verified entry.
    pub head_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<ChainBreakDto>,
}

/// The first broken entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChainBreakDto {
    pub seq: i64,
    pub reason: String,
}
