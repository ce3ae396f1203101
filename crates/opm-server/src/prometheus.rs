//! Rollout checks from Prometheus, Flagger-style: with `[rollouts.prometheus]` configured, each
//! controller check also runs PromQL queries about the canary and fails the check when a value
//! breaks its bound. Without explicit `[[rollouts.prometheus.checks]]`, the rollout's own error-rate
//! and p95 gates are queried over OPM's metrics (`opm_gateway_*`, by the `arm` label).
//!
//! A query with no data, a NaN, or an unreachable Prometheus is a gap: the check cannot pass, so a
//! rollout never advances on metrics nobody could read.

use std::time::Duration;

use opm_core::rollout::Rollout;
use opm_registry::{ExternalChecks, ExternalFindings};
use serde::Deserialize;
use serde_json::{Value, json};

/// `[rollouts]` in `opm.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSettings {
    /// `[rollouts.prometheus]`: also check canaries with PromQL.
    #[serde(default)]
    pub prometheus: Option<PrometheusSettings>,
}

/// Where Prometheus is and what to ask it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSettings {
    /// e.g. `http://127.0.0.1:9090`.
    pub url: String,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Named queries with bounds; default: the rollout's error-rate and p95 gates over OPM's metrics.
    #[serde(default)]
    pub checks: Vec<PromCheck>,
}

/// One PromQL check. The query may use `{project}`, `{prompt}`, `{label}`, `{canary}`, `{stable}`
/// (version numbers) and `{interval}` (the rollout's interval, e.g. `600s`); it must return one
/// number.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PromCheck {
    pub name: String,
    pub query: String,
    /// The check fails above this.
    #[serde(default)]
    pub max: Option<f64>,
    /// The check fails below this.
    #[serde(default)]
    pub min: Option<f64>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

/// The canary arm's series of a rollout in OPM's metrics.
const CANARY: &str = r#"project="{project}",prompt="{prompt}",label="{label}",arm="{canary}""#;

/// The checks run for `rollout`: the configured ones, or its own gates as PromQL.
fn checks_for(configured: &[PromCheck], rollout: &Rollout) -> Vec<PromCheck> {
    if !configured.is_empty() {
        return configured.to_vec();
    }
    let thresholds = &rollout.spec.thresholds;
    let mut checks = Vec::new();
    if let Some(max) = thresholds.max_error_rate {
        let query = format!(
            "(sum(rate(opm_gateway_requests_total{{{CANARY},outcome=\"error\"}}[{{interval}}])) or vector(0)) \
             / sum(rate(opm_gateway_requests_total{{{CANARY}}}[{{interval}}]))"
        );
        checks.push(PromCheck { name: "canary error rate".into(), query, max: Some(max), min: None });
    }
    if let Some(max) = thresholds.max_p95_latency_ms {
        let query = format!(
            "1000 * histogram_quantile(0.95, sum by (le) \
             (rate(opm_gateway_request_duration_seconds_bucket{{{CANARY}}}[{{interval}}])))"
        );
        checks.push(PromCheck { name: "canary p95 latency ms".into(), query, max: Some(max), min: None });
    }
    checks
}

/// The query with the rollout's values in place of the placeholders.
fn fill(query: &str, rollout: &Rollout) -> String {
    query
        .replace("{project}", rollout.project.as_str())
        .replace("{prompt}", rollout.prompt.as_str())
        .replace("{label}", rollout.label.as_str())
        .replace("{canary}", &rollout.canary_version.to_string())
        .replace("{stable}", &rollout.stable_version.to_string())
        .replace("{interval}", &format!("{}s", rollout.spec.interval.as_secs().max(1)))
}

/// Queries Prometheus' HTTP API.
pub struct PrometheusChecks {
    settings: PrometheusSettings,
    http: reqwest::Client,
}

impl PrometheusChecks {
    pub fn new(settings: PrometheusSettings) -> Result<Self, crate::ServerError> {
        let http = reqwest::Client::builder().timeout(settings.timeout).build().map_err(|error| {
            crate::ServerError::ConfigFile {
                path: "opm.toml".into(),
                message: format!("[rollouts.prometheus]: {error}"),
            }
        })?;
        Ok(Self { settings, http })
    }

    async fn query(&self, query: &str) -> Result<Option<f64>, String> {
        let url = format!("{}/api/v1/query", self.settings.url.trim_end_matches('/'));
        let url = reqwest::Url::parse_with_params(&url, &[("query", query)]).map_err(|e| format!("bad URL: {e}"))?;
        let response = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| format!("not a Prometheus answer: {e}"))?;
        if !status.is_success() || body["status"] != "success" {
            return Err(format!("Prometheus answered {status}: {}", body["error"].as_str().unwrap_or("no detail")));
        }
        Ok(value_of(&body["data"]))
    }
}

/// The single number in a query result (`scalar`, or a `vector` with one sample); `None` without
/// data or for NaN.
fn value_of(data: &Value) -> Option<f64> {
    let sample = match data["resultType"].as_str()? {
        "scalar" => &data["result"],
        "vector" => match data["result"].as_array()?.as_slice() {
            [only] => &only["value"],
            _ => return None,
        },
        _ => return None,
    };
    sample[1].as_str()?.parse::<f64>().ok().filter(|value| value.is_finite())
}

#[async_trait::async_trait]
impl ExternalChecks for PrometheusChecks {
    async fn check(&self, rollout: &Rollout) -> ExternalFindings {
        let mut findings = ExternalFindings::default();
        let mut values = serde_json::Map::new();
        for check in checks_for(&self.settings.checks, rollout) {
            let query = fill(&check.query, rollout);
            match self.query(&query).await {
                Ok(Some(value)) => {
                    values.insert(check.name.clone(), json!({"value": value, "query": query}));
                    if let Some(max) = check.max.filter(|max| value > *max) {
                        findings.failures.push(format!("prometheus: {} is {value}, above {max}", check.name));
                    }
                    if let Some(min) = check.min.filter(|min| value < *min) {
                        findings.failures.push(format!("prometheus: {} is {value}, below {min}", check.name));
                    }
                }
                Ok(None) => {
                    values.insert(check.name.clone(), json!({"value": null, "query": query}));
                    findings.gaps.push(format!("prometheus: no data for {}", check.name));
                }
                Err(error) => {
                    values.insert(check.name.clone(), json!({"error": error, "query": query}));
                    findings.gaps.push(format!("prometheus: {} could not be read ({error})", check.name));
                }
            }
        }
        findings.values = json!({"prometheus": values});
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_one_finite_number_or_nothing() {
        let vector = json!({"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "0.25"]}]});
        assert_eq!(value_of(&vector), Some(0.25));
        assert_eq!(value_of(&json!({"resultType": "scalar", "result": [1.0, "3"]})), Some(3.0));
        assert_eq!(value_of(&json!({"resultType": "vector", "result": []})), None);
        let nan = json!({"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "NaN"]}]});
        assert_eq!(value_of(&nan), None);
        let two = json!({"resultType": "vector", "result": [{"value": [1.0, "1"]}, {"value": [1.0, "2"]}]});
        assert_eq!(value_of(&two), None);
    }
}
