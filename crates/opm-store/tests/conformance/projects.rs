//! Projects: the default project, creation, uniqueness and scoping.

use std::sync::Arc;

use opm_store::{Selector, Store, StoreError};

use crate::assert_err;
use crate::fixtures::*;

pub async fn default_project_exists(store: Arc<dyn Store>) {
    let projects = store.list_projects().await.unwrap();
    let names: Vec<_> = projects.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, ["default"]);
    assert_eq!(store.get_project(&default_project()).await.unwrap().name, default_project());
    assert_err!(store.get_project(&project("nope")).await, StoreError::ProjectNotFound(_));
}

pub async fn create_project_is_listed_audited_and_unique(store: Arc<dyn Store>) {
    let created = store.create_project(&project("team-a"), &ctx()).await.unwrap();
    assert_eq!(created.name, project("team-a"));
    assert_eq!(store.get_project(&project("team-a")).await.unwrap(), created);
    let names: Vec<_> = store.list_projects().await.unwrap().into_iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, ["default", "team-a"]);
    assert_err!(store.create_project(&project("team-a"), &ctx()).await, StoreError::ProjectExists(_));
    assert_err!(store.create_project(&default_project(), &ctx()).await, StoreError::ProjectExists(_));

    let trail = audit_trail(&store).await;
    assert_eq!(trail.len(), 1, "failed creates are not audited");
    let record = &trail[0].record;
    assert_eq!(record.action, "project.create");
    assert_eq!(record.target, "project/team-a");
    assert_eq!(record.project, "team-a");
    assert_eq!(record.actor, ctx().actor);
    assert_eq!(record.request_id.as_deref(), Some("req-test"));
}

pub async fn prompts_are_scoped_to_their_project(store: Arc<dyn Store>) {
    let team = project("team-a");
    store.create_project(&team, &ctx()).await.unwrap();
    publish(&store, "welcome", "hello from default").await;
    let mut in_team = new_version("hello from team");
    in_team.create_prompt = Some(new_prompt_in(&team, "welcome"));
    store.publish_version(&team, &prompt("welcome"), &in_team, &ctx()).await.unwrap();

    let latest = Selector::Label(label("latest"));
    let resolved = store.resolve(&team, &prompt("welcome"), &latest).await.unwrap();
    assert_eq!(resolved.version.content, text("hello from team"));
    assert_eq!(resolved.version.project, team);
    let resolved = store.resolve(&default_project(), &prompt("welcome"), &latest).await.unwrap();
    assert_eq!(resolved.version.content, text("hello from default"));

    assert_eq!(store.list_prompts(&team, &all_prompts()).await.unwrap().len(), 1);
    assert_err!(store.list_prompts(&project("nope"), &all_prompts()).await, StoreError::ProjectNotFound(_));
    assert_err!(
        store.create_prompt(&new_prompt_in(&project("nope"), "x"), &ctx()).await,
        StoreError::ProjectNotFound(_)
    );
}
