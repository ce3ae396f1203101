//! What a rollout is asked to do: canary steps, the check interval, thresholds and limits, with
//! the validation every entry point (API, CLI, stored rows) goes through.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The shortest check interval accepted (a controllable clock makes shorter ones unnecessary).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest check interval accepted.
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A canary rollout's plan and gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    /// Canary shares in percent, strictly increasing, ending at 100 (reaching 100 is the
    /// promotion), with at least one share below 100 (e.g. `[5, 25, 50, 100]`).
    pub steps: Vec<u8>,
    /// How long each check window lasts, stored in milliseconds.
    #[serde(rename = "interval_ms", with = "millis")]
    pub interval: Duration,
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Calls each arm needs in a window before a check can pass or fail (at least 1).
    pub min_samples: u64,
    /// Failed checks tolerated over the rollout; one more aborts (0: the first failure aborts).
    pub failure_limit: u32,
    /// Consecutive inconclusive checks tolerated at one step before pausing for a human
    /// (`None`: hold and keep checking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<u32>,
}

/// Absolute gates on the canary arm; `None` disables a gate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Highest error rate, a fraction in 0..=1 (0.02 is 2%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    /// Highest 95th-percentile latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_latency_ms: Option<f64>,
    /// Highest mean cost per call in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_per_call_usd: Option<f64>,
    /// Lowest mean feedback score; also makes "feedback significantly worse than stable" a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_feedback: Option<f64>,
}

impl RolloutSpec {
    /// Checks the spec is usable; the message names the field and the rule.
    pub fn validate(&self) -> Result<(), CoreError> {
        let invalid = |message: String| Err(CoreError::InvalidRollout(message));
        let Some(&last) = self.steps.last() else {
            return invalid("steps must not be empty (e.g. 5,25,50,100)".into());
        };
        if let Some(&share) = self.steps.iter().find(|&&share| share == 0 || share > 100) {
            return invalid(format!("step {share} is outside 1 to 100 percent"));
        }
        if let Some(pair) = self.steps.windows(2).find(|pair| pair[0] >= pair[1]) {
            return invalid(format!("steps must increase strictly, but {} is followed by {}", pair[0], pair[1]));
        }
        if last != 100 {
            return invalid(format!("steps must end at 100 (the promotion), not {last}"));
        }
        if self.steps.len() < 2 {
            return invalid("steps need at least one canary share below 100 before 100".into());
        }
        if self.interval < MIN_INTERVAL || self.interval > MAX_INTERVAL {
            return invalid(format!("interval {:?} is outside 1s to 7 days", self.interval));
        }
        if self.min_samples == 0 {
            return invalid("min_samples must be at least 1 (no data never promotes)".into());
        }
        self.thresholds.validate()
    }
}

impl Thresholds {
    fn validate(&self) -> Result<(), CoreError> {
        let check = |name: &str, value: Option<f64>, rule: &str, ok: fn(f64) -> bool| match value {
            Some(value) if !value.is_finite() || !ok(value) => {
                Err(CoreError::InvalidRollout(format!("{name} {value} must be {rule}")))
            }
            _ => Ok(()),
        };
        check("max_error_rate", self.max_error_rate, "a fraction from 0 to 1 (0.02 is 2%)", |v| {
            (0.0..=1.0).contains(&v)
        })?;
        check("max_p95_latency_ms", self.max_p95_latency_ms, "a positive number of milliseconds", |v| v > 0.0)?;
        check("max_cost_per_call_usd", self.max_cost_per_call_usd, "zero or more US dollars", |v| v >= 0.0)?;
        check("min_feedback", self.min_feedback, "a finite score", |_| true)
    }
}

/// `Duration` as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}
