//! Safe-delivery metrics: the rollout controller's leadership and decisions, and webhook
//! deliveries. Registered per call: these happen at most a few times per second.

use metrics::Label;

use super::Metrics;

impl Metrics {
    /// Whether this replica runs the rollout controller.
    pub fn rollout_leader(&self, leader: bool) {
        self.gauge("opm_rollout_leader", Vec::new()).set(if leader { 1.0 } else { 0.0 });
    }

    /// One controller decision.
    pub fn rollout_decision(&self, prompt: &str, label: &str, decision: &'static str) {
        let labels = vec![
            Label::new("prompt", prompt.to_owned()),
            Label::new("label", label.to_owned()),
            Label::new("decision", decision),
        ];
        self.counter("opm_rollout_decisions_total", labels).increment(1);
    }

    /// Webhook deliveries since the last call, by outcome (`delivered`, `failed`, `dropped`, `retried`).
    pub fn webhook_deliveries(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            self.counter("opm_webhook_deliveries_total", vec![Label::new("outcome", outcome)]).increment(n);
        }
    }
}
