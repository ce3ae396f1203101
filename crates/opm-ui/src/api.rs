//! The UI's API client: every read and write goes through the same axum router as external
//! clients (in process, no socket), carrying the session's key, so roles, validation, audit and
//! problem documents are exactly those of the REST API.

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use crate::error::{UiError, UiResult};

/// Largest API answer the UI reads into memory.
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Who calls: the key's secret and, for a global key, the project it acts in.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub secret: String,
    pub project: Option<String>,
}

/// An in-process client of the API router.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

impl Api {
    /// A client of `router` (the API with its middleware, without the UI).
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// Sends a request and returns the raw response (for streaming answers).
    pub async fn send(
        &self,
        who: &Credentials,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> UiResult<http::Response<Body>> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(headers) = request.headers_mut() {
            authorize(headers, who)?;
            if body.is_some() {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
        }
        let request = request
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .map_err(|error| UiError::Internal(error.to_string()))?;
        match self.router.clone().oneshot(request).await {
            Ok(response) => Ok(response),
            Err(never) => match never {},
        }
    }

    /// Sends a request and reads the whole answer; a problem document becomes [`UiError::Api`].
    pub async fn call(
        &self,
        who: &Credentials,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> UiResult<(StatusCode, HeaderMap, Bytes)> {
        let response = self.send(who, method, path, body).await?;
        let (parts, body) = response.into_parts();
        let bytes = http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| UiError::Internal(error.to_string()))?
            .to_bytes();
        if parts.status.is_success() || parts.status == StatusCode::NOT_MODIFIED {
            return Ok((parts.status, parts.headers, bytes));
        }
        Err(problem(parts.status, &bytes))
    }

    /// `GET path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, who: &Credentials, path: &str) -> UiResult<T> {
        let (_, _, bytes) = self.call(who, Method::GET, path, None).await?;
        decode(&bytes)
    }

    /// `method path` with a JSON body, answer as JSON.
    pub async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        who: &Credentials,
        method: Method,
        path: &str,
        body: &B,
    ) -> UiResult<T> {
        let body = serde_json::to_vec(body).map_err(|error| UiError::Internal(error.to_string()))?;
        let (_, _, bytes) = self.call(who, method, path, Some(body)).await?;
        decode(&bytes)
    }

    /// `DELETE path`, answer as JSON.
    pub async fn delete<T: DeserializeOwned>(&self, who: &Credentials, path: &str) -> UiResult<T> {
        let (_, _, bytes) = self.call(who, Method::DELETE, path, None).await?;
        decode(&bytes)
    }
}

fn authorize(headers: &mut HeaderMap, who: &Credentials) -> UiResult<()> {
    let bearer = HeaderValue::from_str(&format!("Bearer {}", who.secret))
        .map_err(|_| UiError::SignedOut("the key is not a valid header value".to_owned()))?;
    headers.insert(header::AUTHORIZATION, bearer);
    if let Some(project) = &who.project {
        let value = HeaderValue::from_str(project).map_err(|_| UiError::form("the project name is not valid"))?;
        headers.insert("x-opm-project", value);
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> UiResult<T> {
    serde_json::from_slice(bytes).map_err(|error| UiError::Internal(error.to_string()))
}

/// A non-success answer as an error: the problem document's code and detail when there is one.
pub fn problem(status: StatusCode, bytes: &[u8]) -> UiError {
    match serde_json::from_slice::<opm_api::Problem>(bytes) {
        Ok(problem) if status == StatusCode::UNAUTHORIZED => UiError::SignedOut(problem.detail),
        Ok(problem) => UiError::Api { status, code: problem.code, detail: problem.detail },
        Err(_) => UiError::Api {
            status,
            code: "unexpected".to_owned(),
            detail: String::from_utf8_lossy(bytes).chars().take(300).collect(),
        },
    }
}

/// Percent-encodes a query string from pairs, skipping empty values.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs.iter().copied().filter(|(_, v)| !v.is_empty()).collect();
    if kept.is_empty() {
        return String::new();
    }
    format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
}
