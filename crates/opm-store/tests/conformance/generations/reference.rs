//! Builders for generation rows and a plain-Rust reference of `generation_stats`, which the
//! store's SQL is checked against (the reference itself is anchored by hand-computed cases).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use opm_core::names::ProjectName;
use opm_store::{GenerationOutcome, GenerationRow, GroupStats, Percentiles, StatsGroupBy, StatsQuery};

use crate::fixtures::default_project;

/// The start of the test window (to the microsecond, as stored).
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_750_000_000_123_456).unwrap()
}

pub fn at_ms(offset_ms: i64) -> DateTime<Utc> {
    t0() + Duration::milliseconds(offset_ms)
}

/// An `ok` call of `welcome` v1 in the default project, with unknown usage and no extras.
pub fn generation(id: &str) -> GenerationRow {
    GenerationRow {
        id: id.to_owned(),
        project: default_project(),
        started_at: t0(),
        prompt: Some("welcome".to_owned()),
        prompt_version: Some(1),
        label: None,
        arm: None,
        sticky: None,
        provider: "mock".to_owned(),
        model: "mock-small".to_owned(),
        status: GenerationOutcome::Ok,
        error_kind: None,
        latency_ms: 10.0,
        ttft_ms: None,
        upstream_ms: 9.0,
        input_tokens: None,
        output_tokens: None,
        cached_tokens: None,
        cost_usd: None,
        key_id: None,
        attempts: 1,
        fallback_index: 0,
        streamed: false,
    }
}

/// `count` rows `prefix-0`, `prefix-1`, … one millisecond apart from `t0`.
pub fn many(prefix: &str, count: usize) -> Vec<GenerationRow> {
    (0..count)
        .map(|index| GenerationRow {
            started_at: at_ms(i64::try_from(index).unwrap()),
            ..generation(&format!("{prefix}-{index}"))
        })
        .collect()
}

/// The statistics `query` should return over `rows`, with `feedback` as (generation id, score).
pub fn expected_stats(rows: &[GenerationRow], feedback: &[(&str, f64)], query: &StatsQuery) -> Vec<GroupStats> {
    let selected: Vec<&GenerationRow> = rows
        .iter()
        .filter(|row| {
            row.project == query.project
                && row.prompt.as_deref() == Some(query.prompt.as_str())
                && row.started_at >= query.since
                && row.started_at < query.until
                && (query.label.is_none() || row.label == query.label)
        })
        .collect();
    let mut groups: BTreeMap<String, Vec<&GenerationRow>> = BTreeMap::new();
    for row in &selected {
        groups.entry(group_of(row, query.by)).or_default().push(row);
    }
    let mut stats: Vec<GroupStats> = groups
        .into_iter()
        .map(|(group, rows)| {
            let ok: Vec<&&GenerationRow> = rows.iter().filter(|row| row.status == GenerationOutcome::Ok).collect();
            let scores: Vec<f64> = feedback
                .iter()
                .filter(|(id, _)| rows.iter().any(|row| row.id == *id))
                .map(|(_, score)| *score)
                .collect();
            let count = |outcome| u64::try_from(rows.iter().filter(|row| row.status == outcome).count()).unwrap();
            let sum = |field: fn(&GenerationRow) -> Option<u64>| rows.iter().filter_map(|row| field(row)).sum();
            GroupStats {
                group,
                calls: u64::try_from(rows.len()).unwrap(),
                errors: count(GenerationOutcome::Error),
                cancelled: count(GenerationOutcome::Cancelled),
                latency_ms: nearest_rank(ok.iter().map(|row| row.latency_ms).collect()),
                ttft_ms: nearest_rank(ok.iter().filter_map(|row| row.ttft_ms).collect()),
                latency_mean_ms: mean(&ok.iter().map(|row| row.latency_ms).collect::<Vec<_>>()),
                latency_variance_ms2: sample_variance(&ok.iter().map(|row| row.latency_ms).collect::<Vec<_>>()),
                input_tokens: sum(|row| row.input_tokens),
                output_tokens: sum(|row| row.output_tokens),
                cached_tokens: sum(|row| row.cached_tokens),
                cost_usd: rows.iter().filter_map(|row| row.cost_usd).sum(),
                calls_with_cost: u64::try_from(rows.iter().filter(|row| row.cost_usd.is_some()).count()).unwrap(),
                feedback_count: u64::try_from(scores.len()).unwrap(),
                feedback_mean: mean(&scores),
                feedback_variance: sample_variance(&scores),
                unsticky: u64::try_from(rows.iter().filter(|row| row.sticky == Some(false)).count()).unwrap(),
            }
        })
        .collect();
    // Versions newest first, names in order, calls without one last.
    stats.sort_by_key(|group| {
        let version = group.group.parse::<u64>().ok().map(std::cmp::Reverse);
        (group.group == GroupStats::NONE, version, group.group.clone())
    });
    stats
}

fn group_of(row: &GenerationRow, by: StatsGroupBy) -> String {
    let group = match by {
        StatsGroupBy::Version => row.prompt_version.map(|version| version.to_string()),
        StatsGroupBy::Label => row.label.clone(),
        StatsGroupBy::Model => Some(row.model.clone()),
        StatsGroupBy::Arm => row.arm.clone(),
    };
    group.unwrap_or_else(|| GroupStats::NONE.to_owned())
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The sample variance (n − 1 denominator), computed in two passes.
pub fn sample_variance(values: &[f64]) -> Option<f64> {
    let mean = mean(values)?;
    (values.len() > 1)
        .then(|| values.iter().map(|value| (value - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64)
}

/// The values at ranks `ceil(p·n)`, by integer arithmetic.
pub fn nearest_rank(mut values: Vec<f64>) -> Option<Percentiles> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |percent: usize| values[(percent * values.len()).div_ceil(100) - 1];
    Some(Percentiles { p50: at(50), p95: at(95), p99: at(99) })
}

/// Asserts two optional floats are equal to a relative 1e-9.
pub fn assert_close(actual: Option<f64>, expected: Option<f64>, what: &str) {
    match (actual, expected) {
        (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0), "{what}: {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "{what}"),
    }
}

/// Asserts two statistics are equal, floating-point sums, means and variances to a relative 1e-9.
pub fn assert_stats_eq(actual: &[GroupStats], expected: &[GroupStats]) {
    let names = |stats: &[GroupStats]| stats.iter().map(|group| group.group.clone()).collect::<Vec<_>>();
    assert_eq!(names(actual), names(expected), "groups");
    for (actual, expected) in actual.iter().zip(expected) {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        assert!(
            close(actual.cost_usd, expected.cost_usd),
            "{}: cost {} vs {}",
            actual.group,
            actual.cost_usd,
            expected.cost_usd
        );
        let group = &actual.group;
        assert_close(actual.feedback_mean, expected.feedback_mean, &format!("{group}: feedback mean"));
        assert_close(actual.feedback_variance, expected.feedback_variance, &format!("{group}: feedback variance"));
        assert_close(actual.latency_mean_ms, expected.latency_mean_ms, &format!("{group}: latency mean"));
        assert_close(actual.latency_variance_ms2, expected.latency_variance_ms2, &format!("{group}: latency variance"));
        let without_sums = |stats: &GroupStats| GroupStats {
            cost_usd: 0.0,
            feedback_mean: None,
            feedback_variance: None,
            latency_mean_ms: None,
            latency_variance_ms2: None,
            ..stats.clone()
        };
        assert_eq!(without_sums(actual), without_sums(expected));
    }
}

/// A query over the default project's `welcome` in `[t0, t0 + 1 h)`.
pub fn welcome_query(by: StatsGroupBy) -> StatsQuery {
    query_in(&default_project(), by)
}

pub fn query_in(project: &ProjectName, by: StatsGroupBy) -> StatsQuery {
    StatsQuery {
        project: project.clone(),
        prompt: crate::fixtures::prompt("welcome"),
        since: t0(),
        until: t0() + Duration::hours(1),
        label: None,
        by,
    }
}
