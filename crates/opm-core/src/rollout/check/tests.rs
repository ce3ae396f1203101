//! Tests for one rollout check: sample minimums, absolute gates, comparisons with the stable arm,
//! and which verdict wins when several apply.

use std::time::Duration;

use super::*;

fn spec(thresholds: Thresholds) -> RolloutSpec {
    RolloutSpec {
        steps: vec![5, 25, 50, 100],
        interval: Duration::from_secs(600),
        thresholds,
        min_samples: 200,
        failure_limit: 1,
        inconclusive_limit: None,
    }
}

fn error_gate() -> RolloutSpec {
    spec(Thresholds { max_error_rate: Some(0.02), ..Thresholds::default() })
}

fn arm(calls: u64, errors: u64) -> ArmMetrics {
    ArmMetrics { calls, errors, ..ArmMetrics::default() }
}

fn reasons(verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Passed => vec![],
        Verdict::Failed { reasons } | Verdict::Inconclusive { reasons } => reasons.clone(),
    }
}

#[test]
fn no_data_is_inconclusive() {
    let result = evaluate(&error_gate(), &ArmMetrics::default(), &ArmMetrics::default());
    assert_eq!(
        result.verdict,
        Verdict::Inconclusive {
            reasons: vec![
                "canary arm has 0 calls in the window; 200 needed".into(),
                "stable arm has 0 calls in the window; 200 needed".into()
            ]
        }
    );
    assert_eq!(result.summary.canary_error_rate, None);
}

#[test]
fn too_few_samples_on_either_arm_is_inconclusive() {
    let result = evaluate(&error_gate(), &arm(199, 0), &arm(5000, 50));
    assert_eq!(
        result.verdict,
        Verdict::Inconclusive { reasons: vec!["canary arm has 199 calls in the window; 200 needed".into()] }
    );
    let result = evaluate(&error_gate(), &arm(1000, 0), &arm(150, 0));
    assert_eq!(
        result.verdict,
        Verdict::Inconclusive { reasons: vec!["stable arm has 150 calls in the window; 200 needed".into()] }
    );
}

#[test]
fn a_healthy_canary_passes() {
    let result = evaluate(&error_gate(), &arm(1000, 10), &arm(10_000, 100));
    assert_eq!(result.verdict, Verdict::Passed);
    let test = result.summary.error_rate_test.unwrap();
    assert!(!test.significant);
    assert_eq!(test.alternative, crate::stats::Alternative::Greater);
}

#[test]
fn an_error_rate_above_the_limit_fails() {
    let result = evaluate(&error_gate(), &arm(1000, 30), &arm(10_000, 250));
    assert_eq!(reasons(&result.verdict), ["canary error rate 3.00% (30 of 1000 calls) is above the 2.00% limit"]);
    assert!(matches!(result.verdict, Verdict::Failed { .. }));
}

#[test]
fn an_error_rate_significantly_worse_than_stable_fails() {
    let result = evaluate(&spec(Thresholds::default()), &arm(1000, 40), &arm(10_000, 100));
    let reasons = reasons(&result.verdict);
    assert!(matches!(result.verdict, Verdict::Failed { .. }));
    assert!(
        reasons[0].starts_with("canary error rate 4.00% is significantly higher than stable 1.00% (one-sided two-proportion z-test: z = 8.07, p = 3.53e-16 < 0.01)"),
        "{reasons:?}"
    );
    // Worse but within noise: passes.
    assert_eq!(evaluate(&spec(Thresholds::default()), &arm(300, 5), &arm(10_000, 100)).verdict, Verdict::Passed);
}

#[test]
fn latency_and_cost_gates() {
    let gates = spec(Thresholds {
        max_p95_latency_ms: Some(3000.0),
        max_cost_per_call_usd: Some(0.01),
        ..Thresholds::default()
    });
    let canary = |p95: Option<f64>, cost: Option<f64>| ArmMetrics {
        latency_p95_ms: p95,
        cost_per_call_usd: cost,
        ..arm(1000, 0)
    };
    let stable = arm(1000, 0);
    assert_eq!(evaluate(&gates, &canary(Some(2500.0), Some(0.004)), &stable).verdict, Verdict::Passed);
    assert_eq!(
        evaluate(&gates, &canary(Some(3500.5), Some(0.02)), &stable).verdict,
        Verdict::Failed {
            reasons: vec![
                "canary p95 latency 3500.5 ms is above the 3000 ms limit".into(),
                "canary cost per call 0.02 USD is above the 0.01 USD limit".into()
            ]
        }
    );
    assert_eq!(
        evaluate(&gates, &canary(None, Some(0.004)), &stable).verdict,
        Verdict::Inconclusive { reasons: vec!["no p95 latency for the canary arm".into()] }
    );
}

#[test]
fn a_failure_wins_over_a_gap() {
    let gates =
        spec(Thresholds { max_error_rate: Some(0.02), max_p95_latency_ms: Some(3000.0), ..Thresholds::default() });
    let result = evaluate(&gates, &arm(1000, 50), &arm(1000, 10));
    assert!(matches!(result.verdict, Verdict::Failed { .. }), "{:?}", result.verdict);
    assert_eq!(reasons(&result.verdict).len(), 2, "the limit and the comparison");
}

#[test]
fn feedback_gate_and_comparison() {
    let gates = spec(Thresholds { min_feedback: Some(0.5), ..Thresholds::default() });
    let scored = |mean: f64, count: u64| ArmMetrics {
        feedback_mean: Some(mean),
        feedback_variance: Some(0.04),
        feedback_count: count,
        ..arm(1000, 0)
    };
    assert_eq!(evaluate(&gates, &scored(0.8, 200), &scored(0.8, 2000)).verdict, Verdict::Passed);
    assert_eq!(
        evaluate(&gates, &arm(1000, 0), &scored(0.8, 2000)).verdict,
        Verdict::Inconclusive { reasons: vec!["no feedback scores for the canary arm".into()] }
    );
    assert_eq!(
        evaluate(&gates, &scored(0.4, 200), &scored(0.41, 2000)).verdict,
        Verdict::Failed { reasons: vec!["canary mean feedback 0.4 (200 scores) is below the 0.5 minimum".into()] }
    );
    let worse = evaluate(&gates, &scored(0.7, 200), &scored(0.8, 2000));
    let reasons = reasons(&worse.verdict);
    assert!(
        reasons[0].starts_with(
            "canary mean feedback 0.7000 is significantly lower than stable 0.8000 (one-sided Welch t-test: t = -6.74"
        ),
        "{reasons:?}"
    );
    // Without a feedback gate, feedback is not compared.
    assert_eq!(evaluate(&spec(Thresholds::default()), &scored(0.7, 200), &scored(0.8, 2000)).verdict, Verdict::Passed);
}

#[test]
fn mean_latency_is_compared_but_only_reported() {
    let timed =
        |mean: f64| ArmMetrics { latency_mean_ms: Some(mean), latency_variance_ms2: Some(10_000.0), ..arm(1000, 0) };
    let result = evaluate(&spec(Thresholds::default()), &timed(2000.0), &timed(1000.0));
    assert_eq!(result.verdict, Verdict::Passed);
    assert!(result.summary.latency_test.unwrap().significant);
}

#[test]
fn inconsistent_metrics_are_inconclusive() {
    let result = evaluate(&error_gate(), &arm(3, 5), &arm(1000, 0));
    assert_eq!(
        result.verdict,
        Verdict::Inconclusive { reasons: vec!["canary metrics are inconsistent (5 errors in 3 calls)".into()] }
    );
    let nan = ArmMetrics { latency_p95_ms: Some(f64::NAN), ..arm(1000, 0) };
    let result = evaluate(&error_gate(), &arm(1000, 0), &nan);
    assert_eq!(
        result.verdict,
        Verdict::Inconclusive { reasons: vec!["stable metrics are inconsistent (latency_p95_ms is NaN)".into()] }
    );
    let negative = ArmMetrics { cost_per_call_usd: Some(-0.1), ..arm(1000, 0) };
    assert!(matches!(evaluate(&error_gate(), &negative, &arm(1000, 0)).verdict, Verdict::Inconclusive { .. }));
}

#[test]
fn the_summary_is_an_audit_ready_json() {
    let result = evaluate(&error_gate(), &arm(1000, 10), &arm(10_000, 100));
    let value = serde_json::to_value(&result).unwrap();
    assert_eq!(value["verdict"]["verdict"], "passed");
    assert_eq!(value["summary"]["canary"], serde_json::json!({"calls": 1000, "errors": 10, "feedback_count": 0}));
    assert_eq!(value["summary"]["canary_error_rate"], 0.01);
    assert_eq!(value["summary"]["alpha"], 0.01);
    assert_eq!(value["summary"]["thresholds"], serde_json::json!({"max_error_rate": 0.02}));
    assert_eq!(value["summary"]["error_rate_test"]["alternative"], "greater");
    let back: CheckResult = serde_json::from_value(value).unwrap();
    assert_eq!(back, result);
}
