//! Prompts, their immutable versions, and who made a change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::content::VersionContent;
use crate::names::{ProjectName, PromptName, TagName};

/// Who made a change: an API key (id and name) or an internal actor such as `bootstrap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The API key's id, when the change came through a key.
    pub key_id: Option<String>,
    /// The key's name, or the internal actor's name.
    pub name: String,
}

impl Actor {
    /// An actor that is OPM itself (bootstrap, migrations, controllers).
    pub fn system(name: &str) -> Self {
        Self { key_id: None, name: name.to_owned() }
    }
}

/// A prompt: a named, versioned template in a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub project: ProjectName,
    pub name: PromptName,
    pub description: String,
    pub tags: Vec<TagName>,
    /// Archived prompts are hidden from listings and cannot be resolved.
    pub archived: bool,
    /// The newest version number, if any version exists.
    pub latest_version: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One immutable version of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptVersion {
    pub project: ProjectName,
    pub prompt: PromptName,
    /// 1, 2, 3… per prompt, without gaps.
    pub version: u32,
    pub content: VersionContent,
    /// The commit message given when publishing.
    pub message: String,
    pub author: Actor,
    pub created_at: DateTime<Utc>,
    /// `sha256:<hex>` of the canonical content.
    pub content_hash: String,
}

/// Most tags on one prompt.
pub const MAX_TAGS: usize = 32;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;
/// Longest commit message or reason, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Checks a description, tag list and commit message against their limits.
pub fn check_prompt_meta(description: &str, tags: &[TagName]) -> Result<(), crate::CoreError> {
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(crate::CoreError::InvalidContent(format!(
            "description is {} bytes; the limit is {MAX_DESCRIPTION_BYTES}",
            description.len()
        )));
    }
    if tags.len() > MAX_TAGS {
        return Err(crate::CoreError::InvalidContent(format!("at most {MAX_TAGS} tags are allowed")));
    }
    Ok(())
}

/// Checks a commit message or a reason: required ones must not be blank.
pub fn check_text(field: &str, text: &str, required: bool) -> Result<(), crate::CoreError> {
    if required && text.trim().is_empty() {
        return Err(crate::CoreError::InvalidContent(format!("`{field}` is required and must not be blank")));
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(crate::CoreError::InvalidContent(format!(
            "`{field}` is {} bytes; the limit is {MAX_MESSAGE_BYTES}",
            text.len()
        )));
    }
    Ok(())
}
