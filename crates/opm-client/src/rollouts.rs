//! Rollout routes: start a canary rollout of a label, list and read rollouts, and act on one
//! (pause, resume, promote, abort).

use opm_api::Page;
use opm_api::rollouts::{RolloutActionRequest, RolloutDto, StartRolloutRequest};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `POST /api/v1/prompts/{name}/rollouts`: the label becomes a split with the first step's
    /// share on the canary.
    pub async fn start_rollout(&self, name: &str, request: &StartRolloutRequest) -> Result<RolloutDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "rollouts"], &[])?;
        self.call_with(Method::POST, url, request).await
    }

    /// `POST /api/v1/prompts/{name}/rollouts/requests`: a change request that starts the rollout
    /// once approved (for a protected label).
    pub async fn request_rollout(
        &self,
        name: &str,
        request: &StartRolloutRequest,
    ) -> Result<opm_api::governance::ChangeRequestDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "rollouts", "requests"], &[])?;
        self.call_with(Method::POST, url, request).await
    }

    /// `GET /api/v1/prompts/{name}/rollouts?label=&active=`: newest first.
    pub async fn list_rollouts(
        &self,
        name: &str,
        label: Option<&str>,
        active: bool,
    ) -> Result<Page<RolloutDto>, ClientError> {
        let pairs = [("label", label.map(str::to_owned)), ("active", active.then(|| "true".to_owned()))];
        let url = self.endpoint(&["api", "v1", "prompts", name, "rollouts"], &pairs)?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/prompts/{name}/rollouts/{id}`, with its newest check.
    pub async fn get_rollout(&self, name: &str, id: i64) -> Result<RolloutDto, ClientError> {
        let id = id.to_string();
        let url = self.endpoint(&["api", "v1", "prompts", name, "rollouts", &id], &[])?;
        self.call(Method::GET, url).await
    }

    /// `POST /api/v1/prompts/{name}/rollouts/{id}/{action}`, `action` one of
    /// `pause`, `resume`, `promote` or `abort` (the server refuses others with a problem).
    pub async fn rollout_action(
        &self,
        name: &str,
        id: i64,
        action: &str,
        request: &RolloutActionRequest,
    ) -> Result<RolloutDto, ClientError> {
        let id = id.to_string();
        let url = self.endpoint(&["api", "v1", "prompts", name, "rollouts", &id, action], &[])?;
        self.call_with(Method::POST, url, request).await
    }
}
