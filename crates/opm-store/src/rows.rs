//! Database rows as both backends return them, and their conversion to domain types.
//!
//! Stored values are checked again on the way out (names parse, JSON decodes, numbers fit): a row
//! that does not is reported as an internal error naming the column, never as a panic.

use chrono::{DateTime, Utc};
use opm_core::audit::{AuditEntry, AuditRecord};
use opm_core::auth::{ApiKey, Role};
use opm_core::content::VersionContent;
use opm_core::label::{Label, LabelChange, LabelChangeKind, LabelTarget};
use opm_core::names::{LabelName, ProjectName, PromptName, TagName};
use opm_core::prompt::{Actor, Prompt, PromptVersion};
use serde::de::DeserializeOwned;

use crate::{Project, StoreError, StoreResult};

mod generations;
mod governance;
mod rollouts;

pub(crate) use generations::{FeedbackRow, GenerationDbRow, StatsRow};
pub(crate) use governance::{PolicyRow, RequestRow};
pub(crate) use rollouts::RolloutRow;

/// A prompt together with its row id, which other tables reference.
#[derive(Debug, Clone)]
pub(crate) struct StoredPrompt {
    pub id: i64,
    pub prompt: Prompt,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProjectRow {
    name: String,
    created_at_us: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PromptRow {
    id: i64,
    project: String,
    name: String,
    description: String,
    tags_json: String,
    archived: bool,
    created_at_us: i64,
    updated_at_us: i64,
    latest_version: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    version: i64,
    content_json: String,
    content_hash: String,
    message: String,
    author_key_id: Option<String>,
    author_name: String,
    created_at_us: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct LabelRow {
    name: String,
    target_json: String,
    updated_at_us: i64,
    updated_by_key_id: Option<String>,
    updated_by_name: String,
    reason: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct LabelChangeRow {
    seq: i64,
    kind: String,
    from_json: Option<String>,
    to_json: String,
    reason: String,
    actor_key_id: Option<String>,
    actor_name: String,
    at_us: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: String,
    name: String,
    role: String,
    project: Option<String>,
    created_at_us: i64,
    revoked_at_us: Option<i64>,
    expires_at_us: Option<i64>,
    last_used_at_us: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    seq: i64,
    at_us: i64,
    actor_key_id: Option<String>,
    actor_name: String,
    action: String,
    project: String,
    target: String,
    before_json: Option<String>,
    after_json: Option<String>,
    reason: Option<String>,
    request_id: Option<String>,
    prev_hash: String,
    hash: String,
}

/// The audit head: the newest entry's sequence number (0 for an empty chain) and hash.
#[derive(sqlx::FromRow)]
pub(crate) struct HeadRow {
    pub seq: i64,
    pub hash: String,
}

impl ProjectRow {
    pub(crate) fn into_project(self) -> StoreResult<Project> {
        Ok(Project { name: parse_name(&self.name, "projects.name")?, created_at: from_micros(self.created_at_us)? })
    }
}

impl PromptRow {
    pub(crate) fn into_stored(self) -> StoreResult<StoredPrompt> {
        let prompt = Prompt {
            project: parse_name(&self.project, "prompts.project")?,
            name: parse_name(&self.name, "prompts.name")?,
            description: self.description,
            tags: from_json::<Vec<TagName>>(&self.tags_json, "prompts.tags_json")?,
            archived: self.archived,
            latest_version: self.latest_version.map(|v| to_version(v, "versions.version")).transpose()?,
            created_at: from_micros(self.created_at_us)?,
            updated_at: from_micros(self.updated_at_us)?,
        };
        Ok(StoredPrompt { id: self.id, prompt })
    }
}

impl VersionRow {
    pub(crate) fn into_version(self, prompt: &Prompt) -> StoreResult<PromptVersion> {
        Ok(PromptVersion {
            project: prompt.project.clone(),
            prompt: prompt.name.clone(),
            version: to_version(self.version, "versions.version")?,
            content: from_json::<VersionContent>(&self.content_json, "versions.content_json")?,
            message: self.message,
            author: Actor { key_id: self.author_key_id, name: self.author_name },
            created_at: from_micros(self.created_at_us)?,
            content_hash: self.content_hash,
        })
    }
}

impl LabelRow {
    pub(crate) fn into_label(self) -> StoreResult<Label> {
        Ok(Label {
            name: parse_name(&self.name, "labels.name")?,
            target: from_json::<LabelTarget>(&self.target_json, "labels.target_json")?,
            updated_at: from_micros(self.updated_at_us)?,
            updated_by: Actor { key_id: self.updated_by_key_id, name: self.updated_by_name },
            reason: self.reason,
        })
    }
}

impl LabelChangeRow {
    pub(crate) fn into_change(self) -> StoreResult<LabelChange> {
        let kind = match self.kind.as_str() {
            "set" => LabelChangeKind::Set,
            "rollback" => LabelChangeKind::Rollback,
            other => return Err(corrupt("label_history.kind", other)),
        };
        Ok(LabelChange {
            seq: self.seq,
            kind,
            from: self.from_json.as_deref().map(|json| from_json(json, "label_history.from_json")).transpose()?,
            to: from_json(&self.to_json, "label_history.to_json")?,
            reason: self.reason,
            actor: Actor { key_id: self.actor_key_id, name: self.actor_name },
            at: from_micros(self.at_us)?,
        })
    }
}

/// The stored form of a label change kind.
pub(crate) fn change_kind_str(kind: LabelChangeKind) -> &'static str {
    match kind {
        LabelChangeKind::Set => "set",
        LabelChangeKind::Rollback => "rollback",
    }
}

impl KeyRow {
    pub(crate) fn into_key(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            role: self.role.parse::<Role>().map_err(|_| corrupt("api_keys.role", &self.role))?,
            project: self.project.as_deref().map(|name| parse_name(name, "api_keys.project")).transpose()?,
            id: self.id,
            name: self.name,
            created_at: from_micros(self.created_at_us)?,
            revoked_at: self.revoked_at_us.map(from_micros).transpose()?,
            expires_at: self.expires_at_us.map(from_micros).transpose()?,
            last_used_at: self.last_used_at_us.map(from_micros).transpose()?,
        })
    }
}

impl AuditRow {
    pub(crate) fn into_entry(self) -> StoreResult<AuditEntry> {
        let record = AuditRecord {
            at: from_micros(self.at_us)?,
            actor: Actor { key_id: self.actor_key_id, name: self.actor_name },
            action: self.action,
            project: self.project,
            target: self.target,
            before: self.before_json.as_deref().map(|json| from_json(json, "audit.before_json")).transpose()?,
            after: self.after_json.as_deref().map(|json| from_json(json, "audit.after_json")).transpose()?,
            reason: self.reason,
            request_id: self.request_id,
        };
        Ok(AuditEntry { seq: self.seq, record, prev_hash: self.prev_hash, hash: self.hash })
    }
}

/// A time truncated to microseconds.
pub(crate) fn truncate_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

pub(crate) fn from_micros(us: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt("timestamp", &us.to_string()))
}

/// Serializes a value stored as JSON text.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Internal(format!("cannot serialize to JSON: {error}")))
}

fn from_json<T: DeserializeOwned>(json: &str, column: &str) -> StoreResult<T> {
    serde_json::from_str(json)
        .map_err(|error| StoreError::Internal(format!("stored {column} does not decode: {error}")))
}

fn parse_name<T: ParseStored>(value: &str, column: &str) -> StoreResult<T> {
    T::parse_stored(value).ok_or_else(|| corrupt(column, value))
}

fn to_version(value: i64, column: &str) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| corrupt(column, &value.to_string()))
}

fn corrupt(column: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("stored {column} `{value}` is not valid"))
}

/// Names read back from the database are validated like any input.
pub(crate) trait ParseStored: Sized {
    fn parse_stored(value: &str) -> Option<Self>;
}

macro_rules! parse_stored_via_parse {
    ($($ty:ty),*) => {$(
        impl ParseStored for $ty {
            fn parse_stored(value: &str) -> Option<Self> {
                <$ty>::parse(value).ok()
            }
        }
    )*};
}

parse_stored_via_parse!(ProjectName, PromptName, LabelName);
