//! A/B answers: whether one arm of a split differs from the baseline arm by more than chance, on
//! error rate (two-proportion z-test), mean latency and mean feedback score (Welch's t-test), all
//! two-sided at the level given.

use serde::{Deserialize, Serialize};

use crate::rollout::ArmMetrics;
use crate::stats::{Alternative, Proportion, SampleSummary, SignificanceTest, two_proportion_z_test, welch_t_test};

/// The usual level for an A/B answer (95% confidence, two-sided).
pub const AB_ALPHA: f64 = 0.05;

/// One arm against the baseline; a test is `None` when either arm lacks the data it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmComparison {
    /// `challenger − baseline` error rate.
    pub error_rate_difference: Option<f64>,
    pub error_rate: Option<SignificanceTest>,
    /// `challenger − baseline` mean latency of successful calls, in ms.
    pub latency_mean_difference_ms: Option<f64>,
    pub latency_mean: Option<SignificanceTest>,
    /// `challenger − baseline` mean feedback score.
    pub feedback_mean_difference: Option<f64>,
    pub feedback_mean: Option<SignificanceTest>,
}

/// Compares `challenger` with `baseline` (see the module docs).
///
/// ```
/// use opm_core::experiment::{compare_arms, AB_ALPHA};
/// use opm_core::rollout::ArmMetrics;
/// let baseline = ArmMetrics { calls: 1000, errors: 10, ..Default::default() };
/// let worse = ArmMetrics { calls: 1000, errors: 60, ..Default::default() };
/// let answer = compare_arms(&baseline, &worse, AB_ALPHA);
/// assert!(answer.error_rate.unwrap().significant);
/// assert!(answer.latency_mean.is_none(), "no latency data given");
/// ```
pub fn compare_arms(baseline: &ArmMetrics, challenger: &ArmMetrics, alpha: f64) -> ArmComparison {
    let proportion = |arm: &ArmMetrics| Proportion { events: arm.errors, trials: arm.calls };
    let latency = |arm: &ArmMetrics| {
        Some(SampleSummary {
            n: arm.calls.saturating_sub(arm.errors),
            mean: arm.latency_mean_ms?,
            variance: arm.latency_variance_ms2?,
        })
    };
    let feedback = |arm: &ArmMetrics| {
        Some(SampleSummary { n: arm.feedback_count, mean: arm.feedback_mean?, variance: arm.feedback_variance? })
    };
    let difference = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    let means = |a: Option<SampleSummary>, b: Option<SampleSummary>| match (a, b) {
        (Some(a), Some(b)) => welch_t_test(&b, &a, Alternative::TwoSided, alpha),
        _ => None,
    };
    ArmComparison {
        error_rate_difference: difference(baseline.error_rate(), challenger.error_rate()),
        error_rate: two_proportion_z_test(proportion(challenger), proportion(baseline), Alternative::TwoSided, alpha),
        latency_mean_difference_ms: difference(baseline.latency_mean_ms, challenger.latency_mean_ms),
        latency_mean: means(latency(baseline), latency(challenger)),
        feedback_mean_difference: difference(baseline.feedback_mean, challenger.feedback_mean),
        feedback_mean: means(feedback(baseline), feedback(challenger)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_arms_are_not_significantly_different_and_latency_is_compared() {
        let arm = ArmMetrics {
            calls: 500,
            errors: 5,
            latency_mean_ms: Some(200.0),
            latency_variance_ms2: Some(400.0),
            ..Default::default()
        };
        let same = compare_arms(&arm, &arm, AB_ALPHA);
        assert!(!same.error_rate.unwrap().significant);
        assert!(!same.latency_mean.unwrap().significant);
        let slower = ArmMetrics { latency_mean_ms: Some(260.0), ..arm.clone() };
        let answer = compare_arms(&arm, &slower, AB_ALPHA);
        assert!(answer.latency_mean.unwrap().significant);
        assert_eq!(answer.latency_mean_difference_ms, Some(60.0));
        assert_eq!(answer.error_rate_difference, Some(0.0));
    }
}
