//! Reading and rendering prompts: `get prompts`, `get prompt`, `history`, `diff`, `render`,
//! `archive` and `restore`.

use std::process::ExitCode;

use anyhow::Context;
use opm_api::invoke::{InvokeRequest, InvokeResponse};
use opm_api::prompts::{PromptDto, ResolveDto, VersionDto};
use opm_api::render::{RenderRequest, RenderResponse};
use opm_client::{PageQuery, PromptQuery, Selector};
use serde::Serialize;

use crate::args::{DiffArgs, GetPromptArgs, ListPromptsArgs, RenderArgs, VersionSelector};
use crate::output::{emit, one_line, or_dash, print_table, short_hash, significant, table, time, to_yaml};
use crate::settings::Settings;
use crate::vars::collect_vars;

/// `opm get prompts`.
pub async fn list(settings: &Settings, args: &ListPromptsArgs) -> anyhow::Result<ExitCode> {
    let query = PromptQuery {
        tag: args.tag.clone(),
        label: args.label.clone(),
        include_archived: args.all,
        page: PageQuery { cursor: None, limit: Some(100) },
    };
    let prompts = settings.client.list_all_prompts(&query).await?;
    emit(settings.output, &prompts, |prompts| {
        let mut headers = vec!["name", "latest", "tags", "updated", "description"];
        if args.all {
            headers.insert(1, "archived");
        }
        let mut rows = table(&headers);
        for prompt in prompts {
            let mut row = vec![
                prompt.name.clone(),
                prompt.latest_version.map(|v| format!("v{v}")).unwrap_or_else(|| "-".into()),
                or_dash(&prompt.tags.join(",")),
                time(&prompt.updated_at),
                one_line(&prompt.description, 60),
            ];
            if args.all {
                row.insert(1, if prompt.archived { "yes".into() } else { "no".into() });
            }
            rows.add_row(row);
        }
        print_table(&rows);
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A prompt and the version a selector picked.
#[derive(Debug, Serialize)]
struct PromptView {
    prompt: PromptDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<ResolveDto>,
}

fn selector(selector: &VersionSelector, default_label: Option<&str>) -> Option<Selector> {
    match (&selector.version, &selector.label) {
        (Some(version), _) => Some(Selector::Version(*version)),
        (None, Some(label)) => Some(Selector::Label(label.clone())),
        (None, None) => default_label.map(|label| Selector::Label(label.to_owned())),
    }
}

/// `opm get prompt NAME [--version N | --label L]` (default: the `latest` label).
pub async fn show(settings: &Settings, args: &GetPromptArgs) -> anyhow::Result<ExitCode> {
    let prompt = settings.client.get_prompt(&args.name).await?;
    let version = match (prompt.latest_version, selector(&args.selector, Some("latest"))) {
        (None, _) | (_, None) => None,
        (Some(_), Some(selector)) => Some(settings.client.resolve(&args.name, &selector).await?),
    };
    let view = PromptView { prompt, version };
    emit(settings.output, &view, |view| {
        let prompt = &view.prompt;
        println!("name:         {}", prompt.name);
        println!("project:      {}", prompt.project);
        println!("description:  {}", or_dash(&prompt.description));
        println!("tags:         {}", or_dash(&prompt.tags.join(", ")));
        println!("archived:     {}", if prompt.archived { "yes" } else { "no" });
        println!("updated:      {}", time(&prompt.updated_at));
        let labels: Vec<String> =
            prompt.labels.iter().flatten().map(|label| format!("{}=v{}", label.name, label.version)).collect();
        println!("labels:       {}", or_dash(&labels.join(", ")));
        match &view.version {
            Some(version) => {
                let through = version.label.as_deref().map(|label| format!(" (label {label})")).unwrap_or_default();
                println!("version:      v{}{through}, {}", version.version, version.content_hash);
                println!("---");
                match to_yaml(&version.content) {
                    Ok(yaml) => print!("{yaml}"),
                    Err(error) => println!("(cannot show content: {error})"),
                }
            }
            None => println!("version:      -"),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `opm history NAME`: every version, newest first.
pub async fn history(settings: &Settings, name: &str) -> anyhow::Result<ExitCode> {
    let client = &settings.client;
    let versions: Vec<VersionDto> =
        super::all_pages(|page| async move { client.list_versions(name, &page).await }).await?;
    emit(settings.output, &versions, |versions| {
        let mut rows = table(&["version", "created", "author", "hash", "message"]);
        for version in versions {
            rows.add_row(vec![
                format!("v{}", version.version),
                time(&version.created_at),
                version.author.name.clone(),
                short_hash(&version.content_hash),
                one_line(&version.message, 60),
            ]);
        }
        print_table(&rows);
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `opm diff NAME A B`.
pub async fn diff(settings: &Settings, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let diff = settings.client.diff(&args.name, args.from, args.to).await?;
    emit(settings.output, &diff, |diff| {
        if diff.unified.is_empty() {
            println!("{} v{} and v{} have the same content", diff.prompt, diff.from, diff.to);
        } else {
            println!("changed: {}", diff.changed_fields.join(", "));
            print!("{}", diff.unified);
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `opm render NAME [--label L | --version N] --var k=v … [--vars-file F]`.
pub async fn render(settings: &Settings, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let variables = collect_vars(&args.vars, args.vars_file.as_deref())?;
    let (label, version) = match selector(&args.selector, None) {
        Some(Selector::Label(label)) => (Some(label), None),
        Some(Selector::Version(version)) => (None, Some(version)),
        None => (None, None),
    };
    let request = RenderRequest { label, version, key: args.key.clone(), variables };
    let rendered = settings.client.render(&args.name, &request).await?;
    emit(settings.output, &rendered, print_rendered)?;
    Ok(ExitCode::SUCCESS)
}

/// `opm invoke NAME [--label L | --version N] --var k=v …`: runs the prompt on its model.
pub async fn invoke(settings: &Settings, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let variables = collect_vars(&args.vars, args.vars_file.as_deref())?;
    let (label, version) = match selector(&args.selector, None) {
        Some(Selector::Label(label)) => (Some(label), None),
        Some(Selector::Version(version)) => (None, Some(version)),
        None => (None, None),
    };
    let request =
        InvokeRequest { label, version, key: args.key.clone(), variables, messages: Vec::new(), stream: false };
    let answer = settings.client.invoke(&args.name, &request).await?;
    emit(settings.output, &answer, |answer: &InvokeResponse| {
        println!("{}", answer.content);
        let tokens = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let cost = answer.cost_usd.map_or_else(|| "unknown".to_owned(), |c| format!("${}", significant(c)));
        eprintln!(
            "-- {} v{} via {}/{}: {} in / {} out tokens, cost {cost}, {} ms ({} ms in OPM), generation {}",
            answer.prompt,
            answer.version,
            answer.provider,
            answer.model,
            tokens(answer.usage.input_tokens),
            tokens(answer.usage.output_tokens),
            significant(answer.latency_ms),
            significant(answer.overhead_ms),
            answer.generation_id
        );
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print_rendered(rendered: &RenderResponse) {
    if let Some(text) = &rendered.text {
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
    }
    for (index, message) in rendered.messages.iter().flatten().enumerate() {
        if index > 0 {
            println!();
        }
        println!("[{}]", message.role);
        print!("{}", message.content);
        if !message.content.ends_with('\n') {
            println!();
        }
    }
}

/// `opm archive NAME` (`archive` true) and `opm restore NAME`.
pub async fn archive(settings: &Settings, name: &str, archive: bool) -> anyhow::Result<ExitCode> {
    let prompt = if archive {
        settings.client.archive_prompt(name).await.with_context(|| format!("cannot archive `{name}`"))?
    } else {
        settings.client.restore_prompt(name).await.with_context(|| format!("cannot restore `{name}`"))?
    };
    emit(settings.output, &prompt, |prompt| {
        let state = if prompt.archived { "archived" } else { "restored" };
        println!("prompt `{}` {state}", prompt.name);
    })?;
    Ok(ExitCode::SUCCESS)
}
