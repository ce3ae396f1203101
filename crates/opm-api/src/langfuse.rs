//! Wire types of the Langfuse-compatible prompt API (`/api/public/...`), shaped as the Langfuse
//! SDKs (Python 5.x, JS 5.x) send and parse them: camelCase keys, `labels`/`tags` never null,
//! `config` always an object.
//!
//! Unlike OPM's own request types these accept unknown fields: the Langfuse SDKs add fields over
//! time, and a new optional field must not break an unchanged client.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A prompt version as the SDKs parse it (`Prompt_Text` / `Prompt_Chat`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LangfusePrompt {
    pub name: String,
    pub version: u32,
    /// `text` or `chat`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A string for `text`, a list of [`LangfuseMessage`] for `chat`.
    pub prompt: Value,
    pub config: Map<String, Value>,
    pub labels: Vec<String>,
    pub tags: Vec<String>,
    pub commit_message: Option<String>,
    /// Always `null`: OPM serves only versions without includes here.
    pub resolution_graph: Option<Value>,
}

/// One chat message of a Langfuse chat prompt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangfuseMessage {
    pub role: String,
    pub content: String,
}

/// `POST /api/public/v2/prompts`: a new version (creating the prompt when needed).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LangfuseCreatePrompt {
    pub name: String,
    /// `text` when absent (the Python SDK omits it for text prompts).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub prompt: Value,
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub commit_message: Option<String>,
}

/// `PATCH /api/public/v2/prompts/{name}/versions/{version}`: labels to move onto the version.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LangfuseUpdateLabels {
    pub new_labels: Vec<String>,
}

/// `GET /api/public/v2/prompts`: one entry per prompt.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LangfusePromptMeta {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub versions: Vec<u32>,
    pub labels: Vec<String>,
    pub tags: Vec<String>,
    pub last_updated_at: String,
    pub last_config: Map<String, Value>,
}

/// Langfuse's page metadata (1-based pages).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LangfusePageMeta {
    pub page: u32,
    pub limit: u32,
    pub total_items: u64,
    pub total_pages: u64,
}

/// A page of prompts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangfusePromptList {
    pub data: Vec<LangfusePromptMeta>,
    pub meta: LangfusePageMeta,
}

/// `GET /api/public/projects` (the SDKs' `auth_check`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangfuseProjects {
    pub data: Vec<LangfuseProject>,
}

/// The project a key acts in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangfuseProject {
    pub id: String,
    pub name: String,
    pub metadata: Map<String, Value>,
    pub organization: LangfuseOrganization,
}

/// Required by the Python SDK's parser; OPM has no organizations, so this names the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangfuseOrganization {
    pub id: String,
    pub name: String,
}
