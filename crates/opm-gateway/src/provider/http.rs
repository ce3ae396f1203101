//! The HTTP side of a provider: the pooled client (TCP_NODELAY, connect timeout, bounded idle pool), the API key read
//! once at start, auth and extra headers, sending with deadlines, and turning failures into errors
//! that name the provider without leaking the key.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::time::timeout_at;

use super::{Deadlines, Wire};
use crate::{GatewayError, ProviderConfig};

/// The `anthropic-version` header every Messages request carries.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The most characters of an upstream error message kept in our errors.
const MAX_UPSTREAM_MESSAGE: usize = 500;
/// The most bytes of an upstream error body read.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// An HTTP upstream: where to post, with which headers, in which format.
pub(crate) struct HttpUpstream {
    pub(crate) wire: Wire,
    client: reqwest::Client,
    url: String,
    /// Auth and configured headers, all marked sensitive.
    headers: HeaderMap,
    /// Kept only to scrub it from upstream error messages.
    secret: Option<String>,
    /// Why no key could be read, when one is needed: every call then fails without network.
    missing_key: Option<String>,
}

impl std::fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpUpstream").field("wire", &self.wire).field("url", &self.url).finish_non_exhaustive()
    }
}

impl HttpUpstream {
    pub(crate) fn build(name: &str, config: &ProviderConfig, wire: Wire) -> Result<Self, GatewayError> {
        let invalid = |message: String| GatewayError::Config { message: format!("provider `{name}`: {message}") };
        let base_url = config
            .base_url
            .as_deref()
            .or(config.kind.default_base_url())
            .ok_or_else(|| invalid(format!("`base_url` is required for type `{}`", config.kind.as_str())))?;
        let parsed = reqwest::Url::parse(base_url).map_err(|error| invalid(format!("invalid `base_url`: {error}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("`base_url` must be an http or https URL".into()));
        }
        let url = format!("{}{}", base_url.trim_end_matches('/'), wire.path());
        let (secret, missing_key) = match read_api_key(config).map_err(invalid)? {
            ApiKey::Present(key) => (Some(key), None),
            ApiKey::NotNeeded => (None, None),
            ApiKey::Missing(reason) => {
                tracing::warn!(provider = name, reason = %reason, "provider has no API key: its calls will fail");
                (None, Some(reason))
            }
        };
        let mut headers = HeaderMap::new();
        if let Some(key) = &secret {
            match wire {
                Wire::OpenAi { .. } => insert(&mut headers, "authorization", &format!("Bearer {key}"))
                    .map_err(|_| invalid("the API key is not a valid header value".into()))?,
                Wire::Anthropic => insert(&mut headers, "x-api-key", key)
                    .map_err(|_| invalid("the API key is not a valid header value".into()))?,
            }
        }
        if wire == Wire::Anthropic {
            insert(&mut headers, "anthropic-version", ANTHROPIC_VERSION).map_err(invalid)?;
        }
        for (header, value) in &config.headers {
            insert(&mut headers, header, value).map_err(invalid)?;
        }
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_millis(config.timeouts.connect_ms))
            .pool_idle_timeout(Duration::from_millis(config.pool.idle_timeout_ms))
            .pool_max_idle_per_host(config.pool.max_idle)
            .build()
            .map_err(|error| invalid(format!("cannot build the HTTP client: {}", error_chain(&error))))?;
        Ok(Self { wire, client, url, headers, secret, missing_key })
    }

    /// Posts `body` and returns the response once its headers arrive with a success status.
    pub(crate) async fn post(
        &self,
        provider: &str,
        body: &Value,
        traceparent: Option<&str>,
        deadlines: &Deadlines,
    ) -> Result<reqwest::Response, GatewayError> {
        if let Some(reason) = &self.missing_key {
            return Err(GatewayError::Auth { provider: provider.to_owned(), status: None, message: reason.clone() });
        }
        let mut request = self.client.post(&self.url).headers(self.headers.clone()).json(body);
        if let Some(value) = traceparent.and_then(|value| HeaderValue::from_str(value).ok()) {
            request = request.header("traceparent", value);
        }
        let response = match timeout_at(deadlines.first_byte_at(), request.send()).await {
            Err(_) => return Err(deadlines.first_byte_error()),
            Ok(Err(error)) => return Err(transport_error(provider, &error, deadlines)),
            Ok(Ok(response)) => response,
        };
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.status_error(provider, response, deadlines).await)
    }

    /// Posts `body` and reads the whole JSON answer.
    pub(crate) async fn post_json(
        &self,
        provider: &str,
        body: &Value,
        traceparent: Option<&str>,
        deadlines: &Deadlines,
    ) -> Result<Value, GatewayError> {
        let response = self.post(provider, body, traceparent, deadlines).await?;
        let bytes = match timeout_at(deadlines.end_at(), response.bytes()).await {
            Err(_) => return Err(deadlines.end_error()),
            Ok(Err(error)) => return Err(transport_error(provider, &error, deadlines)),
            Ok(Ok(bytes)) => bytes,
        };
        serde_json::from_slice(&bytes).map_err(|error| GatewayError::BadResponse {
            provider: provider.to_owned(),
            message: format!("the body is not JSON ({error})"),
        })
    }

    async fn status_error(&self, provider: &str, response: reqwest::Response, deadlines: &Deadlines) -> GatewayError {
        let status = response.status().as_u16();
        let retry_after = crate::retry::retry_after(response.headers());
        let body = timeout_at(deadlines.end_at(), read_limited(response)).await.unwrap_or_default();
        let message = upstream_message(&body)
            .map(|message| redact(&message, self.secret.as_deref()))
            .unwrap_or_else(|| format!("HTTP {status} without an error message"));
        let provider = provider.to_owned();
        match status {
            401 | 403 => GatewayError::Auth {
                provider,
                status: Some(status),
                message: format!(
                    "it rejected OPM's credentials (HTTP {status}); check the provider's `api_key_env` or `api_key_file`"
                ),
            },
            429 => GatewayError::RateLimited { provider, status, retry_after, message },
            408 | 500..=599 => GatewayError::Unavailable { provider, status: Some(status), message },
            _ => GatewayError::Upstream { provider, status, message },
        }
    }
}

/// Whether a provider has its API key.
#[derive(Debug, PartialEq, Eq)]
enum ApiKey {
    Present(String),
    /// The kind needs none and none is configured.
    NotNeeded,
    /// An environment variable is unset or empty: the provider stays configured but unusable.
    Missing(String),
}

/// Reads the API key from `api_key_file`, `api_key_env`, or the kind's default variable. An unreadable
/// or empty file is a configuration error; a missing variable only disables the provider (so a
/// config listing providers without keys still starts, e.g. for the mock-only quick start).
fn read_api_key(config: &ProviderConfig) -> Result<ApiKey, String> {
    let from_env = |variable: &str, hint: &str| match std::env::var(variable) {
        Ok(key) if !key.trim().is_empty() => ApiKey::Present(key.trim().to_owned()),
        _ => ApiKey::Missing(format!("no API key: environment variable `{variable}` {hint}is not set")),
    };
    match (&config.api_key_file, &config.api_key_env) {
        (Some(_), Some(_)) => Err("set `api_key_env` or `api_key_file`, not both".into()),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read `api_key_file` {}: {error}", path.display()))?;
            let key = text.trim();
            if key.is_empty() {
                return Err(format!("`api_key_file` {} is empty", path.display()));
            }
            Ok(ApiKey::Present(key.to_owned()))
        }
        (None, Some(variable)) => Ok(from_env(variable, "(api_key_env) ")),
        (None, None) => Ok(match config.kind.default_api_key_env() {
            None => ApiKey::NotNeeded,
            Some(variable) => from_env(variable, ""),
        }),
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name `{name}`"))?;
    let mut value = HeaderValue::from_str(value).map_err(|_| format!("invalid value for header `{name}`"))?;
    value.set_sensitive(true);
    headers.insert(header, value);
    Ok(())
}

/// Installs ring's rustls provider unless one is installed already.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    body
}

/// The `error.message` of an OpenAI or Anthropic error body, or the body's text.
fn upstream_message(body: &[u8]) -> Option<String> {
    let from_json = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|json| json.get("error")?.get("message")?.as_str().map(str::to_owned));
    let message = from_json.or_else(|| {
        let text = String::from_utf8_lossy(body).trim().to_owned();
        (!text.is_empty()).then_some(text)
    })?;
    Some(truncate(&message))
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_UPSTREAM_MESSAGE {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(MAX_UPSTREAM_MESSAGE).collect();
    kept.push('…');
    kept
}

/// Replaces the key (if it appears) in an upstream message.
fn redact(message: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if secret.len() >= 4 && message.contains(secret) => message.replace(secret, "[redacted]"),
        _ => message.to_owned(),
    }
}

/// A transport failure as an error: connect timeout, refused connection, broken body. The URL is
/// left out (a base URL may carry credentials).
pub(crate) fn transport_error(provider: &str, error: &reqwest::Error, deadlines: &Deadlines) -> GatewayError {
    if error.is_connect() && error.is_timeout() {
        return deadlines.connect_error();
    }
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the response"
    } else {
        "the request failed"
    };
    GatewayError::Unavailable {
        provider: provider.to_owned(),
        status: None,
        message: format!("{what}: {}", error_chain(error)),
    }
}

/// The error and its sources, without the URL.
pub(crate) fn error_chain(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_messages_are_extracted_truncated_and_redacted() {
        let body =
            br#"{"error":{"message":"Incorrect API key provided: sk-secret-123","type":"invalid_request_error"}}"#;
        let message = upstream_message(body).unwrap();
        assert_eq!(redact(&message, Some("sk-secret-123")), "Incorrect API key provided: [redacted]");
        assert_eq!(upstream_message(b"  plain text  ").as_deref(), Some("plain text"));
        assert_eq!(upstream_message(b""), None);
        let long = "x".repeat(600);
        assert_eq!(upstream_message(long.as_bytes()).unwrap().chars().count(), MAX_UPSTREAM_MESSAGE + 1);
    }

    #[test]
    fn keys_come_from_files_and_configured_variables() {
        let mut config = ProviderConfig::new(crate::ProviderKind::Anthropic);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "  sk-ant-test\n").unwrap();
        config.api_key_file = Some(file.path().to_owned());
        assert_eq!(read_api_key(&config).unwrap(), ApiKey::Present("sk-ant-test".into()));
        config.api_key_env = Some("OPM_GATEWAY_TEST_UNSET_VARIABLE".into());
        assert!(read_api_key(&config).unwrap_err().contains("not both"));
        config.api_key_file = None;
        let ApiKey::Missing(reason) = read_api_key(&config).unwrap() else { panic!("the key should be missing") };
        assert!(reason.contains("OPM_GATEWAY_TEST_UNSET_VARIABLE"), "{reason}");
        let compatible = ProviderConfig::new(crate::ProviderKind::OpenaiCompatible);
        assert_eq!(read_api_key(&compatible).unwrap(), ApiKey::NotNeeded);
        config.api_key_env = None;
        config.api_key_file = Some("/nonexistent/opm-key".into());
        assert!(read_api_key(&config).unwrap_err().contains("/nonexistent/opm-key"));
    }
}
