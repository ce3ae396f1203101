//! Stored generation statistics as the domain's arm metrics, for A/B comparisons and rollout checks.

use opm_core::rollout::ArmMetrics;
use opm_store::GroupStats;

/// One group's statistics as an arm's metrics (latency over successful calls; cost per priced call).
pub fn arm_metrics(stats: &GroupStats) -> ArmMetrics {
    ArmMetrics {
        calls: stats.calls,
        errors: stats.errors,
        latency_p95_ms: stats.latency_ms.map(|p| p.p95),
        latency_mean_ms: stats.latency_mean_ms,
        latency_variance_ms2: stats.latency_variance_ms2,
        cost_per_call_usd: (stats.calls_with_cost > 0).then(|| stats.cost_usd / stats.calls_with_cost as f64),
        feedback_mean: stats.feedback_mean,
        feedback_variance: stats.feedback_variance,
        feedback_count: stats.feedback_count,
    }
}
