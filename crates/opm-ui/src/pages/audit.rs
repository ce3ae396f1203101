//! The audit trail with filters, and verification of its hash chain.

use axum::extract::Query;
use axum::response::Response;
use maud::html;
use opm_api::Page as ApiPage;
use opm_api::audit::{AuditEntryDto, AuditVerifyDto};
use serde::Deserialize;

use super::respond;
use crate::api::query;
use crate::layout::{ok_box, page, time};
use crate::session::Page;

/// Filters.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    cursor: String,
}

/// `/ui/audit`: newest first, 100 a page.
pub async fn list(Page { state, session }: Page, Query(q): Query<AuditQuery>) -> Response {
    respond(&session, async {
        let params = query(&[("prompt", &q.prompt), ("actor", &q.actor), ("action", &q.action), ("cursor", &q.cursor), ("limit", "100")]);
        let entries: ApiPage<AuditEntryDto> = state.api.get(&session.credentials, &format!("/api/v1/audit{params}")).await?;
        let body = html! {
            div.heading { h1 { "Audit trail" } a.button.secondary href="/ui/audit/verify" { "Verify the chain" } }
            form.filters method="get" action="/ui/audit" role="search" {
                label { "Prompt " input type="text" name="prompt" value=(q.prompt); }
                label { "Actor " span.hint { "(key id or name)" } input type="text" name="actor" value=(q.actor); }
                label { "Action " input type="text" name="action" value=(q.action) placeholder="label.set" list="actions"; }
                datalist #actions { @for a in ["version.create", "label.set", "label.rollback", "rollout.start", "rollout.abort", "key.create", "key.revoke", "auth.denied"] { option value=(a) {} } }
                button type="submit" { "Filter" }
            }
            @if entries.items.is_empty() { p.empty { "No entries match." } } @else {
                div.scroll {
                table #audit {
                    thead { tr { th { "#" } th { "When" } th { "Actor" } th { "Action" } th { "Target" } th { "Reason" } th { "Hash" } } }
                    tbody {
                        @for e in &entries.items {
                            tr {
                                td { (e.seq) } td { (time(&e.at)) } td { (e.actor.name) } td { code { (e.action) } }
                                td { (e.target) } td { (e.reason.as_deref().unwrap_or_default()) }
                                td { code title=(e.hash) { (e.hash.get(..10).unwrap_or(&e.hash)) } }
                            }
                        }
                    }
                }
                }
            }
            @if let Some(next) = &entries.next_cursor {
                p { a href={ "/ui/audit" (query(&[("prompt", &q.prompt), ("actor", &q.actor), ("action", &q.action), ("cursor", next)])) } { "Older entries →" } }
            }
        };
        Ok(page(&session, "Audit", body))
    }
    .await)
}

/// `/ui/audit/verify`: recomputes the chain on the server.
pub async fn verify(Page { state, session }: Page) -> Response {
    respond(&session, async {
        let report: AuditVerifyDto = state.api.get(&session.credentials, "/api/v1/audit/verify").await?;
        let body = html! {
            h1 { "Audit chain" }
            @if report.ok {
                (ok_box(&format!("the chain verifies: {} entries checked", report.checked)))
            } @else {
                div.notice.error role="alert" {
                    strong { "Broken: " }
                    @if let Some(b) = &report.broken_at { "entry " (b.seq) ": " (b.reason) } " (" (report.checked) " entries verified before it)"
                }
            }
            p { "Head hash " code { (report.head_hash) } }
            p { a href="/ui/audit" { "Back to the trail" } }
        };
        Ok(page(&session, "Audit chain", body))
    }
    .await)
}
