//! The crate's one error enum, its protocol-neutral kind and its stable code. The kind is all an
//! ingress needs: the server turns it into a status and a vendor error type in one place.
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
    /// A managed prompt's version cannot be run as it is (no model configured, a role no model takes).
    #[error("{message}")]
    PromptUnusable { code: &'static str, message: String },
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

    /// The protocol-neutral kind of this error, which alone decides the status an ingress answers
    /// with (the server's `error::status_for`): a bad request is `Malformed`, an upstream 429 is
    /// `RateLimited`, an overloaded upstream (503, 529) or an open breaker `Unavailable`, a timeout
    /// `TimedOut`, any other upstream failure `UpstreamFailed`; upstream 400/404/409/413/422 keep
    /// their meaning (the caller's input caused them).
    pub fn kind(&self) -> ErrorKind {
        match self {
            GatewayError::InvalidRequest { .. } | GatewayError::UnknownProvider { .. } => ErrorKind::Malformed,
            GatewayError::PromptUnusable { .. } => ErrorKind::Invalid,
            GatewayError::Config { .. } => ErrorKind::Internal,
            GatewayError::RateLimited { .. } => ErrorKind::RateLimited,
            GatewayError::Upstream { status, .. } => mirrored_kind(*status).unwrap_or(ErrorKind::UpstreamFailed),
            GatewayError::Unavailable { status: Some(503 | 529), .. } | GatewayError::BreakerOpen { .. } => {
                ErrorKind::Unavailable
            }
            GatewayError::Unavailable { .. } | GatewayError::Auth { .. } | GatewayError::BadResponse { .. } => {
                ErrorKind::UpstreamFailed
            }
            GatewayError::Timeout { .. } | GatewayError::DeadlineExceeded { .. } => ErrorKind::TimedOut,
        }
    }

    /// A stable machine-readable code from the error catalogue.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::InvalidRequest { .. } => "invalid_request",
            GatewayError::PromptUnusable { code, .. } => code,
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
            GatewayError::InvalidRequest { .. } | GatewayError::Config { .. } | GatewayError::PromptUnusable { .. } => {
                None
            }
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
            | GatewayError::PromptUnusable { .. }
            | GatewayError::UnknownProvider { .. }
            | GatewayError::Config { .. } => BreakerOutcome::Neutral,
            GatewayError::RateLimited { .. } | GatewayError::Upstream { .. } | GatewayError::Auth { .. } => {
                BreakerOutcome::Success
            }
        }
    }
}

/// The kind of an upstream 4xx that the caller's input caused, passed on with its meaning.
fn mirrored_kind(status: u16) -> Option<ErrorKind> {
    match status {
        400 => Some(ErrorKind::Malformed),
        404 => Some(ErrorKind::NotFound),
        409 => Some(ErrorKind::Conflict),
        413 => Some(ErrorKind::TooLarge),
        422 => Some(ErrorKind::Invalid),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: GatewayError, code: &str, kind: ErrorKind) {
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(error.kind(), kind, "{error}");
    }

    #[test]
    fn codes_and_kinds() {
        let p = || "openai".to_owned();
        check(GatewayError::invalid("x"), "invalid_request", ErrorKind::Malformed);
        check(GatewayError::UnknownProvider { provider: p() }, "unknown_provider", ErrorKind::Malformed);
        let limited = GatewayError::RateLimited {
            provider: p(),
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            message: "slow down".into(),
        };
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
        check(limited, "upstream_rate_limited", ErrorKind::RateLimited);
        let overloaded = GatewayError::Unavailable { provider: p(), status: Some(529), message: "busy".into() };
        assert_eq!(overloaded.upstream_status(), Some(529));
        check(overloaded, "upstream_unavailable", ErrorKind::Unavailable);
        check(
            GatewayError::Unavailable { provider: p(), status: Some(500), message: "boom".into() },
            "upstream_unavailable",
            ErrorKind::UpstreamFailed,
        );
        check(
            GatewayError::Timeout { provider: p(), phase: TimeoutPhase::FirstByte, limit_ms: 10 },
            "upstream_timeout",
            ErrorKind::TimedOut,
        );
        check(
            GatewayError::Upstream { provider: p(), status: 400, message: "bad".into() },
            "upstream_error",
            ErrorKind::Malformed,
        );
        for (status, kind) in [
            (404, ErrorKind::NotFound),
            (409, ErrorKind::Conflict),
            (413, ErrorKind::TooLarge),
            (422, ErrorKind::Invalid),
        ] {
            check(GatewayError::Upstream { provider: p(), status, message: "x".into() }, "upstream_error", kind);
        }
        check(
            GatewayError::Upstream { provider: p(), status: 418, message: "teapot".into() },
            "upstream_error",
            ErrorKind::UpstreamFailed,
        );
        check(
            GatewayError::Auth { provider: p(), status: Some(401), message: "rejected".into() },
            "upstream_auth",
            ErrorKind::UpstreamFailed,
        );
        check(
            GatewayError::BadResponse { provider: p(), message: "x".into() },
            "upstream_bad_response",
            ErrorKind::UpstreamFailed,
        );
        check(GatewayError::BreakerOpen { provider: p() }, "breaker_open", ErrorKind::Unavailable);
        check(GatewayError::DeadlineExceeded { provider: None }, "deadline_exceeded", ErrorKind::TimedOut);
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
