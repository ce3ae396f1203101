//! API keys and projects.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    /// `viewer`, `editor`, `deployer` or `admin`.
    pub role: String,
    /// The key's project; omit (admin role only) for a global admin key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// A key, never with its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyDto {
    pub id: String,
    pub name: String,
    pub role: String,
    pub project: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The answer to key creation: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedKeyDto {
    pub key: KeyDto,
    /// Send as `Authorization: Bearer <secret>`. Not retrievable later.
    pub secret: String,
}

/// `POST /api/v1/projects`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    pub name: String,
}

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectDto {
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/v1/whoami`: the calling key and the project it acts in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmIDto {
    pub key: KeyDto,
    pub project: String,
}
