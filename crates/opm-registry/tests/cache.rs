//! The registry's cache against a real SQLite store: warm reads come from memory, writes through
//! the registry are visible at once, writes that bypass it (another replica, here the store used
//! directly) are visible once the store's change event arrives, and includes are re-resolved when
//! the included prompt moves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use opm_core::content::VersionContent;
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Actor;
use opm_core::template::RenderedBody;
use opm_registry::Registry;
use opm_store::{MutationContext, NewPrompt, NewVersion, Selector, Store};
use serde_json::json;

fn ctx() -> MutationContext {
    MutationContext::new(Actor::system("test"), chrono::Utc::now())
}

async fn publish(store: &Arc<dyn Store>, name: &str, template: &str) -> u32 {
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
    store.publish_version(&project, &name, &new, &ctx()).await.unwrap().version.version
}

async fn label(store: &Arc<dyn Store>, name: &str, version: u32) {
    let project = ProjectName::default_project();
    store
        .set_label(
            &project,
            &PromptName::parse(name).unwrap(),
            &LabelName::production(),
            &LabelTarget::Version { version },
            "test",
            &ctx(),
        )
        .await
        .unwrap();
}

async fn render_text(registry: &Registry, name: &str) -> String {
    let rendered = registry
        .render(
            &ProjectName::default_project(),
            &PromptName::parse(name).unwrap(),
            &Selector::Label(LabelName::production()),
            None,
            &Default::default(),
        )
        .await
        .unwrap();
    match rendered.body {
        RenderedBody::Text { text } => text,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn writes_that_bypass_the_registry_arrive_through_change_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await.unwrap();
    let registry = Registry::new(store.clone());
    publish(&store, "greeting", "one").await;
    publish(&store, "greeting", "two").await;
    label(&store, "greeting", 1).await;
    // The setup's own change events arrive asynchronously; a load that races one is not cached
    // (the epoch check), so let them drain before checking that a warm read is cached.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(render_text(&registry, "greeting").await, "one");
    assert_eq!(registry.cached_entries(), 1);

    label(&store, "greeting", 2).await;
    let start = Instant::now();
    while render_text(&registry, "greeting").await != "two" {
        assert!(start.elapsed() < Duration::from_secs(1), "the change event should invalidate the cache");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn writes_through_the_registry_are_visible_at_once_and_includes_follow() {
    let dir = tempfile::tempdir().unwrap();
    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await.unwrap();
    let registry = Registry::new(store.clone());
    publish(&store, "footer", "v1 footer").await;
    publish(&store, "footer", "v2 footer").await;
    label(&store, "footer", 1).await;
    publish(&store, "page", "body + {% include \"footer\" %}").await;
    label(&store, "page", 1).await;
    assert_eq!(render_text(&registry, "page").await, "body + v1 footer");

    // Moving the included prompt's label through the registry re-renders the includer at once.
    let project = ProjectName::default_project();
    registry
        .set_label(
            &project,
            &PromptName::parse("footer").unwrap(),
            &LabelName::production(),
            &LabelTarget::Version { version: 2 },
            "new footer",
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(render_text(&registry, "page").await, "body + v2 footer");

    // Rollback likewise.
    registry
        .rollback_label(&project, &PromptName::parse("footer").unwrap(), &LabelName::production(), "back", &ctx())
        .await
        .unwrap();
    assert_eq!(render_text(&registry, "page").await, "body + v1 footer");
}

/// The byte budget: past it the least recently read entries go first, the counters say what
/// happened, and an invalidation frees its bytes.
#[tokio::test]
async fn the_byte_budget_evicts_the_least_recently_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await.unwrap();
    let registry = Registry::new(store.clone());
    for i in 0..12 {
        let name = format!("p{i}");
        let version = publish(&store, &name, &"x".repeat(200)).await;
        label(&store, &name, version).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    render_text(&registry, "p0").await;
    let one = registry.cache_stats();
    assert_eq!((one.entries, one.misses, one.hits), (1, 1, 0));
    assert!(one.bytes > 600, "{one:?}");
    // Room for about four entries.
    registry.set_cache_budget(one.bytes * 4 + one.bytes / 2);
    for i in 1..4 {
        render_text(&registry, &format!("p{i}")).await;
    }
    // p0 is read again, so it is the most recent when the budget runs out.
    render_text(&registry, "p0").await;
    for i in 4..12 {
        render_text(&registry, &format!("p{i}")).await;
        render_text(&registry, "p0").await;
    }
    let stats = registry.cache_stats();
    assert!(stats.bytes <= stats.max_bytes, "{stats:?}");
    assert!(stats.evictions >= 8, "{stats:?}");
    assert!(stats.entries <= 4, "{stats:?}");
    let misses = stats.misses;
    render_text(&registry, "p0").await;
    render_text(&registry, "p11").await;
    assert_eq!(registry.cache_stats().misses, misses, "the most recent entries were kept");
    render_text(&registry, "p1").await;
    assert_eq!(registry.cache_stats().misses, misses + 1, "the oldest were evicted");

    let before = registry.cache_stats();
    let v2 = publish(&store, "p0", "moved").await;
    label(&store, "p0", v2).await;
    let start = Instant::now();
    while registry.cache_stats().entries != before.entries - 1 {
        assert!(start.elapsed() < Duration::from_secs(1), "the change event should drop p0");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let after = registry.cache_stats();
    assert!(after.bytes < before.bytes, "an invalidation frees its bytes: {before:?} → {after:?}");
    assert_eq!(after.evictions, before.evictions, "an invalidation is not an eviction");
}
