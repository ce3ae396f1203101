//! Seeds a store for the scale benchmark (`bench/scale.sh`): N chat prompts with M versions each
//! (distinct content, four declared variables, a model configuration) and a `production` label on
//! each prompt's latest version, written through the same `Store` calls the server makes
//! (`publish_version`, `set_label`), so every version has its audit entry and the chain verifies.
//!
//! ```text
//! cargo run --release -p opm-store --example seed_versions -- --database-url sqlite://DIR/opm.db
//!     [--prompts 10000] [--versions 10] [--writers 4] [--prefix bench]
//! ```
//!
//! Prompts are named `PREFIX-NNNNNN` (six digits). `--writers` tasks publish concurrently; on
//! SQLite the writes still queue on the one writer connection, the tasks only overlap the
//! per-call work around it. Prints how long seeding took and the rate.

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Actor;
use opm_store::{MutationContext, NewPrompt, NewVersion, Store};
use serde_json::json;

type SeedResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

struct Settings {
    database_url: String,
    prompts: usize,
    versions: usize,
    writers: usize,
    prefix: String,
}

#[tokio::main]
async fn main() -> SeedResult<()> {
    let settings = Arc::new(parse_args()?);
    let store = opm_store::connect(&settings.database_url).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..settings.writers {
        let (store, settings) = (store.clone(), settings.clone());
        tasks.push(tokio::spawn(async move {
            let mut index = writer;
            while index < settings.prompts {
                seed_prompt(store.as_ref(), &settings, index).await?;
                index += settings.writers;
            }
            SeedResult::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let versions = settings.prompts * settings.versions;
    println!(
        "seeded {} prompts × {} versions = {versions} versions (+ {} labels) in {elapsed:.1} s: {:.0} versions/s",
        settings.prompts,
        settings.versions,
        settings.prompts,
        versions as f64 / elapsed
    );
    Ok(())
}

async fn seed_prompt(store: &dyn Store, settings: &Settings, index: usize) -> SeedResult<()> {
    let project = ProjectName::default_project();
    let name = PromptName::parse(&format!("{}-{index:06}", settings.prefix))?;
    let ctx = MutationContext::new(Actor::system("seed"), chrono::Utc::now());
    for version in 1..=settings.versions {
        let new = NewVersion {
            content: serde_json::from_value(content(index, version))?,
            message: format!("seed version {version}"),
            create_prompt: Some(NewPrompt {
                project: project.clone(),
                name: name.clone(),
                description: format!("Support assistant #{index}"),
                tags: Vec::new(),
            }),
        };
        let outcome = store.publish_version(&project, &name, &new, &ctx).await?;
        if !outcome.created {
            return Err(format!("version {version} of `{name}` equalled the previous one").into());
        }
    }
    let target = LabelTarget::Version { version: u32::try_from(settings.versions)? };
    store.set_label(&project, &name, &LabelName::parse("production")?, &target, "seed", &ctx).await?;
    Ok(())
}

/// A realistic support-bot chat prompt; each version rewords the system message and moves the
/// temperature, so every version's content (and hash) is distinct.
fn content(index: usize, version: usize) -> serde_json::Value {
    json!({
        "type": "chat",
        "messages": [
            {"role": "system", "content": format!(
                "You are the support assistant for {{{{ product }}}} (team {index}, revision {version}). \
                 Answer in {{{{ language }}}}, in at most {{{{ max_words }}}} words. Be precise and friendly; \
                 if you do not know, say so and offer to open a ticket.")},
            {"role": "user", "content": "Hello, I am {{ customer }} and I have a question about {{ product }}."},
            {"role": "assistant", "content": "Hi {{ customer }}! Happy to help with {{ product }}. What is it about?"},
        ],
        "variables": {
            "customer": {"type": "string", "description": "customer name"},
            "product": {"type": "string"},
            "language": {"type": "string", "default": "English"},
            "max_words": {"type": "number", "default": 120},
        },
        "model": {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "parameters": {"temperature": (version % 10) as f64 / 10.0, "max_tokens": 300},
        },
        "metadata": {"owner": format!("team-{}", index % 50)},
    })
}

fn parse_args() -> SeedResult<Settings> {
    let mut settings =
        Settings { database_url: String::new(), prompts: 10_000, versions: 10, writers: 4, prefix: "bench".to_owned() };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--database-url" => settings.database_url = value()?,
            "--prompts" => settings.prompts = value()?.parse()?,
            "--versions" => settings.versions = value()?.parse::<usize>()?.max(1),
            "--writers" => settings.writers = value()?.parse::<usize>()?.max(1),
            "--prefix" => settings.prefix = value()?,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    if settings.database_url.is_empty() {
        return Err("--database-url is required (e.g. sqlite://DIR/opm.db)".into());
    }
    Ok(settings)
}
