//! Generation, feedback and statistics rows as both backends return them, and their conversion
//! to the public types. Counts come back as `i64` and are checked on the way to `u64`.

use crate::StoreResult;
use crate::generations::{Feedback, GenerationOutcome, GenerationRow, GroupStats, Percentiles};
use crate::rows::{corrupt, from_micros, parse_name};

#[derive(sqlx::FromRow)]
pub(crate) struct GenerationDbRow {
    id: String,
    project: String,
    started_at_us: i64,
    prompt: Option<String>,
    prompt_version: Option<i64>,
    label: Option<String>,
    arm: Option<String>,
    provider: String,
    model: String,
    status: String,
    error_kind: Option<String>,
    latency_ms: f64,
    ttft_ms: Option<f64>,
    upstream_ms: f64,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cached_tokens: Option<i64>,
    cost_usd: Option<f64>,
    key_id: Option<String>,
    attempts: i64,
    fallback_index: i64,
    streamed: bool,
    sticky: Option<bool>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct FeedbackRow {
    id: i64,
    generation_id: String,
    score: f64,
    comment: Option<String>,
    key_id: Option<String>,
    created_at_us: i64,
}

/// One group of [`crate::sql::generations`] statistics.
#[derive(sqlx::FromRow)]
pub(crate) struct StatsRow {
    grp: Option<String>,
    calls: i64,
    errors: i64,
    cancelled: i64,
    input_tokens: i64,
    output_tokens: i64,
    cached_tokens: i64,
    cost_usd: f64,
    calls_with_cost: i64,
    latency_p50: Option<f64>,
    latency_p95: Option<f64>,
    latency_p99: Option<f64>,
    ttft_p50: Option<f64>,
    ttft_p95: Option<f64>,
    ttft_p99: Option<f64>,
    latency_mean: Option<f64>,
    latency_variance: Option<f64>,
    unsticky: i64,
    feedback_count: i64,
    feedback_mean: Option<f64>,
    feedback_variance: Option<f64>,
}

impl GenerationDbRow {
    pub(crate) fn into_row(self) -> StoreResult<GenerationRow> {
        let tokens = |value: Option<i64>, column: &str| value.map(|value| to_u64(value, column)).transpose();
        Ok(GenerationRow {
            project: parse_name(&self.project, "generations.project")?,
            started_at: from_micros(self.started_at_us)?,
            prompt: self.prompt,
            prompt_version: self.prompt_version.map(|v| to_u32(v, "generations.prompt_version")).transpose()?,
            label: self.label,
            arm: self.arm,
            provider: self.provider,
            model: self.model,
            status: GenerationOutcome::parse(&self.status)
                .ok_or_else(|| corrupt("generations.status", &self.status))?,
            error_kind: self.error_kind,
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
            upstream_ms: self.upstream_ms,
            input_tokens: tokens(self.input_tokens, "generations.input_tokens")?,
            output_tokens: tokens(self.output_tokens, "generations.output_tokens")?,
            cached_tokens: tokens(self.cached_tokens, "generations.cached_tokens")?,
            cost_usd: self.cost_usd,
            key_id: self.key_id,
            attempts: to_u32(self.attempts, "generations.attempts")?,
            fallback_index: to_u32(self.fallback_index, "generations.fallback_index")?,
            streamed: self.streamed,
            sticky: self.sticky,
            id: self.id,
        })
    }
}

impl FeedbackRow {
    pub(crate) fn into_feedback(self) -> StoreResult<Feedback> {
        Ok(Feedback {
            id: self.id,
            generation_id: self.generation_id,
            score: self.score,
            comment: self.comment,
            key_id: self.key_id,
            created_at: from_micros(self.created_at_us)?,
        })
    }
}

impl StatsRow {
    pub(crate) fn into_stats(self) -> StoreResult<GroupStats> {
        let percentiles = |p50, p95, p99| match (p50, p95, p99) {
            (Some(p50), Some(p95), Some(p99)) => Some(Percentiles { p50, p95, p99 }),
            _ => None,
        };
        Ok(GroupStats {
            group: self.grp.filter(|group| !group.is_empty()).unwrap_or_else(|| GroupStats::NONE.to_owned()),
            calls: to_u64(self.calls, "calls")?,
            errors: to_u64(self.errors, "errors")?,
            cancelled: to_u64(self.cancelled, "cancelled")?,
            latency_ms: percentiles(self.latency_p50, self.latency_p95, self.latency_p99),
            ttft_ms: percentiles(self.ttft_p50, self.ttft_p95, self.ttft_p99),
            latency_mean_ms: self.latency_mean,
            latency_variance_ms2: self.latency_variance.map(|variance| variance.max(0.0)),
            input_tokens: to_u64(self.input_tokens, "input tokens")?,
            output_tokens: to_u64(self.output_tokens, "output tokens")?,
            cached_tokens: to_u64(self.cached_tokens, "cached tokens")?,
            cost_usd: self.cost_usd,
            calls_with_cost: to_u64(self.calls_with_cost, "calls with cost")?,
            feedback_count: to_u64(self.feedback_count, "feedback count")?,
            feedback_mean: self.feedback_mean,
            feedback_variance: self.feedback_variance.map(|variance| variance.max(0.0)),
            unsticky: to_u64(self.unsticky, "unsticky")?,
        })
    }
}

fn to_u64(value: i64, column: &str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| corrupt(column, &value.to_string()))
}

fn to_u32(value: i64, column: &str) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| corrupt(column, &value.to_string()))
}
