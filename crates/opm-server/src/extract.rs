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
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorKind::TooLarge,
            "body_too_large",
            format!("the request body is larger than the {} byte limit", crate::MAX_BODY_BYTES),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::invalid("unsupported_media_type", "send the body as JSON with `Content-Type: application/json`")
                .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
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
