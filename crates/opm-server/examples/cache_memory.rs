//! What a cached prompt costs in memory, measured as the server serves it: N typical chat prompts
//! (two messages with a variable, a model configuration, a description) published to a real SQLite
//! store, then each resolved (and, unless `--resolve-only`, rendered) once through the API router,
//! so the cache holds the encoded resolve answer and the compiled templates, as in production.
//! `--jinja` gives the user message a filter, so the version is compiled by minijinja instead of
//! being served as a plain template (see `opm-registry`'s `plain.rs`).
//! Uses mimalloc, the `opm` binary's global allocator, so the figure is the one production sees.
//!
//! Every prompt is first read from the store directly, so SQLite's (bounded) page caches are warm
//! before the measurement starts; their growth is reported on its own ("store read first").
//! Reports the process's resident memory growth per cached prompt, then what the per-prompt
//! Prometheus series alone cost (the same metric calls for N other prompt names of the same length,
//! with no cache entry behind them), and the cache's own estimate (`opm_cache_bytes` / entries).
//!
//! ```text
//! cargo run --release -p opm-server --example cache_memory -- [--prompts 20000] [--max-bytes N] [--resolve-only] [--jinja]
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
use opm_store::{MutationContext, NewPrompt, NewVersion, Selector};
use serde_json::json;
use tower::ServiceExt;

type BenchResult<T> = Result<T, Box<dyn Error>>;

const KEY: &str = "cache-bench-admin-key-0123456789abcdef";

/// The `opm` binary's allocator (see `crates/opm-cli/src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Flags {
    prompts: usize,
    max_bytes: Option<usize>,
    resolve_only: bool,
    jinja: bool,
}

fn flags() -> BenchResult<Flags> {
    let mut flags = Flags { prompts: 20_000, max_bytes: None, resolve_only: false, jinja: false };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--resolve-only" || flag == "--jinja" {
            flags.resolve_only |= flag == "--resolve-only";
            flags.jinja |= flag == "--jinja";
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--prompts" => flags.prompts = value.parse()?,
            "--max-bytes" => flags.max_bytes = Some(value.parse()?),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(flags)
}

fn rss_kb() -> BenchResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
}

/// A typical chat prompt; `jinja`: its user message uses a filter, so it is compiled by minijinja
/// rather than served as a plain template.
fn content(i: usize, jinja: bool) -> BenchResult<VersionContent> {
    let user = if jinja { "Customer question: {{ question | trim }}" } else { "Customer question: {{ question }}" };
    Ok(serde_json::from_value(json!({
        "type": "chat",
        "messages": [
            {"role": "system", "content": format!("You are the support assistant for product {i}. Answer in at most three sentences, politely, and cite the help-centre article when one applies.")},
            {"role": "user", "content": user}
        ],
        "variables": {"question": {"type": "string", "description": "the customer's question"}},
        "model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2, "max_tokens": 256}}
    }))?)
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let Flags { prompts, max_bytes, resolve_only, jinja } = flags()?;
    let dir = tempfile::tempdir()?;
    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await?;
    bootstrap_admin_key(store.as_ref(), dir.path(), Some(KEY), chrono::Utc::now()).await?;
    let project = ProjectName::default_project();
    let ctx = MutationContext::new(Actor::system("cache-bench"), chrono::Utc::now());
    let seeding = Instant::now();
    for i in 0..prompts {
        let name = PromptName::parse(&format!("support-{i}"))?;
        let new = NewVersion {
            content: content(i, jinja)?,
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
    let router = build_api_router(state.clone());
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
    // Read every prompt from the store once first, so SQLite's page caches (bounded, per
    // connection) are warm and their growth is not counted as the cache's.
    let store_before = rss_kb()?;
    for i in 0..prompts {
        let name = PromptName::parse(&format!("support-{i}"))?;
        registry.store().resolve(&project, &name, &Selector::Label(LabelName::production())).await?;
    }
    let store_after = rss_kb()?;
    // Warm the allocator and the server's own lazily built parts on a few prompts first.
    for i in 0..prompts.min(100) {
        call(resolve(i)?).await?;
        if !resolve_only {
            call(render(i)?).await?;
        }
    }
    let before_entries = registry.cached_entries();
    let before = rss_kb()?;
    for i in 0..prompts {
        call(resolve(i)?).await?;
        if !resolve_only {
            call(render(i)?).await?;
        }
    }
    let after = rss_kb()?;
    let stats = registry.cache_stats();
    // The per-prompt series alone: the same metric calls for as many other names of the same
    // length (`xupport-N` beside `support-N`), with no cache entry and no request behind them.
    let project_name = project.as_str();
    for i in 0..prompts {
        let name = format!("xupport-{i}");
        let label = Some("production");
        state.metrics.resolution(project_name, &name, 1, label, None);
        if !resolve_only {
            state.metrics.render_served(project_name, &name, 1, label, None);
        }
    }
    let after_series = rss_kb()?;
    let cached = stats.entries.saturating_sub(before_entries).max(1);
    let per_entry = |kb: u64| (kb * 1024) as f64 / cached as f64;
    let total = per_entry(after.saturating_sub(before));
    let series = (after_series.saturating_sub(after) * 1024) as f64 / prompts.max(1) as f64;
    let mode = match (resolve_only, jinja) {
        (true, _) => "resolve",
        (false, false) => "resolve + render",
        (false, true) => "resolve + render (minijinja)",
    };
    println!(
        "| requests | prompts | store read first | cached entries | RSS before → after | RSS per cached prompt | of which Prometheus series | rest (cache and other) | estimate per entry | evictions |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {mode} | {prompts} | +{:.1} MB | {} | {:.1} → {:.1} MB | {total:.0} B | {series:.0} B | {:.0} B | {:.0} B | {} |",
        store_after.saturating_sub(store_before) as f64 / 1024.0,
        stats.entries,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        total - series,
        stats.bytes as f64 / stats.entries.max(1) as f64,
        stats.evictions
    );
    Ok(())
}
