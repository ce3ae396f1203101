//! Rollouts: starting one (the label moves to its first split in the same transaction), writing
//! its transitions under optimistic locking, reading and listing them.
//!
//! Each call writes one audit entry, targeted `prompt/NAME/label/LABEL/rollout/ID` (so the prompt's
//! and the label's audit filters find it), and announces the prompt's change after commit:
//! - `rollout.start`: `before` `{"label_target": OLD}`, `after` `{"rollout": ROLLOUT, "label_target": NEW}`;
//! - a transition (`update.action`): `before` `{"state": OLD_STATE, "revision": N}`, `after`
//!   `{"details": DETAILS, "state": NEW_STATE, "revision": N + 1}`, both with `"label_target"`
//!   (old and new) when the label moved.
//!
//! A transition of a rollout on an archived prompt is allowed, so it can still be aborted.

use opm_core::CoreError;
use opm_core::audit::action;
use opm_core::label::LabelChangeKind;
use opm_core::names::{LabelName, PromptName};
use opm_core::rollout::Rollout;
use serde_json::json;

use super::{Backend, Mutation, audit_record, labels, prompts, versions};
use crate::rollouts::{NewRollout, RolloutFilter, RolloutUpdate, check_new_rollout, check_serves_arms, check_update};
use crate::{ChangeEvent, MutationContext, StoreError, StoreResult};

/// Starts a rollout: checks the prompt, versions, the label's current target and that no other
/// rollout of the label is active; inserts it, moves the label, and audits `rollout.start`.
pub(super) async fn create(backend: &impl Backend, new: &NewRollout, ctx: &MutationContext) -> StoreResult<Rollout> {
    let mut mutation = Mutation::begin(backend).await?;
    let rollout = create_in(&mut mutation, new, ctx).await?;
    mutation.announce(ChangeEvent::Prompt { project: new.project.clone(), prompt: new.prompt.clone() });
    mutation.commit().await?;
    Ok(rollout)
}

/// [`create`] inside a mutation the caller commits (an approved change request starts its rollout
/// in the approval's transaction).
pub(super) async fn create_in(
    mutation: &mut Mutation,
    new: &NewRollout,
    ctx: &MutationContext,
) -> StoreResult<Rollout> {
    check_new_rollout(new)?;
    let stored = prompts::existing(mutation.ops(), &new.project, &new.prompt).await?;
    prompts::ensure_active(&stored)?;
    for version in [new.stable_version, new.canary_version] {
        versions::existing(mutation.ops(), &stored, version).await?;
    }
    labels::ensure_no_rollout(mutation.ops(), &stored, &new.label).await?;
    let current = mutation
        .ops()
        .get_label(stored.id, &new.label)
        .await?
        .ok_or_else(|| labels::label_not_found(&new.prompt, &new.label))?;
    if current.target != new.expected_target {
        return Err(StoreError::LabelTargetChanged {
            prompt: new.prompt.to_string(),
            label: new.label.to_string(),
            expected: describe(&new.expected_target),
            actual: describe(&current.target),
        });
    }
    let at = ctx.stamp();
    let id = mutation.ops().insert_rollout(stored.id, new, ctx, at).await?;
    if new.target != current.target {
        let change = labels::label_change(
            LabelChangeKind::Set,
            Some(current.target.clone()),
            new.target.clone(),
            &new.reason,
            ctx,
        );
        labels::save_change(mutation, &stored, &new.label, &change).await?;
    }
    let rollout = Rollout {
        id,
        project: new.project.clone(),
        prompt: new.prompt.clone(),
        label: new.label.clone(),
        stable_version: new.stable_version,
        canary_version: new.canary_version,
        spec: new.spec.clone(),
        state: new.state.clone(),
        last_check: None,
        checks: 0,
        revision: 1,
        reason: new.reason.clone(),
        created_by: ctx.actor.clone(),
        created_at: at,
        updated_at: at,
    };
    let target = audit_target(&new.prompt, &new.label, id);
    let mut record = audit_record(ctx, at, action::ROLLOUT_START, new.project.as_str(), target);
    record.before = Some(json!({ "label_target": current.target }));
    record.after = Some(json!({ "rollout": rollout, "label_target": new.target }));
    record.reason = Some(new.reason.clone());
    mutation.audit(record).await?;
    Ok(rollout)
}

/// Writes a transition if the caller read the stored revision; moves the label when asked and
/// needed; audits `update.action`.
pub(super) async fn update(
    backend: &impl Backend,
    update: &RolloutUpdate,
    ctx: &MutationContext,
) -> StoreResult<Rollout> {
    check_update(update)?;
    let mut mutation = Mutation::begin(backend).await?;
    let stored = prompts::existing(mutation.ops(), &update.project, &update.prompt).await?;
    let current =
        mutation.ops().get_rollout(stored.id, update.id).await?.ok_or_else(|| not_found(&update.prompt, update.id))?;
    let conflict = |actual| StoreError::RolloutConflict { id: update.id, expected: update.expected_revision, actual };
    if current.revision != update.expected_revision {
        return Err(conflict(current.revision));
    }
    if current.state.is_finished() {
        return Err(CoreError::RolloutTransition { action: "change", state: current.state.name() }.into());
    }
    let mut moved = None;
    if let Some(target) = &update.label_target {
        check_serves_arms(target, current.stable_version, current.canary_version)?;
        let from = mutation.ops().get_label(stored.id, &current.label).await?.map(|label| label.target);
        if from.as_ref() != Some(target) {
            let change = labels::label_change(LabelChangeKind::Set, from.clone(), target.clone(), &update.reason, ctx);
            labels::save_change(&mut mutation, &stored, &current.label, &change).await?;
            moved = Some((from, target.clone()));
        }
    }
    let at = ctx.stamp();
    let checks = current.checks.saturating_add(u32::from(update.check.is_some()));
    let written = mutation
        .ops()
        .update_rollout(update.id, update.expected_revision, &update.state, update.check.as_ref(), checks, at)
        .await?;
    if !written {
        return Err(conflict(current.revision));
    }
    let rollout = Rollout {
        state: update.state.clone(),
        last_check: update.check.clone().or_else(|| current.last_check.clone()),
        checks,
        revision: current.revision + 1,
        updated_at: at,
        ..current.clone()
    };
    let target = audit_target(&rollout.prompt, &rollout.label, rollout.id);
    let mut record = audit_record(ctx, at, update.action, rollout.project.as_str(), target);
    let mut before = json!({ "state": current.state, "revision": current.revision });
    let mut after = json!({ "details": update.details, "state": rollout.state, "revision": rollout.revision });
    if let Some((from, to)) = moved {
        before["label_target"] = json!(from);
        after["label_target"] = json!(to);
    }
    record.before = Some(before);
    record.after = Some(after);
    record.reason = Some(update.reason.clone());
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Prompt { project: rollout.project.clone(), prompt: rollout.prompt.clone() });
    mutation.commit().await?;
    Ok(rollout)
}

pub(super) async fn get(
    backend: &impl Backend,
    project: &opm_core::names::ProjectName,
    prompt: &PromptName,
    id: i64,
) -> StoreResult<Rollout> {
    let mut ops = backend.reader().await?;
    let stored = prompts::existing(ops.as_mut(), project, prompt).await?;
    ops.get_rollout(stored.id, id).await?.ok_or_else(|| not_found(prompt, id))
}

pub(super) async fn list(backend: &impl Backend, filter: &RolloutFilter) -> StoreResult<Vec<Rollout>> {
    backend.reader().await?.list_rollouts(filter).await
}

/// `prompt/NAME/label/LABEL/rollout/ID`: under the label's audit target.
fn audit_target(prompt: &PromptName, label: &LabelName, id: i64) -> String {
    format!("{}/rollout/{id}", labels::audit_target(prompt, label))
}

/// A label target for a message: `version 7` or `split 7=90,8=10`.
fn describe(target: &opm_core::label::LabelTarget) -> String {
    match target.split() {
        Some(split) => format!("split {split}"),
        None => format!("version {}", target.primary_version()),
    }
}

fn not_found(prompt: &PromptName, id: i64) -> StoreError {
    StoreError::RolloutNotFound { prompt: prompt.to_string(), id }
}
