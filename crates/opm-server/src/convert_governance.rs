//! Conversions between the governance domain types (`opm_core::governance`, `opm_store`) and their
//! wire types (`opm_api::governance`). The policy's rules cross as JSON with the same field names
//! (like version content), validated on the way in; requests are converted field by field.

use chrono::{DateTime, Utc};
use opm_api::governance::{
    ActiveFreezeDto, ApprovalDto, ChangeRequestDto, ImmediateFreezeDto, PolicyDto, PolicyRulesDto, RolloutChangeDto,
};
use opm_core::governance::{ChangeRequest, GovernancePolicy, RequestedChange};
use opm_store::StoredPolicy;

use crate::convert;
use crate::error::ApiError;

/// Wire rules → a validated policy without an immediate freeze.
pub fn rules_in(rules: &PolicyRulesDto) -> Result<GovernancePolicy, ApiError> {
    let value = serde_json::to_value(rules).map_err(|error| ApiError::invalid("invalid_policy", error.to_string()))?;
    let policy: GovernancePolicy = serde_json::from_value(value)
        .map_err(|error| ApiError::invalid("invalid_policy", format!("invalid governance policy: {error}")))?;
    policy.validate()?;
    Ok(policy)
}

/// A policy's rules on the wire (same JSON shape, the immediate freeze left out).
pub fn rules(policy: &GovernancePolicy) -> PolicyRulesDto {
    let rules = GovernancePolicy { freeze: None, ..policy.clone() };
    serde_json::to_value(rules).ok().and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default()
}

/// The stored policy with what is frozen at `now`.
pub fn policy(stored: &StoredPolicy, now: DateTime<Utc>) -> PolicyDto {
    let policy = &stored.policy;
    PolicyDto {
        project: stored.project.to_string(),
        rules: rules(policy),
        freeze: policy.freeze.as_ref().map(|freeze| ImmediateFreezeDto {
            reason: freeze.reason.clone(),
            since: freeze.since,
            by: convert::actor(&freeze.by),
        }),
        active_freeze: policy.active_freeze(now).map(|active| ActiveFreezeDto {
            name: active.name,
            reason: active.reason,
            until: active.until,
        }),
        revision: stored.revision,
        updated_at: stored.updated_at,
        updated_by: stored.updated_by.as_ref().map(convert::actor),
    }
}

pub fn request(request: &ChangeRequest) -> ChangeRequestDto {
    ChangeRequestDto {
        id: request.id,
        project: request.project.to_string(),
        prompt: request.prompt.to_string(),
        label: request.label.to_string(),
        target: request.target().map(convert::target),
        rollout: match &request.change {
            RequestedChange::Rollout { canary_version, spec } => {
                Some(RolloutChangeDto { canary_version: *canary_version, spec: convert::rollout_spec(spec) })
            }
            RequestedChange::Label { .. } => None,
        },
        expected: request.expected.as_ref().map(convert::target),
        reason: request.reason.clone(),
        state: request.state.as_str().to_owned(),
        approvals_required: request.approvals_required,
        approvals: request
            .approvals
            .iter()
            .map(|approval| ApprovalDto {
                by: convert::actor(&approval.actor),
                at: approval.at,
                reason: approval.reason.clone(),
            })
            .collect(),
        author: convert::actor(&request.author),
        created_at: request.created_at,
        decided_by: request.decided_by.as_ref().map(convert::actor),
        decided_at: request.decided_at,
        decision_reason: request.decision_reason.clone(),
    }
}
