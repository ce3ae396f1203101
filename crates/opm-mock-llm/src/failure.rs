//! A failed request, independent of the wire format, and its rendering as an OpenAI or Anthropic error.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Why a completion request gets an error response.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// OpenAI's `param` (Anthropic has none).
    pub(crate) param: Option<String>,
    /// OpenAI's `code`.
    pub(crate) code: Option<&'static str>,
    pub(crate) retry_after: Option<u64>,
}

impl Failure {
    /// A 400 `invalid_request_error`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), param: None, code: None, retry_after: None }
    }

    pub(crate) fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The error a `status=N` fault injects.
    pub(crate) fn injected(status: u16, retry_after: Option<u64>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match status.as_u16() {
            429 => "Rate limit reached (injected by opm-mock-llm).",
            529 => "Overloaded (injected by opm-mock-llm).",
            500..=599 => "The server had an error while processing your request (injected by opm-mock-llm).",
            _ => "Request rejected (injected by opm-mock-llm).",
        };
        let code = match status.as_u16() {
            429 => Some("rate_limit_exceeded"),
            401 => Some("invalid_api_key"),
            _ => None,
        };
        Self { status, message: message.to_owned(), param: None, code, retry_after }
    }

    /// `{"error": {"message", "type", "param", "code"}}`.
    pub(crate) fn into_openai(self) -> Response {
        let body = self.openai_body();
        self.respond(body)
    }

    /// `{"type": "error", "error": {"type", "message"}}`.
    pub(crate) fn into_anthropic(self) -> Response {
        let body = self.anthropic_body();
        self.respond(body)
    }

    pub(crate) fn openai_body(&self) -> Value {
        json!({
            "error": {
                "message": self.message,
                "type": openai_error_type(self.status),
                "param": self.param,
                "code": self.code,
            }
        })
    }

    pub(crate) fn anthropic_body(&self) -> Value {
        json!({ "type": "error", "error": { "type": anthropic_error_type(self.status), "message": self.message } })
    }

    fn respond(&self, body: Value) -> Response {
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// OpenAI's error `type` for a status.
pub(crate) fn openai_error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        429 => "requests",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// Anthropic's error `type` for a status.
pub(crate) fn anthropic_error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_per_status() {
        let cases = [
            (400, "invalid_request_error", "invalid_request_error"),
            (401, "invalid_request_error", "authentication_error"),
            (429, "requests", "rate_limit_error"),
            (500, "server_error", "api_error"),
            (503, "server_error", "api_error"),
            (529, "server_error", "overloaded_error"),
        ];
        for (status, openai, anthropic) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(openai_error_type(status), openai, "{status}");
            assert_eq!(anthropic_error_type(status), anthropic, "{status}");
        }
    }
}
