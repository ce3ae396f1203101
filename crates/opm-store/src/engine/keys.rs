//! API keys: creation and revocation (audited), and the batched record of their last use. Only
//! the secret's hash is ever stored.

use opm_core::audit::action;
use opm_core::auth::ApiKey;
use opm_core::prompt::check_text;
use serde_json::json;

use super::{Backend, Mutation, audit_record};
use chrono::{DateTime, Utc};

use crate::rows::{now_micros, truncate_micros};
use crate::{ChangeEvent, MutationContext, NewApiKey, StoreError, StoreResult};

pub(super) async fn create(backend: &impl Backend, new: &NewApiKey, ctx: &MutationContext) -> StoreResult<ApiKey> {
    check_text("name", &new.name, true)?;
    if new.id.trim().is_empty() || new.secret_hash.trim().is_empty() {
        return Err(StoreError::InvalidInput("an API key needs an id and a secret hash".into()));
    }
    let mut mutation = Mutation::begin(backend).await?;
    if let Some(project) = &new.project
        && mutation.ops().get_project(project).await?.is_none()
    {
        return Err(StoreError::ProjectNotFound(project.to_string()));
    }
    let at = now_micros();
    if new.expires_at.is_some_and(|expires_at| expires_at <= at) {
        return Err(StoreError::InvalidInput("a new API key's expiry must be in the future".into()));
    }
    if !mutation.ops().insert_key(new, at).await? {
        return Err(StoreError::KeyExists(new.id.clone()));
    }
    let key = ApiKey {
        id: new.id.clone(),
        name: new.name.clone(),
        role: new.role,
        project: new.project.clone(),
        created_at: at,
        revoked_at: None,
        expires_at: new.expires_at.map(truncate_micros),
        last_used_at: None,
    };
    let mut record = audit_record(ctx, at, action::KEY_CREATE, project_of(&key), format!("key/{}", key.id));
    let mut after = json!({ "name": key.name, "role": key.role, "project": key.project });
    if let (Some(expires_at), Some(fields)) = (key.expires_at, after.as_object_mut()) {
        fields.insert("expires_at".into(), json!(expires_at));
    }
    record.after = Some(after);
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Key { id: key.id.clone() });
    mutation.commit().await?;
    Ok(key)
}

/// Revokes a key; revoking it again is a conflict, and so is revoking the last active global admin
/// key. That check runs inside the mutation, which holds the writers' lock, so two concurrent
/// revocations of the last two admin keys cannot both pass it.
pub(super) async fn revoke(backend: &impl Backend, id: &str, ctx: &MutationContext) -> StoreResult<ApiKey> {
    let mut mutation = Mutation::begin(backend).await?;
    let key = mutation.ops().get_key(id).await?.ok_or_else(|| StoreError::KeyNotFound(id.to_owned()))?;
    if key.is_revoked() {
        return Err(StoreError::KeyRevoked(id.to_owned()));
    }
    let at = now_micros();
    if key.is_global_admin() && key.is_active(at) && mutation.ops().count_other_active_global_admins(id, at).await? == 0
    {
        return Err(StoreError::LastAdminKey(id.to_owned()));
    }
    mutation.ops().revoke_key(id, at).await?;
    let mut record = audit_record(ctx, at, action::KEY_REVOKE, project_of(&key), format!("key/{id}"));
    record.before = Some(json!({ "revoked": false }));
    record.after = Some(json!({ "revoked": true }));
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Key { id: id.to_owned() });
    mutation.commit().await?;
    Ok(ApiKey { revoked_at: Some(at), ..key })
}

/// Records when keys last authenticated a request: one write transaction for the whole batch, no
/// audit entry (usage is bookkeeping, not a change anyone made) and no change event (caches of
/// keys stay valid).
pub(super) async fn record_use(backend: &impl Backend, uses: &[(String, DateTime<Utc>)]) -> StoreResult<()> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut tx = backend.writer().await?;
    for (id, at) in uses {
        tx.ops().touch_key(id, truncate_micros(*at)).await?;
    }
    tx.commit(Vec::new()).await
}

/// The audit `project` of a key action: its project, or empty for a global key.
fn project_of(key: &ApiKey) -> &str {
    key.project.as_ref().map_or("", |project| project.as_str())
}
