//! Rollouts to the wire: the record, its spec, its state and its last check, field by field into
//! the typed DTOs of `opm_api::rollouts` (the JSON is the stored shape).

use opm_api::rollouts::{
    AlternativeDto, ArmMetricsDto, CheckResultDto, CheckSummaryDto, RolloutDto, RolloutSpecDto, RolloutStateDto,
    SignificanceTestDto, ThresholdsDto, VerdictDto,
};
use opm_core::rollout::{ArmMetrics, CheckResult, Rollout, RolloutSpec, RolloutState, Thresholds, Verdict};
use opm_core::stats::{Alternative, SignificanceTest};

use super::actor;

pub fn rollout(rollout: &Rollout) -> RolloutDto {
    let step = match &rollout.state {
        RolloutState::Progressing { step_index, .. } | RolloutState::Paused { step_index, .. } => Some(*step_index),
        _ => None,
    };
    RolloutDto {
        id: rollout.id,
        prompt: rollout.prompt.to_string(),
        label: rollout.label.to_string(),
        stable_version: rollout.stable_version,
        canary_version: rollout.canary_version,
        state: rollout.state.name().to_owned(),
        canary_percent: rollout.state.canary_percent(&rollout.spec),
        step,
        steps: rollout.spec.steps.clone(),
        interval_ms: interval_ms(&rollout.spec),
        spec: spec(&rollout.spec),
        state_detail: state(&rollout.state),
        next_check_at: rollout.state.next_check_at(),
        last_check: rollout.last_check.as_ref().map(check),
        checks: rollout.checks,
        reason: rollout.reason.clone(),
        created_by: actor(&rollout.created_by),
        created_at: rollout.created_at,
        updated_at: rollout.updated_at,
    }
}

fn interval_ms(spec: &RolloutSpec) -> u64 {
    u64::try_from(spec.interval.as_millis()).unwrap_or(u64::MAX)
}

pub fn spec(spec: &RolloutSpec) -> RolloutSpecDto {
    RolloutSpecDto {
        steps: spec.steps.clone(),
        interval_ms: interval_ms(spec),
        thresholds: thresholds(&spec.thresholds),
        min_samples: spec.min_samples,
        failure_limit: spec.failure_limit,
        inconclusive_limit: spec.inconclusive_limit,
    }
}

fn thresholds(thresholds: &Thresholds) -> ThresholdsDto {
    ThresholdsDto {
        max_error_rate: thresholds.max_error_rate,
        max_p95_latency_ms: thresholds.max_p95_latency_ms,
        max_cost_per_call_usd: thresholds.max_cost_per_call_usd,
        min_feedback: thresholds.min_feedback,
    }
}

fn state(state: &RolloutState) -> RolloutStateDto {
    match state.clone() {
        RolloutState::Progressing { step_index, failures, inconclusive, window_start, next_check_at } => {
            RolloutStateDto::Progressing { step_index, failures, inconclusive, window_start, next_check_at }
        }
        RolloutState::Paused { step_index, failures, reason, since } => {
            RolloutStateDto::Paused { step_index, failures, reason, since }
        }
        RolloutState::Promoted { at } => RolloutStateDto::Promoted { at },
        RolloutState::Aborted { reason, at } => RolloutStateDto::Aborted { reason, at },
    }
}

fn check(check: &CheckResult) -> CheckResultDto {
    let summary = &check.summary;
    CheckResultDto {
        verdict: match &check.verdict {
            Verdict::Passed => VerdictDto::Passed,
            Verdict::Failed { reasons } => VerdictDto::Failed { reasons: reasons.clone() },
            Verdict::Inconclusive { reasons } => VerdictDto::Inconclusive { reasons: reasons.clone() },
        },
        summary: CheckSummaryDto {
            canary: arm(&summary.canary),
            stable: arm(&summary.stable),
            canary_error_rate: summary.canary_error_rate,
            stable_error_rate: summary.stable_error_rate,
            min_samples: summary.min_samples,
            thresholds: thresholds(&summary.thresholds),
            alpha: summary.alpha,
            error_rate_test: summary.error_rate_test.as_ref().map(test),
            latency_test: summary.latency_test.as_ref().map(test),
            feedback_test: summary.feedback_test.as_ref().map(test),
        },
    }
}

fn arm(metrics: &ArmMetrics) -> ArmMetricsDto {
    ArmMetricsDto {
        calls: metrics.calls,
        errors: metrics.errors,
        latency_p95_ms: metrics.latency_p95_ms,
        latency_mean_ms: metrics.latency_mean_ms,
        latency_variance_ms2: metrics.latency_variance_ms2,
        cost_per_call_usd: metrics.cost_per_call_usd,
        feedback_mean: metrics.feedback_mean,
        feedback_variance: metrics.feedback_variance,
        feedback_count: metrics.feedback_count,
    }
}

fn test(test: &SignificanceTest) -> SignificanceTestDto {
    SignificanceTestDto {
        statistic: test.statistic,
        p_value: test.p_value,
        alpha: test.alpha,
        alternative: match test.alternative {
            Alternative::TwoSided => AlternativeDto::TwoSided,
            Alternative::Greater => AlternativeDto::Greater,
            Alternative::Less => AlternativeDto::Less,
        },
        significant: test.significant,
        degrees_of_freedom: test.degrees_of_freedom,
    }
}

#[cfg(test)]
mod tests {
    //! The typed DTOs serialize exactly as the domain types did when they were sent as untyped
    //! JSON (the wire did not change).
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Duration;

    use chrono::{TimeZone, Utc};
    use opm_core::rollout::{CheckSummary, RolloutSpec, RolloutState, Thresholds, Verdict};
    use opm_core::stats::{Alternative, SignificanceTest};

    use super::*;

    fn same_json<A: serde::Serialize, B: serde::Serialize>(domain: &A, wire: &B) {
        assert_eq!(serde_json::to_value(domain).unwrap(), serde_json::to_value(wire).unwrap());
    }

    #[test]
    fn spec_state_and_check_keep_the_stored_json() {
        let full = RolloutSpec {
            steps: vec![5, 50, 100],
            interval: Duration::from_secs(600),
            thresholds: Thresholds {
                max_error_rate: Some(0.02),
                max_p95_latency_ms: Some(3000.0),
                max_cost_per_call_usd: Some(0.01),
                min_feedback: Some(0.5),
            },
            min_samples: 200,
            failure_limit: 1,
            inconclusive_limit: Some(3),
        };
        let bare = RolloutSpec { thresholds: Thresholds::default(), inconclusive_limit: None, ..full.clone() };
        for one in [&full, &bare] {
            same_json(one, &spec(one));
        }
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 13, 40, 0).unwrap();
        let states = [
            RolloutState::Progressing {
                step_index: 1,
                failures: 0,
                inconclusive: 2,
                window_start: at,
                next_check_at: at,
            },
            RolloutState::Paused { step_index: 0, failures: 1, reason: "why".into(), since: at },
            RolloutState::Promoted { at },
            RolloutState::Aborted { reason: "bad".into(), at },
        ];
        for one in &states {
            same_json(one, &state(one));
        }
        let welch = SignificanceTest {
            statistic: 2.5,
            p_value: 0.006,
            alpha: 0.01,
            alternative: Alternative::Greater,
            significant: true,
            degrees_of_freedom: Some(180.5),
        };
        let z = SignificanceTest { alternative: Alternative::TwoSided, degrees_of_freedom: None, ..welch.clone() };
        let arms = ArmMetrics {
            calls: 250,
            errors: 3,
            latency_p95_ms: Some(812.0),
            latency_mean_ms: Some(400.5),
            latency_variance_ms2: Some(1200.0),
            cost_per_call_usd: Some(0.0004),
            feedback_mean: Some(0.7),
            feedback_variance: Some(0.1),
            feedback_count: 12,
        };
        for verdict in [
            Verdict::Passed,
            Verdict::Failed { reasons: vec!["error rate 4% > 2%".into()] },
            Verdict::Inconclusive { reasons: vec!["canary has 3 of 200 calls".into()] },
        ] {
            let result = CheckResult {
                verdict,
                summary: CheckSummary {
                    canary: arms.clone(),
                    stable: ArmMetrics::default(),
                    canary_error_rate: Some(0.012),
                    stable_error_rate: None,
                    min_samples: 200,
                    thresholds: full.thresholds.clone(),
                    alpha: 0.01,
                    error_rate_test: Some(z.clone()),
                    latency_test: Some(welch.clone()),
                    feedback_test: None,
                },
            };
            same_json(&result, &check(&result));
        }
    }
}
