//! The crate's one error enum and its protocol-neutral kind.
//!
//! Messages name the webhook by its position in `opm.toml` and its host, never by its full URL
//! (a path or query may carry a token) and never with its secret.

use std::time::Duration;

use opm_core::ErrorKind;

/// Everything this crate can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A `[[webhooks]]` entry cannot be used; raised by [`crate::Webhooks::start`].
    #[error("invalid webhook configuration: {webhook}: {message}")]
    Config {
        /// `webhooks[<index>]`, plus the host when the URL parsed.
        webhook: String,
        message: String,
    },
    /// [`crate::Webhooks::start`] was called outside a Tokio runtime.
    #[error("webhooks need a Tokio runtime: call `Webhooks::start` from async code")]
    NoRuntime,
    /// An `x-opm-signature` header that does not have the form `t=<unix seconds>,v1=<hex>`.
    #[error("malformed `x-opm-signature` header: {reason}")]
    SignatureMalformed { reason: String },
    /// The signature's timestamp is further from now than the tolerance (a replay, or a clock off).
    #[error("the `x-opm-signature` timestamp is {age:?} away from now, more than the {tolerance:?} tolerated")]
    SignatureExpired { age: Duration, tolerance: Duration },
    /// No `v1` signature matches the body under the secret.
    #[error("the `x-opm-signature` does not match the body (wrong secret, or the body was changed)")]
    SignatureMismatch,
}

impl WebhookError {
    /// The protocol-neutral kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            WebhookError::Config { .. } | WebhookError::NoRuntime => ErrorKind::Internal,
            WebhookError::SignatureMalformed { .. } => ErrorKind::Invalid,
            WebhookError::SignatureExpired { .. } | WebhookError::SignatureMismatch => ErrorKind::Unauthenticated,
        }
    }

    /// A stable code for logs and for receivers that map errors to responses.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::Config { .. } => "webhook_config",
            WebhookError::NoRuntime => "webhook_no_runtime",
            WebhookError::SignatureMalformed { .. } => "signature_malformed",
            WebhookError::SignatureExpired { .. } => "signature_expired",
            WebhookError::SignatureMismatch => "signature_mismatch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_codes() {
        let config = WebhookError::Config { webhook: "webhooks[0]".into(), message: "bad".into() };
        assert_eq!(config.kind(), ErrorKind::Internal);
        assert_eq!(config.to_string(), "invalid webhook configuration: webhooks[0]: bad");
        assert_eq!(WebhookError::SignatureMismatch.kind(), ErrorKind::Unauthenticated);
        assert_eq!(WebhookError::SignatureMismatch.code(), "signature_mismatch");
        let malformed = WebhookError::SignatureMalformed { reason: "no `t=`".into() };
        assert_eq!(malformed.kind(), ErrorKind::Invalid);
    }
}
