//! Versions: publishing (with optional prompt creation and no-op detection) and lookup.

use opm_core::audit::action;
use opm_core::names::{ProjectName, PromptName};
use opm_core::prompt::{PromptVersion, check_prompt_meta, check_text};
use serde_json::json;

use super::{Backend, Mutation, audit_record, prompts};
use crate::ops::Ops;
use crate::rows::StoredPrompt;
use crate::{ChangeEvent, MutationContext, NewVersion, PublishOutcome, StoreError, StoreResult};

/// Publishes `new` as the next version. Content equal to the latest version's returns that version
/// and writes nothing (no audit entry, no event).
pub(super) async fn publish(
    backend: &impl Backend,
    project: &ProjectName,
    name: &PromptName,
    new: &NewVersion,
    ctx: &MutationContext,
) -> StoreResult<PublishOutcome> {
    new.content.validate()?;
    check_text("message", &new.message, false)?;
    if let Some(create) = &new.create_prompt {
        check_prompt_meta(&create.description, &create.tags)?;
        if create.project != *project || create.name != *name {
            return Err(StoreError::InvalidInput(format!(
                "publishing to `{project}/{name}` but the prompt to create is `{}/{}`",
                create.project, create.name
            )));
        }
    }
    let content_hash = new.content.content_hash();

    let mut mutation = Mutation::begin(backend).await?;
    let (stored, prompt_created) = match mutation.ops().find_prompt(project, name).await? {
        Some(stored) => (stored, false),
        None => match &new.create_prompt {
            Some(create) => (prompts::insert(&mut mutation, create, ctx).await?, true),
            None => return Err(StoreError::PromptNotFound(name.to_string())),
        },
    };
    prompts::ensure_active(&stored)?;
    let latest = mutation.ops().latest_version(&stored).await?;
    if let Some(latest) = latest.as_ref().filter(|latest| latest.content_hash == content_hash) {
        // Dropping the mutation rolls back; nothing was written (a new prompt has no versions).
        return Ok(PublishOutcome { version: latest.clone(), created: false, prompt_created: false });
    }
    let number = match &latest {
        Some(latest) => latest
            .version
            .checked_add(1)
            .ok_or_else(|| StoreError::InvalidInput(format!("prompt `{name}` has the most versions possible")))?,
        None => 1,
    };
    let at = ctx.stamp();
    let version = PromptVersion {
        project: project.clone(),
        prompt: name.clone(),
        version: number,
        content: new.content.clone(),
        message: new.message.clone(),
        author: ctx.actor.clone(),
        created_at: at,
        content_hash,
    };
    mutation.ops().insert_version(stored.id, &version).await?;
    let mut record =
        audit_record(ctx, at, action::VERSION_CREATE, project.as_str(), format!("prompt/{name}/version/{number}"));
    record.after = Some(json!({ "version": number, "content_hash": version.content_hash }));
    record.reason = Some(new.message.clone()).filter(|message| !message.is_empty());
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Prompt { project: project.clone(), prompt: name.clone() });
    mutation.commit().await?;
    Ok(PublishOutcome { version, created: true, prompt_created })
}

/// The version, or not found.
pub(super) async fn existing(ops: &mut dyn Ops, stored: &StoredPrompt, version: u32) -> StoreResult<PromptVersion> {
    ops.get_version(stored, version)
        .await?
        .ok_or_else(|| StoreError::VersionNotFound { prompt: stored.prompt.name.to_string(), version })
}
