//! Operational and administrative routes: health, OpenAPI, projects, the audit trail and API keys.

use opm_api::audit::{AuditEntryDto, AuditVerifyDto};
use opm_api::keys::{CreateKeyRequest, CreateProjectRequest, CreatedKeyDto, KeyDto, ProjectDto};
use opm_api::{Health, Page};
use reqwest::Method;

use crate::{Client, ClientError, PageQuery, page_pairs};

/// Filters of `GET /api/v1/audit`; `since` and `until` are RFC 3339 timestamps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub prompt: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub page: PageQuery,
}

impl Client {
    /// `GET /healthz`: the process is up.
    pub async fn health(&self) -> Result<Health, ClientError> {
        let url = self.endpoint(&["healthz"], &[])?;
        self.call(Method::GET, url).await
    }

    /// `GET /readyz`: the process can serve (its store answers).
    pub async fn ready(&self) -> Result<Health, ClientError> {
        let url = self.endpoint(&["readyz"], &[])?;
        self.call(Method::GET, url).await
    }

    /// `GET /openapi.json`.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        let url = self.endpoint(&["openapi.json"], &[])?;
        self.call(Method::GET, url).await
    }

    /// `POST /api/v1/projects`.
    pub async fn create_project(&self, request: &CreateProjectRequest) -> Result<ProjectDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "projects"], &[])?;
        self.call_with(Method::POST, url, request).await
    }

    /// `GET /api/v1/projects`.
    pub async fn list_projects(&self, page: &PageQuery) -> Result<Page<ProjectDto>, ClientError> {
        let url = self.endpoint(&["api", "v1", "projects"], &page_pairs(page))?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/audit`: one page, newest first.
    pub async fn list_audit(&self, query: &AuditQuery) -> Result<Page<AuditEntryDto>, ClientError> {
        let [cursor, limit] = page_pairs(&query.page);
        let pairs = [
            ("prompt", query.prompt.clone()),
            ("actor", query.actor.clone()),
            ("action", query.action.clone()),
            ("since", query.since.clone()),
            ("until", query.until.clone()),
            cursor,
            limit,
        ];
        let url = self.endpoint(&["api", "v1", "audit"], &pairs)?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/audit/verify`: checks the audit hash chain.
    pub async fn verify_audit(&self) -> Result<AuditVerifyDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "audit", "verify"], &[])?;
        self.call(Method::GET, url).await
    }

    /// `POST /api/v1/keys`: the answer holds the secret, shown this once.
    pub async fn create_key(&self, request: &CreateKeyRequest) -> Result<CreatedKeyDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "keys"], &[])?;
        self.call_with(Method::POST, url, request).await
    }

    /// `GET /api/v1/keys`.
    pub async fn list_keys(&self, page: &PageQuery) -> Result<Page<KeyDto>, ClientError> {
        let url = self.endpoint(&["api", "v1", "keys"], &page_pairs(page))?;
        self.call(Method::GET, url).await
    }

    /// `DELETE /api/v1/keys/{id}`: revokes the key and returns it. Revoking the key this client
    /// authenticates with needs `force` (409 `self_revocation` without it).
    pub async fn revoke_key(&self, id: &str, force: bool) -> Result<KeyDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "keys", id], &[("force", force.then(|| "true".to_owned()))])?;
        self.call(Method::DELETE, url).await
    }
}
