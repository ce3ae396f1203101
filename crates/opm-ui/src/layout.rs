//! The page shell (header, navigation, who is signed in), error pages and small view helpers
//! shared by every page.

use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use opm_api::labels::LabelTargetDto;

use crate::error::UiError;
use crate::session::Session;

/// A full page for a signed-in session.
pub fn page(session: &Session, title: &str, body: Markup) -> Response {
    Html(shell(Some(session), title, body).into_string()).into_response()
}

/// A page without a session (sign-in).
pub fn public_page(title: &str, body: Markup) -> Response {
    Html(shell(None, title, body).into_string()).into_response()
}

/// An error as a page with the error's status.
pub fn error_page(session: &Session, error: &UiError) -> Response {
    if let UiError::SignedOut(_) = error {
        return axum::response::Redirect::to("/ui/login").into_response();
    }
    if let UiError::Internal(detail) = error {
        tracing::error!(%detail, "UI could not read an API answer");
    }
    let body = html! {
        h1 { "Something went wrong" }
        (error_box(error))
        p { a href="/ui/" { "Back to prompts" } }
    };
    (error.status(), Html(shell(Some(session), "Error", body).into_string())).into_response()
}

/// An error message box (role=alert) naming the stable code.
pub fn error_box(error: &UiError) -> Markup {
    html! {
        div.notice.error role="alert" {
            strong { "Error: " } (error.to_string())
            " " span.code { "(" (error.code()) ")" }
        }
    }
}

/// A success message box.
pub fn ok_box(text: &str) -> Markup {
    html! { div.notice.ok role="status" { strong { "Done: " } (text) } }
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

fn shell(session: Option<&Session>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · OPM" }
                link rel="stylesheet" href="/ui/static/app.css";
                script src="/ui/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui/" { "OPM" }
                    @if let Some(session) = session {
                        nav aria-label="Main" {
                            a href="/ui/" { "Prompts" }
                            a href="/ui/requests" { "Requests" }
                            a href="/ui/audit" { "Audit" }
                            @if session.is_admin() { a href="/ui/keys" { "Keys" } }
                        }
                        div.who {
                            span { "Project " strong { (session.project) } }
                            span { "Key " strong { (session.key_name) } " (" span.role { (session.role) } ")" }
                            form method="post" action="/ui/logout" {
                                (csrf(session))
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Where a label points, in words: `v3` or `v3 90% / v4 10%`.
pub fn target(target: &LabelTargetDto) -> String {
    match target {
        LabelTargetDto::Version { version } => format!("v{version}"),
        LabelTargetDto::Split { arms, .. } => {
            arms.iter().map(|a| format!("v{} {}%", a.version, a.weight)).collect::<Vec<_>>().join(" / ")
        }
    }
}

/// `12.3 ms`, `1.20 s`.
pub fn ms(value: f64) -> String {
    if value >= 1000.0 { format!("{:.2} s", value / 1000.0) } else { format!("{value:.1} ms") }
}

/// `$0.000123`.
pub fn usd(value: f64) -> String {
    format!("${value:.6}")
}

/// A percentage with one decimal.
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// Navigation between a prompt's pages, the current one marked.
pub fn prompt_tabs(name: &str, current: &str, session: &Session) -> Markup {
    let mut tabs = vec![("overview", format!("/ui/prompts/{name}"), "Overview")];
    if session.can_edit() {
        tabs.push(("edit", format!("/ui/prompts/{name}/edit"), "Edit"));
    }
    tabs.push(("playground", format!("/ui/prompts/{name}/playground"), "Playground"));
    tabs.push(("rollouts", format!("/ui/prompts/{name}/rollouts"), "Rollouts"));
    tabs.push(("stats", format!("/ui/prompts/{name}/stats"), "Stats"));
    tabs.push(("audit", format!("/ui/audit?prompt={name}"), "Audit"));
    html! {
        nav.tabs aria-label="Prompt" {
            @for (id, href, text) in tabs {
                @if id == current { a href=(href) aria-current="page" { (text) } } @else { a href=(href) { (text) } }
            }
        }
    }
}
