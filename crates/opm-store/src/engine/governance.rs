//! Governance: a project's policy (optimistic revision, audited `governance.set`) and change
//! requests on protected labels, each step one transaction with its audit entry.
//!
//! Audit entries (target `prompt/NAME/label/LABEL/request/ID`, so the prompt's and the label's
//! filters find them): `change_request.create`, `.approve`, `.reject`, `.cancel`, `.stale`. The
//! approval that completes a request moves the label in the same transaction (compare-and-set on
//! the target recorded when the request was filed) and writes a `label.set` entry beside it, whose
//! `after` names the request; a request whose label moved meanwhile is marked `stale` (committed)
//! and the call fails with `change_request_stale`.

use chrono::{DateTime, Utc};
use opm_core::CoreError;
use opm_core::audit::action;
use opm_core::governance::{
    Approval, ChangeRequest, ChangeRequestState, GovernancePolicy, MAX_APPROVALS, RequestedChange,
};
use opm_core::label::{LabelChangeKind, LabelTarget};
use opm_core::names::ProjectName;
use opm_core::prompt::check_text;
use opm_core::rollout::{Decision, RolloutState, canary_target};
use serde_json::json;

use super::{Backend, Mutation, audit_record, labels, prompts, rollouts, versions};
use crate::governance::{
    ChangeRequestFilter, NewChangeRequest, PolicyChange, RequestAction, RequestDecision, StoredPolicy,
};
use crate::ops::Ops;
use crate::rollouts::NewRollout;
use crate::{ChangeEvent, MutationContext, StoreError, StoreResult};

/// The project's policy, or the default at revision 0.
pub(super) async fn get_policy(backend: &impl Backend, project: &ProjectName) -> StoreResult<StoredPolicy> {
    let mut ops = backend.reader().await?;
    ensure_project(ops.as_mut(), project).await?;
    Ok(ops.get_policy(project).await?.unwrap_or_else(|| default_policy(project)))
}

async fn ensure_project(ops: &mut dyn Ops, project: &ProjectName) -> StoreResult<()> {
    match ops.get_project(project).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::ProjectNotFound(project.to_string())),
    }
}

fn default_policy(project: &ProjectName) -> StoredPolicy {
    StoredPolicy {
        project: project.clone(),
        policy: GovernancePolicy::default(),
        revision: 0,
        updated_at: None,
        updated_by: None,
    }
}

/// Replaces the policy if the stored revision is `expected_revision`; audits `governance.set`
/// with the old and new policies. An unchanged policy writes nothing.
pub(super) async fn set_policy(
    backend: &impl Backend,
    project: &ProjectName,
    policy: &GovernancePolicy,
    expected_revision: i64,
    change: PolicyChange,
    reason: &str,
    ctx: &MutationContext,
) -> StoreResult<StoredPolicy> {
    policy.validate()?;
    check_text("reason", reason, true)?;
    let mut mutation = Mutation::begin(backend).await?;
    ensure_project(mutation.ops(), project).await?;
    let current = mutation.ops().get_policy(project).await?.unwrap_or_else(|| default_policy(project));
    if current.revision != expected_revision {
        return Err(StoreError::PolicyConflict { expected: expected_revision, actual: current.revision });
    }
    if current.revision > 0 && current.policy == *policy {
        return Ok(current);
    }
    let at = ctx.stamp();
    if !mutation.ops().save_policy(project, policy, expected_revision, ctx, at).await? {
        return Err(StoreError::PolicyConflict { expected: expected_revision, actual: current.revision + 1 });
    }
    let mut record = audit_record(ctx, at, change.audit_action(), project.as_str(), "governance".to_owned());
    record.before = Some(json!({ "policy": current.policy, "revision": current.revision }));
    record.after = Some(json!({ "policy": policy, "revision": current.revision + 1 }));
    record.reason = Some(reason.to_owned());
    mutation.audit(record).await?;
    mutation.commit().await?;
    Ok(StoredPolicy {
        project: project.clone(),
        policy: policy.clone(),
        revision: current.revision + 1,
        updated_at: Some(at),
        updated_by: Some(ctx.actor.clone()),
    })
}

/// Files a pending request: the prompt is active, the target's versions exist, and the label's
/// current target is recorded for the compare-and-set at apply time.
pub(super) async fn create_request(
    backend: &impl Backend,
    new: &NewChangeRequest,
    ctx: &MutationContext,
) -> StoreResult<ChangeRequest> {
    opm_core::label::check_movable(&new.label)?;
    check_text("reason", &new.reason, true)?;
    if new.approvals_required == 0 || new.approvals_required > MAX_APPROVALS {
        return Err(StoreError::InvalidInput(format!("a change request needs 1 to {MAX_APPROVALS} approvals")));
    }
    let versions_named = match &new.change {
        RequestedChange::Label { target } => {
            target.validate()?;
            target.versions()
        }
        RequestedChange::Rollout { canary_version, spec } => {
            spec.validate()?;
            vec![*canary_version]
        }
    };
    let mut mutation = Mutation::begin(backend).await?;
    let stored = prompts::existing(mutation.ops(), &new.project, &new.prompt).await?;
    prompts::ensure_active(&stored)?;
    for version in versions_named {
        versions::existing(mutation.ops(), &stored, version).await?;
    }
    let expected = mutation.ops().get_label(stored.id, &new.label).await?.map(|label| label.target);
    if let RequestedChange::Rollout { canary_version, .. } = &new.change {
        match &expected {
            Some(LabelTarget::Version { version }) if version != canary_version => {}
            Some(LabelTarget::Version { .. }) => {
                return Err(CoreError::InvalidRollout(format!(
                    "label `{}` already points at version {canary_version}",
                    new.label
                ))
                .into());
            }
            _ => {
                return Err(CoreError::InvalidRollout(format!(
                    "label `{}` must point at one (stable) version before a rollout on it is requested",
                    new.label
                ))
                .into());
            }
        }
    }
    let mut request = ChangeRequest {
        id: 0,
        project: new.project.clone(),
        prompt: new.prompt.clone(),
        label: new.label.clone(),
        change: new.change.clone(),
        expected,
        reason: new.reason.clone(),
        state: ChangeRequestState::Pending,
        approvals_required: new.approvals_required,
        approvals: Vec::new(),
        author: ctx.actor.clone(),
        created_at: ctx.stamp(),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
    };
    request.id = mutation.ops().insert_change_request(stored.id, &request).await?;
    let target = target_of(&request);
    let mut record = audit_record(ctx, request.created_at, action::CHANGE_REQUEST_CREATE, new.project.as_str(), target);
    record.before = Some(json!({ "label_target": request.expected }));
    record.after = Some(json!({ "request": request }));
    record.reason = Some(request.reason.clone());
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Prompt { project: new.project.clone(), prompt: new.prompt.clone() });
    mutation.commit().await?;
    Ok(request)
}

pub(super) async fn get_request(backend: &impl Backend, project: &ProjectName, id: i64) -> StoreResult<ChangeRequest> {
    let mut ops = backend.reader().await?;
    let found = ops.get_change_request(project, id).await?;
    found.map(|(_, request)| request).ok_or(StoreError::ChangeRequestNotFound { id })
}

pub(super) async fn list_requests(
    backend: &impl Backend,
    filter: &ChangeRequestFilter,
) -> StoreResult<Vec<ChangeRequest>> {
    backend.reader().await?.list_change_requests(filter).await
}

/// Approves (applying when it is the last approval needed), rejects or cancels a pending request.
pub(super) async fn decide(
    backend: &impl Backend,
    decision: &RequestDecision,
    ctx: &MutationContext,
) -> StoreResult<ChangeRequest> {
    check_text("reason", &decision.reason, decision.action != RequestAction::Approve)?;
    let mut mutation = Mutation::begin(backend).await?;
    let (_, mut request) = mutation
        .ops()
        .get_change_request(&decision.project, decision.id)
        .await?
        .ok_or(StoreError::ChangeRequestNotFound { id: decision.id })?;
    let before = json!({ "state": request.state, "approvals": request.approvals.len() });
    let at = ctx.stamp();
    match decision.action {
        RequestAction::Approve => {
            request.check_approver(&ctx.actor)?;
            request.approvals.push(Approval { actor: ctx.actor.clone(), at, reason: decision.reason.clone() });
        }
        RequestAction::Reject | RequestAction::Cancel => {
            request.ensure_pending()?;
            request.state = match decision.action {
                RequestAction::Reject => ChangeRequestState::Rejected,
                _ => ChangeRequestState::Cancelled,
            };
            close(&mut request, ctx, at, &decision.reason);
        }
    }
    let mut stale = None;
    if request.state == ChangeRequestState::Pending && request.approvals_met() {
        stale = apply(&mut mutation, &mut request, ctx, at, &decision.reason).await?;
    }
    mutation.ops().update_change_request(&request).await?;
    let target = target_of(&request);
    let mut record = audit_record(ctx, at, decision.action.audit_action(), request.project.as_str(), target.clone());
    record.before = Some(before);
    record.after = Some(json!({ "state": request.state, "approvals": request.approvals }));
    record.reason = Some(decision.reason.clone()).filter(|reason| !reason.is_empty());
    mutation.audit(record).await?;
    if let Some(actual) = &stale {
        let mut record = audit_record(ctx, at, action::CHANGE_REQUEST_STALE, request.project.as_str(), target);
        record.before = Some(json!({ "label_target": request.expected }));
        record.after = Some(json!({ "label_target": actual, "state": request.state }));
        record.reason = request.decision_reason.clone();
        mutation.audit(record).await?;
    }
    mutation.announce(ChangeEvent::Prompt { project: request.project.clone(), prompt: request.prompt.clone() });
    mutation.commit().await?;
    match stale {
        Some(actual) => Err(StoreError::ChangeRequestStale {
            id: request.id,
            expected: describe(request.expected.as_ref()),
            actual: describe(actual.as_ref()),
        }),
        None => Ok(request),
    }
}

/// Moves the label (or starts the requested rollout) if it still points where it did when the
/// request was filed (compare-and-set) and marks the request applied; otherwise marks it stale and
/// returns the label's actual target.
async fn apply(
    mutation: &mut Mutation,
    request: &mut ChangeRequest,
    ctx: &MutationContext,
    at: DateTime<Utc>,
    reason: &str,
) -> StoreResult<Option<Option<LabelTarget>>> {
    let stored = prompts::existing(mutation.ops(), &request.project, &request.prompt).await?;
    prompts::ensure_active(&stored)?;
    labels::ensure_no_rollout(mutation.ops(), &stored, &request.label).await?;
    let current = mutation.ops().get_label(stored.id, &request.label).await?.map(|label| label.target);
    if current != request.expected {
        request.state = ChangeRequestState::Stale;
        close(request, ctx, at, "the label moved after the request was filed");
        return Ok(Some(current));
    }
    let label_reason = format!("change request {}: {}", request.id, request.reason);
    match request.change.clone() {
        RequestedChange::Label { target } => {
            for version in target.versions() {
                versions::existing(mutation.ops(), &stored, version).await?;
            }
            request.state = ChangeRequestState::Applied;
            close(request, ctx, at, reason);
            let change =
                labels::label_change(LabelChangeKind::Set, current.clone(), target.clone(), &label_reason, ctx);
            labels::save_change(mutation, &stored, &request.label, &change).await?;
            let label_target = labels::audit_target(&request.prompt, &request.label);
            let mut record = audit_record(ctx, change.at, action::LABEL_SET, request.project.as_str(), label_target);
            record.before = Some(json!({ "target": current }));
            record.after = Some(json!({ "target": target, "change_request": request.id }));
            record.reason = Some(label_reason);
            mutation.audit(record).await?;
        }
        RequestedChange::Rollout { canary_version, spec } => {
            let Some(LabelTarget::Version { version: stable }) = current.clone() else {
                return Err(CoreError::InvalidRollout(format!(
                    "label `{}` does not point at one (stable) version, so no rollout can start on it",
                    request.label
                ))
                .into());
            };
            // The first step is timed from the approval, not from the filing.
            let (state, decision) = RolloutState::start(&spec, at)?;
            let Decision::SetWeight { canary_percent } = decision else {
                return Err(CoreError::InvalidRollout("a rollout starts by setting the canary's share".into()).into());
            };
            let target = canary_target(
                &request.project,
                &request.prompt,
                &request.label,
                stable,
                canary_version,
                canary_percent,
            )?;
            let new = NewRollout {
                project: request.project.clone(),
                prompt: request.prompt.clone(),
                label: request.label.clone(),
                stable_version: stable,
                canary_version,
                spec,
                state,
                expected_target: LabelTarget::Version { version: stable },
                target,
                reason: label_reason,
            };
            request.state = ChangeRequestState::Applied;
            close(request, ctx, at, reason);
            rollouts::create_in(mutation, &new, ctx).await?;
        }
    }
    Ok(None)
}

fn close(request: &mut ChangeRequest, ctx: &MutationContext, at: DateTime<Utc>, reason: &str) {
    request.decided_by = Some(ctx.actor.clone());
    request.decided_at = Some(at);
    request.decision_reason = Some(reason.to_owned());
}

/// `prompt/NAME/label/LABEL/request/ID`: under the label's audit target.
fn target_of(request: &ChangeRequest) -> String {
    format!("{}/request/{}", labels::audit_target(&request.prompt, &request.label), request.id)
}

fn describe(target: Option<&LabelTarget>) -> String {
    match target {
        None => "no target (the label did not exist)".to_owned(),
        Some(target) => match target.split() {
            Some(split) => format!("split {split}"),
            None => format!("version {}", target.primary_version()),
        },
    }
}
