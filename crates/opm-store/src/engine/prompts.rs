//! Prompts: creation, description and tag changes, archiving, listing.

use opm_core::audit::action;
use opm_core::names::{ProjectName, PromptName};
use opm_core::prompt::{Prompt, check_prompt_meta};
use serde_json::json;

use super::{Backend, Mutation, audit_record};
use crate::ops::Ops;
use crate::rows::StoredPrompt;
use crate::{ChangeEvent, MutationContext, NewPrompt, PromptFilter, PromptPatch, StoreError, StoreResult};

pub(super) async fn create(backend: &impl Backend, new: &NewPrompt, ctx: &MutationContext) -> StoreResult<Prompt> {
    check_prompt_meta(&new.description, &new.tags)?;
    let mut mutation = Mutation::begin(backend).await?;
    let stored = insert(&mut mutation, new, ctx).await?;
    mutation.commit().await?;
    Ok(stored.prompt)
}

/// Creates a prompt inside `mutation` (also used by publishing with `create_prompt`).
pub(super) async fn insert(
    mutation: &mut Mutation,
    new: &NewPrompt,
    ctx: &MutationContext,
) -> StoreResult<StoredPrompt> {
    if mutation.ops().get_project(&new.project).await?.is_none() {
        return Err(StoreError::ProjectNotFound(new.project.to_string()));
    }
    let at = ctx.stamp();
    let id =
        mutation.ops().insert_prompt(new, at).await?.ok_or_else(|| StoreError::PromptExists(new.name.to_string()))?;
    let mut record = audit_record(ctx, at, action::PROMPT_CREATE, new.project.as_str(), format!("prompt/{}", new.name));
    record.after = Some(json!({ "description": new.description, "tags": new.tags }));
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Prompt { project: new.project.clone(), prompt: new.name.clone() });
    let prompt = Prompt {
        project: new.project.clone(),
        name: new.name.clone(),
        description: new.description.clone(),
        tags: new.tags.clone(),
        archived: false,
        latest_version: None,
        created_at: at,
        updated_at: at,
    };
    Ok(StoredPrompt { id, prompt })
}

/// The prompt, or not found.
pub(super) async fn existing(ops: &mut dyn Ops, project: &ProjectName, name: &PromptName) -> StoreResult<StoredPrompt> {
    ops.find_prompt(project, name).await?.ok_or_else(|| StoreError::PromptNotFound(name.to_string()))
}

/// Archived prompts refuse changes other than restoring.
pub(super) fn ensure_active(stored: &StoredPrompt) -> StoreResult<()> {
    if stored.prompt.archived {
        return Err(StoreError::PromptArchived(stored.prompt.name.to_string()));
    }
    Ok(())
}

pub(super) async fn list(
    backend: &impl Backend,
    project: &ProjectName,
    filter: &PromptFilter,
) -> StoreResult<Vec<Prompt>> {
    let mut ops = backend.reader().await?;
    if ops.get_project(project).await?.is_none() {
        return Err(StoreError::ProjectNotFound(project.to_string()));
    }
    ops.list_prompts(project, filter).await
}

/// Changes description and tags; a patch that changes nothing writes nothing.
pub(super) async fn update(
    backend: &impl Backend,
    project: &ProjectName,
    name: &PromptName,
    patch: &PromptPatch,
    ctx: &MutationContext,
) -> StoreResult<Prompt> {
    check_prompt_meta(patch.description.as_deref().unwrap_or_default(), patch.tags.as_deref().unwrap_or_default())?;
    let mut mutation = Mutation::begin(backend).await?;
    let stored = existing(mutation.ops(), project, name).await?;
    ensure_active(&stored)?;
    let before = &stored.prompt;
    let description = patch.description.clone().unwrap_or_else(|| before.description.clone());
    let tags = patch.tags.clone().unwrap_or_else(|| before.tags.clone());
    if description == before.description && tags == before.tags {
        return Ok(stored.prompt);
    }
    let at = ctx.stamp();
    mutation.ops().update_prompt_meta(stored.id, &description, &tags, at).await?;
    let mut record = audit_record(ctx, at, action::PROMPT_UPDATE, project.as_str(), format!("prompt/{name}"));
    record.before = Some(json!({ "description": before.description, "tags": before.tags }));
    record.after = Some(json!({ "description": description, "tags": tags }));
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Prompt { project: project.clone(), prompt: name.clone() });
    mutation.commit().await?;
    Ok(Prompt { description, tags, updated_at: at, ..stored.prompt })
}

/// Archives or restores; doing either twice is a conflict.
pub(super) async fn set_archived(
    backend: &impl Backend,
    project: &ProjectName,
    name: &PromptName,
    archived: bool,
    ctx: &MutationContext,
) -> StoreResult<Prompt> {
    let mut mutation = Mutation::begin(backend).await?;
    let stored = existing(mutation.ops(), project, name).await?;
    match (stored.prompt.archived, archived) {
        (true, true) => return Err(StoreError::PromptArchived(name.to_string())),
        (false, false) => return Err(StoreError::PromptNotArchived(name.to_string())),
        _ => {}
    }
    let at = ctx.stamp();
    mutation.ops().set_archived(stored.id, archived, at).await?;
    let action = if archived { action::PROMPT_ARCHIVE } else { action::PROMPT_RESTORE };
    let mut record = audit_record(ctx, at, action, project.as_str(), format!("prompt/{name}"));
    record.before = Some(json!({ "archived": !archived }));
    record.after = Some(json!({ "archived": archived }));
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Prompt { project: project.clone(), prompt: name.clone() });
    mutation.commit().await?;
    Ok(Prompt { archived, updated_at: at, ..stored.prompt })
}
