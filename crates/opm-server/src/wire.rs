//! The wire formats the three LLM endpoints answer in, and the one mapping from an error to what
//! each answers: the status (always [`status_for`] of the error's kind) and the vendor error type
//! the official SDKs read. OpenAI and Anthropic errors are their JSON bodies; the native
//! `/invoke` route answers problem+json like the rest of the API.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opm_core::ErrorKind;
use opm_core::governance::limits::{Exceeded, LimitKind};
use opm_gateway::GatewayError;
use opm_gateway::ingress::{anthropic, openai};
use serde_json::Value;

use crate::error::{ApiError, status_for};

/// The wire format an LLM route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// `POST /v1/chat/completions`.
    OpenAi,
    /// `POST /v1/messages`.
    Anthropic,
    /// `POST /api/v1/prompts/{name}/invoke`: OPM's own JSON, streams as OpenAI chunks.
    Native,
}

/// OpenAI's error `type` for each kind: OpenAI files every client error under
/// `invalid_request_error`, and the SDK picks its exception class from the status.
pub fn openai_error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid | ErrorKind::Malformed | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::TooLarge => {
            "invalid_request_error"
        }
        ErrorKind::Unauthenticated => "authentication_error",
        ErrorKind::Forbidden => "permission_error",
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::Unavailable | ErrorKind::UpstreamFailed | ErrorKind::TimedOut | ErrorKind::Internal => "api_error",
    }
}

/// Anthropic's error `type` for each kind (the `ErrorType` values of the Anthropic SDK).
pub fn anthropic_error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid | ErrorKind::Malformed | ErrorKind::Conflict => "invalid_request_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::TooLarge => "request_too_large",
        ErrorKind::Unauthenticated => "authentication_error",
        ErrorKind::Forbidden => "permission_error",
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::Unavailable => "overloaded_error",
        ErrorKind::TimedOut => "timeout_error",
        ErrorKind::UpstreamFailed | ErrorKind::Internal => "api_error",
    }
}

/// An error on its way to an LLM route's client, whichever layer raised it.
#[derive(Debug, Clone)]
pub struct WireError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    /// The request parameter at fault (OpenAI's `param`), when known.
    pub param: Option<String>,
    /// How long the client should wait (`Retry-After`), when known.
    pub retry_after: Option<Duration>,
    /// An explicit status from the API layer (a body the HTTP layer rejected, e.g. 415); otherwise
    /// [`status_for`] of the kind.
    status: Option<StatusCode>,
    api: Option<ApiError>,
}

impl From<ApiError> for WireError {
    fn from(error: ApiError) -> Self {
        Self {
            kind: error.kind,
            code: error.code,
            message: error.detail.clone(),
            param: None,
            retry_after: None,
            status: error.status,
            api: Some(error),
        }
    }
}

impl From<&GatewayError> for WireError {
    fn from(error: &GatewayError) -> Self {
        Self {
            kind: error.kind(),
            code: error.code(),
            message: error.to_string(),
            param: error.param().map(str::to_owned),
            retry_after: error.retry_after(),
            status: None,
            api: None,
        }
    }
}

impl From<GatewayError> for WireError {
    fn from(error: GatewayError) -> Self {
        Self::from(&error)
    }
}

impl From<Exceeded> for WireError {
    fn from(exceeded: Exceeded) -> Self {
        let code = match exceeded.kind {
            LimitKind::Rate => "rate_limited",
            LimitKind::DailyBudget | LimitKind::MonthlyBudget => "budget_exceeded",
        };
        Self {
            kind: ErrorKind::RateLimited,
            code,
            message: exceeded.message(),
            param: None,
            retry_after: Some(exceeded.retry_after),
            status: None,
            api: None,
        }
    }
}

impl From<opm_registry::RegistryError> for WireError {
    fn from(error: opm_registry::RegistryError) -> Self {
        ApiError::from(error).into()
    }
}

impl WireError {
    /// The status every wire format answers this error with.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| status_for(self.kind))
    }

    /// The error object OpenAI and Anthropic clients read (the body of a failed call, or the
    /// payload of an error event in a stream). The native wire has none: it answers problem+json.
    pub fn vendor_body(&self, wire: Wire) -> Value {
        match wire {
            Wire::Anthropic => anthropic::error_body(anthropic_error_type(self.kind), &self.message),
            Wire::OpenAi | Wire::Native => {
                openai::error_body(openai_error_type(self.kind), &self.message, self.param.as_deref(), self.code)
            }
        }
    }

    /// The whole error response in `wire`'s format, with `Retry-After` when known.
    pub fn into_response(self, wire: Wire) -> Response {
        let status = self.status();
        let retry_after = self.retry_after;
        let mut response = match wire {
            Wire::OpenAi | Wire::Anthropic => (status, Json(self.vendor_body(wire))).into_response(),
            Wire::Native => {
                let error = self.api.unwrap_or_else(|| ApiError::new(self.kind, self.code, self.message));
                error.with_status(status).into_response()
            }
        };
        if let Some(retry_after) = retry_after
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs(retry_after).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Whole seconds for `Retry-After`, rounded up (a client retrying early is refused again), at least 1.
fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table every LLM route answers by, pinned: kind → status, OpenAI type, Anthropic type.
    /// `tests/conformance/wire-errors.json` holds the same rows; `tests/python/test_error_table.py`
    /// checks them against the official SDKs' exception classes through real calls.
    #[test]
    fn one_row_per_error_kind_matches_the_shared_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/conformance/wire-errors.json");
        let text = std::fs::read_to_string(path).unwrap();
        let table: Value = serde_json::from_str(&text).unwrap();
        let rows = table["kinds"].as_object().unwrap();
        assert_eq!(rows.len(), ErrorKind::ALL.len(), "one row per kind");
        for kind in ErrorKind::ALL {
            let row = &rows[&kind.to_string()];
            let got = (status_for(kind).as_u16(), openai_error_type(kind), anthropic_error_type(kind));
            let want = (
                u16::try_from(row["status"].as_u64().unwrap()).unwrap(),
                row["openai_type"].as_str().unwrap(),
                row["anthropic_type"].as_str().unwrap(),
            );
            assert_eq!(got, want, "{kind}");
        }
    }

    #[test]
    fn a_gateway_error_keeps_its_code_param_and_retry_after() {
        let error = GatewayError::RateLimited {
            provider: "openai".into(),
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
            message: "slow down".into(),
        };
        let wire = WireError::from(&error);
        assert_eq!((wire.status(), wire.code), (StatusCode::TOO_MANY_REQUESTS, "upstream_rate_limited"));
        let response = wire.clone().into_response(Wire::Anthropic);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let body = wire.vendor_body(Wire::OpenAi);
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert_eq!(body["error"]["code"], "upstream_rate_limited");
        let invalid = WireError::from(GatewayError::invalid_param("messages", "`messages` is required"));
        assert_eq!(invalid.vendor_body(Wire::OpenAi)["error"]["param"], "messages");
        assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_explicit_api_status_is_kept() {
        let error =
            ApiError::invalid("unsupported_media_type", "send JSON").with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let wire = WireError::from(error);
        assert_eq!(wire.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let response = wire.into_response(Wire::Native);
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
