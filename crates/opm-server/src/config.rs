//! What configures a server: the `opm.toml` file ([`FileConfig`]: gateway providers, telemetry,
//! webhooks, rollout checks, the resolve cache) and the command line's [`ServeConfig`].

use std::path::PathBuf;

use opm_gateway::GatewayConfig;

use crate::recorder::RecorderSettings;
use crate::retention::RetentionSettings;
use crate::{ServerError, controller, prometheus};

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
    /// How long in-flight requests may finish after SIGTERM before they are dropped.
    pub shutdown_grace: std::time::Duration,
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
            shutdown_grace: crate::shutdown::DEFAULT_GRACE,
        }
    }
}

impl ServeConfig {
    /// The database URL in effect.
    pub fn effective_database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("opm.db").display()))
    }
}
