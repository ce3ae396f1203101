//! The typed parts of a rollout on the wire: its spec, its state, and its last check (verdict,
//! both arms' metrics and the significance tests). The JSON is the shape the server stored and
//! sent as untyped objects before these types existed, field for field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A rollout's plan and gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutSpecDto {
    /// Canary shares in percent, increasing, ending at 100.
    pub steps: Vec<u8>,
    /// How long each check window lasts.
    pub interval_ms: u64,
    #[serde(default)]
    pub thresholds: ThresholdsDto,
    /// Calls each arm needs in a window before a check can pass or fail.
    pub min_samples: u64,
    /// Failed checks tolerated; one more aborts.
    pub failure_limit: u32,
    /// Consecutive inconclusive checks at one step before pausing (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<u32>,
}

/// Absolute gates on the canary arm; an absent gate is off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ThresholdsDto {
    /// Highest error rate, a fraction (0.02 is 2%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_per_call_usd: Option<f64>,
    /// Lowest mean feedback score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_feedback: Option<f64>,
}

/// Where a rollout is, with what the state carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RolloutStateDto {
    /// The canary serves `steps[step_index]` percent and is being checked.
    Progressing {
        step_index: usize,
        /// Failed checks so far.
        failures: u32,
        /// Consecutive inconclusive checks at this step.
        inconclusive: u32,
        /// The start of the window the next check measures.
        window_start: DateTime<Utc>,
        next_check_at: DateTime<Utc>,
    },
    /// Held at `steps[step_index]` percent until a human acts.
    Paused { step_index: usize, failures: u32, reason: String, since: DateTime<Utc> },
    /// The label points at the canary version alone.
    Promoted { at: DateTime<Utc> },
    /// The label was returned to the stable version.
    Aborted { reason: String, at: DateTime<Utc> },
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckResultDto {
    pub verdict: VerdictDto,
    pub summary: CheckSummaryDto,
}

/// Passed, failed (with every reason) or inconclusive (with every gap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum VerdictDto {
    Passed,
    Failed { reasons: Vec<String> },
    Inconclusive { reasons: Vec<String> },
}

/// The metrics and tests behind a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckSummaryDto {
    pub canary: ArmMetricsDto,
    pub stable: ArmMetricsDto,
    pub canary_error_rate: Option<f64>,
    pub stable_error_rate: Option<f64>,
    pub min_samples: u64,
    pub thresholds: ThresholdsDto,
    pub alpha: f64,
    /// Canary error rate greater than stable's (one-sided z-test; decisive).
    pub error_rate_test: Option<SignificanceTestDto>,
    /// Canary mean latency greater than stable's (Welch; reported only).
    pub latency_test: Option<SignificanceTestDto>,
    /// Canary mean feedback less than stable's (Welch; decisive with a feedback gate).
    pub feedback_test: Option<SignificanceTestDto>,
}

/// One arm's metrics over a check window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArmMetricsDto {
    pub calls: u64,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_mean_ms: Option<f64>,
    /// Sample variance of the latency in ms².
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_variance_ms2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_call_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_variance: Option<f64>,
    #[serde(default)]
    pub feedback_count: u64,
}

impl ArmMetricsDto {
    /// `errors / calls`, or `None` without calls.
    pub fn error_rate(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.errors as f64 / self.calls as f64)
    }
}

/// The outcome of a significance test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SignificanceTestDto {
    /// z for proportions, Welch's t for means.
    pub statistic: f64,
    pub p_value: f64,
    pub alpha: f64,
    pub alternative: AlternativeDto,
    /// `p_value < alpha`.
    pub significant: bool,
    /// Welch–Satterthwaite degrees of freedom (t-test only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degrees_of_freedom: Option<f64>,
}

/// The alternative hypothesis about canary − stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlternativeDto {
    TwoSided,
    Greater,
    Less,
}
