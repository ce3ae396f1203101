//! Change events: what `GET /api/v1/watch` streams as server-sent events and what webhooks post.
//!
//! Every event is an audit entry of a change that affects serving (a new version, a label move or
//! rollback, a rollout transition), so its `id` is the audit sequence number: increasing, stable,
//! and the `Last-Event-ID` a client resumes from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeEventDto {
    /// The audit sequence number (resume with `Last-Event-ID: <id>`).
    pub id: i64,
    /// The audit action, e.g. `version.publish`, `label.set`, `label.rollback`, `rollout.start`,
    /// `rollout.advance`, `rollout.promote`, `rollout.abort`.
    pub event: String,
    pub project: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Who made the change (a key's name, or `rollout-controller`).
    pub actor: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The audit entry's `after` value (the new label target, version or rollout state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}
