//! Change requests on protected labels: the project's queue (pending first, then the rest), each
//! with approve and reject buttons for deployers and admins and cancel for everyone who can edit
//! (the API refuses what the key may not do: the author's own approval, a role too low).

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use http::Method;
use maud::{Markup, html};
use opm_api::Page as ApiPage;
use opm_api::governance::{ChangeRequestDto, DecideRequest};
use opm_api::labels::{LabelTargetDto, SetLabelRequest};

use super::respond;
use crate::error::{UiError, UiResult};
use crate::layout::{csrf, page, time};
use crate::session::{Page, Posted, Session};

/// `/ui/requests`: pending change requests, then the newest closed ones.
pub async fn list(Page { state, session }: Page) -> Response {
    respond(&session, async {
        let who = &session.credentials;
        let pending: ApiPage<ChangeRequestDto> = state.api.get(who, "/api/v1/change-requests?state=pending").await?;
        let all: ApiPage<ChangeRequestDto> = state.api.get(who, "/api/v1/change-requests?limit=50").await?;
        let closed: Vec<&ChangeRequestDto> = all.items.iter().filter(|r| r.state != "pending").collect();
        let body = html! {
            h1 { "Change requests" }
            p.hint { "Moves of protected labels wait here for approval by someone other than their author." }
            h2 { "Pending" }
            @if pending.items.is_empty() { p.empty { "No pending requests." } } @else {
                @for request in &pending.items { (pending_card(&session, request)) }
            }
            @if session.can_edit() { (request_form(&session)) }
            h2 { "Closed" }
            @if closed.is_empty() { p.empty { "None yet." } } @else {
                div.scroll {
                table #closed-requests {
                    thead { tr { th { "Id" } th { "Prompt" } th { "Label" } th { "To" } th { "State" } th { "Author" } th { "Decided by" } th { "Reason" } } }
                    tbody {
                        @for r in closed {
                            tr {
                                td { "#" (r.id) }
                                td { a href={ "/ui/prompts/" (r.prompt) } { (r.prompt) } }
                                td { (r.label) } td { (change(r)) } td { span.badge { (r.state) } }
                                td { (r.author.name) }
                                td { (r.decided_by.as_ref().map(|a| a.name.as_str()).unwrap_or("—")) }
                                td { (r.decision_reason.as_deref().unwrap_or_default()) }
                            }
                        }
                    }
                }
                }
            }
        };
        Ok(page(&session, "Change requests", body))
    }
    .await)
}

fn pending_card(session: &Session, r: &ChangeRequestDto) -> Markup {
    html! {
        div.card id={ "request-" (r.id) } {
            h3 { "#" (r.id) ": " a href={ "/ui/prompts/" (r.prompt) } { (r.prompt) } " · " (r.label) " → " (change(r)) }
            dl.summary {
                dt { "From" } dd { (r.expected.as_ref().map(target).unwrap_or_else(|| "(new label)".to_owned())) }
                dt { "Reason" } dd { (r.reason) }
                dt { "Author" } dd { (r.author.name) " · " (time(&r.created_at)) }
                dt { "Approvals" } dd {
                    (r.approvals.len()) " of " (r.approvals_required)
                    @for a in &r.approvals { " · " (a.by.name) }
                }
            }
            @if session.can_edit() {
                form method="post" action={ "/ui/requests/" (r.id) } {
                    (csrf(session))
                    label { "Reason " span.hint { "(required to reject or cancel)" } input type="text" name="reason"; }
                    div.row {
                        @if session.can_approve() {
                            button type="submit" name="action" value="approve" { "Approve" }
                            button.danger type="submit" name="action" value="reject" { "Reject" }
                        }
                        button.secondary type="submit" name="action" value="cancel" { "Cancel" }
                    }
                }
            }
        }
    }
}

/// What a request does: the label's new target, or the rollout it starts.
fn change(request: &ChangeRequestDto) -> String {
    match (&request.target, &request.rollout) {
        (Some(target), _) => self::target(target),
        (None, Some(rollout)) => format!(
            "rollout of v{} (steps {})",
            rollout.canary_version,
            rollout.spec.steps.iter().map(|step| format!("{step}%")).collect::<Vec<_>>().join(", ")
        ),
        (None, None) => "?".to_owned(),
    }
}

fn target(target: &LabelTargetDto) -> String {
    match target {
        LabelTargetDto::Version { version } => format!("v{version}"),
        LabelTargetDto::Split { arms, .. } => {
            arms.iter().map(|arm| format!("v{}={}%", arm.version, arm.weight)).collect::<Vec<_>>().join(", ")
        }
    }
}

/// Approves, rejects or cancels a request.
pub async fn decide(Path(id): Path<i64>, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let action = fields.get("action");
            if !matches!(action, "approve" | "reject" | "cancel") {
                return Err(UiError::form("the action is approve, reject or cancel"));
            }
            let request = DecideRequest { reason: fields.get("reason").to_owned() };
            let path = format!("/api/v1/change-requests/{id}/{action}");
            let _: ChangeRequestDto = state.api.json(&session.credentials, Method::POST, &path, &request).await?;
            Ok(Redirect::to("/ui/requests").into_response())
        }
        .await,
    )
}

/// Files a change request from the form on the requests page.
pub async fn create(posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let name = fields.required("prompt", "the prompt")?.to_owned();
            let label = fields.required("label", "the label")?.to_owned();
            let version = parse_version(fields.required("version", "the version")?)?;
            let request = SetLabelRequest {
                version: Some(version),
                split: None,
                reason: fields.required("reason", "a reason")?.to_owned(),
            };
            let path = format!("/api/v1/prompts/{name}/labels/{label}/requests");
            let _: ChangeRequestDto = state.api.json(&session.credentials, Method::POST, &path, &request).await?;
            Ok(Redirect::to("/ui/requests").into_response())
        }
        .await,
    )
}

fn parse_version(text: &str) -> UiResult<u32> {
    text.trim().parse().map_err(|_| UiError::form(format!("version `{text}` is not a number")))
}

fn request_form(session: &Session) -> Markup {
    html! {
        form.card #new-request method="post" action="/ui/requests/new" {
            h2 { "Request a label move" }
            (csrf(session))
            div.row {
                label { "Prompt " input type="text" name="prompt" required; }
                label { "Label " input type="text" name="label" value="production" required; }
                label { "Version " input type="number" name="version" min="1" required; }
            }
            label { "Reason " span.hint { "(required, shown to the approvers)" } input type="text" name="reason" required; }
            button type="submit" { "File request" }
        }
    }
}
