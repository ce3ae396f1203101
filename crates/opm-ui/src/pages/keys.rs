//! API keys (admins): create (the secret shown once, an optional expiry), list (expiry, last use),
//! revoke (the session's own key only with an explicit confirmation).

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use http::Method;
use maud::html;
use opm_api::Page as ApiPage;
use opm_api::keys::{CreateKeyRequest, CreatedKeyDto, KeyDto};

use super::respond;
use crate::layout::{csrf, ok_box, page, time};
use crate::session::{Page, Posted};

/// `/ui/keys`.
pub async fn list(Page { state, session }: Page) -> Response {
    respond(&session, async {
        let keys: ApiPage<KeyDto> = state.api.get(&session.credentials, "/api/v1/keys").await?;
        let now = chrono::Utc::now();
        let body = html! {
            h1 { "API keys" }
            div.scroll {
            table #keys {
                thead { tr { th { "Name" } th { "Id" } th { "Role" } th { "Project" } th { "Created" } th { "Expires" } th { "Last used" } th { "State" } th { "" } } }
                tbody {
                    @for k in &keys.items {
                        tr {
                            td { (k.name) } td { code { (k.id) } } td { (k.role) } td { (k.project.as_deref().unwrap_or("all (global)")) }
                            td { (time(&k.created_at)) }
                            td { @if let Some(at) = &k.expires_at { (time(at)) } @else { "never" } }
                            td { @if let Some(at) = &k.last_used_at { (time(at)) } @else { "never" } }
                            td { @if let Some(at) = &k.revoked_at { "revoked " (time(at)) }
                                 @else if k.expires_at.is_some_and(|at| at <= now) { "expired" } @else { "active" } }
                            td {
                                @if k.revoked_at.is_none() {
                                    form.inline method="post" action={ "/ui/keys/" (k.id) "/revoke" } {
                                        (csrf(&session))
                                        @if k.id == session.key_id {
                                            // Revoking the key this session signed in with locks it out: ask first.
                                            label.hint { input type="checkbox" name="force" value="true" required; " this is your key: revoking it signs you out" }
                                        }
                                        button.danger type="submit" aria-label={ "Revoke key " (k.name) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            }
            form.card #create-key method="post" action="/ui/keys" {
                h2 { "Create a key" }
                (csrf(&session))
                div.row {
                    label { "Name " input type="text" name="name" required; }
                    label { "Role " select name="role" { option value="viewer" { "viewer" } option value="editor" { "editor" } option value="deployer" { "deployer" } option value="admin" { "admin" } } }
                    label { "Project " span.hint { "(empty: this session's project)" } input type="text" name="project"; }
                    label { "Expires in days " span.hint { "(empty: never)" } input type="number" name="expires_in_days" min="1" max="3650"; }
                }
                button type="submit" { "Create key" }
            }
        };
        Ok(page(&session, "Keys", body))
    }
    .await)
}

/// Creates a key and shows its secret once.
pub async fn create(posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let project = Some(fields.get("project")).filter(|p| !p.is_empty()).unwrap_or(&session.project).to_owned();
            let expires_at = match fields.get("expires_in_days").trim() {
                "" => None,
                days => {
                    let days: i64 = days.parse().map_err(|_| {
                        crate::error::UiError::form("`Expires in days` must be a whole number of days".to_owned())
                    })?;
                    Some(chrono::Utc::now() + chrono::Duration::days(days))
                }
            };
            let request = CreateKeyRequest {
                name: fields.required("name", "a name")?.to_owned(),
                role: fields.required("role", "a role")?.to_owned(),
                project: Some(project),
                expires_at,
            };
            let created: CreatedKeyDto =
                state.api.json(&session.credentials, Method::POST, "/api/v1/keys", &request).await?;
            let body = html! {
                h1 { "Key created" }
                (ok_box(&format!("key `{}` ({}) created", created.key.name, created.key.role)))
                p { strong { "Copy the secret now: it is not shown again." } }
                pre #new-secret { (created.secret) }
                p { a href="/ui/keys" { "Back to keys" } }
            };
            Ok(page(&session, "Key created", body))
        }
        .await,
    )
}

/// Revokes a key.
pub async fn revoke(Path(id): Path<String>, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let force = if fields.get("force") == "true" { "?force=true" } else { "" };
            let _: KeyDto = state.api.delete(&session.credentials, &format!("/api/v1/keys/{id}{force}")).await?;
            Ok(Redirect::to("/ui/keys").into_response())
        }
        .await,
    )
}
