//! Sign in with an API key, and sign out.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use maud::html;
use serde::Deserialize;

use crate::UiState;
use crate::api::Credentials;
use crate::error::UiError;
use crate::layout::{error_box, public_page};
use crate::session::{
    Fields, LOGIN_CSRF_COOKIE, MAX_FORM_BYTES, Posted, SESSION_COOKIE, SESSION_LIFETIME, Session, cookie, is_https,
    random_token, set_cookie, tokens_match,
};

/// Where to go after signing in.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only paths inside the UI (no open redirects).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next) if next.starts_with("/ui/") && !next.starts_with("/ui//") && !next.contains('\\') => next,
        _ => "/ui/",
    }
}

fn form_page(next: &str, token: &str, error: Option<&UiError>, secure: bool) -> Response {
    let body = html! {
        div.login {
            h1 { "Sign in to OPM" }
            @if let Some(error) = error { (error_box(error)) }
            form method="post" action="/ui/login" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                label for="key" { "API key" }
                input #key type="password" name="key" autocomplete="current-password" required autofocus
                    placeholder="opm_…";
                label for="project" { "Project " span.hint { "(global admin keys only; optional)" } }
                input #project type="text" name="project" autocomplete="off";
                button type="submit" { "Sign in" }
            }
            p.hint { "Your key's role decides what you can do here. " code { "opm serve" } " printed an admin key at first start (saved in " code { ".opm/admin.key" } ")." }
        }
    };
    let mut response = public_page("Sign in", body);
    if let Some(error) = error {
        *response.status_mut() = error.status();
    }
    if let Ok(value) = HeaderValue::from_str(&set_cookie(LOGIN_CSRF_COOKIE, token, None, secure)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The sign-in form.
pub async fn form(headers: HeaderMap, Query(query): Query<NextQuery>) -> Response {
    form_page(safe_next(query.next.as_deref()), &random_token(), None, is_https(&headers))
}

/// Checks the key with the API (`/api/v1/whoami`), then starts a session.
pub async fn sign_in(State(state): State<UiState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let secure = is_https(&headers);
    if body.len() > MAX_FORM_BYTES {
        return form_page("/ui/", &random_token(), Some(&UiError::form("the form is too large")), secure);
    }
    let fields = match Fields::parse(&body) {
        Ok(fields) => fields,
        Err(error) => return form_page("/ui/", &random_token(), Some(&error), secure),
    };
    let next = safe_next(Some(fields.get("next"))).to_owned();
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let token = fields.get("csrf");
    if expected.is_empty() || !tokens_match(token, expected) {
        return form_page(&next, &random_token(), Some(&UiError::Csrf), secure);
    }
    let secret = fields.get("key").to_owned();
    if secret.is_empty() {
        return form_page(&next, &random_token(), Some(&UiError::form("enter an API key")), secure);
    }
    let project = Some(fields.get("project").to_owned()).filter(|p| !p.is_empty());
    let credentials = Credentials { secret, project };
    let who: opm_api::keys::WhoAmIDto = match state.api.get(&credentials, "/api/v1/whoami").await {
        Ok(who) => who,
        Err(UiError::SignedOut(detail)) => {
            let error = UiError::Api { status: StatusCode::UNAUTHORIZED, code: "unauthenticated".to_owned(), detail };
            return form_page(&next, &random_token(), Some(&error), secure);
        }
        Err(error) => return form_page(&next, &random_token(), Some(&error), secure),
    };
    let id = state.sessions.insert(Session::new(credentials, &who));
    tracing::info!(key_id = %who.key.id, project = %who.project, "UI sign-in");
    let mut response = Redirect::to(&next).into_response();
    for value in [
        set_cookie(SESSION_COOKIE, &id, Some(SESSION_LIFETIME), secure),
        set_cookie(LOGIN_CSRF_COOKIE, "", Some(std::time::Duration::ZERO), secure),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Ends the session.
pub async fn sign_out(headers: HeaderMap, posted: Posted) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        posted.state.sessions.remove(id);
    }
    let mut response = Redirect::to("/ui/login").into_response();
    let expired = set_cookie(SESSION_COOKIE, "", Some(std::time::Duration::ZERO), is_https(&headers));
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_inside_the_ui() {
        assert_eq!(safe_next(Some("/ui/prompts/a")), "/ui/prompts/a");
        for bad in ["https://evil.example/", "//evil.example/", "/ui//evil.example", "/api/v1/keys", "/ui\\x"] {
            assert_eq!(safe_next(Some(bad)), "/ui/", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }
}
