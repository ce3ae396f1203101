//! API errors: every failure becomes an RFC 9457 `application/problem+json` response with a stable
//! `code`. [`status_for`] is the one place where an error kind becomes an HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opm_api::Problem;
use opm_api::problem::PROBLEM_CONTENT_TYPE;
use opm_core::{CoreError, ErrorKind};
use opm_registry::RegistryError;
use opm_store::StoreError;

/// The HTTP status for an error kind.
pub fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Malformed => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::UpstreamFailed => StatusCode::BAD_GATEWAY,
        ErrorKind::TimedOut => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error on its way to becoming a problem response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub detail: String,
    /// Overrides the status derived from the kind (e.g. 400 for malformed JSON, 415, 405).
    pub status: Option<StatusCode>,
    pub request_id: Option<String>,
}

impl ApiError {
    /// A new error of `kind` with a stable `code` and a detail for the reader.
    pub fn new(kind: ErrorKind, code: &'static str, detail: impl Into<String>) -> Self {
        Self { kind, code, detail: detail.into(), status: None, request_id: None }
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Attaches the request id.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// Missing or unusable credentials.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, "unauthenticated", detail)
    }

    /// A role or project the caller's key does not have.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", detail)
    }

    /// Bad input in a field.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, detail)
    }

    /// The HTTP status this error answers with.
    pub fn status_code(&self) -> StatusCode {
        self.status.unwrap_or_else(|| status_for(self.kind))
    }

    fn title(&self) -> &'static str {
        match self.kind {
            ErrorKind::Invalid => "Invalid request",
            ErrorKind::Malformed => "Malformed request",
            ErrorKind::NotFound => "Not found",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Unauthenticated => "Unauthenticated",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::TooLarge => "Request too large",
            ErrorKind::RateLimited => "Too many requests",
            ErrorKind::Unavailable => "Service unavailable",
            ErrorKind::UpstreamFailed => "Upstream failed",
            ErrorKind::TimedOut => "Timed out",
            ErrorKind::Internal => "Internal error",
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        Self::new(error.kind(), error.code(), error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let kind = error.kind();
        if matches!(kind, ErrorKind::Internal | ErrorKind::Unavailable) {
            // Logged once here with the cause; clients get a generic message and the request id.
            tracing::error!(error = %error, code = error.code(), "store failure");
            let detail = match kind {
                ErrorKind::Unavailable if matches!(error, StoreError::NotWritable(_)) => {
                    "the database cannot write (disk full or read-only storage); nothing was written, reads still work"
                }
                ErrorKind::Unavailable => "the database is unavailable; retry shortly",
                _ => "an internal error occurred; the server log has details under this request id",
            };
            return Self::new(kind, error.code(), detail);
        }
        Self::new(kind, error.code(), error.to_string())
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Core(error) => error.into(),
            RegistryError::Store(error) => error.into(),
            other => Self::new(other.kind(), other.code(), other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let problem = Problem {
            kind: format!("https://opm.dev/errors/{}", self.code),
            title: self.title().to_owned(),
            status: status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            request_id: self.request_id.clone(),
            instance: None,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        // Handlers don't see the request id everywhere; the middleware fills it in (see `lib.rs`).
        response.extensions_mut().insert(ProblemMarker);
        response
    }
}

/// Marks responses whose body is a problem document, so the request-id middleware can add the id.
#[derive(Debug, Clone, Copy)]
pub struct ProblemMarker;

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
