//! Request extractors that turn every rejection into a problem response: JSON bodies (size limit,
//! unknown fields, wrong types) and query strings.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use opm_core::ErrorKind;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body whose rejections are problem documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(request.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = match axum::body::Bytes::from_request(request, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(rejection) => {
                return Err(
                    ApiError::invalid("malformed_json", rejection.body_text()).with_status(StatusCode::BAD_REQUEST)
                );
            }
        };
        // serde also reads a struct from a JSON array (its fields in order): every request body
        // here is an object, so anything else is refused before it can be misread.
        match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
            Some(b'{') => {}
            Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                return Err(ApiError::invalid("invalid_body", "the body must be a JSON object"));
            }
            _ => {}
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `application/json` or any `application/*+json`, as axum's `Json` accepts.
fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorKind::TooLarge,
        "body_too_large",
        format!("the request body is larger than the {} byte limit", crate::MAX_BODY_BYTES),
    )
}

fn unsupported_media_type() -> ApiError {
    ApiError::invalid("unsupported_media_type", "send the body as JSON with `Content-Type: application/json`")
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => unsupported_media_type(),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::invalid("invalid_body", rejection.body_text()),
        _ => ApiError::invalid("malformed_json", rejection.body_text()).with_status(StatusCode::BAD_REQUEST),
    }
}

/// A query string whose rejections are problem documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::invalid("invalid_query", rejection.body_text()).with_status(StatusCode::BAD_REQUEST)
}

/// The header a caller names its stickiness key in (a user or session id).
pub const STICKY_KEY_HEADER: &str = "x-opm-sticky-key";
/// The longest stickiness key accepted, in bytes.
pub const MAX_STICKY_KEY_BYTES: usize = 512;

/// The stickiness key of a request: the explicit `key` field or query parameter first, then the
/// `x-opm-sticky-key` header, then the protocol's own user field (OpenAI `user`, Anthropic
/// `metadata.user_id`). Empty means none; longer than [`MAX_STICKY_KEY_BYTES`] is refused.
pub fn sticky_key<'a>(
    explicit: Option<&'a str>,
    headers: &'a axum::http::HeaderMap,
    user: Option<&'a str>,
) -> Result<Option<&'a str>, ApiError> {
    let header = match headers.get(STICKY_KEY_HEADER) {
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::invalid("invalid_sticky_key", format!("`{STICKY_KEY_HEADER}` must be visible ASCII"))
        })?),
        None => None,
    };
    let key = [explicit, header, user].into_iter().flatten().find(|key| !key.is_empty());
    if let Some(key) = key.filter(|key| key.len() > MAX_STICKY_KEY_BYTES) {
        return Err(ApiError::invalid(
            "invalid_sticky_key",
            format!("the stickiness key is {} bytes; at most {MAX_STICKY_KEY_BYTES} are accepted", key.len()),
        ));
    }
    Ok(key)
}

/// Adds `x-opm-arm` (the version a split served) and `x-opm-sticky` to a response's headers.
pub fn arm_headers(headers: &mut axum::http::HeaderMap, assignment: Option<&opm_core::split::Assignment>) {
    if let Some(assignment) = assignment {
        headers.insert("x-opm-arm", axum::http::HeaderValue::from(assignment.version));
        let sticky = if assignment.sticky { "true" } else { "false" };
        headers.insert("x-opm-sticky", axum::http::HeaderValue::from_static(sticky));
    }
}
