//! The UI's pages, one module per area.

pub mod audit;
pub mod edit;
pub mod keys;
pub mod labels;
pub mod login;
pub mod playground;
pub mod prompts;
pub mod requests;
pub mod rollouts;
pub mod stats;

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use maud::html;

/// Unknown UI paths.
pub async fn not_found() -> Response {
    let body = html! { h1 { "Not found" } p { "There is no such page. " a href="/ui/" { "Back to prompts" } } };
    (StatusCode::NOT_FOUND, Html(body.into_string())).into_response()
}

/// Maps a UI result to a response: errors become error pages.
pub fn respond(session: &crate::session::Session, result: crate::error::UiResult<Response>) -> Response {
    result.unwrap_or_else(|error| crate::layout::error_page(session, &error))
}
