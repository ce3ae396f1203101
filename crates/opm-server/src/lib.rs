//! OPM's HTTP server: the axum router, thin handlers, authentication, problem+json errors and the
//! generated OpenAPI document.
//!
//! Invariants: this is the only crate that knows HTTP; handlers hold no business logic (they
//! parse, authorize, call the registry or store, and convert); every error response is a problem
//! document with a stable code and the request id.

mod app;
pub mod auth;
mod bootstrap;
pub mod controller;
pub mod convert;
pub mod convert_governance;
pub mod error;
pub mod events;
pub mod extract;
pub mod key_usage;
pub mod limits;
pub mod llm;
pub mod metrics;
mod openapi;
mod otel;
pub mod prometheus;
pub mod recorder;
pub mod retention;
pub mod routes;
mod webhooks;
pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use opm_gateway::{Gateway, GatewayConfig, GenerationRecorder, PriceTable};
use opm_registry::Registry;

use crate::metrics::Metrics;
use crate::recorder::{GenerationWriter, RecorderSettings};
use crate::retention::RetentionSettings;

pub use app::{build_api_router, build_router, openapi_document};
pub use bootstrap::{ADMIN_KEY_FILE, BootstrapOutcome, bootstrap_admin_key};

/// Largest accepted request body, in bytes (413 beyond it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

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
}

impl AppState {
    /// State over `registry` and `gateway`; starts the generation writer (needs a Tokio runtime).
    pub fn new(
        registry: Arc<Registry>,
        gateway: Arc<Gateway>,
        otel: opm_telemetry::Telemetry,
        settings: &RecorderSettings,
    ) -> Self {
        let metrics = Arc::new(Metrics::new());
        let (writer, recorder) =
            GenerationWriter::start(registry.store().clone(), metrics.clone(), otel.clone(), settings);
        let events = events::EventFeed::start(registry.store().clone());
        let recorder = Arc::new(recorder);
        let limits = Arc::new(limits::Limiter::new(registry.clone()));
        limits.spawn_reconcile(writer.clone());
        Self { inner: Arc::new(AppParts { registry, gateway, recorder, metrics, otel, writer, events, limits }) }
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

/// The `opm.toml` file: `[gateway]` (providers) and `[telemetry]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub gateway: GatewayConfig,
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    /// `[[webhooks]]`: endpoints that receive change events, signed and retried.
    #[serde(default)]
    pub webhooks: Vec<opm_webhooks::WebhookConfig>,
    /// `[rollouts]`: extra canary checks (Prometheus).
    #[serde(default)]
    pub rollouts: prometheus::RolloutSettings,
    /// `[cache]`: the resolve cache's byte budget.
    #[serde(default)]
    pub cache: CacheSettings,
}

/// `[cache]` in `opm.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Estimated bytes the resolve cache may hold before it evicts the least recently read entries.
    #[serde(default = "default_cache_max_bytes")]
    pub max_bytes: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self { max_bytes: default_cache_max_bytes() }
    }
}

fn default_cache_max_bytes() -> usize {
    opm_registry::DEFAULT_CACHE_MAX_BYTES
}

/// `[telemetry]` in `opm.toml`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `[telemetry.recorder]`: the generation queue.
    #[serde(default)]
    pub recorder: RecorderSettings,
    /// `[telemetry.retention]`: how long generations are kept.
    #[serde(default)]
    pub retention: RetentionSettings,
}

impl FileConfig {
    /// Reads `path`; a missing default file is an empty configuration, a missing explicit one an error.
    pub fn load(path: &std::path::Path, explicit: bool) -> Result<Self, ServerError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Self::default()),
            Err(source) => return Err(ServerError::ConfigFile { path: path.to_owned(), message: source.to_string() }),
        };
        toml::from_str(&text)
            .map_err(|error| ServerError::ConfigFile { path: path.to_owned(), message: error.to_string() })
    }
}

/// How `opm serve` runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on, e.g. `127.0.0.1:8321` (port 0 picks a free one).
    pub addr: String,
    /// `postgres://…` or `sqlite://…`; defaults to `<data_dir>/opm.db`.
    pub database_url: Option<String>,
    /// Holds the SQLite file and the bootstrap admin key file.
    pub data_dir: PathBuf,
    /// The first admin key's secret, when the store has no keys yet.
    pub bootstrap_admin_key: Option<String>,
    /// `opm.toml`; defaults to `<data_dir>/opm.toml` when that file exists.
    pub config_path: Option<PathBuf>,
    /// How often the rollout controller wakes up.
    pub rollout_tick: std::time::Duration,
    /// Lets an admin move the clock forward (`POST /api/v1/clock/advance`); tests only.
    pub adjustable_clock: bool,
    /// Serve the web UI at `/ui/` (on by default; `opm serve --no-ui` turns it off).
    pub ui: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8321".to_owned(),
            database_url: None,
            data_dir: PathBuf::from(".opm"),
            bootstrap_admin_key: None,
            config_path: None,
            rollout_tick: controller::DEFAULT_TICK,
            adjustable_clock: false,
            ui: true,
        }
    }
}

impl ServeConfig {
    /// The database URL in effect.
    pub fn effective_database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("opm.db").display()))
    }
}

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot use data directory `{path}`: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the store: {0}")]
    Store(#[from] opm_store::StoreError),
    #[error("cannot listen on `{addr}`: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot write the admin key file `{path}`: {source}")]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error("OPM_BOOTSTRAP_ADMIN_KEY is not usable: {0}")]
    BootstrapKey(String),
    #[error("cannot use the configuration file `{path}`: {message}")]
    ConfigFile { path: PathBuf, message: String },
    #[error("OpenTelemetry: {0}")]
    Telemetry(#[from] opm_telemetry::TelemetryError),
    #[error("gateway configuration: {0}")]
    Gateway(#[from] opm_gateway::GatewayError),
    #[error("webhooks: {0}")]
    Webhooks(#[from] opm_webhooks::WebhookError),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the store, bootstraps the first admin key, and serves until SIGINT or SIGTERM.
/// Prints `opm listening on http://ADDR` on stdout once the socket is bound.
pub async fn serve(config: ServeConfig) -> Result<(), ServerError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| ServerError::DataDir { path: config.data_dir.clone(), source })?;
    let file_config = match &config.config_path {
        Some(path) => FileConfig::load(path, true)?,
        None => FileConfig::load(&config.data_dir.join("opm.toml"), false)?,
    };
    let mut gateway_config = file_config.gateway;
    gateway_config
        .providers
        .entry(opm_gateway::MOCK_PROVIDER.to_owned())
        .or_insert_with(|| opm_gateway::ProviderConfig::new(opm_gateway::ProviderKind::Mock));
    let gateway = Arc::new(Gateway::new(gateway_config, PriceTable::builtin())?);
    for (name, kind) in gateway.providers() {
        tracing::info!(provider = %name, kind = kind.as_str(), "gateway provider");
    }
    let store = opm_store::connect(&config.effective_database_url()).await?;
    let clock = if config.adjustable_clock {
        tracing::warn!("the clock is adjustable (POST /api/v1/clock/advance): a testing aid, never for production");
        opm_registry::Clock::adjustable()
    } else {
        opm_registry::Clock::system()
    };
    let registry = Registry::with_clock(store, Arc::new(clock));
    registry.set_cache_budget(file_config.cache.max_bytes);
    match bootstrap_admin_key(
        registry.store().as_ref(),
        &config.data_dir,
        config.bootstrap_admin_key.as_deref(),
        registry.clock().now(),
    )
    .await?
    {
        BootstrapOutcome::Generated { secret, path } => {
            println!("created the first admin key (shown once, also saved to {}):", path.display());
            println!("  {secret}");
        }
        BootstrapOutcome::FromEnvironment => tracing::info!("created the first admin key from OPM_BOOTSTRAP_ADMIN_KEY"),
        BootstrapOutcome::AlreadyHadKeys => {}
    }
    let otel = opm_telemetry::Telemetry::init(opm_telemetry::OtelConfig::from_env()?)?;
    let telemetry = file_config.telemetry;
    let state = AppState::new(registry, gateway, otel.clone(), &telemetry.recorder);
    let key_usage = key_usage::spawn(state.registry.clone(), key_usage::FLUSH_INTERVAL);
    let retention = retention::spawn(
        state.registry.store().clone(),
        state.metrics.clone(),
        state.registry.clock().clone(),
        telemetry.retention,
    );
    let upkeep = {
        let metrics = state.metrics.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                ticker.tick().await;
                metrics.upkeep();
            }
        })
    };
    let leader = controller::LeaderFlag::default();
    let webhooks = webhooks::start(&state, file_config.webhooks, leader.clone())?;
    let external: Option<Arc<dyn opm_registry::ExternalChecks>> = match file_config.rollouts.prometheus {
        Some(settings) => {
            tracing::info!(url = %settings.url, "rollout checks also query Prometheus");
            Some(Arc::new(prometheus::PrometheusChecks::new(settings)?))
        }
        None => None,
    };
    let controller = controller::spawn(state.clone(), config.rollout_tick, leader, external);
    let writer = state.writer.clone();
    let registry_for_flush = state.registry.clone();
    let router = if config.ui { build_router(state) } else { build_api_router(state) };
    let listener = tokio::net::TcpListener::bind(&config.addr)
        .await
        .map_err(|source| ServerError::Bind { addr: config.addr.clone(), source })?;
    let local = listener.local_addr()?;
    println!("opm listening on http://{local}");
    tracing::info!(addr = %local, "listening");
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
    });
    let served = axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await;
    retention.abort();
    upkeep.abort();
    key_usage.abort();
    controller.abort();
    if let Some(webhooks) = webhooks {
        webhooks.stop().await;
    }
    // Write out every queued generation before exiting, then flush OTLP.
    writer.shutdown().await;
    key_usage::flush(&registry_for_flush).await;
    otel.shutdown().await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
