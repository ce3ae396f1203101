//! Hand-written conversions between domain types (`opm-core`, `opm-store`) and wire types
//! (`opm-api`). Content crosses as JSON with the same field names, validated on the way in.

use opm_api::ActorDto;
use opm_api::audit::AuditEntryDto;
use opm_api::keys::{KeyDto, ProjectDto};
use opm_api::labels::{LabelChangeDto, LabelDto, LabelTargetDto};
use opm_api::prompts::{ContentDto, ModelConfigDto, ModelRefDto, PromptDto, PromptTypeDto, ResolveDto, VersionDto};
use opm_core::audit::AuditEntry;
use opm_core::auth::ApiKey;
use opm_core::content::{ModelConfig, PromptBody, VersionContent};
use opm_core::label::{Label, LabelChange, LabelChangeKind, LabelTarget};
use opm_core::names::TagName;
use opm_core::prompt::{Actor, Prompt, PromptVersion};
use opm_store::{Project, Resolved};

use crate::error::ApiError;

pub fn actor(actor: &Actor) -> ActorDto {
    ActorDto { key_id: actor.key_id.clone(), name: actor.name.clone() }
}

pub fn prompt(prompt: &Prompt, labels: Option<Vec<LabelDto>>) -> PromptDto {
    PromptDto {
        project: prompt.project.to_string(),
        name: prompt.name.to_string(),
        description: prompt.description.clone(),
        tags: prompt.tags.iter().map(ToString::to_string).collect(),
        archived: prompt.archived,
        latest_version: prompt.latest_version,
        created_at: prompt.created_at,
        updated_at: prompt.updated_at,
        labels,
    }
}

/// Domain content → wire content (same JSON shape).
pub fn content(content: &VersionContent) -> ContentDto {
    serde_json::to_value(content).ok().and_then(|value| serde_json::from_value(value).ok()).unwrap_or_else(|| {
        ContentDto {
            kind: match content.body {
                PromptBody::Chat { .. } => PromptTypeDto::Chat,
                PromptBody::Text { .. } => PromptTypeDto::Text,
            },
            messages: None,
            template: None,
            variables: Default::default(),
            model: None,
            metadata: Default::default(),
        }
    })
}

/// Domain model config → wire model config, field by field (on the render hot path).
pub fn model(model: &ModelConfig) -> ModelConfigDto {
    ModelConfigDto {
        provider: model.provider.clone(),
        model: model.model.clone(),
        parameters: model.parameters.clone(),
        tools: model.tools.clone(),
        response_format: model.response_format.clone(),
        fallbacks: model
            .fallbacks
            .iter()
            .map(|f| ModelRefDto { provider: f.provider.clone(), model: f.model.clone() })
            .collect(),
    }
}

/// Wire content → validated domain content.
pub fn content_in(dto: &ContentDto) -> Result<VersionContent, ApiError> {
    let value = serde_json::to_value(dto).map_err(|e| ApiError::invalid("invalid_content", e.to_string()))?;
    let content: VersionContent = serde_json::from_value(value)
        .map_err(|e| ApiError::invalid("invalid_content", format!("invalid prompt content: {e}")))?;
    content.validate()?;
    Ok(content)
}

pub fn tags_in(tags: &[String]) -> Result<Vec<TagName>, ApiError> {
    tags.iter().map(|tag| TagName::parse(tag).map_err(ApiError::from)).collect()
}

pub fn version(version: &PromptVersion) -> VersionDto {
    VersionDto {
        prompt: version.prompt.to_string(),
        version: version.version,
        content: content(&version.content),
        message: version.message.clone(),
        author: actor(&version.author),
        created_at: version.created_at,
        content_hash: version.content_hash.clone(),
    }
}

pub fn resolved(resolved: &Resolved) -> ResolveDto {
    ResolveDto {
        prompt: resolved.prompt.name.to_string(),
        version: resolved.version.version,
        label: resolved.label.as_ref().map(|label| label.name.to_string()),
        content: content(&resolved.version.content),
        content_hash: resolved.version.content_hash.clone(),
        created_at: resolved.version.created_at,
    }
}

pub fn target(target: &LabelTarget) -> LabelTargetDto {
    match target {
        LabelTarget::Version { version } => LabelTargetDto::Version { version: *version },
    }
}

pub fn label(label: &Label) -> LabelDto {
    LabelDto {
        name: label.name.to_string(),
        target: target(&label.target),
        version: label.target.primary_version(),
        updated_at: label.updated_at,
        updated_by: actor(&label.updated_by),
        reason: label.reason.clone(),
    }
}

pub fn label_change(change: &LabelChange) -> LabelChangeDto {
    LabelChangeDto {
        seq: change.seq,
        kind: match change.kind {
            LabelChangeKind::Set => "set".to_owned(),
            LabelChangeKind::Rollback => "rollback".to_owned(),
        },
        from: change.from.as_ref().map(target),
        to: target(&change.to),
        reason: change.reason.clone(),
        actor: actor(&change.actor),
        at: change.at,
    }
}

pub fn audit_entry(entry: &AuditEntry) -> AuditEntryDto {
    let record = &entry.record;
    AuditEntryDto {
        seq: entry.seq,
        at: record.at,
        actor: actor(&record.actor),
        action: record.action.clone(),
        project: record.project.clone(),
        target: record.target.clone(),
        before: record.before.clone(),
        after: record.after.clone(),
        reason: record.reason.clone(),
        request_id: record.request_id.clone(),
        prev_hash: entry.prev_hash.clone(),
        hash: entry.hash.clone(),
    }
}

pub fn key(key: &ApiKey) -> KeyDto {
    KeyDto {
        id: key.id.clone(),
        name: key.name.clone(),
        role: key.role.to_string(),
        project: key.project.as_ref().map(ToString::to_string),
        created_at: key.created_at,
        revoked_at: key.revoked_at,
    }
}

pub fn project(project: &Project) -> ProjectDto {
    ProjectDto { name: project.name.to_string(), created_at: project.created_at }
}
