//! API keys (admins): create (the secret shown once), list, revoke.

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
        let body = html! {
            h1 { "API keys" }
            div.scroll {
            table #keys {
                thead { tr { th { "Name" } th { "Id" } th { "Role" } th { "Project" } th { "Created" } th { "State" } th { "" } } }
                tbody {
                    @for k in &keys.items {
                        tr {
                            td { (k.name) } td { code { (k.id) } } td { (k.role) } td { (k.project.as_deref().unwrap_or("all (global)")) }
                            td { (time(&k.created_at)) }
                            td { @if let Some(at) = &k.revoked_at { "revoked " (time(at)) } @else { "active" } }
                            td {
                                @if k.revoked_at.is_none() {
                                    form.inline method="post" action={ "/ui/keys/" (k.id) "/revoke" } {
                                        (csrf(&session))
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
            let request = CreateKeyRequest {
                name: fields.required("name", "a name")?.to_owned(),
                role: fields.required("role", "a role")?.to_owned(),
                project: Some(project),
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
    let Posted { state, session, .. } = posted;
    respond(
        &session,
        async {
            let _: KeyDto = state.api.delete(&session.credentials, &format!("/api/v1/keys/{id}")).await?;
            Ok(Redirect::to("/ui/keys").into_response())
        }
        .await,
    )
}
