//! `opm serve`: open the store, bootstrap the first admin key, start the background tasks
//! (generation writer, key usage flush, retention, rollout controller, webhooks), serve until
//! SIGINT or SIGTERM, then drain (bounded, [`crate::shutdown`]) and flush; and the errors that
//! stop a server ([`ServerError`]).

use std::path::PathBuf;
use std::sync::Arc;

use opm_gateway::{Gateway, PriceTable};
use opm_registry::Registry;

use crate::{
    AppState, BootstrapOutcome, FileConfig, ServeConfig, bootstrap_admin_key, build_api_router, build_router,
    controller, key_usage, prometheus, retention, shutdown, webhooks,
};

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
    let stopping = state.shutdown.clone();
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
    let server = axum::serve(listener, router).with_graceful_shutdown(stopping.begun());
    let served = shutdown::drain(server, shutdown::signal(), &stopping, config.shutdown_grace).await;
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
