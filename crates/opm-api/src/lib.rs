//! OPM's REST wire types: what goes over HTTP, with OpenAPI schemas.
//!
//! These are deliberately not the domain types of `opm-core`: the server converts by hand, so the
//! wire format can stay stable while the domain evolves. Request types reject unknown fields.

pub mod audit;
pub mod events;
pub mod governance;
pub mod invoke;
pub mod keys;
pub mod labels;
pub mod langfuse;
pub mod mcp;
pub mod names;
pub mod problem;
pub mod prompts;
pub mod render;
pub mod rollouts;
pub mod telemetry;

pub use problem::Problem;

/// A page of items with the cursor for the next page (absent on the last page).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreHealth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Gateway providers and their circuit-breaker state (in `/readyz`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<ProviderHealth>>,
}

/// A gateway provider in `/readyz`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ProviderHealth {
    pub name: String,
    /// `openai`, `anthropic`, `openai-compatible` or `mock`.
    pub kind: String,
    /// `closed` (healthy), `open` (skipped after repeated failures) or `half_open` (probing).
    pub breaker: String,
}

/// Store detail in `/readyz`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StoreHealth {
    pub backend: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ActorDto {
    pub key_id: Option<String>,
    pub name: String,
}
