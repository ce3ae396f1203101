//! The prompt list, a prompt's overview (labels, rollouts, versions), one version, and diffs.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::Method;
use maud::{Markup, html};
use opm_api::Page as ApiPage;
use opm_api::labels::{LabelDto, LabelTargetDto};
use opm_api::prompts::{ContentDto, DiffDto, PromptDto, VersionDto};
use opm_api::rollouts::RolloutDto;
use serde::Deserialize;

use super::respond;
use crate::api::query;
use crate::diff::{model_text, side_by_side};
use crate::layout::{csrf, page, prompt_tabs, target, time};
use crate::session::{Page, Posted, Session};

/// Prompt list filters.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    archived: String,
}

/// `/ui/`: prompts, searchable by name, tag and label.
pub async fn list(Page { state, session }: Page, Query(filter): Query<ListQuery>) -> Response {
    respond(&session, async {
        let include = if filter.archived.is_empty() { "" } else { "true" };
        let path = format!(
            "/api/v1/prompts{}",
            query(&[("tag", &filter.tag), ("label", &filter.label), ("include_archived", include), ("limit", "500")])
        );
        let prompts: ApiPage<PromptDto> = state.api.get(&session.credentials, &path).await?;
        let needle = filter.q.to_lowercase();
        let shown: Vec<&PromptDto> = prompts
            .items
            .iter()
            .filter(|p| needle.is_empty() || p.name.contains(&needle) || p.description.to_lowercase().contains(&needle))
            .collect();
        let body = html! {
            div.heading {
                h1 { "Prompts" }
                @if session.can_edit() { a.button href="/ui/new" { "New prompt" } }
            }
            form.filters method="get" action="/ui/" role="search" {
                label { "Name " input type="search" name="q" value=(filter.q) placeholder="support-reply"; }
                label { "Tag " input type="text" name="tag" value=(filter.tag); }
                label { "Label " input type="text" name="label" value=(filter.label) placeholder="production"; }
                label.check { input type="checkbox" name="archived" value="1" checked[!filter.archived.is_empty()]; " Include archived" }
                button type="submit" { "Filter" }
            }
            @if shown.is_empty() {
                p.empty { "No prompts match. " @if session.can_edit() { "Create one with " a href="/ui/new" { "New prompt" } " or " code { "opm apply -f dir/" } "." } }
            } @else {
                div.scroll {
                table #prompts {
                    thead { tr { th { "Name" } th { "Description" } th { "Tags" } th { "Latest" } th { "Updated" } } }
                    tbody {
                        @for prompt in &shown {
                            tr {
                                td { a href={ "/ui/prompts/" (prompt.name) } { (prompt.name) }
                                     @if prompt.archived { " " span.badge { "archived" } } }
                                td { (prompt.description) }
                                td { @for tag in &prompt.tags { span.tag { (tag) } " " } }
                                td { @if let Some(v) = prompt.latest_version { "v" (v) } @else { "—" } }
                                td { (time(&prompt.updated_at)) }
                            }
                        }
                    }
                }
                }
                p.hint { (shown.len()) " of " (prompts.items.len()) " prompts" }
            }
        };
        Ok(page(&session, "Prompts", body))
    }
    .await)
}

/// `/ui/prompts/{name}`: labels (splits, active rollouts, actions) and versions, newest first.
pub async fn show(Page { state, session }: Page, Path(name): Path<String>) -> Response {
    respond(&session, async {
        let who = &session.credentials;
        let prompt: PromptDto = state.api.get(who, &format!("/api/v1/prompts/{name}")).await?;
        let versions: ApiPage<VersionDto> =
            state.api.get(who, &format!("/api/v1/prompts/{name}/versions?limit=100")).await?;
        let rollouts: ApiPage<RolloutDto> =
            state.api.get(who, &format!("/api/v1/prompts/{name}/rollouts?active=true")).await?;
        let labels = prompt.labels.clone().unwrap_or_default();
        let numbers: Vec<u32> = versions.items.iter().map(|v| v.version).collect();
        let body = html! {
            div.heading {
                h1 { (prompt.name) @if prompt.archived { " " span.badge { "archived" } } }
            }
            (prompt_tabs(&name, "overview", &session))
            @if !prompt.description.is_empty() { p { (prompt.description) } }
            @if !prompt.tags.is_empty() { p { "Tags: " @for tag in &prompt.tags { span.tag { (tag) } " " } } }
            h2 { "Labels" }
            @if labels.is_empty() { p.empty { "No labels yet." } }
            @else { (labels_table(&name, &labels, &rollouts.items)) }
            @if session.can_edit() && !numbers.is_empty() { (label_forms(&session, &name, &labels, &numbers)) }
            h2 { "Versions" }
            @if numbers.len() >= 2 {
                form.inline method="get" action={ "/ui/prompts/" (name) "/diff" } {
                    "Compare "
                    (version_select("from", &numbers, numbers.get(1).copied()))
                    " with "
                    (version_select("to", &numbers, numbers.first().copied()))
                    " " button type="submit" { "Diff" }
                }
            }
            div.scroll {
            table #versions {
                thead { tr { th { "Version" } th { "Message" } th { "Author" } th { "Created" } th { "Hash" } th { "" } } }
                tbody {
                    @for v in &versions.items {
                        tr {
                            td { a href={ "/ui/prompts/" (name) "/versions/" (v.version) } { "v" (v.version) } }
                            td { (v.message) }
                            td { (v.author.name) }
                            td { (time(&v.created_at)) }
                            td { code title=(v.content_hash) { (v.content_hash.get(..12).unwrap_or(&v.content_hash)) } }
                            td.actions {
                                @if v.version > 1 { a href={ "/ui/prompts/" (name) "/diff?from=" (v.version - 1) "&to=" (v.version) } { "diff" } " " }
                                @if session.can_edit() { a href={ "/ui/prompts/" (name) "/edit?from=" (v.version) } { "edit" } " " }
                                a href={ "/ui/prompts/" (name) "/playground?version=" (v.version) } { "run" }
                            }
                        }
                    }
                }
            }
            }
            @if session.can_edit() {
                form.inline method="post" action={ "/ui/prompts/" (name) "/archive" } {
                    (csrf(&session))
                    input type="hidden" name="archived" value=(if prompt.archived { "false" } else { "true" });
                    button.secondary type="submit" { (if prompt.archived { "Restore prompt" } else { "Archive prompt" }) }
                }
            }
        };
        Ok(page(&session, &name, body))
    }
    .await)
}

fn labels_table(name: &str, labels: &[LabelDto], rollouts: &[RolloutDto]) -> Markup {
    html! {
        div.scroll {
        table #labels {
            thead { tr { th { "Label" } th { "Target" } th { "Updated" } th { "By" } th { "Reason" } } }
            tbody {
                @for label in labels {
                    tr {
                        td { a href={ "/ui/prompts/" (name) "/labels/" (label.name) } { strong { (label.name) } } }
                        td {
                            span.target { (target(&label.target)) }
                            @if let LabelTargetDto::Split { .. } = label.target { " " span.badge { "split" } }
                            @for r in rollouts.iter().filter(|r| r.label == label.name) {
                                " " a.badge.changed href={ "/ui/prompts/" (name) "/rollouts/" (r.id) } {
                                    "rollout " (r.state) ": v" (r.canary_version) " at " (r.canary_percent) "%"
                                }
                            }
                        }
                        td { (time(&label.updated_at)) }
                        td { (label.updated_by.name) }
                        td { (label.reason) }
                    }
                }
            }
        }
        }
    }
}

fn version_select(name: &str, numbers: &[u32], selected: Option<u32>) -> Markup {
    html! {
        select name=(name) aria-label=(name) {
            @for n in numbers { option value=(n) selected[Some(*n) == selected] { "v" (n) } }
        }
    }
}

fn label_forms(session: &Session, name: &str, labels: &[LabelDto], numbers: &[u32]) -> Markup {
    // `latest` follows the newest version by itself and cannot be moved.
    let movable: Vec<&LabelDto> = labels.iter().filter(|l| l.name != "latest").collect();
    html! {
        div.cards {
            form.card #move-label method="post" action={ "/ui/prompts/" (name) "/label-move" } {
                h3 { "Move a label" }
                (csrf(session))
                label { "Label " input type="text" name="label" required value="production" list="label-names"; }
                datalist #label-names { @for l in &movable { option value=(l.name) {} } }
                label { "To version " (version_select("version", numbers, numbers.first().copied())) }
                label { "Or a split " span.hint { "(e.g. 1=90,2=10; stable first)" } input type="text" name="split"; }
                label { "Reason " span.hint { "(required)" } input type="text" name="reason" required; }
                button type="submit" { "Move label" }
            }
            @if !movable.is_empty() {
                form.card #rollback-label method="post" action={ "/ui/prompts/" (name) "/label-rollback" } {
                    h3 { "Roll back" }
                    (csrf(session))
                    label { "Label " select name="label" { @for l in &movable { option value=(l.name) selected[l.name == "production"] { (l.name) " (" (target(&l.target)) ")" } } } }
                    label { "Reason " span.hint { "(required)" } input type="text" name="reason" required; }
                    button.danger type="submit" { "Roll back to the previous target" }
                }
            }
        }
    }
}

/// `/ui/prompts/{name}/versions/{n}`.
pub async fn version(Page { state, session }: Page, Path((name, number)): Path<(String, u32)>) -> Response {
    respond(&session, async {
        let v: VersionDto =
            state.api.get(&session.credentials, &format!("/api/v1/prompts/{name}/versions/{number}")).await?;
        let body = html! {
            h1 { (name) " v" (v.version) }
            (prompt_tabs(&name, "", &session))
            p { (v.message) " — " (v.author.name) ", " (time(&v.created_at)) }
            p { "Content hash " code { (v.content_hash) } }
            p.actions {
                @if session.can_edit() { a.button href={ "/ui/prompts/" (name) "/edit?from=" (v.version) } { "Edit from this version" } " " }
                a.button.secondary href={ "/ui/prompts/" (name) "/playground?version=" (v.version) } { "Run in playground" }
            }
            (content_view(&v.content))
        };
        Ok(page(&session, &format!("{name} v{number}"), body))
    }
    .await)
}

/// A version's content: messages or template, variables, model configuration, metadata.
pub fn content_view(content: &ContentDto) -> Markup {
    html! {
        @if let Some(messages) = &content.messages {
            h2 { "Messages" }
            @for m in messages { div.message { div.role { (m.role) } pre { (m.content) } } }
        }
        @if let Some(template) = &content.template { h2 { "Template" } pre.template { (template) } }
        h2 { "Variables" }
        @if content.variables.is_empty() { p.empty { "None declared." } } @else {
            table.vars {
                thead { tr { th { "Name" } th { "Type" } th { "Required" } th { "Default" } th { "Description" } } }
                tbody {
                    @for (n, v) in &content.variables {
                        tr {
                            td { code { (n) } } td { (v.kind.as_deref().unwrap_or("string")) }
                            td { (if v.required == Some(false) { "no" } else { "yes" }) }
                            td { @if let Some(d) = &v.default { code { (d) } } }
                            td { (v.description.as_deref().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        h2 { "Model" }
        @let model = model_text(content);
        @if model.is_empty() { p.empty { "No model configuration." } } @else { pre { (model) } }
        @if !content.metadata.is_empty() {
            h2 { "Metadata" } pre { (serde_json::to_string_pretty(&content.metadata).unwrap_or_default()) }
        }
    }
}

/// The two versions to compare.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: u32,
    to: u32,
}

/// `/ui/prompts/{name}/diff?from=N&to=M`: side by side, part by part.
pub async fn diff(Page { state, session }: Page, Path(name): Path<String>, Query(q): Query<DiffQuery>) -> Response {
    respond(
        &session,
        async {
            let who = &session.credentials;
            let from: VersionDto = state.api.get(who, &format!("/api/v1/prompts/{name}/versions/{}", q.from)).await?;
            let to: VersionDto = state.api.get(who, &format!("/api/v1/prompts/{name}/versions/{}", q.to)).await?;
            let summary: DiffDto =
                state.api.get(who, &format!("/api/v1/prompts/{name}/diff?from={}&to={}", q.from, q.to)).await?;
            let body = html! {
                h1 { (name) ": v" (q.from) " → v" (q.to) }
                (prompt_tabs(&name, "", &session))
                p #changed-fields {
                    @if summary.changed_fields.is_empty() { "The versions are identical." }
                    @else { "Changed: " strong { (summary.changed_fields.join(", ")) } }
                }
                p.hint { "v" (from.version) ": " (from.message) " · v" (to.version) ": " (to.message) }
                (side_by_side((from.version, &from.content), (to.version, &to.content)))
            };
            Ok(page(&session, &format!("{name} diff"), body))
        }
        .await,
    )
}

/// Archive or restore a prompt.
pub async fn archive(Path(name): Path<String>, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let action = if fields.get("archived") == "true" { "archive" } else { "restore" };
            let _: PromptDto = state
                .api
                .json(
                    &session.credentials,
                    Method::POST,
                    &format!("/api/v1/prompts/{name}/{action}"),
                    &serde_json::json!({}),
                )
                .await?;
            Ok(Redirect::to(&format!("/ui/prompts/{name}")).into_response())
        }
        .await,
    )
}
