//! The UI's one error type: what an API call through the router answered, or why the UI itself
//! refused (missing CSRF token, bad form input).

use http::StatusCode;

/// An error on a UI page or action.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The API answered with a problem document.
    #[error("{detail}")]
    Api { status: StatusCode, code: String, detail: String },
    /// The session is missing, expired, or its key stopped working.
    #[error("sign in again: {0}")]
    SignedOut(String),
    /// A state-changing form came without the session's CSRF token.
    #[error("the form's CSRF token is missing or wrong; reload the page and try again")]
    Csrf,
    /// A form field the UI itself could not read.
    #[error("{0}")]
    Form(String),
    /// The API answered something the UI could not read (a bug, logged).
    #[error("unexpected answer from the API: {0}")]
    Internal(String),
}

impl UiError {
    /// A form-input error.
    pub fn form(detail: impl Into<String>) -> Self {
        Self::Form(detail.into())
    }

    /// The HTTP status a page showing this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Api { status, .. } => *status,
            Self::SignedOut(_) => StatusCode::UNAUTHORIZED,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::Form(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code (the API's problem code, or the UI's own).
    pub fn code(&self) -> &str {
        match self {
            Self::Api { code, .. } => code,
            Self::SignedOut(_) => "unauthenticated",
            Self::Csrf => "csrf_failed",
            Self::Form(_) => "invalid_form",
            Self::Internal(_) => "internal",
        }
    }
}

/// Results of UI handlers.
pub type UiResult<T> = Result<T, UiError>;
