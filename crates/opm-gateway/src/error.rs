//! The crate's one error enum, its protocol-neutral kind, its stable code, and the HTTP status an
//! ingress should answer with so that the official SDKs raise the right exception class.
//!
//! Messages name the provider and say what went wrong; they never contain API keys (upstream
//! messages are redacted and truncated before they are stored here).

use std::fmt;
use std::time::Duration;

use opm_core::ErrorKind;

/// Which per-attempt limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Opening the TCP/TLS connection (`timeouts.connect_ms`).
    Connect,
    /// Waiting for the response headers, or for the first event of a stream (`timeouts.first_byte_ms`).
    FirstByte,
    /// The whole attempt, body or stream included (`timeouts.total_ms`).
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connecting",
            TimeoutPhase::FirstByte => "the first byte",
            TimeoutPhase::Total => "the whole response",
        })
    }
}

/// Everything the gateway can fail with.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum GatewayError {
    /// The request given to the gateway (or parsed by an ingress) is malformed.
    #[error("invalid request: {message}")]
    InvalidRequest { message: String, param: Option<String> },
    /// A target names a provider that is not configured.
    #[error("unknown provider `{provider}`: configure it under the gateway's `providers`")]
    UnknownProvider { provider: String },
    /// The gateway configuration cannot be used (raised by [`crate::Gateway::new`] only).
    #[error("invalid gateway configuration: {message}")]
    Config { message: String },
    /// The upstream answered 429.
    #[error("provider `{provider}` is rate limiting OPM (HTTP {status}): {message}")]
    RateLimited { provider: String, status: u16, retry_after: Option<Duration>, message: String },
    /// The upstream answered 5xx, could not be reached, or broke the connection.
    #[error("provider `{provider}` is unavailable: {message}")]
    Unavailable { provider: String, status: Option<u16>, message: String },
    /// A per-attempt timeout ran out.
    #[error("provider `{provider}` timed out waiting for {phase} ({limit_ms} ms)")]
    Timeout { provider: String, phase: TimeoutPhase, limit_ms: u64 },
    /// The upstream rejected the request with a 4xx other than 401, 403 and 429.
    #[error("provider `{provider}` rejected the request (HTTP {status}): {message}")]
    Upstream { provider: String, status: u16, message: String },
    /// OPM has no usable credentials for the provider (none configured, or the upstream answered
    /// 401/403): OPM is misconfigured, not the caller.
    #[error("provider `{provider}` cannot authenticate: {message}")]
    Auth { provider: String, status: Option<u16>, message: String },
    /// The upstream answered something that is not the expected wire format.
    #[error("provider `{provider}` sent a response OPM cannot read: {message}")]
    BadResponse { provider: String, message: String },
    /// Every target that was left was skipped because its circuit breaker is open.
    #[error("provider `{provider}` is skipped: its circuit breaker is open after repeated failures")]
    BreakerOpen { provider: String },
    /// The caller's deadline passed.
    #[error("the request deadline passed{}", provider.as_ref().map(|p| format!(" while calling provider `{p}`")).unwrap_or_default())]
    DeadlineExceeded { provider: Option<String> },
}

/// What an attempt's result means for its provider's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerOutcome {
    /// The provider answered (even with a 4xx): it is up.
    Success,
    /// The provider is down or broken.
    Failure,
    /// Says nothing about the provider (the caller's deadline ran out).
    Neutral,
}

impl GatewayError {
    /// A 400-class error about the request, optionally naming the offending parameter.
    pub fn invalid(message: impl Into<String>) -> Self {
        GatewayError::InvalidRequest { message: message.into(), param: None }
    }

    /// Like [`GatewayError::invalid`], naming the parameter (OpenAI's `param`).
    pub fn invalid_param(param: impl Into<String>, message: impl Into<String>) -> Self {
        GatewayError::InvalidRequest { message: message.into(), param: Some(param.into()) }
    }

    /// The protocol-neutral kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GatewayError::InvalidRequest { .. } | GatewayError::UnknownProvider { .. } => ErrorKind::Invalid,
            GatewayError::Config { .. } => ErrorKind::Internal,
            GatewayError::RateLimited { .. } => ErrorKind::RateLimited,
            GatewayError::Upstream { status, .. } if mirrored_status(*status) => ErrorKind::Invalid,
            GatewayError::Upstream { .. }
            | GatewayError::Unavailable { .. }
            | GatewayError::Timeout { .. }
            | GatewayError::Auth { .. }
            | GatewayError::BadResponse { .. }
            | GatewayError::BreakerOpen { .. }
            | GatewayError::DeadlineExceeded { .. } => ErrorKind::Unavailable,
        }
    }

    /// A stable machine-readable code from the error catalogue.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::InvalidRequest { .. } => "invalid_request",
            GatewayError::UnknownProvider { .. } => "unknown_provider",
            GatewayError::Config { .. } => "invalid_gateway_config",
            GatewayError::RateLimited { .. } => "upstream_rate_limited",
            GatewayError::Unavailable { .. } => "upstream_unavailable",
            GatewayError::Timeout { .. } => "upstream_timeout",
            GatewayError::Upstream { .. } => "upstream_error",
            GatewayError::Auth { .. } => "upstream_auth",
            GatewayError::BadResponse { .. } => "upstream_bad_response",
            GatewayError::BreakerOpen { .. } => "breaker_open",
            GatewayError::DeadlineExceeded { .. } => "deadline_exceeded",
        }
    }

    /// The provider that failed, when the error is about one.
    pub fn provider(&self) -> Option<&str> {
        match self {
            GatewayError::InvalidRequest { .. } | GatewayError::Config { .. } => None,
            GatewayError::UnknownProvider { provider }
            | GatewayError::RateLimited { provider, .. }
            | GatewayError::Unavailable { provider, .. }
            | GatewayError::Timeout { provider, .. }
            | GatewayError::Upstream { provider, .. }
            | GatewayError::Auth { provider, .. }
            | GatewayError::BadResponse { provider, .. }
            | GatewayError::BreakerOpen { provider } => Some(provider),
            GatewayError::DeadlineExceeded { provider } => provider.as_deref(),
        }
    }

    /// The HTTP status the upstream answered with, when it answered with an error status.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            GatewayError::RateLimited { status, .. } | GatewayError::Upstream { status, .. } => Some(*status),
            GatewayError::Unavailable { status, .. } | GatewayError::Auth { status, .. } => *status,
            _ => None,
        }
    }

    /// How long the upstream asked to wait before retrying (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GatewayError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The parameter an invalid request is about, if known.
    pub fn param(&self) -> Option<&str> {
        match self {
            GatewayError::InvalidRequest { param, .. } => param.as_deref(),
            GatewayError::UnknownProvider { .. } => Some("model"),
            _ => None,
        }
    }

    /// The status an ingress should answer with: 400 for bad requests, 429 when rate limited,
    /// 502 for upstream errors, 503 when the upstream is overloaded or a breaker is open, 504 for
    /// timeouts; upstream 400/404/409/413/422 are passed on as they are (the caller's input caused them).
    pub fn http_status(&self) -> u16 {
        match self {
            GatewayError::InvalidRequest { .. } | GatewayError::UnknownProvider { .. } => 400,
            GatewayError::Config { .. } => 500,
            GatewayError::RateLimited { .. } => 429,
            GatewayError::Unavailable { status: Some(503 | 529), .. } | GatewayError::BreakerOpen { .. } => 503,
            GatewayError::Upstream { status, .. } if mirrored_status(*status) => *status,
            GatewayError::Unavailable { .. }
            | GatewayError::Upstream { .. }
            | GatewayError::Auth { .. }
            | GatewayError::BadResponse { .. } => 502,
            GatewayError::Timeout { .. } | GatewayError::DeadlineExceeded { .. } => 504,
        }
    }

    /// Whether another attempt at the same provider may succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            GatewayError::RateLimited { .. } | GatewayError::Unavailable { .. } | GatewayError::Timeout { .. }
        )
    }

    pub(crate) fn breaker_outcome(&self) -> BreakerOutcome {
        match self {
            GatewayError::Unavailable { .. } | GatewayError::Timeout { .. } | GatewayError::BadResponse { .. } => {
                BreakerOutcome::Failure
            }
            GatewayError::DeadlineExceeded { .. }
            | GatewayError::Auth { status: None, .. }
            | GatewayError::BreakerOpen { .. }
            | GatewayError::InvalidRequest { .. }
            | GatewayError::UnknownProvider { .. }
            | GatewayError::Config { .. } => BreakerOutcome::Neutral,
            GatewayError::RateLimited { .. } | GatewayError::Upstream { .. } | GatewayError::Auth { .. } => {
                BreakerOutcome::Success
            }
        }
    }
}

/// Upstream 4xx statuses passed on unchanged: the caller's input caused them.
fn mirrored_status(status: u16) -> bool {
    matches!(status, 400 | 404 | 409 | 413 | 422)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: GatewayError, code: &str, kind: ErrorKind, status: u16) {
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(error.kind(), kind, "{error}");
        assert_eq!(error.http_status(), status, "{error}");
    }

    #[test]
    fn codes_kinds_and_statuses() {
        let p = || "openai".to_owned();
        check(GatewayError::invalid("x"), "invalid_request", ErrorKind::Invalid, 400);
        check(GatewayError::UnknownProvider { provider: p() }, "unknown_provider", ErrorKind::Invalid, 400);
        let limited = GatewayError::RateLimited {
            provider: p(),
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            message: "slow down".into(),
        };
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
        check(limited, "upstream_rate_limited", ErrorKind::RateLimited, 429);
        let overloaded = GatewayError::Unavailable { provider: p(), status: Some(529), message: "busy".into() };
        assert_eq!(overloaded.upstream_status(), Some(529));
        check(overloaded, "upstream_unavailable", ErrorKind::Unavailable, 503);
        check(
            GatewayError::Unavailable { provider: p(), status: Some(500), message: "boom".into() },
            "upstream_unavailable",
            ErrorKind::Unavailable,
            502,
        );
        check(
            GatewayError::Timeout { provider: p(), phase: TimeoutPhase::FirstByte, limit_ms: 10 },
            "upstream_timeout",
            ErrorKind::Unavailable,
            504,
        );
        check(
            GatewayError::Upstream { provider: p(), status: 400, message: "bad".into() },
            "upstream_error",
            ErrorKind::Invalid,
            400,
        );
        check(
            GatewayError::Upstream { provider: p(), status: 418, message: "teapot".into() },
            "upstream_error",
            ErrorKind::Unavailable,
            502,
        );
        check(
            GatewayError::Auth { provider: p(), status: Some(401), message: "rejected".into() },
            "upstream_auth",
            ErrorKind::Unavailable,
            502,
        );
        check(
            GatewayError::BadResponse { provider: p(), message: "x".into() },
            "upstream_bad_response",
            ErrorKind::Unavailable,
            502,
        );
        check(GatewayError::BreakerOpen { provider: p() }, "breaker_open", ErrorKind::Unavailable, 503);
        check(GatewayError::DeadlineExceeded { provider: None }, "deadline_exceeded", ErrorKind::Unavailable, 504);
    }

    #[test]
    fn messages_name_the_provider() {
        let error = GatewayError::Auth { provider: "anthropic".into(), status: None, message: "no API key".into() };
        assert_eq!(error.to_string(), "provider `anthropic` cannot authenticate: no API key");
        let error = GatewayError::DeadlineExceeded { provider: Some("openai".into()) };
        assert_eq!(error.to_string(), "the request deadline passed while calling provider `openai`");
        assert_eq!(error.provider(), Some("openai"));
    }
}
