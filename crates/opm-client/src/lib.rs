//! A typed async client for OPM's REST API (`/api/v1/…`), one method per route.
//!
//! Requests and responses are the wire types of `opm-api`. Every failure is a [`ClientError`]:
//! either the server's problem details (status, stable code, detail, request id) or a transport
//! failure that says which URL could not be reached and why.
//!
//! TLS uses rustls without reqwest's bundled provider (which would pull in a C build): binaries
//! install ring's provider at start, and [`Client::new`] installs it when nobody has, because
//! reqwest panics without one.
//!
//! Long-lived streams (`watch`) use a second connection pool without the whole-request timeout:
//! they only give up when the server stays silent longer than its keep-alive interval allows.

pub mod admin;
mod error;
pub mod governance;
pub mod labels;
pub mod prompts;
pub mod rollouts;
pub mod telemetry;
pub mod watch;

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use admin::AuditQuery;
pub use error::ClientError;
pub use prompts::{PromptQuery, Resolved, Selector};
pub use telemetry::StatsQuery;
pub use watch::Watch;

/// The header global admin keys use to pick a project.
pub const PROJECT_HEADER: &str = "x-opm-project";
/// Where `opm serve` listens unless told otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8321";
/// The longest silence a stream tolerates at least: the server sends a keep-alive every 15 s.
const STREAM_SILENCE: Duration = Duration::from_secs(45);

/// How to reach a server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `http://127.0.0.1:8321`; a path prefix (`https://host/opm`) is kept.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Sent as `X-OPM-Project` (global admin keys only; project keys are bound to theirs).
    pub project: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self { base_url: DEFAULT_URL.to_owned(), api_key: None, project: None, timeout: Duration::from_secs(30) }
    }
}

/// A page request: where to continue and how many items at most.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A connection to one OPM server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// For streams: no whole-request timeout, a read timeout instead.
    streaming: reqwest::Client,
    base_url: Url,
    timeout_seconds: u64,
}

impl Client {
    /// Builds a client; fails when the URL, key or project cannot be used.
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another thread installing one is fine: any provider will do.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let base_url = Url::parse(config.base_url.trim())
            .map_err(|error| ClientError::Config(format!("base URL `{}`: {error}", config.base_url)))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(ClientError::Config(format!("base URL `{}` must be an http(s) URL", config.base_url)));
        }
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.trim()))
                .map_err(|_| ClientError::Config("the API key contains characters not allowed in a header".into()))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        if let Some(project) = &config.project {
            let value = HeaderValue::from_str(project)
                .map_err(|_| ClientError::Config(format!("project `{project}` is not a valid header value")))?;
            headers.insert(PROJECT_HEADER, value);
        }
        let builder = || {
            reqwest::Client::builder()
                .default_headers(headers.clone())
                .tcp_nodelay(true)
                .user_agent(concat!("opm-client/", env!("CARGO_PKG_VERSION")))
        };
        let http = builder()
            .timeout(config.timeout)
            .build()
            .map_err(|error| ClientError::Config(format!("cannot build the HTTP client: {error}")))?;
        let streaming = builder()
            .connect_timeout(config.timeout)
            .read_timeout(config.timeout.max(STREAM_SILENCE))
            .build()
            .map_err(|error| ClientError::Config(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self { http, streaming, base_url, timeout_seconds: config.timeout.as_secs() })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// `base_url` + `/`-joined, percent-encoded `segments` + `?query` (pairs with a value only).
    fn endpoint(&self, segments: &[&str], query: &[(&str, Option<String>)]) -> Result<Url, ClientError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::Config(format!("base URL `{}` cannot take a path", self.base_url)))?
            .pop_if_empty()
            .extend(segments);
        let present: Vec<(&str, &String)> =
            query.iter().filter_map(|(key, value)| value.as_ref().map(|value| (*key, value))).collect();
        if !present.is_empty() {
            url.query_pairs_mut().extend_pairs(present);
        }
        Ok(url)
    }

    /// Sends a request without a body and decodes the JSON answer.
    async fn call<T: DeserializeOwned>(&self, method: Method, url: Url) -> Result<T, ClientError> {
        let builder = self.http.request(method, url.clone());
        self.execute(builder, &url).await
    }

    /// Sends `body` as JSON and decodes the JSON answer.
    async fn call_with<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: &B,
    ) -> Result<T, ClientError> {
        let builder = self.http.request(method, url.clone()).json(body);
        self.execute(builder, &url).await
    }

    async fn execute<T: DeserializeOwned>(&self, builder: RequestBuilder, url: &Url) -> Result<T, ClientError> {
        let response = self.send(builder, url).await?;
        self.decode(response, url).await
    }

    /// Sends a request; error statuses become [`ClientError::Api`] or `UnexpectedStatus`.
    async fn send(&self, builder: RequestBuilder, url: &Url) -> Result<reqwest::Response, ClientError> {
        let response = builder.send().await.map_err(|error| self.transport_error(&error, url))?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let bytes = response.bytes().await.map_err(|error| self.transport_error(&error, url))?;
        if let Ok(problem) = serde_json::from_slice::<opm_api::Problem>(&bytes) {
            return Err(ClientError::Api(Box::new(problem)));
        }
        let body: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
        Err(ClientError::UnexpectedStatus { url: url.to_string(), status: status.as_u16(), body })
    }

    async fn decode<T: DeserializeOwned>(&self, response: reqwest::Response, url: &Url) -> Result<T, ClientError> {
        let bytes = response.bytes().await.map_err(|error| self.transport_error(&error, url))?;
        serde_json::from_slice(&bytes)
            .map_err(|error| ClientError::Decode { url: url.to_string(), reason: error.to_string() })
    }

    fn transport_error(&self, error: &reqwest::Error, url: &Url) -> ClientError {
        let shown = if error.is_connect() { self.base_url.as_str().trim_end_matches('/') } else { url.as_str() };
        error::from_reqwest(error, shown, self.timeout_seconds)
    }
}

fn page_pairs(page: &PageQuery) -> [(&'static str, Option<String>); 2] {
    [("cursor", page.cursor.clone()), ("limit", page.limit.map(|limit| limit.to_string()))]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::new(&ClientConfig { base_url: base.into(), ..ClientConfig::default() }).unwrap()
    }

    #[test]
    fn endpoints_join_and_encode_segments() {
        let client = client("http://127.0.0.1:8321");
        let url = client.endpoint(&["api", "v1", "prompts", "a b"], &[("tag", Some("x".into())), ("label", None)]);
        assert_eq!(url.unwrap().as_str(), "http://127.0.0.1:8321/api/v1/prompts/a%20b?tag=x");
        let prefixed = super::tests::client("https://example.test/opm/");
        let url = prefixed.endpoint(&["healthz"], &[]).unwrap();
        assert_eq!(url.as_str(), "https://example.test/opm/healthz");
    }

    #[tokio::test]
    async fn unreachable_servers_are_named_with_a_hint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = client(&format!("http://{address}")).health().await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("cannot reach OPM at http://{address}: connection refused; is `opm serve` running?")
        );
    }

    #[test]
    fn a_client_builds_without_a_crypto_provider_installed_by_the_caller() {
        // Tests run in one process per test under nextest: nothing installed a provider here.
        let built = Client::new(&ClientConfig { base_url: "https://example.test".into(), ..ClientConfig::default() });
        assert!(built.is_ok(), "{built:?}");
    }

    #[test]
    fn bad_configuration_is_reported() {
        let error = Client::new(&ClientConfig { base_url: "ftp://x".into(), ..ClientConfig::default() }).unwrap_err();
        assert!(error.to_string().contains("must be an http(s) URL"), "{error}");
        let error = Client::new(&ClientConfig { base_url: "not a url".into(), ..ClientConfig::default() }).unwrap_err();
        assert!(error.to_string().contains("base URL `not a url`"), "{error}");
    }
}
