//! OPM's OpenTelemetry export: a SERVER span per HTTP request (continuing an incoming W3C
//! `traceparent`), a CLIENT span per model call with the GenAI semantic-convention attributes, and
//! the GenAI client metrics, all sent over OTLP (HTTP/protobuf or gRPC) with batching.
//!
//! ```no_run
//! # async fn example(headers: http::HeaderMap) -> Result<(), opm_telemetry::TelemetryError> {
//! use opm_telemetry::{ModelCallOutcome, ModelCallStart, OtelConfig, Telemetry};
//! let telemetry = Telemetry::init(OtelConfig::from_env()?)?;
//! let request = telemetry.server_span("POST", "/v1/chat/completions", &headers);
//! request.set_url_path("/v1/chat/completions");
//! let call = telemetry.model_span(Some(&request.context()), &ModelCallStart::chat("openai", "gpt-4o"));
//! let _upstream_header = call.traceparent(); // send as `traceparent` to the provider
//! call.finish(&ModelCallOutcome { input_tokens: Some(12), ..ModelCallOutcome::default() });
//! request.finish(200);
//! telemetry.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! With no OTLP endpoint configured, [`Telemetry::disabled`] is used and every call is an
//! `Option` check: no span is built and nothing is allocated.

mod config;
mod export;
pub mod genai;
mod metrics;
mod model;
mod server;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

pub use config::{DEFAULT_SERVICE_NAME, DEFAULT_SHUTDOWN_TIMEOUT, OtelConfig, OtlpProtocol, SignalExport};
pub use metrics::ModelCallMetrics;
pub use model::{MAX_CONTENT_BYTES, ModelCallOutcome, ModelCallStart, ModelSpan};
/// A span context to pass between the middleware, handlers and [`Telemetry::model_span`]
/// (`opentelemetry::Context`; empty when tracing is off).
pub use opentelemetry::Context as TraceContext;
pub use server::RequestSpan;

/// What can go wrong when telemetry is configured or started.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("environment variable `{name}` is `{value}`; expected {expected}")]
    InvalidEnv { name: &'static str, value: String, expected: &'static str },
    #[error("OTLP endpoint `{endpoint}` is not an absolute http:// or https:// URL")]
    InvalidEndpoint { endpoint: String },
    #[error("OTLP/gRPC export needs a Tokio runtime: start telemetry from inside one")]
    NoTokioRuntime,
    #[error("cannot build the OTLP {signal} exporter for `{endpoint}`: {source}")]
    Exporter {
        signal: &'static str,
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// The telemetry handle: cheap to clone (one `Arc`), and a no-op when disabled.
#[derive(Clone, Default)]
pub struct Telemetry {
    inner: Option<Arc<Inner>>,
}

/// The live providers; present only when something is exported.
struct Inner {
    /// `None` when traces are not exported.
    tracer: Option<SdkTracer>,
    /// `None` when metrics are not exported.
    instruments: Option<metrics::Instruments>,
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    capture_content: bool,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.as_deref();
        f.debug_struct("Telemetry")
            .field("traces", &inner.is_some_and(|inner| inner.tracer.is_some()))
            .field("metrics", &inner.is_some_and(|inner| inner.instruments.is_some()))
            .field("capture_content", &inner.is_some_and(|inner| inner.capture_content))
            .finish()
    }
}

impl Telemetry {
    /// Starts the tracer and meter providers with batch export, or returns [`Telemetry::disabled`]
    /// when `config` exports nothing. gRPC export must be started inside a Tokio runtime.
    pub fn init(config: OtelConfig) -> Result<Telemetry, TelemetryError> {
        if !config.is_enabled() {
            return Ok(Telemetry::disabled());
        }
        let inner = export::start(&config)?;
        tracing::info!(
            traces_endpoint = config.traces.as_ref().map(|s| s.endpoint.as_str()),
            traces_protocol = config.traces.as_ref().map(|s| s.protocol.as_str()),
            metrics_endpoint = config.metrics.as_ref().map(|s| s.endpoint.as_str()),
            metrics_protocol = config.metrics.as_ref().map(|s| s.protocol.as_str()),
            service_name = %config.service_name,
            capture_content = config.capture_content,
            "OpenTelemetry export started"
        );
        Ok(Telemetry { inner: Some(Arc::new(inner)) })
    }

    /// Telemetry that records and exports nothing.
    pub fn disabled() -> Telemetry {
        Telemetry { inner: None }
    }

    /// Whether anything (traces or metrics) is exported.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Whether message content is recorded on model spans: build the JSON for
    /// [`ModelCallStart::input_messages_json`] and [`ModelCallOutcome::output_messages_json`]
    /// only when this is true.
    pub fn captures_content(&self) -> bool {
        self.inner.as_deref().is_some_and(|inner| inner.capture_content && inner.tracer.is_some())
    }

    /// Flushes and stops both providers, waiting at most the configured shutdown timeout (the
    /// work runs on a blocking thread, so the runtime keeps serving the gRPC exporter meanwhile).
    /// Later spans and measurements are dropped. Calling it twice is harmless.
    pub async fn shutdown(&self) {
        let Some(inner) = self.inner.clone() else { return };
        let timeout = inner.shutdown_timeout;
        let work = tokio::task::spawn_blocking(move || inner.shutdown_providers());
        if tokio::time::timeout(timeout, work).await.is_err() {
            tracing::warn!(timeout_ms = timeout.as_millis(), "telemetry shutdown timed out; some data may be lost");
        }
    }

    /// [`Telemetry::shutdown`] for code outside an async context; bounded the same way.
    pub fn shutdown_blocking(&self) {
        let Some(inner) = self.inner.clone() else { return };
        let timeout = inner.shutdown_timeout;
        let (done, finished) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("opm-telemetry-shutdown".into()).spawn(move || {
            inner.shutdown_providers();
            let _ = done.send(());
        });
        if spawned.is_err() || finished.recv_timeout(timeout).is_err() {
            tracing::warn!(timeout_ms = timeout.as_millis(), "telemetry shutdown timed out; some data may be lost");
        }
    }
}

impl Inner {
    fn shutdown_providers(&self) {
        if let Some(provider) = &self.tracer_provider {
            report_shutdown("tracer", provider.shutdown_with_timeout(self.shutdown_timeout));
        }
        if let Some(provider) = &self.meter_provider {
            report_shutdown("meter", provider.shutdown_with_timeout(self.shutdown_timeout));
        }
    }
}

fn report_shutdown(provider: &'static str, result: opentelemetry_sdk::error::OTelSdkResult) {
    match result {
        Ok(()) | Err(opentelemetry_sdk::error::OTelSdkError::AlreadyShutdown) => {}
        Err(error) => tracing::warn!(provider, %error, "telemetry provider shutdown failed"),
    }
}
