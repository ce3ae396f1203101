//! The gateway's configuration as read from `opm.toml`: named providers, each with its wire
//! format, endpoint, where its API key lives, timeouts, retry policy, circuit breaker and price
//! overrides.
//!
//! Only the *location* of a secret (an environment variable name or a file path) is configured;
//! the key itself is read once by [`crate::Gateway::new`] and never serialized or logged.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::price::Price;

/// The name the built-in mock provider is always available under.
pub const MOCK_PROVIDER: &str = "mock";

/// Every configured provider, by the name targets use (`openai/gpt-4o` → provider `openai`).
///
/// A `mock` provider is always present, whether configured or not.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
}

impl Default for GatewayConfig {
    /// Just the built-in mock provider: enough for demos and the quick start.
    fn default() -> Self {
        let mut providers = BTreeMap::new();
        providers.insert(MOCK_PROVIDER.to_owned(), ProviderConfig::new(ProviderKind::Mock));
        Self { providers }
    }
}

impl GatewayConfig {
    /// Parses the gateway section of a TOML file (the `[providers.*]` tables).
    pub fn from_toml(text: &str) -> Result<Self, crate::GatewayError> {
        toml::from_str(text).map_err(|error| crate::GatewayError::Config { message: error.to_string() })
    }

    /// Adds (or replaces) a provider; handy in tests and for programmatic setups.
    #[must_use]
    pub fn with_provider(mut self, name: impl Into<String>, provider: ProviderConfig) -> Self {
        self.providers.insert(name.into(), provider);
        self
    }
}

/// Which wire format and conventions a provider uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenAI Chat Completions; key from `OPENAI_API_KEY` unless configured.
    Openai,
    /// Anthropic Messages; key from `ANTHROPIC_API_KEY` unless configured.
    Anthropic,
    /// Any server speaking Chat Completions (llama.cpp, vLLM, Ollama's `/v1`); `base_url` required,
    /// key optional, free unless priced.
    OpenaiCompatible,
    /// Built-in deterministic replies without network, for demos and tests.
    Mock,
}

impl ProviderKind {
    /// The kebab-case name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::OpenaiCompatible => "openai-compatible",
            ProviderKind::Mock => "mock",
        }
    }

    /// The base URL used when none is configured.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("https://api.openai.com/v1"),
            ProviderKind::Anthropic => Some("https://api.anthropic.com/v1"),
            ProviderKind::OpenaiCompatible | ProviderKind::Mock => None,
        }
    }

    /// The environment variable holding the key when neither `api_key_env` nor `api_key_file` is set.
    pub fn default_api_key_env(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("OPENAI_API_KEY"),
            ProviderKind::Anthropic => Some("ANTHROPIC_API_KEY"),
            ProviderKind::OpenaiCompatible | ProviderKind::Mock => None,
        }
    }
}

/// One provider's settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    #[serde(rename = "type")]
    pub kind: ProviderKind,
    /// Including the version path, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The environment variable holding the API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// A file holding the API key (surrounding whitespace is trimmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    /// Extra headers sent with every request (marked sensitive: never logged).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub retry: RetryPolicy,
    #[serde(default)]
    pub breaker: BreakerPolicy,
    #[serde(default)]
    pub pool: PoolPolicy,
    /// Per-model prices (USD per million tokens) that override the shipped price table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Price>,
}

impl ProviderConfig {
    /// A provider of `kind` with every other setting at its default.
    pub fn new(kind: ProviderKind) -> Self {
        Self {
            kind,
            base_url: None,
            api_key_env: None,
            api_key_file: None,
            headers: BTreeMap::new(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            pool: PoolPolicy::default(),
            prices: BTreeMap::new(),
        }
    }

    /// Sets `base_url`.
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Adds a header sent with every request.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// Per-attempt time limits, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// Opening the connection (default 5000).
    pub connect_ms: u64,
    /// Until the response headers, and for a stream until its first event (default 60000).
    pub first_byte_ms: u64,
    /// The whole attempt, the full body or stream included (default 300000).
    pub total_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect_ms: 5_000, first_byte_ms: 60_000, total_ms: 300_000 }
    }
}

/// The idle upstream connections kept for reuse. Each one holds its grown read and write buffers
/// (about 95 KB after streamed answers, measured: docs/benchmarks.md, "RSS after the full gateway
/// benchmark"), so after a burst an unbounded pool keeps hundreds of them; past the cap a finished
/// connection is closed instead of pooled, and a later request opens a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolPolicy {
    /// Most idle connections kept (default 64; 0 keeps none: every request connects).
    pub max_idle: usize,
    /// How long an idle connection is kept, in milliseconds (default 30000; at least 1000).
    pub idle_timeout_ms: u64,
}

impl Default for PoolPolicy {
    fn default() -> Self {
        Self { max_idle: 64, idle_timeout_ms: 30_000 }
    }
}

/// Retries at one provider: exponential backoff with full jitter, `Retry-After` honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per target, the first included (default 3; 1 disables retries).
    pub max_attempts: u32,
    /// The backoff cap before the first retry (default 200); doubled each retry.
    pub base_delay_ms: u64,
    /// The largest backoff cap (default 5000).
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, base_delay_ms: 200, max_delay_ms: 5_000 }
    }
}

/// The provider's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerPolicy {
    /// Consecutive failed attempts that open the breaker (default 5; 0 disables the breaker).
    pub failure_threshold: u32,
    /// How long the breaker stays open before letting one probe through (default 30000).
    pub open_ms: u64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self { failure_threshold: 5, open_ms: 30_000 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_provider_table() {
        let config = GatewayConfig::from_toml(
            r#"
            [providers.openai]
            type = "openai"
            api_key_env = "OPENAI_API_KEY"

            [providers.local]
            type = "openai-compatible"
            base_url = "http://127.0.0.1:8080/v1"
            headers = { "x-team" = "search" }
            timeouts = { first_byte_ms = 20000 }
            retry = { max_attempts = 2 }

            [providers.claude]
            type = "anthropic"
            api_key_file = "/run/secrets/anthropic"
            breaker = { failure_threshold = 3, open_ms = 10000 }
            prices = { "claude-sonnet-4-5" = { input = 3.0, output = 15.0, cached_input = 0.3 } }
            "#,
        )
        .unwrap();
        let local = &config.providers["local"];
        assert_eq!(local.kind, ProviderKind::OpenaiCompatible);
        assert_eq!(local.timeouts, Timeouts { connect_ms: 5_000, first_byte_ms: 20_000, total_ms: 300_000 });
        assert_eq!(local.retry.max_attempts, 2);
        assert_eq!(local.retry.base_delay_ms, 200);
        assert_eq!(local.headers["x-team"], "search");
        let claude = &config.providers["claude"];
        assert_eq!(claude.breaker, BreakerPolicy { failure_threshold: 3, open_ms: 10_000 });
        assert_eq!(claude.prices["claude-sonnet-4-5"].cached_input, Some(0.3));
        assert_eq!(config.providers["openai"].kind.default_base_url(), Some("https://api.openai.com/v1"));
    }

    #[test]
    fn rejects_typos_and_unknown_types() {
        assert!(GatewayConfig::from_toml("[providers.x]\ntype = \"openai\"\nbase_ur = \"x\"").is_err());
        assert!(GatewayConfig::from_toml("[providers.x]\ntype = \"gemini\"").is_err());
        assert!(GatewayConfig::from_toml("[providers.x]\ntype = \"mock\"\nretry = { attempts = 2 }").is_err());
    }

    #[test]
    fn default_is_just_the_mock() {
        let config = GatewayConfig::default();
        assert_eq!(config.providers.keys().collect::<Vec<_>>(), ["mock"]);
        assert_eq!(GatewayConfig::from_toml("").unwrap().providers.len(), 0);
    }
}
