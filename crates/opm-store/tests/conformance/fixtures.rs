//! Small builders and checks shared by the cases.

use std::sync::Arc;
use std::time::Duration;

use opm_core::audit::{AuditEntry, ChainBreak, ChainVerifier};
use opm_core::content::VersionContent;
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, ProjectName, PromptName, TagName};
use opm_core::prompt::{Actor, PromptVersion};
use opm_store::{AuditFilter, ChangeEvent, MutationContext, NewPrompt, NewVersion, PromptFilter, Store};
use serde_json::json;
use tokio::sync::broadcast;

/// Asserts that a result is an error matching a pattern, and returns the error.
#[macro_export]
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {{
        match $result {
            Ok(value) => panic!("expected {} but got Ok({value:?})", stringify!($pattern)),
            Err(error) => {
                assert!(matches!(error, $pattern), "expected {} but got {error:?}", stringify!($pattern));
                error
            }
        }
    }};
}

/// The context of a change made by the `ci` key.
pub fn ctx() -> MutationContext {
    ctx_as("key-ci", "ci")
}

pub fn ctx_as(key_id: &str, name: &str) -> MutationContext {
    MutationContext {
        actor: Actor { key_id: Some(key_id.to_owned()), name: name.to_owned() },
        request_id: Some("req-test".to_owned()),
        at: chrono::Utc::now(),
    }
}

pub fn default_project() -> ProjectName {
    ProjectName::default_project()
}

pub fn project(name: &str) -> ProjectName {
    ProjectName::parse(name).unwrap()
}

pub fn prompt(name: &str) -> PromptName {
    PromptName::parse(name).unwrap()
}

pub fn label(name: &str) -> LabelName {
    LabelName::parse(name).unwrap()
}

pub fn tag(name: &str) -> TagName {
    TagName::parse(name).unwrap()
}

pub fn version_target(version: u32) -> LabelTarget {
    LabelTarget::Version { version }
}

/// A text prompt with this template and no variables.
pub fn text(template: &str) -> VersionContent {
    serde_json::from_value(json!({ "type": "text", "template": template })).unwrap()
}

pub fn new_prompt_in(project: &ProjectName, name: &str) -> NewPrompt {
    NewPrompt {
        project: project.clone(),
        name: prompt(name),
        description: format!("the {name} prompt"),
        tags: Vec::new(),
    }
}

pub fn new_prompt(name: &str) -> NewPrompt {
    new_prompt_in(&default_project(), name)
}

/// A version of an existing prompt.
pub fn new_version(template: &str) -> NewVersion {
    NewVersion { content: text(template), message: format!("publish {template}"), create_prompt: None }
}

/// A version that creates its prompt in the default project when missing.
pub fn new_version_creating(name: &str, template: &str) -> NewVersion {
    NewVersion { create_prompt: Some(new_prompt(name)), ..new_version(template) }
}

/// Publishes `template` to `name` in the default project, creating the prompt if needed.
pub async fn publish(store: &Arc<dyn Store>, name: &str, template: &str) -> PromptVersion {
    let outcome =
        store.publish_version(&default_project(), &prompt(name), &new_version_creating(name, template), &ctx()).await;
    outcome.unwrap().version
}

/// Every prompt, archived ones included.
pub fn all_prompts() -> PromptFilter {
    PromptFilter { tag: None, label: None, include_archived: true, after: None, limit: 1000 }
}

/// Active prompts.
pub fn active_prompts() -> PromptFilter {
    PromptFilter { include_archived: false, ..all_prompts() }
}

pub fn all_audit() -> AuditFilter {
    AuditFilter { limit: 10_000, ..AuditFilter::default() }
}

/// Every audit entry, oldest first.
pub async fn audit_trail(store: &Arc<dyn Store>) -> Vec<AuditEntry> {
    store.audit_chain_page(0, 100_000).await.unwrap()
}

pub async fn audit_actions(store: &Arc<dyn Store>) -> Vec<String> {
    audit_trail(store).await.into_iter().map(|entry| entry.record.action).collect()
}

/// Verifies the whole chain in small pages; returns how many entries were checked.
pub async fn verify_chain(store: &Arc<dyn Store>) -> Result<u64, ChainBreak> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_chain_page(after, 7).await.unwrap();
        let Some(last) = page.last() else { return Ok(verifier.checked()) };
        after = last.seq;
        for entry in &page {
            verifier.check(entry)?;
        }
    }
}

/// The next event, failing after two seconds.
pub async fn next_event(events: &mut broadcast::Receiver<ChangeEvent>) -> ChangeEvent {
    tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .expect("no change event within 2 s")
        .expect("event channel closed or lagged")
}

pub fn prompt_event(name: &str) -> ChangeEvent {
    ChangeEvent::Prompt { project: default_project(), prompt: prompt(name) }
}
