//! `[[webhooks]]` entries of `opm.toml`, and their validation into a ready-to-use endpoint.
//!
//! The secret is read once (from `secret`, or from the environment variable `secret_env` names)
//! when [`crate::Webhooks::start`] runs; it never appears in `Debug` output, logs or errors.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::WebhookError;
use crate::filter::EventFilter;

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// One `[[webhooks]]` entry: where to post, how to sign, what to send, and how hard to retry.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The `http` or `https` URL each event is posted to.
    pub url: String,
    /// The signing secret (at least 16 bytes); exactly one of `secret` and `secret_env` is set.
    #[serde(default)]
    pub secret: Option<String>,
    /// The name of an environment variable holding the signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Event patterns: exact names (`label.set`), prefixes (`rollout.*`) or `*` (the default).
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// Only events of these projects; every project when absent.
    #[serde(default)]
    pub projects: Option<Vec<String>>,
    /// The limit for one attempt, connecting and the response headers included (default 5s).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per event, the first included, before the event is given up (default 8).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The backoff before the first retry; it doubles on each retry (default 500ms).
    #[serde(default = "default_initial_backoff", with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// The longest backoff, and the longest `Retry-After` honoured (default 60s).
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
}

fn default_events() -> Vec<String> {
    vec!["*".to_owned()]
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_max_attempts() -> u32 {
    8
}
fn default_initial_backoff() -> Duration {
    Duration::from_millis(500)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}

impl WebhookConfig {
    /// An entry posting every event to `url`, signed with `secret`, with the default limits.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: Some(secret.into()),
            secret_env: None,
            events: default_events(),
            projects: None,
            timeout: default_timeout(),
            max_attempts: default_max_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }

    /// Validates the entry at position `index` and reads its secret (through `env` for `secret_env`).
    pub(crate) fn resolve(&self, index: usize, env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint, WebhookError> {
        let mut webhook = format!("webhooks[{index}]");
        let url = Url::parse(&self.url).map_err(|error| config_error(&webhook, format!("invalid `url`: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config_error(&webhook, format!("`url` must be http or https, not `{}`", url.scheme())));
        }
        let Some(host) = url.host_str() else {
            return Err(config_error(&webhook, "`url` has no host".into()));
        };
        let label = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        webhook = format!("{webhook} ({label})");
        let invalid = |message: String| config_error(&webhook, message);
        let secret = match (&self.secret, &self.secret_env) {
            (Some(_), Some(_)) => return Err(invalid("set either `secret` or `secret_env`, not both".into())),
            (None, None) => return Err(invalid("a signing secret is required: set `secret` or `secret_env`".into())),
            (Some(secret), None) => secret.clone(),
            (None, Some(name)) => env(name).ok_or_else(|| {
                invalid(format!("the environment variable `{name}` named by `secret_env` is not set (or not UTF-8)"))
            })?,
        };
        if secret.len() < MIN_SECRET_BYTES {
            return Err(invalid(format!(
                "the secret is {} bytes long; at least {MIN_SECRET_BYTES} are required (generate one with \
                 `openssl rand -hex 32`)",
                secret.len()
            )));
        }
        let filter = EventFilter::new(&self.events, self.projects.as_deref()).map_err(&invalid)?;
        if self.timeout.is_zero() {
            return Err(invalid("`timeout` must be longer than zero".into()));
        }
        if self.max_attempts == 0 {
            return Err(invalid("`max_attempts` must be at least 1".into()));
        }
        if self.initial_backoff > self.max_backoff {
            return Err(invalid(format!(
                "`initial_backoff` ({}) is longer than `max_backoff` ({})",
                humantime::format_duration(self.initial_backoff),
                humantime::format_duration(self.max_backoff)
            )));
        }
        Ok(Endpoint {
            url,
            label,
            secret: Secret(secret.into_bytes()),
            filter,
            timeout: self.timeout,
            max_attempts: self.max_attempts,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
        })
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redact_query(&self.url))
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_env", &self.secret_env)
            .field("events", &self.events)
            .field("projects", &self.projects)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

/// A validated entry with its secret read. `Debug` shows neither the secret nor the URL.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: Url,
    /// `host[:port]`: how logs and stats name the endpoint (a path or query may carry a token).
    pub(crate) label: String,
    pub(crate) secret: Secret,
    pub(crate) filter: EventFilter,
    pub(crate) timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("label", &self.label)
            .field("filter", &self.filter)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish_non_exhaustive()
    }
}

/// A signing secret; its `Debug` output is redacted.
#[derive(Clone)]
pub(crate) struct Secret(Vec<u8>);

impl Secret {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

fn config_error(webhook: &str, message: String) -> WebhookError {
    WebhookError::Config { webhook: webhook.to_owned(), message }
}

/// The URL with its query (which may carry a token) replaced by `<redacted>`.
fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
#[path = "config/tests.rs"]
mod tests;
