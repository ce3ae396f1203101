//! Label routes: list, move, history and rollback.

use opm_api::Page;
use opm_api::labels::{LabelChangeDto, LabelDto, RollbackRequest, SetLabelRequest};
use reqwest::Method;

use crate::{Client, ClientError, PageQuery, page_pairs};

impl Client {
    /// `GET /api/v1/prompts/{name}/labels` (includes the automatic `latest`).
    pub async fn list_labels(&self, name: &str) -> Result<Page<LabelDto>, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "labels"], &[])?;
        self.call(Method::GET, url).await
    }

    /// `PUT /api/v1/prompts/{name}/labels/{label}`.
    pub async fn set_label(&self, name: &str, label: &str, request: &SetLabelRequest) -> Result<LabelDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "labels", label], &[])?;
        self.call_with(Method::PUT, url, request).await
    }

    /// `GET /api/v1/prompts/{name}/labels/{label}/history`.
    pub async fn label_history(
        &self,
        name: &str,
        label: &str,
        page: &PageQuery,
    ) -> Result<Page<LabelChangeDto>, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "labels", label, "history"], &page_pairs(page))?;
        self.call(Method::GET, url).await
    }

    /// `POST /api/v1/prompts/{name}/labels/{label}/rollback`: back to the label's previous target.
    pub async fn rollback_label(
        &self,
        name: &str,
        label: &str,
        request: &RollbackRequest,
    ) -> Result<LabelDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "labels", label, "rollback"], &[])?;
        self.call_with(Method::POST, url, request).await
    }
}
