//! Governance routes: the project's policy and freezes, change requests, the publish check.

use opm_api::Page;
use opm_api::governance::{
    ChangeRequestDto, DecideRequest, FreezeRequest, PolicyDto, PublishCheckDto, SetPolicyRequest,
};
use opm_api::labels::SetLabelRequest;
use opm_api::prompts::CreateVersionRequest;
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `GET /api/v1/governance`.
    pub async fn policy(&self) -> Result<PolicyDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "governance"], &[])?;
        self.call(Method::GET, url).await
    }

    /// `PUT /api/v1/governance`.
    pub async fn set_policy(&self, request: &SetPolicyRequest) -> Result<PolicyDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "governance"], &[])?;
        self.call_with(Method::PUT, url, request).await
    }

    /// `POST /api/v1/governance/freeze` (`on`) or `…/unfreeze`.
    pub async fn freeze(&self, on: bool, reason: &str) -> Result<PolicyDto, ClientError> {
        let verb = if on { "freeze" } else { "unfreeze" };
        let url = self.endpoint(&["api", "v1", "governance", verb], &[])?;
        self.call_with(Method::POST, url, &FreezeRequest { reason: reason.to_owned() }).await
    }

    /// `POST /api/v1/prompts/{name}/labels/{label}/requests`.
    pub async fn request_label_change(
        &self,
        name: &str,
        label: &str,
        request: &SetLabelRequest,
    ) -> Result<ChangeRequestDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "labels", label, "requests"], &[])?;
        self.call_with(Method::POST, url, request).await
    }

    /// `GET /api/v1/change-requests` (one page, newest first).
    pub async fn list_change_requests(
        &self,
        state: Option<&str>,
        prompt: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<ChangeRequestDto>, ClientError> {
        let query = [
            ("state", state.map(str::to_owned)),
            ("prompt", prompt.map(str::to_owned)),
            ("limit", limit.map(|limit| limit.to_string())),
        ];
        let url = self.endpoint(&["api", "v1", "change-requests"], &query)?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/change-requests/{id}`.
    pub async fn change_request(&self, id: i64) -> Result<ChangeRequestDto, ClientError> {
        let id = id.to_string();
        let url = self.endpoint(&["api", "v1", "change-requests", &id], &[])?;
        self.call(Method::GET, url).await
    }

    /// `POST /api/v1/change-requests/{id}/{action}` with `action` `approve`, `reject` or `cancel`.
    pub async fn decide_change_request(
        &self,
        id: i64,
        action: &str,
        reason: &str,
    ) -> Result<ChangeRequestDto, ClientError> {
        let id = id.to_string();
        let url = self.endpoint(&["api", "v1", "change-requests", &id, action], &[])?;
        self.call_with(Method::POST, url, &DecideRequest { reason: reason.to_owned() }).await
    }

    /// `POST /api/v1/prompts/{name}/versions/check`: the publish policy's verdict, nothing written.
    pub async fn check_publish(
        &self,
        name: &str,
        request: &CreateVersionRequest,
    ) -> Result<PublishCheckDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "versions", "check"], &[])?;
        self.call_with(Method::POST, url, request).await
    }
}
