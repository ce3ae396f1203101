//! Telemetry routes: per-prompt stats, stored generations, feedback and the Prometheus scrape.

use opm_api::telemetry::{FeedbackDto, FeedbackRequest, GenerationDto, StatsDto};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `GET /api/v1/prompts/{name}/stats?window=&by=`.
    pub async fn stats(&self, name: &str, window: Option<&str>, by: Option<&str>) -> Result<StatsDto, ClientError> {
        let pairs = [("window", window.map(str::to_owned)), ("by", by.map(str::to_owned))];
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
