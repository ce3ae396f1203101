//! API keys and projects.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The roles a key can have, weakest first.
pub const KEY_ROLES: &[&str] = &["viewer", "editor", "deployer", "admin"];

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// 1 to 128 bytes, not only spaces.
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    pub name: String,
    /// `viewer`, `editor`, `deployer` or `admin`.
    #[schema(schema_with = role_schema)]
    pub role: String,
    /// The key's project; omit (admin role only) for a global admin key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::names::optional_name)]
    pub project: Option<String>,
    /// When the key stops working (RFC 3339, in the future); omit for a key that never expires.
    /// An expired key is refused with 401 `key_expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

fn role_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(KEY_ROLES.iter().copied()))
        .description(Some("`viewer`, `editor`, `deployer` or `admin`."))
        .build()
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
    /// When the key stops working; `null` for never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key last authenticated a request (recorded in batches: may lag by the flush
    /// interval, 10 s by default); `null` when never used.
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
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
    #[schema(schema_with = crate::names::name)]
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
