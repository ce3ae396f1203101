//! Projects: creation (audited) and lookup.

use opm_core::audit::action;
use opm_core::names::ProjectName;
use serde_json::json;

use super::{Backend, Mutation, audit_record};
use crate::{ChangeEvent, MutationContext, Project, StoreError, StoreResult};

pub(super) async fn create(backend: &impl Backend, name: &ProjectName, ctx: &MutationContext) -> StoreResult<Project> {
    let mut mutation = Mutation::begin(backend).await?;
    let at = ctx.stamp();
    let project =
        mutation.ops().insert_project(name, at).await?.ok_or_else(|| StoreError::ProjectExists(name.to_string()))?;
    let mut record = audit_record(ctx, at, action::PROJECT_CREATE, name.as_str(), format!("project/{name}"));
    record.after = Some(json!({ "name": name }));
    mutation.audit(record).await?;
    mutation.announce(ChangeEvent::Project { project: name.clone() });
    mutation.commit().await?;
    Ok(project)
}

pub(super) async fn get(backend: &impl Backend, name: &ProjectName) -> StoreResult<Project> {
    let mut ops = backend.reader().await?;
    ops.get_project(name).await?.ok_or_else(|| StoreError::ProjectNotFound(name.to_string()))
}
