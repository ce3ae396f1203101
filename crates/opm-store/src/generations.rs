//! Stored generations (one row per gateway call), the feedback scored on them and the statistics
//! computed over them: the types [`crate::Store`] speaks, and the checks rows pass before they are
//! written.
//!
//! Generations are telemetry, not audited changes: they are inserted in batches without audit
//! entries or change events, and deleted by retention. Unknown token counts and costs stay `None`
//! (never 0) all the way to the database and back.

use chrono::{DateTime, NaiveDate, Utc};
use opm_core::names::{ProjectName, PromptName};

use crate::{StoreError, StoreResult};

/// The longest feedback comment, in characters.
pub const MAX_FEEDBACK_COMMENT_CHARS: usize = 4096;
/// The longest generation id, in bytes (a UUID is 36).
pub const MAX_GENERATION_ID_BYTES: usize = 128;

/// One gateway call.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRow {
    /// A UUID v7 as text; the primary key.
    pub id: String,
    pub project: ProjectName,
    pub started_at: DateTime<Utc>,
    pub prompt: Option<String>,
    pub prompt_version: Option<u32>,
    pub label: Option<String>,
    /// The rollout or split arm that served the call.
    pub arm: Option<String>,
    /// Whether the arm was assigned by the caller's stickiness key (`false`: the call had none and
    /// was assigned at random); `None` when the call did not go through a split.
    pub sticky: Option<bool>,
    pub provider: String,
    pub model: String,
    pub status: GenerationOutcome,
    pub error_kind: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub upstream_ms: f64,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub key_id: Option<String>,
    pub attempts: u32,
    pub fallback_index: u32,
    pub streamed: bool,
}

/// How a generation ended, stored as `ok`, `error` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenerationOutcome {
    Ok,
    Error,
    /// The caller went away before the end.
    Cancelled,
}

/// Gateway spend of one project and key on one UTC day: what budgets are checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendRow {
    pub project: String,
    /// The key that made the calls; `None` for calls without one.
    pub key_id: Option<String>,
    pub day: NaiveDate,
    /// The sum of the calls' known costs, in US dollars.
    pub cost_usd: f64,
    pub calls: u64,
}

/// Days since 1970-01-01 (UTC) of `at`, as `spend_daily.day` stores them.
pub(crate) fn day_number(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros().div_euclid(86_400_000_000)
}

/// The date of a stored day number.
pub(crate) fn day_of(number: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp(number.checked_mul(86_400)?, 0).map(|at| at.date_naive())
}

/// The spend a batch of new rows adds, one entry per project, key and day.
pub(crate) fn spend_of<'a>(rows: impl Iterator<Item = &'a GenerationRow>) -> Vec<(String, String, i64, f64, i64)> {
    let mut sums: std::collections::BTreeMap<(String, String, i64), (f64, i64)> = std::collections::BTreeMap::new();
    for row in rows {
        let key = (row.project.to_string(), row.key_id.clone().unwrap_or_default(), day_number(row.started_at));
        let entry = sums.entry(key).or_default();
        entry.0 += row.cost_usd.unwrap_or(0.0);
        entry.1 += 1;
    }
    sums.into_iter().map(|((project, key, day), (cost, calls))| (project, key, day, cost, calls)).collect()
}

/// Feedback to record on a generation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeedback {
    pub project: ProjectName,
    pub generation_id: String,
    /// Any finite number; its scale is the caller's convention.
    pub score: f64,
    /// At most [`MAX_FEEDBACK_COMMENT_CHARS`] characters.
    pub comment: Option<String>,
    /// The id of the API key that gave the feedback.
    pub key_id: Option<String>,
    /// When it was given, by the caller's clock (stored as its `created_at`).
    pub at: DateTime<Utc>,
}

/// Stored feedback. A generation may have several.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub id: i64,
    pub generation_id: String,
    pub score: f64,
    pub comment: Option<String>,
    pub key_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What statistics are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatsGroupBy {
    Version,
    Label,
    Model,
    /// The rollout or split arm ([`GenerationRow::arm`]).
    Arm,
}

/// Statistics of one prompt's generations started in `[since, until)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsQuery {
    pub project: ProjectName,
    pub prompt: PromptName,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Only generations served through this label.
    pub label: Option<String>,
    pub by: StatsGroupBy,
}

/// Nearest-rank percentiles: the value at rank `ceil(p·n)` in ascending order, so each one is a
/// value that was actually observed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Statistics of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStats {
    /// The version number, label name or model; [`GroupStats::NONE`] for calls without one.
    pub group: String,
    pub calls: u64,
    pub errors: u64,
    pub cancelled: u64,
    /// Over calls that ended `ok`; `None` when there are none.
    pub latency_ms: Option<Percentiles>,
    /// Over calls that ended `ok` and have a time to first token; `None` when there are none.
    pub ttft_ms: Option<Percentiles>,
    /// The mean latency of calls that ended `ok`; `None` when there are none.
    pub latency_mean_ms: Option<f64>,
    /// The sample variance (n − 1 denominator) of the latency of calls that ended `ok`; `None`
    /// with fewer than two.
    pub latency_variance_ms2: Option<f64>,
    /// Sums of the known counts (calls with unknown usage add nothing).
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    /// The sum of the known costs, over `calls_with_cost` calls.
    pub cost_usd: f64,
    pub calls_with_cost: u64,
    pub feedback_count: u64,
    /// The mean of every feedback score on the group's generations.
    pub feedback_mean: Option<f64>,
    /// The sample variance (n − 1 denominator) of those scores; `None` with fewer than two.
    pub feedback_variance: Option<f64>,
    /// Calls whose split arm was not assigned by a stickiness key (`sticky = false`).
    pub unsticky: u64,
}

impl GenerationOutcome {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationOutcome::Ok => "ok",
            GenerationOutcome::Error => "error",
            GenerationOutcome::Cancelled => "cancelled",
        }
    }

    /// The outcome a stored form names.
    pub fn parse(value: &str) -> Option<GenerationOutcome> {
        match value {
            "ok" => Some(GenerationOutcome::Ok),
            "error" => Some(GenerationOutcome::Error),
            "cancelled" => Some(GenerationOutcome::Cancelled),
            _ => None,
        }
    }
}

impl GenerationRow {
    /// The checks [`crate::Store::insert_generations`] runs on every row before writing a batch
    /// (an id of 1 to [`MAX_GENERATION_ID_BYTES`] bytes, finite non-negative times and cost, token
    /// counts that fit `i64`, no NUL characters), so a writer can set aside a bad row instead of
    /// losing its whole batch.
    pub fn check(&self) -> StoreResult<()> {
        check_row(self)
    }
}

impl GroupStats {
    /// The group of calls without a version, label, model or arm.
    pub const NONE: &'static str = "(none)";
}

/// Checks a row before it is written, so a batch fails as a whole before touching the database
/// and both backends accept the same rows.
pub(crate) fn check_row(row: &GenerationRow) -> StoreResult<()> {
    let invalid = |what: String| StoreError::InvalidInput(format!("generation `{}`: {what}", row.id));
    if row.id.is_empty() || row.id.len() > MAX_GENERATION_ID_BYTES {
        return Err(StoreError::InvalidInput(format!(
            "a generation id must be 1 to {MAX_GENERATION_ID_BYTES} bytes, got {}",
            row.id.len()
        )));
    }
    let durations =
        [("latency_ms", Some(row.latency_ms)), ("ttft_ms", row.ttft_ms), ("upstream_ms", Some(row.upstream_ms))];
    for (field, value) in durations.into_iter().chain([("cost_usd", row.cost_usd)]) {
        if let Some(value) = value.filter(|value| !value.is_finite() || *value < 0.0) {
            return Err(invalid(format!("`{field}` must be a finite number >= 0, got {value}")));
        }
    }
    for (field, value) in
        [("input_tokens", row.input_tokens), ("output_tokens", row.output_tokens), ("cached_tokens", row.cached_tokens)]
    {
        if value.is_some_and(|value| i64::try_from(value).is_err()) {
            return Err(invalid(format!("`{field}` is too large to store")));
        }
    }
    let texts = [
        Some(row.id.as_str()),
        row.prompt.as_deref(),
        row.label.as_deref(),
        row.arm.as_deref(),
        Some(row.provider.as_str()),
        Some(row.model.as_str()),
        row.error_kind.as_deref(),
        row.key_id.as_deref(),
    ];
    if texts.into_iter().flatten().any(|text| text.contains('\0')) {
        return Err(invalid("text must not contain NUL characters".to_owned()));
    }
    Ok(())
}

/// Checks feedback before it is written.
pub(crate) fn check_feedback(new: &NewFeedback) -> StoreResult<()> {
    if !new.score.is_finite() {
        return Err(StoreError::InvalidInput(format!("a feedback score must be a finite number, got {}", new.score)));
    }
    if let Some(comment) = &new.comment {
        let chars = comment.chars().count();
        if chars > MAX_FEEDBACK_COMMENT_CHARS {
            return Err(StoreError::InvalidInput(format!(
                "a feedback comment is at most {MAX_FEEDBACK_COMMENT_CHARS} characters, got {chars}"
            )));
        }
    }
    let texts = [Some(new.generation_id.as_str()), new.comment.as_deref(), new.key_id.as_deref()];
    if texts.into_iter().flatten().any(|text| text.contains('\0')) {
        return Err(StoreError::InvalidInput("feedback text must not contain NUL characters".to_owned()));
    }
    Ok(())
}

/// Checks a statistics window.
pub(crate) fn check_stats_query(query: &StatsQuery) -> StoreResult<()> {
    if query.label.as_deref().is_some_and(|label| label.contains('\0')) {
        return Err(StoreError::InvalidInput("a label filter must not contain NUL characters".to_owned()));
    }
    if query.until < query.since {
        return Err(StoreError::InvalidInput(format!(
            "the statistics window ends ({}) before it starts ({})",
            query.until.to_rfc3339(),
            query.since.to_rfc3339()
        )));
    }
    Ok(())
}

/// Orders groups for display: versions newest first, labels, models and arms by name, the calls
/// without one last.
pub(crate) fn sort_groups(groups: &mut [GroupStats], by: StatsGroupBy) {
    groups.sort_by(|a, b| {
        let none = (a.group == GroupStats::NONE).cmp(&(b.group == GroupStats::NONE));
        let by_key = match by {
            StatsGroupBy::Version => {
                let number = |group: &GroupStats| group.group.parse::<u64>().ok();
                number(b).cmp(&number(a))
            }
            StatsGroupBy::Label | StatsGroupBy::Model | StatsGroupBy::Arm => a.group.cmp(&b.group),
        };
        none.then(by_key).then_with(|| a.group.cmp(&b.group))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> GroupStats {
        GroupStats {
            group: name.to_owned(),
            calls: 0,
            errors: 0,
            cancelled: 0,
            latency_ms: None,
            ttft_ms: None,
            input_tokens: 0,
            output_tokens: 0,
            cached_tokens: 0,
            cost_usd: 0.0,
            calls_with_cost: 0,
            feedback_count: 0,
            feedback_mean: None,
            feedback_variance: None,
            unsticky: 0,
            latency_mean_ms: None,
            latency_variance_ms2: None,
        }
    }

    fn check_order(by: StatsGroupBy, input: &[&str], expected: &[&str]) {
        let mut groups: Vec<_> = input.iter().map(|name| group(name)).collect();
        sort_groups(&mut groups, by);
        let names: Vec<_> = groups.iter().map(|group| group.group.as_str()).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn groups_are_ordered_for_display() {
        check_order(StatsGroupBy::Version, &["2", "(none)", "10", "1"], &["10", "2", "1", "(none)"]);
        check_order(StatsGroupBy::Label, &["staging", "(none)", "production"], &["production", "staging", "(none)"]);
        check_order(StatsGroupBy::Model, &["gpt-b", "gpt-a"], &["gpt-a", "gpt-b"]);
        check_order(StatsGroupBy::Arm, &["(none)", "stable", "canary"], &["canary", "stable", "(none)"]);
    }

    #[test]
    fn outcomes_round_trip() {
        for outcome in [GenerationOutcome::Ok, GenerationOutcome::Error, GenerationOutcome::Cancelled] {
            assert_eq!(GenerationOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(GenerationOutcome::parse("OK"), None);
    }
}
