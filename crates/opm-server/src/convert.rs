//! Hand-written conversions between domain types (`opm-core`, `opm-store`) and wire types
//! (`opm-api`). Content crosses as JSON with the same field names, validated on the way in.

use opm_api::ActorDto;
use opm_api::audit::AuditEntryDto;
use opm_api::keys::{KeyDto, ProjectDto};
use opm_api::labels::{ArmDto, LabelChangeDto, LabelDto, LabelTargetDto, SetLabelRequest, SplitArmDto};
use opm_api::prompts::{ContentDto, ModelConfigDto, ModelRefDto, PromptDto, PromptTypeDto, ResolveDto, VersionDto};
use opm_core::audit::AuditEntry;
use opm_core::auth::ApiKey;
use opm_core::content::{ModelConfig, PromptBody, VersionContent};
use opm_core::label::{Label, LabelChange, LabelChangeKind, LabelTarget};
use opm_core::names::{LabelName, ProjectName, PromptName, TagName};
use opm_core::prompt::{Actor, Prompt, PromptVersion};
use opm_core::split::{Assignment, Split, SplitArm, SplitArms, stickiness_group};
use opm_store::{Project, Resolved};

use crate::error::ApiError;

mod rollouts;

pub use rollouts::{rollout, spec as rollout_spec};

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

/// The resolve answer every cache entry keeps encoded (set on the registry by `AppState::new`).
pub struct ResolveAnswers;

impl opm_registry::AnswerEncoder for ResolveAnswers {
    fn resolve_answer(&self, resolved: &Resolved, assignment: Option<&Assignment>) -> Vec<u8> {
        serde_json::to_vec(&self::resolved(resolved, assignment)).unwrap_or_default()
    }
}

pub fn resolved(resolved: &Resolved, assignment: Option<&Assignment>) -> ResolveDto {
    ResolveDto {
        prompt: resolved.prompt.name.to_string(),
        version: resolved.version.version,
        label: resolved.label.as_ref().map(|label| label.name.to_string()),
        arm: arm(resolved.label.as_ref().and_then(|label| label.target.split()), assignment),
        content: content(&resolved.version.content),
        content_hash: resolved.version.content_hash.clone(),
        created_at: resolved.version.created_at,
    }
}

pub fn target(target: &LabelTarget) -> LabelTargetDto {
    match target {
        LabelTarget::Version { version } => LabelTargetDto::Version { version: *version },
        LabelTarget::Split(split) => LabelTargetDto::Split {
            arms: split.arms().iter().map(|arm| SplitArmDto { version: arm.version, weight: arm.weight }).collect(),
            group: split.group().to_owned(),
            algorithm: split.algorithm().to_owned(),
            algorithm_version: split.algorithm_version(),
        },
    }
}

/// The arm a request was served by, when it went through a split.
pub fn arm(split: Option<&Split>, assignment: Option<&Assignment>) -> Option<ArmDto> {
    let assignment = assignment?;
    let split = split?;
    Some(ArmDto {
        version: assignment.version,
        index: u32::try_from(assignment.arm_index).unwrap_or(u32::MAX),
        weight: split.weight_of(assignment.version).unwrap_or(0),
        sticky: assignment.sticky,
        algorithm: split.algorithm().to_owned(),
        algorithm_version: split.algorithm_version(),
    })
}

/// The target a `PUT …/labels/{label}` asks for: one version, or a split hashed in the label's
/// stickiness group.
pub fn target_request(
    project: &ProjectName,
    prompt: &PromptName,
    label: &LabelName,
    request: &SetLabelRequest,
) -> Result<LabelTarget, ApiError> {
    match (request.version, &request.split) {
        (Some(version), None) => Ok(LabelTarget::Version { version }),
        (None, Some(arms)) => {
            let arms = arms.iter().map(|arm| SplitArm { version: arm.version, weight: arm.weight }).collect();
            let split = Split::new(SplitArms::new(arms)?, stickiness_group(project, prompt, label))?;
            Ok(LabelTarget::Split(split))
        }
        _ => Err(ApiError::invalid("invalid_target", "give `version` or `split`, exactly one")),
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
        expires_at: key.expires_at,
        last_used_at: key.last_used_at,
    }
}

pub fn project(project: &Project) -> ProjectDto {
    ProjectDto { name: project.name.to_string(), created_at: project.created_at }
}

pub fn feedback(feedback: &opm_store::Feedback) -> opm_api::telemetry::FeedbackDto {
    opm_api::telemetry::FeedbackDto {
        id: feedback.id.to_string(),
        generation_id: feedback.generation_id.clone(),
        score: feedback.score,
        comment: feedback.comment.clone(),
        key_id: feedback.key_id.clone(),
        created_at: feedback.created_at,
    }
}

pub fn generation(
    row: &opm_store::GenerationRow,
    feedback: &[opm_store::Feedback],
) -> opm_api::telemetry::GenerationDto {
    opm_api::telemetry::GenerationDto {
        id: row.id.clone(),
        started_at: row.started_at,
        prompt: row.prompt.clone(),
        prompt_version: row.prompt_version,
        label: row.label.clone(),
        arm: row.arm.clone(),
        provider: row.provider.clone(),
        model: row.model.clone(),
        status: row.status.as_str().to_owned(),
        error_type: row.error_kind.clone(),
        latency_ms: row.latency_ms,
        ttft_ms: row.ttft_ms,
        upstream_ms: row.upstream_ms,
        input_tokens: row.input_tokens,
        output_tokens: row.output_tokens,
        cached_tokens: row.cached_tokens,
        cost_usd: row.cost_usd,
        key_id: row.key_id.clone(),
        attempts: row.attempts,
        fallback_index: row.fallback_index,
        streamed: row.streamed,
        feedback: feedback.iter().map(self::feedback).collect(),
    }
}

pub fn group_stats(stats: &opm_store::GroupStats) -> opm_api::telemetry::GroupStatsDto {
    use opm_api::telemetry::{CostDto, FeedbackSummaryDto, GroupStatsDto, PercentilesDto, TokensDto};
    let percentiles = |p: &opm_store::Percentiles| PercentilesDto { p50: p.p50, p95: p.p95, p99: p.p99 };
    GroupStatsDto {
        group: stats.group.clone(),
        calls: stats.calls,
        errors: stats.errors,
        cancelled: stats.cancelled,
        error_rate: if stats.calls == 0 { 0.0 } else { stats.errors as f64 / stats.calls as f64 },
        latency_ms: stats.latency_ms.as_ref().map(percentiles),
        ttft_ms: stats.ttft_ms.as_ref().map(percentiles),
        tokens: TokensDto { input: stats.input_tokens, output: stats.output_tokens, cached: stats.cached_tokens },
        cost: CostDto {
            total_usd: stats.cost_usd,
            per_call_usd: (stats.calls_with_cost > 0).then(|| stats.cost_usd / stats.calls_with_cost as f64),
            priced_calls: stats.calls_with_cost,
        },
        feedback: FeedbackSummaryDto { count: stats.feedback_count, mean_score: stats.feedback_mean },
        unsticky_calls: stats.unsticky,
    }
}
