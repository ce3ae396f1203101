//! One rollout check: the canary and stable arms' metrics over the same window become a verdict
//! (passed, failed, inconclusive) and a summary to record in the audit entry.
//!
//! In order:
//! 1. Inconsistent metrics (more errors than calls, a negative or non-finite number) are
//!    inconclusive: nothing is decided on garbage.
//! 2. Each arm needs `min_samples` calls; fewer (no data included) is inconclusive.
//! 3. Absolute gates on the canary (error rate, p95 latency, cost per call, mean feedback); a gate
//!    whose metric is missing is inconclusive, never passed.
//! 4. Against the stable arm, one-sided at [`COMPARISON_ALPHA`]: a canary error rate significantly
//!    higher (two-proportion z-test) fails; with a feedback gate, a mean feedback significantly lower
//!    (Welch's t-test) fails. Mean latency is compared too but only reported: a new prompt may
//!    legitimately answer longer, and the p95 gate is the latency limit the user chose.
//!
//! Any failure makes the check failed (even if something else was missing); otherwise any gap makes
//! it inconclusive; otherwise it passed.

use serde::{Deserialize, Serialize};

use super::spec::{RolloutSpec, Thresholds};
use crate::stats::{Alternative, Proportion, SampleSummary, SignificanceTest, two_proportion_z_test, welch_t_test};

/// The level of the comparisons against the stable arm (one-sided, i.e. 99% confidence). Checks
/// repeat every interval, so a 5% level would abort a noticeable share of healthy canaries.
pub const COMPARISON_ALPHA: f64 = 0.01;

/// One arm's metrics over the check window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmMetrics {
    pub calls: u64,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_mean_ms: Option<f64>,
    /// Sample variance of the latency in ms² (for the Welch comparison of means).
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

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub verdict: Verdict,
    /// What the verdict was based on, for the audit entry.
    pub summary: CheckSummary,
}

/// Passed, failed (with every reason) or inconclusive (with every gap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed { reasons: Vec<String> },
    Inconclusive { reasons: Vec<String> },
}

/// The metrics and tests behind a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub canary: ArmMetrics,
    pub stable: ArmMetrics,
    pub canary_error_rate: Option<f64>,
    pub stable_error_rate: Option<f64>,
    pub min_samples: u64,
    pub thresholds: Thresholds,
    pub alpha: f64,
    /// Canary error rate greater than stable's (decisive).
    pub error_rate_test: Option<SignificanceTest>,
    /// Canary mean latency greater than stable's (reported only).
    pub latency_test: Option<SignificanceTest>,
    /// Canary mean feedback less than stable's (decisive with a feedback gate).
    pub feedback_test: Option<SignificanceTest>,
}

impl ArmMetrics {
    /// `errors / calls`, or `None` without calls.
    pub fn error_rate(&self) -> Option<f64> {
        Proportion { events: self.errors, trials: self.calls }.rate()
    }

    /// Why these numbers cannot be right, if they cannot.
    fn inconsistency(&self) -> Option<String> {
        if self.errors > self.calls {
            return Some(format!("{} errors in {} calls", self.errors, self.calls));
        }
        let fields = [
            ("latency_p95_ms", self.latency_p95_ms, true),
            ("latency_mean_ms", self.latency_mean_ms, true),
            ("latency_variance_ms2", self.latency_variance_ms2, true),
            ("cost_per_call_usd", self.cost_per_call_usd, true),
            ("feedback_mean", self.feedback_mean, false),
            ("feedback_variance", self.feedback_variance, true),
        ];
        fields.into_iter().find_map(|(name, value, non_negative)| match value {
            Some(value) if !value.is_finite() || (non_negative && value < 0.0) => Some(format!("{name} is {value}")),
            _ => None,
        })
    }

    fn latency_sample(&self) -> Option<SampleSummary> {
        Some(SampleSummary { n: self.calls, mean: self.latency_mean_ms?, variance: self.latency_variance_ms2? })
    }

    fn feedback_sample(&self) -> Option<SampleSummary> {
        Some(SampleSummary { n: self.feedback_count, mean: self.feedback_mean?, variance: self.feedback_variance? })
    }
}

/// Judges the canary against the spec's gates and the stable arm over the same window.
pub fn evaluate(spec: &RolloutSpec, canary: &ArmMetrics, stable: &ArmMetrics) -> CheckResult {
    let mut summary = CheckSummary {
        canary: canary.clone(),
        stable: stable.clone(),
        canary_error_rate: canary.error_rate(),
        stable_error_rate: stable.error_rate(),
        min_samples: spec.min_samples,
        thresholds: spec.thresholds.clone(),
        alpha: COMPARISON_ALPHA,
        error_rate_test: None,
        latency_test: None,
        feedback_test: None,
    };
    let mut failures = Vec::new();
    let mut gaps = Vec::new();
    for (arm, metrics) in [("canary", canary), ("stable", stable)] {
        if let Some(problem) = metrics.inconsistency() {
            gaps.push(format!("{arm} metrics are inconsistent ({problem})"));
        }
    }
    if !gaps.is_empty() {
        return CheckResult { verdict: Verdict::Inconclusive { reasons: gaps }, summary };
    }
    let needed = spec.min_samples.max(1);
    for (arm, metrics) in [("canary", canary), ("stable", stable)] {
        if metrics.calls < needed {
            gaps.push(format!("{arm} arm has {} calls in the window; {needed} needed", metrics.calls));
        }
    }
    if canary.calls >= needed {
        check_thresholds(&spec.thresholds, canary, &mut failures, &mut gaps);
    }
    if canary.calls >= needed && stable.calls >= needed {
        compare_with_stable(spec, canary, stable, &mut summary, &mut failures);
    }
    let verdict = if !failures.is_empty() {
        Verdict::Failed { reasons: failures }
    } else if !gaps.is_empty() {
        Verdict::Inconclusive { reasons: gaps }
    } else {
        Verdict::Passed
    };
    CheckResult { verdict, summary }
}

fn check_thresholds(thresholds: &Thresholds, canary: &ArmMetrics, failures: &mut Vec<String>, gaps: &mut Vec<String>) {
    if let (Some(limit), Some(rate)) = (thresholds.max_error_rate, canary.error_rate())
        && rate > limit
    {
        failures.push(format!(
            "canary error rate {} ({} of {} calls) is above the {} limit",
            percent(rate),
            canary.errors,
            canary.calls,
            percent(limit)
        ));
    }
    let mut upper = |name: &str, limit: Option<f64>, value: Option<f64>, unit: &str| match (limit, value) {
        (Some(limit), Some(value)) if value > limit => {
            failures.push(format!("canary {name} {value}{unit} is above the {limit}{unit} limit"));
        }
        (Some(_), None) => gaps.push(format!("no {name} for the canary arm")),
        _ => {}
    };
    upper("p95 latency", thresholds.max_p95_latency_ms, canary.latency_p95_ms, " ms");
    upper("cost per call", thresholds.max_cost_per_call_usd, canary.cost_per_call_usd, " USD");
    if let Some(minimum) = thresholds.min_feedback {
        match canary.feedback_mean.filter(|_| canary.feedback_count > 0) {
            Some(mean) if mean < minimum => failures.push(format!(
                "canary mean feedback {mean} ({} scores) is below the {minimum} minimum",
                canary.feedback_count
            )),
            Some(_) => {}
            None => gaps.push("no feedback scores for the canary arm".into()),
        }
    }
}

fn compare_with_stable(
    spec: &RolloutSpec,
    canary: &ArmMetrics,
    stable: &ArmMetrics,
    summary: &mut CheckSummary,
    failures: &mut Vec<String>,
) {
    let errors = |arm: &ArmMetrics| Proportion { events: arm.errors, trials: arm.calls };
    summary.error_rate_test =
        two_proportion_z_test(errors(canary), errors(stable), Alternative::Greater, COMPARISON_ALPHA);
    if let (Some(test), Some(canary_rate), Some(stable_rate)) =
        (&summary.error_rate_test, summary.canary_error_rate, summary.stable_error_rate)
        && test.significant
    {
        failures.push(format!(
            "canary error rate {} is significantly higher than stable {} (one-sided two-proportion z-test: z = {:.2}, p = {:.2e} < {COMPARISON_ALPHA})",
            percent(canary_rate),
            percent(stable_rate),
            test.statistic,
            test.p_value
        ));
    }
    if let (Some(a), Some(b)) = (canary.latency_sample(), stable.latency_sample()) {
        summary.latency_test = welch_t_test(&a, &b, Alternative::Greater, COMPARISON_ALPHA);
    }
    if spec.thresholds.min_feedback.is_some()
        && let (Some(a), Some(b)) = (canary.feedback_sample(), stable.feedback_sample())
    {
        summary.feedback_test = welch_t_test(&a, &b, Alternative::Less, COMPARISON_ALPHA);
        if let Some(test) = summary.feedback_test.as_ref().filter(|test| test.significant) {
            failures.push(format!(
                "canary mean feedback {:.4} is significantly lower than stable {:.4} (one-sided Welch t-test: t = {:.2}, p = {:.2e} < {COMPARISON_ALPHA})",
                a.mean, b.mean, test.statistic, test.p_value
            ));
        }
    }
}

/// A fraction as a percentage with two decimals (`0.0412` → `4.12%`).
fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

#[cfg(test)]
mod tests;
