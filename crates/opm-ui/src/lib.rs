//! OPM's web UI, served by `opm serve` at `/ui/`: server-rendered HTML (maud) with a little
//! plain JavaScript for streaming the playground, every asset compiled into the binary.
//!
//! Invariants:
//! - the UI is another client of the REST API: every read and write goes through the API router
//!   in process ([`api::Api`]) with the signed-in key, so the server enforces every role, writes
//!   every audit entry and validates every input exactly as for any client;
//! - every state-changing form carries the session's CSRF token, checked by the [`session::Posted`]
//!   extractor before any handler runs;
//! - pages load nothing from elsewhere: a strict `Content-Security-Policy` allows only this
//!   origin's scripts and styles, and no inline script or style;
//! - the UI adds no work to API requests: they never pass through its routes or middleware.

pub mod api;
mod assets;
mod chart;
mod diff;
pub mod error;
mod layout;
mod pages;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use http::{HeaderValue, header};

use crate::api::Api;
use crate::session::Sessions;

/// The Content-Security-Policy of every UI answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// State of the UI's handlers.
#[derive(Clone)]
pub struct UiState {
    pub api: Api,
    pub sessions: Arc<Sessions>,
}

/// The UI's routes (`/ui/…` and `/` → `/ui/`) over `api`, the API router with its middleware.
/// Merge the result in front of the API: requests the UI does not route fall through to `api`.
pub fn router(api: Router) -> Router {
    let state = UiState { api: Api::new(api.clone()), sessions: Arc::default() };
    let ui = Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(pages::prompts::list))
        .route("/ui/login", get(pages::login::form).post(pages::login::sign_in))
        .route("/ui/logout", post(pages::login::sign_out))
        .route("/ui/static/{file}", get(assets::serve))
        .route("/ui/new", get(pages::edit::new_prompt))
        .route("/ui/prompts/{name}", get(pages::prompts::show))
        .route("/ui/prompts/{name}/versions/{version}", get(pages::prompts::version))
        .route("/ui/prompts/{name}/diff", get(pages::prompts::diff))
        .route("/ui/prompts/{name}/edit", get(pages::edit::form).post(pages::edit::submit))
        .route("/ui/prompts/{name}/archive", post(pages::prompts::archive))
        .route("/ui/prompts/{name}/playground", get(pages::playground::show))
        .route("/ui/prompts/{name}/playground/run", post(pages::playground::run))
        .route("/ui/prompts/{name}/labels/{label}", get(pages::labels::history))
        .route("/ui/prompts/{name}/label-move", post(pages::labels::move_label))
        .route("/ui/prompts/{name}/label-rollback", post(pages::labels::rollback))
        .route("/ui/prompts/{name}/rollouts", get(pages::rollouts::list).post(pages::rollouts::start))
        .route("/ui/prompts/{name}/rollouts/{id}", get(pages::rollouts::show))
        .route("/ui/prompts/{name}/rollouts/{id}/{action}", post(pages::rollouts::act))
        .route("/ui/prompts/{name}/stats", get(pages::stats::page))
        .route("/ui/feedback", post(pages::playground::feedback))
        .route("/ui/requests", get(pages::requests::list))
        .route("/ui/requests/new", post(pages::requests::create))
        .route("/ui/requests/{id}", post(pages::requests::decide))
        .route("/ui/audit", get(pages::audit::list))
        .route("/ui/audit/verify", get(pages::audit::verify))
        .route("/ui/keys", get(pages::keys::list).post(pages::keys::create))
        .route("/ui/keys/{id}/revoke", post(pages::keys::revoke))
        .route("/ui/{*rest}", get(pages::not_found).post(pages::not_found))
        .layer(middleware::from_fn(security_headers))
        .with_state(state);
    Router::new().route("/", get(|| async { Redirect::to("/ui/") })).merge(ui).fallback_service(api)
}

/// Security headers on every UI answer; pages are never cached (they show live state).
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
