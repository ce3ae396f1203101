//! OPM's HTTP server: the axum router, thin handlers, authentication, problem+json errors and the
//! generated OpenAPI document.
//!
//! Invariants: this is the only crate that knows HTTP; handlers hold no business logic (they
//! parse, authorize, call the registry or store, and convert); every error response is a problem
//! document with a stable code and the request id.

mod app;
pub mod auth;
mod bootstrap;
pub mod convert;
pub mod error;
pub mod extract;
mod openapi;
pub mod routes;

use std::path::PathBuf;
use std::sync::Arc;

use opm_registry::Registry;

pub use app::{build_router, openapi_document};
pub use bootstrap::{ADMIN_KEY_FILE, BootstrapOutcome, bootstrap_admin_key};

/// Largest accepted request body, in bytes (413 beyond it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
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
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8321".to_owned(),
            database_url: None,
            data_dir: PathBuf::from(".opm"),
            bootstrap_admin_key: None,
        }
    }
}

impl ServeConfig {
    /// The database URL in effect.
    pub fn effective_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("opm.db").display()))
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
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the store, bootstraps the first admin key, and serves until SIGINT or SIGTERM.
/// Prints `opm listening on http://ADDR` on stdout once the socket is bound.
pub async fn serve(config: ServeConfig) -> Result<(), ServerError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| ServerError::DataDir { path: config.data_dir.clone(), source })?;
    let store = opm_store::connect(&config.effective_database_url()).await?;
    let registry = Registry::new(store);
    match bootstrap_admin_key(registry.store().as_ref(), &config.data_dir, config.bootstrap_admin_key.as_deref()).await? {
        BootstrapOutcome::Generated { secret, path } => {
            println!("created the first admin key (shown once, also saved to {}):", path.display());
            println!("  {secret}");
        }
        BootstrapOutcome::FromEnvironment => tracing::info!("created the first admin key from OPM_BOOTSTRAP_ADMIN_KEY"),
        BootstrapOutcome::AlreadyHadKeys => {}
    }
    let router = build_router(AppState { registry });
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
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
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
