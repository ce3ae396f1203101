//! What a cached prompt costs in memory, measured as the server serves it: N typical chat prompts
//! (two messages with a variable, a model configuration, a description) published to a real SQLite
//! store, then each resolved and rendered once through the API router (so the cache holds the
//! encoded resolve answer and the compiled templates, as in production). Reports the process's
//! resident memory growth per cached prompt next to the cache's own estimate (`opm_cache_bytes`).
//!
//! ```text
//! cargo run --release -p opm-server --example cache_memory -- [--prompts 20000] [--max-bytes N]
//! ```

use std::error::Error;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use opm_core::content::VersionContent;
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Actor;
use opm_registry::Registry;
use opm_server::{AppState, bootstrap_admin_key, build_api_router};
use opm_store::{MutationContext, NewPrompt, NewVersion};
use serde_json::json;
use tower::ServiceExt;

type BenchResult<T> = Result<T, Box<dyn Error>>;

const KEY: &str = "cache-bench-admin-key-0123456789abcdef";

fn rss_kb() -> BenchResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
}

fn content(i: usize) -> BenchResult<VersionContent> {
    Ok(serde_json::from_value(json!({
        "type": "chat",
        "messages": [
            {"role": "system", "content": format!("You are the support assistant for product {i}. Answer in at most three sentences, politely, and cite the help-centre article when one applies.")},
            {"role": "user", "content": "Customer question: {{ question }}"}
        ],
        "variables": {"question": {"type": "string", "description": "the customer's question"}},
        "model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2, "max_tokens": 256}}
    }))?)
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let mut prompts = 20_000usize;
    let mut max_bytes: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--prompts" => prompts = value.parse()?,
            "--max-bytes" => max_bytes = Some(value.parse()?),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let dir = tempfile::tempdir()?;
    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await?;
    bootstrap_admin_key(store.as_ref(), dir.path(), Some(KEY), chrono::Utc::now()).await?;
    let project = ProjectName::default_project();
    let ctx = MutationContext::new(Actor::system("cache-bench"), chrono::Utc::now());
    let seeding = Instant::now();
    for i in 0..prompts {
        let name = PromptName::parse(&format!("support-{i}"))?;
        let new = NewVersion {
            content: content(i)?,
            message: "first version".to_owned(),
            create_prompt: Some(NewPrompt {
                project: project.clone(),
                name: name.clone(),
                description: format!("Support replies for product {i}"),
                tags: vec![],
            }),
        };
        let version = store.publish_version(&project, &name, &new, &ctx).await?.version.version;
        let target = LabelTarget::Version { version };
        store.set_label(&project, &name, &LabelName::production(), &target, "seed", &ctx).await?;
    }
    eprintln!("seeded {prompts} prompts in {:.1} s", seeding.elapsed().as_secs_f64());
    let registry = Registry::new(store);
    if let Some(max_bytes) = max_bytes {
        registry.set_cache_budget(max_bytes);
    }
    let state = AppState::with_default_gateway(registry.clone())?;
    let router = build_api_router(state);
    let call = |request: Request<Body>| {
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            if !status.is_success() {
                return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
            }
            Ok::<_, Box<dyn Error>>(body.len())
        }
    };
    let resolve = |i: usize| {
        Request::get(format!("/api/v1/prompts/support-{i}/resolve?label=production"))
            .header("authorization", format!("Bearer {KEY}"))
            .body(Body::empty())
    };
    let render = |i: usize| {
        Request::post(format!("/api/v1/prompts/support-{i}/render"))
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"label": "production", "variables": {"question": "where is my order?"}}).to_string(),
            ))
    };
    // Warm the allocator and the server's own lazily built parts on a few prompts first.
    for i in 0..prompts.min(100) {
        call(resolve(i)?).await?;
        call(render(i)?).await?;
    }
    let before_entries = registry.cached_entries();
    let before = rss_kb()?;
    for i in 0..prompts {
        call(resolve(i)?).await?;
        call(render(i)?).await?;
    }
    let after = rss_kb()?;
    let stats = registry.cache_stats();
    let cached = stats.entries.saturating_sub(before_entries).max(1);
    let per_entry = (after.saturating_sub(before) * 1024) as f64 / cached as f64;
    println!(
        "| prompts | cached entries | RSS before → after | RSS per cached prompt | estimate per entry | evictions |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {prompts} | {} | {:.1} → {:.1} MB | {:.0} B | {:.0} B | {} |",
        stats.entries,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        per_entry,
        stats.bytes as f64 / stats.entries.max(1) as f64,
        stats.evictions
    );
    Ok(())
}
