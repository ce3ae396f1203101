//! Telemetry routes: per-prompt stats, stored generations, feedback and the Prometheus scrape.

use opm_api::telemetry::{FeedbackDto, FeedbackRequest, GenerationDto, StatsDto};
use reqwest::Method;

use crate::{Client, ClientError};

/// What `stats_with` asks for; `None` leaves the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsQuery {
    /// How far back from now, e.g. `1h` (default `1h`).
    pub window: Option<String>,
    /// `version`, `label`, `model` or `arm` (default `version`).
    pub by: Option<String>,
    /// Only calls served through this label (e.g. to compare a split's arms).
    pub label: Option<String>,
}

impl Client {
    /// `GET /api/v1/prompts/{name}/stats?window=&by=`.
    pub async fn stats(&self, name: &str, window: Option<&str>, by: Option<&str>) -> Result<StatsDto, ClientError> {
        let query = StatsQuery { window: window.map(str::to_owned), by: by.map(str::to_owned), label: None };
        self.stats_with(name, &query).await
    }

    /// `GET /api/v1/prompts/{name}/stats?window=&by=&label=`, with the baseline comparisons.
    pub async fn stats_with(&self, name: &str, query: &StatsQuery) -> Result<StatsDto, ClientError> {
        let pairs = [("window", query.window.clone()), ("by", query.by.clone()), ("label", query.label.clone())];
        let url = self.endpoint(&["api", "v1", "prompts", name, "stats"], &pairs)?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/generations/{id}`.
    pub async fn generation(&self, id: &str) -> Result<GenerationDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "generations", id], &[])?;
        self.call(Method::GET, url).await
    }

    /// `POST /api/v1/feedback`.
    pub async fn feedback(&self, request: &FeedbackRequest) -> Result<FeedbackDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "feedback"], &[])?;
        self.call_with(Method::POST, url, request).await
    }
}
