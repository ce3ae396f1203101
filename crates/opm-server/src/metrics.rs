//! Prometheus metrics: one [`Metrics`] per server, rendered at `GET /metrics` in the text format.
//!
//! Names carry the `opm_` prefix and base units; counters end in `_total`; every metric is
//! described (promtool rejects undescribed ones). Labels are bounded: project, prompt, version,
//! label, arm, provider, model, route and status class — never keys, users or free text. Values
//! a caller can choose freely (the model of a direct call) pass through a [`LabelGuard`] that
//! folds new values into `other` past a limit, so cardinality stays bounded whoever calls.
//!
//! The recorder is not installed globally: several servers (tests) can live in one process.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use opm_gateway::{BreakerState, GenerationRecord, GenerationStatus};

use opm_core::split::Assignment;
pub use series::LabelGuard;
use series::SeriesCache;

mod rollouts;
mod series;

/// Every metric this server exports: name, kind, unit, help. `docs/observability.md` lists the same.
pub const CATALOGUE: &[(&str, Kind, &str)] = &[
    ("opm_build_info", Kind::Gauge, "Always 1; the `version` label names the running OPM version."),
    ("opm_http_requests_total", Kind::Counter, "API requests answered, by route, method and status class."),
    ("opm_http_request_duration_seconds", Kind::Histogram, "API request duration, by route, method and status class."),
    (
        "opm_gateway_requests_total",
        Kind::Counter,
        "Model calls through the gateway, by prompt, version, label, arm, provider, model and outcome.",
    ),
    ("opm_gateway_errors_total", Kind::Counter, "Failed model calls, by provider, model and stable error code."),
    (
        "opm_gateway_request_duration_seconds",
        Kind::Histogram,
        "Whole model call as the client saw it (retries and fallbacks included).",
    ),
    (
        "opm_gateway_upstream_duration_seconds",
        Kind::Histogram,
        "Time spent waiting on upstream providers per model call.",
    ),
    ("opm_gateway_time_to_first_token_seconds", Kind::Histogram, "Time from the request to the first streamed token."),
    (
        "opm_gateway_overhead_seconds",
        Kind::Histogram,
        "OPM's own added latency per model call: total time minus time waiting on upstreams.",
    ),
    (
        "opm_gateway_tokens_total",
        Kind::Counter,
        "Tokens reported by providers, by type (input, output, cached); unknown usage is not counted.",
    ),
    (
        "opm_gateway_cost_usd",
        Kind::Histogram,
        "Cost of each priced model call in US dollars; the _sum is the total spend.",
    ),
    (
        "opm_gateway_retries_total",
        Kind::Counter,
        "Upstream attempts retried after a failed attempt, by provider (successful and failed calls).",
    ),
    (
        "opm_gateway_fallbacks_total",
        Kind::Counter,
        "Model calls answered by a fallback target rather than the first one.",
    ),
    ("opm_gateway_circuit_breaker_state", Kind::Gauge, "Circuit breaker per provider: 0 closed, 1 half-open, 2 open."),
    (
        "opm_prompt_resolutions_total",
        Kind::Counter,
        "Label or version resolutions served, by prompt, version, label, split arm and assignment (sticky or random).",
    ),
    (
        "opm_prompt_renders_total",
        Kind::Counter,
        "Prompt renders served (the render API and gateway calls), by prompt, version, label, split arm and assignment.",
    ),
    (
        "opm_rollout_leader",
        Kind::Gauge,
        "1 on the replica that runs the rollout controller (and delivers webhooks), else 0.",
    ),
    (
        "opm_rollout_decisions_total",
        Kind::Counter,
        "Rollout controller decisions, by prompt, label and decision (advance, hold, pause, promote, abort).",
    ),
    (
        "opm_webhook_deliveries_total",
        Kind::Counter,
        "Webhook deliveries by outcome: delivered, failed (gave up after retries), dropped (queue full), retried.",
    ),
    (
        "opm_gateway_limited_total",
        Kind::Counter,
        "LLM calls refused by a gateway limit, by project, scope (project, key) and limit (rate, daily_budget, monthly_budget).",
    ),
    ("opm_cache_entries", Kind::Gauge, "Resolved prompt versions held by the resolve cache."),
    ("opm_cache_bytes", Kind::Gauge, "Estimated bytes held by the resolve cache (its budget is opm_cache_max_bytes)."),
    ("opm_cache_max_bytes", Kind::Gauge, "The resolve cache's byte budget (`[cache] max_bytes`)."),
    ("opm_cache_hits_total", Kind::Counter, "Resolve cache lookups answered from memory."),
    ("opm_cache_misses_total", Kind::Counter, "Resolve cache lookups that loaded from the store."),
    ("opm_cache_evictions_total", Kind::Counter, "Entries evicted to keep the resolve cache within its budget."),
    ("opm_recorder_queue_depth", Kind::Gauge, "Generation records waiting to be written to the store."),
    ("opm_recorder_queue_capacity", Kind::Gauge, "Capacity of the generation record queue."),
    (
        "opm_recorder_dropped_total",
        Kind::Counter,
        "Generation records dropped because the queue was full (telemetry loss).",
    ),
    ("opm_recorder_written_total", Kind::Counter, "Generation records written to the store."),
    (
        "opm_recorder_write_errors_total",
        Kind::Counter,
        "Batches of generation records the store refused (their records are lost).",
    ),
    ("opm_recorder_batch_duration_seconds", Kind::Histogram, "Time to write one batch of generation records."),
    ("opm_retention_deleted_total", Kind::Counter, "Generation records deleted by the retention job."),
];

/// The kind of a catalogued metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Latency buckets in seconds: 0.5 ms to 60 s.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// OPM's own overhead: 10 µs to 100 ms.
const OVERHEAD_BUCKETS: &[f64] =
    &[0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1];
/// Cost per call in USD.
const COST_BUCKETS: &[f64] = &[0.00001, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0];

static METADATA: Metadata<'static> = Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// Distinct values a caller-chosen label may take before new ones become `other`.
pub const MAX_FREE_LABEL_VALUES: usize = 200;

/// The server's metric registry.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    free_values: LabelGuard,
    dropped: Counter,
    queue_depth: Gauge,
    /// Handles per label set, so the hot paths hash one key instead of registering each metric.
    http: SeriesCache<(Counter, Histogram)>,
    resolutions: SeriesCache<Counter>,
    renders: SeriesCache<Counter>,
    generations: SeriesCache<Arc<GenerationSeries>>,
    /// OPM's overhead, not streamed and streamed.
    overhead: [Histogram; 2],
}

/// The labels of a resolution or render counter.
#[derive(Clone, Copy)]
struct PromptSeries<'a> {
    project: &'a str,
    prompt: &'a str,
    version: u32,
    label: Option<&'a str>,
    assignment: Option<&'a Assignment>,
}

/// The series of one (project, prompt, version, label, provider, model); optional ones are
/// registered on first use so no empty series appear.
struct GenerationSeries {
    labels: Vec<Label>,
    provider_model: Vec<Label>,
    duration: Histogram,
    upstream: Histogram,
    ttft: OnceLock<Histogram>,
    cost: OnceLock<Histogram>,
    /// input, output, cached.
    tokens: [OnceLock<Counter>; 3],
    fallbacks: OnceLock<Counter>,
    /// By [`GenerationStatus`] discriminant: ok, error, cancelled.
    requests: [OnceLock<Counter>; 3],
}

impl Metrics {
    /// A registry with every catalogued metric described.
    pub fn new() -> Self {
        let builder = histogram_buckets().unwrap_or_else(|error| {
            tracing::error!(%error, "invalid histogram buckets; histograms fall back to summaries");
            PrometheusBuilder::new()
        });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        for (name, kind, help) in CATALOGUE {
            let key = KeyName::from(*name);
            let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
            let help = SharedString::from(*help);
            match kind {
                Kind::Counter => recorder.describe_counter(key, unit, help),
                Kind::Gauge => recorder.describe_gauge(key, unit, help),
                Kind::Histogram => recorder.describe_histogram(key, unit, help),
            }
        }
        let version = Key::from_parts("opm_build_info", vec![Label::new("version", env!("CARGO_PKG_VERSION"))]);
        recorder.register_gauge(&version, &METADATA).set(1.0);
        let dropped = recorder.register_counter(&Key::from_static_name("opm_recorder_dropped_total"), &METADATA);
        dropped.absolute(0);
        let queue_depth = recorder.register_gauge(&Key::from_static_name("opm_recorder_queue_depth"), &METADATA);
        let overhead = ["false", "true"].map(|streamed| {
            let key = Key::from_parts("opm_gateway_overhead_seconds", vec![Label::new("streamed", streamed)]);
            recorder.register_histogram(&key, &METADATA)
        });
        Self {
            recorder,
            handle,
            free_values: LabelGuard::new(MAX_FREE_LABEL_VALUES),
            dropped,
            queue_depth,
            http: SeriesCache::new(),
            resolutions: SeriesCache::new(),
            renders: SeriesCache::new(),
            generations: SeriesCache::new(),
            overhead,
        }
    }

    /// The exposition text for `GET /metrics`.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram buffers; call every few seconds so memory stays flat between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder.register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder.register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    /// One API request answered.
    pub fn http_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let class = status_class(status);
        // Clients may send any method token: keep the label to the standard ones.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "other",
        };
        let key = format!("{route}\u{1}{method}\u{1}{class}");
        let (requests, duration) = self.http.get_or_insert(&key, || {
            let labels = vec![
                Label::new("route", route.to_owned()),
                Label::new("method", method.to_owned()),
                Label::new("status_class", class),
            ];
            (
                self.counter("opm_http_requests_total", labels.clone()),
                self.histogram("opm_http_request_duration_seconds", labels),
            )
        });
        requests.increment(1);
        duration.record(elapsed.as_secs_f64());
    }

    /// One resolution served.
    pub fn resolution(
        &self,
        project: &str,
        prompt: &str,
        version: u32,
        label: Option<&str>,
        assignment: Option<&Assignment>,
    ) {
        let series = PromptSeries { project, prompt, version, label, assignment };
        self.prompt_counter(&self.resolutions, "opm_prompt_resolutions_total", &series);
    }

    /// One render served.
    pub fn render_served(
        &self,
        project: &str,
        prompt: &str,
        version: u32,
        label: Option<&str>,
        assignment: Option<&Assignment>,
    ) {
        let series = PromptSeries { project, prompt, version, label, assignment };
        self.prompt_counter(&self.renders, "opm_prompt_renders_total", &series);
    }

    fn prompt_counter(&self, cache: &SeriesCache<Counter>, name: &'static str, series: &PromptSeries<'_>) {
        let PromptSeries { project, prompt, version, label, assignment } = *series;
        let label = label.unwrap_or_default();
        let (arm, how) = match assignment {
            None => (String::new(), ""),
            Some(assignment) => (assignment.version.to_string(), if assignment.sticky { "sticky" } else { "random" }),
        };
        let key = format!("{project}\u{1}{prompt}\u{1}{version}\u{1}{label}\u{1}{how}");
        cache
            .get_or_insert(&key, || {
                let labels = vec![
                    Label::new("project", project.to_owned()),
                    Label::new("prompt", prompt.to_owned()),
                    Label::new("version", version.to_string()),
                    Label::new("label", label.to_owned()),
                    Label::new("arm", arm),
                    Label::new("assignment", how),
                ];
                self.counter(name, labels)
            })
            .increment(1);
    }

    /// Accounts for one finished model call.
    pub fn generation(&self, record: &GenerationRecord) {
        let project = record.project.as_deref().unwrap_or_default();
        let prompt = record.prompt.as_deref().unwrap_or_default();
        let label = record.label.as_deref().unwrap_or_default();
        let version = record.prompt_version.unwrap_or_default();
        let arm = record.arm.as_deref().unwrap_or_default();
        let key = format!(
            "{project}\u{1}{prompt}\u{1}{version}\u{1}{label}\u{1}{arm}\u{1}{}\u{1}{}",
            record.provider, record.model
        );
        let series = self.generations.get_or_insert(&key, || {
            let provider = self.free_values.admit(&record.provider);
            let model = self.free_values.admit(&record.model);
            let labels = vec![
                Label::new("project", project.to_owned()),
                Label::new("prompt", prompt.to_owned()),
                Label::new("version", record.prompt_version.map(|v| v.to_string()).unwrap_or_default()),
                Label::new("label", label.to_owned()),
                Label::new("arm", record.arm.clone().unwrap_or_default()),
                Label::new("provider", provider.clone()),
                Label::new("model", model.clone()),
            ];
            let provider_model = vec![Label::new("provider", provider), Label::new("model", model)];
            Arc::new(GenerationSeries {
                duration: self.histogram("opm_gateway_request_duration_seconds", labels.clone()),
                upstream: self.histogram("opm_gateway_upstream_duration_seconds", provider_model.clone()),
                labels,
                provider_model,
                ttft: OnceLock::new(),
                cost: OnceLock::new(),
                tokens: Default::default(),
                fallbacks: OnceLock::new(),
                requests: Default::default(),
            })
        });
        let upstream = Duration::from_secs_f64(record.upstream_ms.max(0.0) / 1000.0);
        let total = Duration::from_secs_f64(record.latency_ms.max(0.0) / 1000.0);
        series.duration.record(total.as_secs_f64());
        if let Some(ttft) = record.ttft_ms {
            series
                .ttft
                .get_or_init(|| self.histogram("opm_gateway_time_to_first_token_seconds", series.labels.clone()))
                .record(ttft / 1000.0);
        }
        if let Some(cost) = record.cost_usd {
            series.cost.get_or_init(|| self.histogram("opm_gateway_cost_usd", series.labels.clone())).record(cost);
        }
        let usage = &record.usage;
        for (index, (kind, value)) in
            [("input", usage.input_tokens), ("output", usage.output_tokens), ("cached", usage.cached_input_tokens)]
                .into_iter()
                .enumerate()
        {
            if let Some(value) = value {
                series.tokens[index]
                    .get_or_init(|| {
                        let mut with_type = series.labels.clone();
                        with_type.push(Label::new("type", kind));
                        self.counter("opm_gateway_tokens_total", with_type)
                    })
                    .increment(value);
            }
        }
        if record.fallback_index > 0 {
            series
                .fallbacks
                .get_or_init(|| self.counter("opm_gateway_fallbacks_total", series.labels.clone()))
                .increment(1);
        }
        let outcome = record.status as usize;
        series.requests[outcome]
            .get_or_init(|| {
                let mut with_outcome = series.labels.clone();
                with_outcome.push(Label::new("outcome", record.status.as_str()));
                self.counter("opm_gateway_requests_total", with_outcome)
            })
            .increment(1);
        if record.status == GenerationStatus::Ok || record.upstream_ms > 0.0 {
            series.upstream.record(upstream.as_secs_f64());
        }
        let overhead = total.saturating_sub(upstream);
        self.overhead[usize::from(record.streamed)].record(overhead.as_secs_f64());
        if let Some(error) = &record.error_kind {
            let mut with_error = series.provider_model.clone();
            with_error.push(Label::new("error_type", self.free_values.admit(error)));
            self.counter("opm_gateway_errors_total", with_error).increment(1);
        }
    }

    /// Publishes the gateway's retry counters (kept by the gateway, read at scrape time).
    pub fn retries(&self, counts: &[(String, u64)]) {
        for (provider, count) in counts {
            self.counter("opm_gateway_retries_total", vec![Label::new("provider", provider.clone())]).absolute(*count);
        }
    }

    /// Publishes the resolve cache's size and counters.
    pub fn cache(&self, stats: &opm_registry::CacheStats) {
        let gauge = |name: &'static str, value: usize| self.gauge(name, Vec::new()).set(value as f64);
        gauge("opm_cache_entries", stats.entries);
        gauge("opm_cache_bytes", stats.bytes);
        gauge("opm_cache_max_bytes", stats.max_bytes);
        self.counter("opm_cache_hits_total", Vec::new()).absolute(stats.hits);
        self.counter("opm_cache_misses_total", Vec::new()).absolute(stats.misses);
        self.counter("opm_cache_evictions_total", Vec::new()).absolute(stats.evictions);
    }

    /// Publishes the circuit-breaker state of every provider.
    pub fn breakers(&self, states: &[(String, BreakerState)]) {
        for (provider, state) in states {
            let value = match state {
                BreakerState::Closed => 0.0,
                BreakerState::HalfOpen => 1.0,
                BreakerState::Open => 2.0,
            };
            self.gauge("opm_gateway_circuit_breaker_state", vec![Label::new("provider", provider.clone())]).set(value);
        }
    }

    /// The generation queue's depth and capacity.
    pub fn recorder_queue(&self, depth: usize, capacity: usize) {
        self.queue_depth.set(depth as f64);
        self.gauge("opm_recorder_queue_capacity", Vec::new()).set(capacity as f64);
    }

    /// Records dropped because the queue was full.
    pub fn recorder_dropped(&self, n: u64) {
        self.dropped.increment(n);
    }

    /// One batch written (or refused) by the store.
    pub fn recorder_batch(&self, written: u64, failed: bool, elapsed: Duration) {
        if failed {
            self.counter("opm_recorder_write_errors_total", Vec::new()).increment(1);
        } else {
            self.counter("opm_recorder_written_total", Vec::new()).increment(written);
        }
        self.histogram("opm_recorder_batch_duration_seconds", Vec::new()).record(elapsed.as_secs_f64());
    }

    /// A call refused by a gateway limit.
    pub fn limited(&self, project: &str, scope: &'static str, limit: &'static str) {
        let labels =
            vec![Label::new("project", project.to_owned()), Label::new("scope", scope), Label::new("limit", limit)];
        self.counter("opm_gateway_limited_total", labels).increment(1);
    }

    /// Records removed by retention.
    pub fn retention_deleted(&self, n: u64) {
        self.counter("opm_retention_deleted_total", Vec::new()).increment(n);
    }
}

/// A builder with the bucket boundaries of every catalogued histogram.
fn histogram_buckets() -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    let mut builder = PrometheusBuilder::new();
    for (name, kind, _) in CATALOGUE {
        if *kind != Kind::Histogram {
            continue;
        }
        let buckets = match *name {
            "opm_gateway_overhead_seconds" => OVERHEAD_BUCKETS,
            "opm_gateway_cost_usd" => COST_BUCKETS,
            _ => LATENCY_BUCKETS,
        };
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)?;
    }
    Ok(builder)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `2xx`, `4xx`, `5xx`…
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_folds_values_past_the_limit() {
        let guard = LabelGuard::new(2);
        assert_eq!(guard.admit("a"), "a");
        assert_eq!(guard.admit("b"), "b");
        assert_eq!(guard.admit("c"), "other");
        assert_eq!(guard.admit("a"), "a");
    }

    #[test]
    fn status_classes() {
        for (status, class) in [(200, "2xx"), (304, "3xx"), (404, "4xx"), (429, "4xx"), (502, "5xx"), (101, "1xx")] {
            assert_eq!(status_class(status), class, "{status}");
        }
    }

    #[test]
    fn every_metric_is_described_and_rendered_with_help() {
        let metrics = Metrics::new();
        metrics.http_request("/healthz", "GET", 200, Duration::from_millis(3));
        metrics.http_request("unmatched", "BREW", 404, Duration::from_millis(1));
        metrics.resolution("default", "welcome", 1, Some("production"), None);
        let text = metrics.render();
        assert!(text.contains("# HELP opm_http_requests_total"), "{text}");
        assert!(text.contains("route=\"unmatched\",method=\"other\""), "{text}");
        assert!(!text.contains("BREW"), "{text}");
        assert!(text.contains("opm_prompt_resolutions_total{project=\"default\""), "{text}");
        assert!(text.contains("opm_build_info{version="), "{text}");
    }
}
