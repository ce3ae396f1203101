//! `opm apply -f DIR_OR_FILE`: load and validate every file, fetch the server's state, print the
//! plan, then (unless `--dry-run`) create, publish, patch and relabel only what differs. A file
//! the plan refuses (a changed file repeating the replaced version's `message:` without
//! `--reason`) is shown in the plan and stops the whole apply before anything is written.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use opm_api::labels::SetLabelRequest;
use opm_api::prompts::{CreateVersionRequest, PromptDto, UpdatePromptRequest};
use opm_client::{Client, PageQuery, PromptQuery};
use serde::Serialize;

use crate::args::{ApplyArgs, OutputFormat};
use crate::plan::{ContentChange, LabelMove, PlanItem, RemoteState, RemoteVersion, order_by_includes, plan_item};
use crate::prompt_file::{self, PromptFile, content_to_dto, dto_to_content};
use crate::settings::Settings;

/// What `-o json|yaml` prints.
#[derive(Debug, Serialize)]
struct ApplyReport {
    dry_run: bool,
    plan: Vec<PlanItem>,
    applied: Vec<Applied>,
}

/// What was done for one prompt.
#[derive(Debug, Clone, Serialize)]
struct Applied {
    name: String,
    /// The version now latest (after publishing, when a version was published).
    version: Option<u32>,
    published: bool,
    updated: Vec<String>,
    label: Option<String>,
}

/// Runs `opm apply`.
pub async fn apply(settings: &Settings, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let files = prompt_file::load(&args.path).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|error| format!("  {error}")).collect();
        anyhow::anyhow!("{} invalid prompt file(s); nothing was applied:\n{}", errors.len(), lines.join("\n"))
    })?;
    let files = order_by_includes(files);
    let client = &settings.client;
    let remote = fetch_remote(client, &files, args.label.as_deref()).await?;
    let mut plan = Vec::with_capacity(files.len());
    let mut problems = Vec::new();
    for file in &files {
        match plan_item(file, remote.get(&file.name), args.label.as_deref(), args.reason.as_deref()) {
            Ok(item) => plan.push(item),
            Err(problem) => problems.push(format!("  {problem}")),
        }
    }
    if !problems.is_empty() {
        bail!("cannot apply; nothing was written:\n{}", problems.join("\n"));
    }
    check_publish_policy(client, &files, &plan).await?;
    let human = settings.output == OutputFormat::Table;
    if human {
        print_plan(&plan, args.dry_run);
    }
    let refused: Vec<String> = plan.iter().filter_map(|item| item.refused.as_ref()).map(|r| format!("  {r}")).collect();
    if !refused.is_empty() {
        bail!("cannot apply; nothing was written:\n{}", refused.join("\n"));
    }
    let mut applied = Vec::new();
    if !args.dry_run {
        for (file, item) in files.iter().zip(&plan) {
            if item.is_noop() {
                continue;
            }
            let done = apply_item(client, file, item, args.reason.as_deref()).await.with_context(|| {
                format!(
                    "applying `{}` failed ({} of {} prompts were applied before)",
                    item.name,
                    applied.len(),
                    plan.len()
                )
            })?;
            if human {
                print_applied(&done);
            }
            applied.push(done);
        }
        if human && applied.is_empty() {
            println!("nothing to do: the server already matches {}", args.path.display());
        }
    }
    if !human {
        let report = ApplyReport { dry_run: args.dry_run, plan, applied };
        crate::output::emit(settings.output, &report, |_| {})?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The server's state of every prompt named by a file (archived ones included).
async fn fetch_remote(
    client: &Client,
    files: &[PromptFile],
    label: Option<&str>,
) -> anyhow::Result<BTreeMap<String, RemoteState>> {
    let query = PromptQuery {
        include_archived: true,
        page: PageQuery { cursor: None, limit: Some(100) },
        ..Default::default()
    };
    let existing: BTreeMap<String, PromptDto> = client
        .list_all_prompts(&query)
        .await
        .context("cannot list the server's prompts")?
        .into_iter()
        .map(|prompt| (prompt.name.clone(), prompt))
        .collect();
    let mut states = BTreeMap::new();
    for file in files {
        let Some(prompt) = existing.get(&file.name) else { continue };
        let latest = match prompt.latest_version {
            Some(latest) if !prompt.archived => {
                let stored = client
                    .get_version(&file.name, latest)
                    .await
                    .with_context(|| format!("cannot read the latest version of `{}`", file.name))?;
                let content = dto_to_content(&stored.content)
                    .with_context(|| format!("the server's content of `{}` is not understood", file.name))?;
                Some(RemoteVersion {
                    version: stored.version,
                    content_hash: stored.content_hash,
                    content,
                    message: stored.message,
                })
            }
            _ => None,
        };
        let label_version = match label {
            Some(label) if !prompt.archived => client
                .list_labels(&file.name)
                .await
                .with_context(|| format!("cannot read the labels of `{}`", file.name))?
                .items
                .into_iter()
                .find(|existing| existing.name == label)
                .map(|existing| existing.version),
            _ => None,
        };
        states.insert(
            file.name.clone(),
            RemoteState {
                description: prompt.description.clone(),
                tags: prompt.tags.clone(),
                archived: prompt.archived,
                latest,
                label_version,
            },
        );
    }
    Ok(states)
}

async fn apply_item(
    client: &Client,
    file: &PromptFile,
    item: &PlanItem,
    reason: Option<&str>,
) -> anyhow::Result<Applied> {
    let mut done =
        Applied { name: item.name.clone(), version: None, published: false, updated: Vec::new(), label: None };
    let mut metadata_changes = item.metadata_changes.clone();
    match &item.content {
        ContentChange::Create | ContentChange::NewVersion { .. } => {
            let request = CreateVersionRequest {
                content: content_to_dto(&file.content)?,
                message: item.message.clone().unwrap_or_else(|| file.message.clone()),
                description: Some(file.description.clone()),
                tags: Some(file.tags.clone()),
            };
            let response = client.publish_version(&file.name, &request).await?;
            done.version = Some(response.version.version);
            done.published = response.created;
            if response.prompt_created {
                metadata_changes.clear();
            }
        }
        ContentChange::Unchanged { version } => done.version = Some(*version),
    }
    if !metadata_changes.is_empty() {
        let request = UpdatePromptRequest {
            description: metadata_changes.iter().any(|f| f == "description").then(|| file.description.clone()),
            tags: metadata_changes.iter().any(|f| f == "tags").then(|| file.tags.clone()),
        };
        client.update_prompt(&file.name, &request).await?;
        done.updated = metadata_changes;
    }
    if let (Some(LabelMove { label, from, .. }), Some(version)) = (&item.label, done.version)
        && *from != Some(version)
    {
        let request =
            SetLabelRequest { version: Some(version), split: None, reason: reason.unwrap_or("opm apply").to_owned() };
        client.set_label(&file.name, label, &request).await?;
        done.label = Some(label.clone());
    }
    Ok(done)
}

/// Asks the server's publish policy (and secret scan) about every version the plan would publish,
/// before anything is written (with or without `--dry-run`); refuses the whole apply on a violation.
async fn check_publish_policy(client: &Client, files: &[PromptFile], plan: &[PlanItem]) -> anyhow::Result<()> {
    let mut violations = Vec::new();
    for (file, item) in files.iter().zip(plan) {
        if matches!(item.content, ContentChange::Unchanged { .. }) {
            continue;
        }
        let request = CreateVersionRequest {
            content: content_to_dto(&file.content)?,
            message: file.message.clone(),
            description: Some(file.description.clone()),
            tags: Some(file.tags.clone()),
        };
        let verdict = client
            .check_publish(&file.name, &request)
            .await
            .with_context(|| format!("cannot check `{}` against the publish policy", file.name))?;
        for violation in verdict.violations {
            violations.push(format!(
                "  {} ({}): {} at {}: {}",
                file.path.display(),
                file.name,
                violation.rule,
                violation.place,
                violation.detail
            ));
        }
    }
    if !violations.is_empty() {
        bail!(
            "the project's publish policy refuses {} change(s); nothing was written:\n{}",
            violations.len(),
            violations.join("\n")
        );
    }
    Ok(())
}

fn print_plan(plan: &[PlanItem], dry_run: bool) {
    let width = plan.iter().map(|item| item.name.len()).max().unwrap_or(0);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in plan {
        *counts.entry(item.action).or_default() += 1;
        let mut detail = match &item.content {
            ContentChange::Create => "v1".to_owned(),
            ContentChange::NewVersion { from: Some(from), changed_fields } => {
                format!("v{from} -> v{} ({})", from + 1, changed_fields.join(", "))
            }
            ContentChange::NewVersion { from: None, .. } => "first version".to_owned(),
            ContentChange::Unchanged { version } => format!("v{version}"),
        };
        if !item.metadata_changes.is_empty() {
            detail.push_str(&format!("; {}", item.metadata_changes.join(", ")));
        }
        if let Some(label) = &item.label {
            let from = label.from.map(|v| format!("v{v}")).unwrap_or_else(|| "none".into());
            let to = label.to.map(|v| format!("v{v}")).unwrap_or_else(|| "the new version".into());
            detail.push_str(&format!("; label {}: {from} -> {to}", label.label));
        }
        println!("{:<12} {:<width$}  {detail}", item.action, item.name);
        if let Some(note) = &item.message_note {
            println!("{:<12} {:<width$}  {note}", "", "");
        }
        if let Some(refused) = &item.refused {
            println!("{:<12} {:<width$}  refused: {refused}", "", "");
        }
        if dry_run && !item.diff.is_empty() {
            for line in item.diff.lines() {
                println!("    {line}");
            }
        }
    }
    let summary: Vec<String> = ["create", "new version", "update", "unchanged"]
        .iter()
        .map(|a| format!("{} {a}", counts.get(a).unwrap_or(&0)))
        .collect();
    println!("plan: {}", summary.join(", "));
    if dry_run {
        println!("dry run: nothing was written");
    }
}

fn print_applied(done: &Applied) {
    let version = done.version.map(|v| format!("v{v}")).unwrap_or_else(|| "-".into());
    let mut what = Vec::new();
    if done.published {
        what.push(format!("published {version}"));
    }
    if !done.updated.is_empty() {
        what.push(format!("updated {}", done.updated.join(", ")));
    }
    if let Some(label) = &done.label {
        what.push(format!("label {label} -> {version}"));
    }
    if what.is_empty() {
        what.push(format!("unchanged (the server already has this content as {version})"));
    }
    println!("applied {}: {}", done.name, what.join("; "));
}
