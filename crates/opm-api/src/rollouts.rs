//! Canary rollouts: start one, watch it, and act on it (pause, resume, promote, abort).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ActorDto;

mod detail;

pub use detail::{
    AlternativeDto, ArmMetricsDto, CheckResultDto, CheckSummaryDto, RolloutSpecDto, RolloutStateDto,
    SignificanceTestDto, ThresholdsDto, VerdictDto,
};

/// `POST /api/v1/prompts/{name}/rollouts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRolloutRequest {
    /// The label to move (default `production`); it must point at one version, the stable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The canary version.
    pub to: u32,
    /// Canary shares in percent, increasing and ending at 100 (default `[5, 25, 50, 100]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<u8>>,
    /// How long each step is measured before its check, e.g. `10m` (default `10m`; 1 s to 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_per_call: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_feedback: Option<f64>,
    /// Calls each arm needs in a window before a check can pass or fail (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
    /// Failed checks tolerated; one more aborts (default 0: the first failure aborts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<u32>,
    /// Consecutive inconclusive checks at one step before pausing for a human (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<u32>,
    pub reason: String,
}

/// `POST /api/v1/prompts/{name}/rollouts/{id}/{pause|resume|promote|abort}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutActionRequest {
    pub reason: String,
}

/// A rollout.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RolloutDto {
    pub id: i64,
    pub prompt: String,
    pub label: String,
    pub stable_version: u32,
    pub canary_version: u32,
    /// `progressing`, `paused`, `promoted` or `aborted`.
    pub state: String,
    /// The canary's current share in percent.
    pub canary_percent: u8,
    /// The current step (index into `steps`), while progressing or paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    pub steps: Vec<u8>,
    pub interval_ms: u64,
    /// The spec (thresholds, min samples, limits).
    pub spec: RolloutSpecDto,
    /// The state with what it carries (window start, next check, failures, or why it ended).
    pub state_detail: RolloutStateDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check_at: Option<DateTime<Utc>>,
    /// The newest check: verdict, reasons, both arms' metrics and the significance tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<CheckResultDto>,
    pub checks: u32,
    pub reason: String,
    pub created_by: ActorDto,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
