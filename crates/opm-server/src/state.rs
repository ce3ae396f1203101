//! The state every handler shares ([`AppState`]): the registry, the gateway, the telemetry
//! pipeline, the change feed, the gateway limits and the shutdown signal, behind one `Arc`.

use std::sync::Arc;

use opm_gateway::{Gateway, GatewayConfig, GenerationRecorder, PriceTable};
use opm_registry::Registry;

use crate::metrics::Metrics;
use crate::recorder::{GenerationWriter, RecorderSettings};
use crate::shutdown::Shutdown;
use crate::{ServerError, events, limits};

/// Shared state of every handler: one `Arc`, so the per-request clones (middleware, extractors,
/// handler) touch one reference count instead of one per field (profiled on the render path).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppParts>,
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.inner
    }
}

/// What [`AppState`] holds.
pub struct AppParts {
    pub registry: Arc<Registry>,
    pub gateway: Arc<Gateway>,
    /// Receives a record of every gateway call; must never block.
    pub recorder: Arc<dyn GenerationRecorder>,
    pub metrics: Arc<Metrics>,
    /// OpenTelemetry export; a no-op unless the `OTEL_EXPORTER_OTLP_*` variables enable it.
    pub otel: opm_telemetry::Telemetry,
    /// The background writer of generation records.
    pub writer: GenerationWriter,
    /// Label and version changes for `/api/v1/watch` and webhooks.
    pub events: Arc<events::EventFeed>,
    /// Request rates and spend budgets on the LLM routes.
    pub limits: Arc<limits::Limiter>,
    /// Set when the server starts to stop: long-lived answers (watch streams) end.
    pub shutdown: Shutdown,
}

impl AppState {
    /// State over `registry` and `gateway`; starts the generation writer (needs a Tokio runtime).
    pub fn new(
        registry: Arc<Registry>,
        gateway: Arc<Gateway>,
        otel: opm_telemetry::Telemetry,
        settings: &RecorderSettings,
    ) -> Self {
        // Cache entries keep the resolve answer encoded in this API's JSON.
        registry.set_answer_encoder(Arc::new(crate::convert::ResolveAnswers));
        let metrics = Arc::new(Metrics::new());
        let (writer, recorder) =
            GenerationWriter::start(registry.store().clone(), metrics.clone(), otel.clone(), settings);
        let events = events::EventFeed::start(registry.store().clone());
        let recorder = Arc::new(recorder);
        let limits = Arc::new(limits::Limiter::new(registry.clone()));
        limits.spawn_reconcile(writer.clone());
        let shutdown = Shutdown::default();
        Self {
            inner: Arc::new(AppParts { registry, gateway, recorder, metrics, otel, writer, events, limits, shutdown }),
        }
    }

    /// The same state with another recorder in front of the pipeline (tests that capture records).
    /// Call it before the state is cloned: a shared state cannot change and is returned as it is.
    pub fn with_recorder(mut self, recorder: Arc<dyn GenerationRecorder>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(parts) => parts.recorder = recorder,
            None => tracing::warn!("AppState::with_recorder on a shared state: recorder not replaced"),
        }
        self
    }

    /// State with the default gateway (the built-in `mock` provider only) and no OTLP export.
    pub fn with_default_gateway(registry: Arc<Registry>) -> Result<Self, ServerError> {
        let gateway = Gateway::new(GatewayConfig::default(), PriceTable::builtin())?;
        Ok(Self::new(registry, Arc::new(gateway), opm_telemetry::Telemetry::disabled(), &RecorderSettings::default()))
    }
}
