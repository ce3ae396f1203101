//! The include label rule against a real SQLite store: an unpinned include follows the including
//! prompt's label and falls back to `production` when the included prompt has no such label; the
//! fallback is re-decided when the included prompt gains the label (its change drops the
//! includer's compiled entry); a pinned include never falls back; neither label is an error naming
//! both labels and the including prompt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use opm_core::content::VersionContent;
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Actor;
use opm_core::template::RenderedBody;
use opm_registry::{Registry, RegistryError};
use opm_store::{MutationContext, NewPrompt, NewVersion, Selector, Store};
use serde_json::json;

fn ctx() -> MutationContext {
    MutationContext::new(Actor::system("test"), chrono::Utc::now())
}

async fn setup() -> (tempfile::TempDir, Arc<dyn Store>, Arc<Registry>) {
    let dir = tempfile::tempdir().unwrap();
    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await.unwrap();
    let registry = Registry::new(store.clone());
    (dir, store, registry)
}

async fn publish(registry: &Registry, name: &str, template: &str) -> u32 {
    let project = ProjectName::default_project();
    let name = PromptName::parse(name).unwrap();
    let content: VersionContent = serde_json::from_value(json!({"type": "text", "template": template})).unwrap();
    let new = NewVersion {
        content,
        message: String::new(),
        create_prompt: Some(NewPrompt {
            project: project.clone(),
            name: name.clone(),
            description: String::new(),
            tags: vec![],
        }),
    };
    registry.publish_version(&project, &name, &new, &ctx()).await.unwrap().version.version
}

async fn label(registry: &Registry, name: &str, label: &str, version: u32) {
    registry
        .set_label(
            &ProjectName::default_project(),
            &PromptName::parse(name).unwrap(),
            &LabelName::parse(label).unwrap(),
            &LabelTarget::Version { version },
            "test",
            &ctx(),
        )
        .await
        .unwrap();
}

async fn render(registry: &Registry, name: &str, label: &str) -> Result<(String, Vec<(String, u32)>), RegistryError> {
    let rendered = registry
        .render(
            &ProjectName::default_project(),
            &PromptName::parse(name).unwrap(),
            &Selector::Label(LabelName::parse(label).unwrap()),
            None,
            &Default::default(),
        )
        .await?;
    let included = rendered.included.iter().map(|i| (i.prompt.to_string(), i.version)).collect();
    match rendered.body {
        RenderedBody::Text { text } => Ok((text, included)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_include_without_the_label_falls_back_to_production_until_it_gains_the_label() {
    let (_dir, _store, registry) = setup().await;
    publish(&registry, "tone-guide", "calm").await;
    publish(&registry, "tone-guide", "warm").await;
    label(&registry, "tone-guide", "production", 1).await;
    publish(&registry, "reply", "[{% include 'tone-guide' %}]").await;
    label(&registry, "reply", "staging", 1).await;
    label(&registry, "reply", "production", 1).await;

    // The quick start's case: the including prompt is on staging, the snippet only on production.
    assert_eq!(render(&registry, "reply", "staging").await.unwrap(), ("[calm]".into(), vec![("tone-guide".into(), 1)]));
    // Warm: the compiled entry (with its fallback) is reused.
    assert_eq!(render(&registry, "reply", "staging").await.unwrap().0, "[calm]");

    // The snippet gains a staging label: the includer follows it at once.
    label(&registry, "tone-guide", "staging", 2).await;
    assert_eq!(render(&registry, "reply", "staging").await.unwrap(), ("[warm]".into(), vec![("tone-guide".into(), 2)]));
    assert_eq!(render(&registry, "reply", "production").await.unwrap().0, "[calm]");
}

#[tokio::test]
async fn neither_label_is_an_error_naming_both_labels_and_the_includer() {
    let (_dir, _store, registry) = setup().await;
    publish(&registry, "snippet", "s").await;
    label(&registry, "snippet", "staging", 1).await;
    publish(&registry, "reply", "{% include 'snippet' %}").await;
    label(&registry, "reply", "canary", 1).await;
    label(&registry, "reply", "production", 1).await;

    let error = render(&registry, "reply", "canary").await.unwrap_err();
    assert_eq!(error.code(), "label_not_found");
    assert_eq!(error.kind(), opm_core::ErrorKind::NotFound);
    assert_eq!(error.to_string(), "prompt `snippet` (included by `reply`) has neither label `canary` nor `production`");
    let error = render(&registry, "reply", "production").await.unwrap_err();
    assert_eq!(error.to_string(), "prompt `snippet` (included by `reply`) has no label `production`");
    // Its own label still works.
    label(&registry, "reply", "staging", 1).await;
    assert_eq!(render(&registry, "reply", "staging").await.unwrap().0, "s");
}

#[tokio::test]
async fn a_pinned_include_never_falls_back_and_a_missing_prompt_stays_prompt_not_found() {
    let (_dir, _store, registry) = setup().await;
    publish(&registry, "snippet", "s").await;
    label(&registry, "snippet", "production", 1).await;
    publish(&registry, "pinned", "{% include 'snippet@2' %}").await;
    label(&registry, "pinned", "staging", 1).await;
    let error = render(&registry, "pinned", "staging").await.unwrap_err();
    assert_eq!(error.code(), "version_not_found");

    publish(&registry, "orphan", "{% include 'nobody' %}").await;
    label(&registry, "orphan", "staging", 1).await;
    assert_eq!(render(&registry, "orphan", "staging").await.unwrap_err().code(), "prompt_not_found");
}

#[tokio::test]
async fn a_draft_preview_uses_the_same_fallback() {
    let (_dir, _store, registry) = setup().await;
    publish(&registry, "snippet", "from production").await;
    label(&registry, "snippet", "production", 1).await;
    let content: VersionContent =
        serde_json::from_value(json!({"type": "text", "template": "{% include 'snippet' %}"})).unwrap();
    let (body, included) = registry
        .render_draft(
            &ProjectName::default_project(),
            &PromptName::parse("draft").unwrap(),
            &content,
            &LabelName::parse("staging").unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(body, RenderedBody::Text { text: "from production".into() });
    assert_eq!(included[0].version, 1);
}
