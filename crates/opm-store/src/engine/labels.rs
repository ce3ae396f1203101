//! Labels: moving and rolling back (with history and audit), listing with the automatic `latest`,
//! and resolving a selector to a version. A label under an active rollout is moved only by that
//! rollout ([`super::rollouts`]): setting or rolling it back is refused until it is promoted or
//! aborted.

use opm_core::audit::action;
use opm_core::label::{Label, LabelChange, LabelChangeKind, LabelTarget, check_movable, rollback_target};
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::{Actor, PromptVersion, check_text};
use serde_json::json;

use super::{Backend, Mutation, audit_record, prompts, versions};
use crate::ops::Ops;
use crate::rows::StoredPrompt;
use crate::{ChangeEvent, MutationContext, Resolved, Selector, StoreError, StoreResult};

/// Points `label` at `target`. Setting the target it already has writes nothing.
pub(super) async fn set(
    backend: &impl Backend,
    project: &ProjectName,
    name: &PromptName,
    label: &LabelName,
    target: &LabelTarget,
    reason: &str,
    ctx: &MutationContext,
) -> StoreResult<Label> {
    check_movable(label)?;
    target.validate()?;
    check_text("reason", reason, true)?;
    let mut mutation = Mutation::begin(backend).await?;
    let stored = prompts::existing(mutation.ops(), project, name).await?;
    prompts::ensure_active(&stored)?;
    ensure_no_rollout(mutation.ops(), &stored, label).await?;
    for version in target.versions() {
        versions::existing(mutation.ops(), &stored, version).await?;
    }
    let current = mutation.ops().get_label(stored.id, label).await?;
    if let Some(current) = current.as_ref().filter(|current| current.target == *target) {
        return Ok(current.clone());
    }
    let from = current.map(|current| current.target);
    let change = label_change(LabelChangeKind::Set, from, target.clone(), reason, ctx);
    let label = move_label(&mut mutation, &stored, label, change, ctx).await?;
    mutation.commit().await?;
    Ok(label)
}

/// Moves `label` back to the `from` of its newest history entry, so two rollbacks toggle.
pub(super) async fn rollback(
    backend: &impl Backend,
    project: &ProjectName,
    name: &PromptName,
    label: &LabelName,
    reason: &str,
    ctx: &MutationContext,
) -> StoreResult<Label> {
    check_movable(label)?;
    check_text("reason", reason, true)?;
    let mut mutation = Mutation::begin(backend).await?;
    let stored = prompts::existing(mutation.ops(), project, name).await?;
    prompts::ensure_active(&stored)?;
    ensure_no_rollout(mutation.ops(), &stored, label).await?;
    let current = mutation.ops().get_label(stored.id, label).await?.ok_or_else(|| label_not_found(name, label))?;
    let newest = mutation.ops().label_history(stored.id, label, 1).await?;
    let target = rollback_target(&newest)
        .cloned()
        .ok_or_else(|| StoreError::NothingToRollBack { prompt: name.to_string(), label: label.to_string() })?;
    for version in target.versions() {
        versions::existing(mutation.ops(), &stored, version).await?;
    }
    let change = label_change(LabelChangeKind::Rollback, Some(current.target), target, reason, ctx);
    let label = move_label(&mut mutation, &stored, label, change, ctx).await?;
    mutation.commit().await?;
    Ok(label)
}

/// Refuses while an active rollout owns the label.
pub(super) async fn ensure_no_rollout(ops: &mut dyn Ops, stored: &StoredPrompt, label: &LabelName) -> StoreResult<()> {
    match ops.active_rollout(stored.id, label).await? {
        Some(rollout) => Err(StoreError::RolloutInProgress { label: label.to_string(), id: rollout.id }),
        None => Ok(()),
    }
}

/// A change made by the context's actor at the context's time.
pub(super) fn label_change(
    kind: LabelChangeKind,
    from: Option<LabelTarget>,
    to: LabelTarget,
    reason: &str,
    ctx: &MutationContext,
) -> LabelChange {
    LabelChange { seq: 0, kind, from, to, reason: reason.to_owned(), actor: ctx.actor.clone(), at: ctx.stamp() }
}

/// Moves the label as `change` says, records the change in its history and the audit trail.
async fn move_label(
    mutation: &mut Mutation,
    stored: &StoredPrompt,
    name: &LabelName,
    change: LabelChange,
    ctx: &MutationContext,
) -> StoreResult<Label> {
    let label = save_change(mutation, stored, name, &change).await?;
    let prompt = &stored.prompt;
    let action = match change.kind {
        LabelChangeKind::Set => action::LABEL_SET,
        LabelChangeKind::Rollback => action::LABEL_ROLLBACK,
    };
    let target = audit_target(&prompt.name, name);
    let mut record = audit_record(ctx, change.at, action, prompt.project.as_str(), target);
    record.before = Some(json!({ "target": change.from }));
    record.after = Some(json!({ "target": change.to }));
    record.reason = Some(change.reason);
    mutation.audit(record).await?;
    Ok(label)
}

/// Moves the label as `change` says and records the change in its history, without an audit
/// entry (the caller writes one); announces the prompt's change.
pub(super) async fn save_change(
    mutation: &mut Mutation,
    stored: &StoredPrompt,
    name: &LabelName,
    change: &LabelChange,
) -> StoreResult<Label> {
    let label = Label {
        name: name.clone(),
        target: change.to.clone(),
        updated_at: change.at,
        updated_by: change.actor.clone(),
        reason: change.reason.clone(),
    };
    mutation.ops().save_label(stored.id, &label).await?;
    mutation.ops().insert_label_change(stored.id, name, change).await?;
    let prompt = &stored.prompt;
    mutation.announce(ChangeEvent::Prompt { project: prompt.project.clone(), prompt: prompt.name.clone() });
    Ok(label)
}

/// The audit target of a label: `prompt/NAME/label/LABEL`.
pub(super) fn audit_target(prompt: &PromptName, label: &LabelName) -> String {
    format!("prompt/{prompt}/label/{label}")
}

/// Stored labels and the automatic `latest` (when there is a version), ordered by name.
pub(super) async fn list(backend: &impl Backend, project: &ProjectName, name: &PromptName) -> StoreResult<Vec<Label>> {
    let mut ops = backend.reader().await?;
    let stored = prompts::existing(ops.as_mut(), project, name).await?;
    let mut labels = ops.list_labels(stored.id).await?;
    if let Some(newest) = ops.latest_version(&stored).await? {
        labels.push(latest_label(&newest));
        labels.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(labels)
}

/// Newest first; `latest` has no history. An unknown label is not found.
pub(super) async fn history(
    backend: &impl Backend,
    project: &ProjectName,
    name: &PromptName,
    label: &LabelName,
    limit: u32,
) -> StoreResult<Vec<LabelChange>> {
    let mut ops = backend.reader().await?;
    let stored = prompts::existing(ops.as_mut(), project, name).await?;
    if label.is_latest() {
        return Ok(Vec::new());
    }
    let changes = ops.label_history(stored.id, label, limit).await?;
    if changes.is_empty() && ops.get_label(stored.id, label).await?.is_none() {
        return Err(label_not_found(name, label));
    }
    Ok(changes)
}

pub(super) async fn resolve(
    backend: &impl Backend,
    project: &ProjectName,
    name: &PromptName,
    selector: &Selector,
) -> StoreResult<Resolved> {
    let mut ops = backend.reader().await?;
    let stored = prompts::existing(ops.as_mut(), project, name).await?;
    prompts::ensure_active(&stored)?;
    let (label, version) = match selector {
        Selector::Version(version) => (None, versions::existing(ops.as_mut(), &stored, *version).await?),
        Selector::Label(label) if label.is_latest() => {
            let newest = ops.latest_version(&stored).await?.ok_or_else(|| StoreError::NoVersions(name.to_string()))?;
            (Some(latest_label(&newest)), newest)
        }
        Selector::Label(label) => {
            let label = ops.get_label(stored.id, label).await?.ok_or_else(|| label_not_found(name, label))?;
            let version = versions::existing(ops.as_mut(), &stored, label.target.primary_version()).await?;
            (Some(label), version)
        }
    };
    Ok(Resolved { prompt: stored.prompt, label, version })
}

/// The automatic `latest` label, pointing at `newest`.
fn latest_label(newest: &PromptVersion) -> Label {
    Label {
        name: LabelName::latest(),
        target: LabelTarget::Version { version: newest.version },
        updated_at: newest.created_at,
        updated_by: Actor::system("opm"),
        reason: "newest version".to_owned(),
    }
}

pub(super) fn label_not_found(prompt: &PromptName, label: &LabelName) -> StoreError {
    StoreError::LabelNotFound { prompt: prompt.to_string(), label: label.to_string() }
}
