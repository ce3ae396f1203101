//! Stored generations, feedback and per-prompt statistics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/feedback`: a user's or evaluator's score for one generation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The `x-opm-generation-id` of the call being scored.
    pub generation_id: String,
    /// Any finite number; by convention 0 (bad) to 1 (good).
    pub score: f64,
    /// At most 4096 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Feedback attached to a generation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackDto {
    pub id: String,
    pub generation_id: String,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The API key that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One stored model call.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GenerationDto {
    pub id: String,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    pub provider: String,
    pub model: String,
    /// `ok`, `error` or `cancelled`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    pub latency_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    pub upstream_ms: f64,
    /// Absent when the provider did not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub attempts: u32,
    pub fallback_index: u32,
    pub streamed: bool,
    pub feedback: Vec<FeedbackDto>,
}

/// `GET /api/v1/prompts/{name}/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatsDto {
    pub prompt: String,
    /// The window as asked, e.g. `1h`.
    pub window: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// `version`, `label`, `model` or `arm`.
    pub by: String,
    /// Only calls served through this label, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub groups: Vec<GroupStatsDto>,
    /// The group the others are compared with (by version or arm): the stable arm of the label's
    /// split when there is one, otherwise the group with the most calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Each other group against the baseline, with two-sided significance tests (α = 0.05).
    #[serde(default)]
    pub comparisons: Vec<ComparisonDto>,
}

/// One group against the baseline: is the difference more than chance?
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComparisonDto {
    pub group: String,
    pub baseline: String,
    /// Error rate (two-proportion z-test); `difference` is group − baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<TestDto>,
    /// Mean latency of successful calls in ms (Welch's t-test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_mean_ms: Option<TestDto>,
    /// Mean feedback score (Welch's t-test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_mean: Option<TestDto>,
}

/// A significance test's answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TestDto {
    /// group − baseline.
    pub difference: f64,
    pub statistic: f64,
    pub p_value: f64,
    pub alpha: f64,
    /// `p_value < alpha`: the difference is unlikely to be chance.
    pub significant: bool,
}

/// Statistics of one group (one version, label or model).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupStatsDto {
    /// The version number, label name or model.
    pub group: String,
    pub calls: u64,
    pub errors: u64,
    pub cancelled: u64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// Latency of successful calls (nearest-rank percentiles); absent without any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<PercentilesDto>,
    /// Time to first token of successful streamed calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<PercentilesDto>,
    pub tokens: TokensDto,
    pub cost: CostDto,
    pub feedback: FeedbackSummaryDto,
    /// Calls routed through a split without a stickiness key (random arm).
    #[serde(default)]
    pub unsticky_calls: u64,
}

/// p50, p95 and p99.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PercentilesDto {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Token sums over calls whose usage is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokensDto {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
}

/// Spend in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostDto {
    pub total_usd: f64,
    /// Mean over the calls that have a price; absent without any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_call_usd: Option<f64>,
    pub priced_calls: u64,
}

/// Feedback scores of the group's generations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeedbackSummaryDto {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_score: Option<f64>,
}

/// `GET /api/v1/prompts/{name}/stats/series`: the window cut into equal buckets, oldest first,
/// each with the statistics of its calls, for charts over time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatsSeriesDto {
    pub prompt: String,
    pub window: String,
    /// `version`, `label`, `model` or `arm`.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub buckets: Vec<StatsBucketDto>,
}

/// One time bucket of a series.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatsBucketDto {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub groups: Vec<GroupStatsDto>,
}
