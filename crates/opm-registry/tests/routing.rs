//! Split routing through the registry against a real SQLite store: a sticky key keeps its arm, the
//! arms' shares follow the weights, unkeyed requests are random and marked unsticky, and a label
//! move (a rollback) re-routes every key at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use opm_core::content::VersionContent;
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Actor;
use opm_core::split::{Split, stickiness_group};
use opm_core::template::RenderedBody;
use opm_registry::Registry;
use opm_store::{MutationContext, NewPrompt, NewVersion, Selector, Store};
use serde_json::json;

fn ctx() -> MutationContext {
    MutationContext::new(Actor::system("test"), chrono::Utc::now())
}

fn names() -> (ProjectName, PromptName, LabelName) {
    (ProjectName::default_project(), PromptName::parse("welcome").unwrap(), LabelName::production())
}

async fn setup() -> (tempfile::TempDir, Arc<dyn Store>, Arc<Registry>) {
    let dir = tempfile::tempdir().unwrap();
    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await.unwrap();
    let registry = Registry::new(store.clone());
    let (project, name, _) = names();
    for template in ["stable {{ who }}", "canary {{ who }}"] {
        let content: VersionContent = serde_json::from_value(json!({
            "type": "text", "template": template, "variables": {"who": {"type": "string"}}
        }))
        .unwrap();
        let create =
            NewPrompt { project: project.clone(), name: name.clone(), description: String::new(), tags: vec![] };
        let new = NewVersion { content, message: String::new(), create_prompt: Some(create) };
        store.publish_version(&project, &name, &new, &ctx()).await.unwrap();
    }
    (dir, store, registry)
}

async fn set(registry: &Registry, target: LabelTarget) {
    let (project, name, label) = names();
    registry.set_label(&project, &name, &label, &target, "test", &ctx()).await.unwrap();
}

fn split(arms: &str) -> LabelTarget {
    let (project, name, label) = names();
    LabelTarget::Split(Split::parse(arms, stickiness_group(&project, &name, &label)).unwrap())
}

async fn served(registry: &Registry, key: Option<&str>) -> (u32, bool) {
    let (project, name, label) = names();
    let served = registry.route(&project, &name, &Selector::Label(label), key).await.unwrap();
    let assignment = served.assignment.expect("a split label routes");
    assert_eq!(assignment.version, served.entry.version);
    assert_eq!(served.entry.label_name().unwrap(), "production");
    (assignment.version, assignment.sticky)
}

#[tokio::test]
async fn sticky_keys_keep_their_arm_and_shares_follow_the_weights() {
    let (_dir, _store, registry) = setup().await;
    set(&registry, split("1=70,2=30")).await;
    let mut first: HashMap<String, u32> = HashMap::new();
    let mut canary = 0;
    for i in 0..2000 {
        let key = format!("user-{i}");
        let (version, sticky) = served(&registry, Some(&key)).await;
        assert!(sticky);
        canary += usize::from(version == 2);
        first.insert(key, version);
    }
    assert!((500..700).contains(&canary), "30% of 2000 keys expected on the canary, got {canary}");
    for (key, version) in &first {
        assert_eq!(served(&registry, Some(key)).await.0, *version, "{key} moved");
    }
    // Both arms are cached: one entry for the label, one for the other arm.
    assert_eq!(registry.cached_entries(), 2);
}

#[tokio::test]
async fn unkeyed_requests_are_random_and_unsticky() {
    let (_dir, _store, registry) = setup().await;
    set(&registry, split("1=50,2=50")).await;
    let mut seen = [0usize; 3];
    for _ in 0..400 {
        let (version, sticky) = served(&registry, None).await;
        assert!(!sticky);
        seen[version as usize] += 1;
    }
    assert!(seen[1] > 120 && seen[2] > 120, "{seen:?}");
}

#[tokio::test]
async fn render_uses_the_assigned_arm_and_a_rollback_reroutes_at_once() {
    let (_dir, _store, registry) = setup().await;
    let (project, name, label) = names();
    set(&registry, LabelTarget::Version { version: 1 }).await;
    set(&registry, split("1=0,2=100")).await;
    let variables = serde_json::from_value(json!({"who": "Ada"})).unwrap();
    let selector = Selector::Label(label.clone());
    let rendered = registry.render(&project, &name, &selector, Some("k"), &variables).await.unwrap();
    assert_eq!(rendered.assignment.unwrap().version, 2);
    assert!(matches!(rendered.body, RenderedBody::Text { ref text } if text == "canary Ada"));
    registry.rollback_label(&project, &name, &label, "bad canary", &ctx()).await.unwrap();
    let rendered = registry.render(&project, &name, &selector, Some("k"), &variables).await.unwrap();
    assert!(rendered.assignment.is_none(), "a plain target has no arm");
    assert!(matches!(rendered.body, RenderedBody::Text { ref text } if text == "stable Ada"));
}
