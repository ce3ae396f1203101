//! Sign-in sessions: an opaque random id in an `HttpOnly; SameSite=Strict` cookie names a
//! server-side session holding the key's secret, what the key may do, and the session's CSRF
//! token. [`Page`] is the extractor of every page; [`Posted`] of every state-changing form, and
//! it refuses a form without the session's CSRF token, so no handler can forget the check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Redirect, Response};
use http::header;
use http::request::Parts;
use rand::RngCore;

use crate::UiState;
use crate::api::Credentials;
use crate::error::UiError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "opm_session";
/// Name of the double-submit cookie guarding the sign-in form.
pub const LOGIN_CSRF_COOKIE: &str = "opm_login_csrf";
/// A session ends this long after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept at once (the oldest go first).
const MAX_SESSIONS: usize = 10_000;
/// Largest form body accepted.
pub const MAX_FORM_BYTES: usize = 512 * 1024;

/// What a session knows about its key.
#[derive(Debug, Clone)]
pub struct Session {
    pub credentials: Credentials,
    pub key_id: String,
    pub key_name: String,
    /// `viewer`, `editor`, `deployer` or `admin`.
    pub role: String,
    pub project: String,
    pub global: bool,
    pub csrf: String,
    created: Instant,
}

impl Session {
    /// A session for a key the API just confirmed.
    pub fn new(credentials: Credentials, who: &opm_api::keys::WhoAmIDto) -> Self {
        Self {
            credentials,
            key_id: who.key.id.clone(),
            key_name: who.key.name.clone(),
            role: who.key.role.clone(),
            project: who.project.clone(),
            global: who.key.project.is_none(),
            csrf: random_token(),
            created: Instant::now(),
        }
    }

    /// Editors and admins may change prompts and labels.
    pub fn can_edit(&self) -> bool {
        matches!(self.role.as_str(), "editor" | "deployer" | "admin")
    }

    /// Deployers and admins may approve and reject change requests.
    pub fn can_approve(&self) -> bool {
        matches!(self.role.as_str(), "deployer" | "admin")
    }

    /// Admins may manage keys.
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// The live sessions of this process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    /// Stores a session and returns its id.
    pub fn insert(&self, session: Session) -> String {
        let id = random_token();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.created.elapsed() < SESSION_LIFETIME);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), Arc::new(session));
        id
    }

    /// The live session with this id.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(id) {
            Some(session) if session.created.elapsed() < SESSION_LIFETIME => Some(session.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two tokens in time independent of where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for the UI (`Secure` when the request came over HTTPS via a proxy).
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, secure: bool) -> String {
    let mut cookie = format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// Whether the client reached us over HTTPS (a TLS-terminating proxy says so).
pub fn is_https(headers: &http::HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A signed-in page request.
pub struct Page {
    pub state: UiState,
    pub session: Arc<Session>,
}

impl FromRequestParts<UiState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, Self::Rejection> {
        let session = cookie(&parts.headers, SESSION_COOKIE).and_then(|id| state.sessions.get(id));
        match session {
            Some(session) => Ok(Self { state: state.clone(), session }),
            None => {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/ui/");
                let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                Err(Redirect::to(&format!("/ui/login?{query}")).into_response())
            }
        }
    }
}

/// A state-changing form from a signed-in session, its CSRF token checked.
pub struct Posted {
    pub state: UiState,
    pub session: Arc<Session>,
    pub fields: Fields,
}

impl FromRequest<UiState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &UiState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Page { state, session } = Page::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
            crate::layout::error_page(&session, &UiError::form("the form is too large (512 KiB at most)"))
        })?;
        let fields = Fields::parse(&bytes).map_err(|error| crate::layout::error_page(&session, &error))?;
        let token = fields.get("csrf");
        if !tokens_match(token, &session.csrf) || token.is_empty() {
            tracing::warn!(key_id = %session.key_id, path = %parts.uri.path(), "UI form refused: CSRF token missing or wrong");
            return Err(crate::layout::error_page(&session, &UiError::Csrf));
        }
        Ok(Self { state, session, fields })
    }
}

/// Decoded form fields, in order (names may repeat).
#[derive(Debug, Default)]
pub struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(bytes: &[u8]) -> Result<Self, UiError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(bytes).map_err(|e| UiError::form(format!("unreadable form: {e}")))?;
        Ok(Self { pairs })
    }

    /// The first value of `name`, or "" (trimmed of surrounding whitespace).
    pub fn get(&self, name: &str) -> &str {
        self.raw(name).trim()
    }

    /// The first value of `name` as sent, or "".
    pub fn raw(&self, name: &str) -> &str {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// A required, non-empty field.
    pub fn required(&self, name: &str, what: &str) -> Result<&str, UiError> {
        let value = self.get(name);
        if value.is_empty() { Err(UiError::form(format!("{what} is required"))) } else { Ok(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "abcd"));
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn cookies() {
        let mut headers = http::HeaderMap::new();
        headers.insert(header::COOKIE, http::HeaderValue::from_static("a=1; opm_session=xyz; b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "c"), None);
        let set = set_cookie(SESSION_COOKIE, "v", None, true);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.ends_with("Secure"));
    }

    #[test]
    fn form_fields() {
        let fields = Fields::parse(b"role=system&content=a+b&role=user&content=%7B%7B+x+%7D%7D").unwrap();
        assert_eq!(fields.all("role"), vec!["system", "user"]);
        assert_eq!(fields.all("content"), vec!["a b", "{{ x }}"]);
        assert_eq!(fields.get("missing"), "");
        assert!(fields.required("missing", "a reason").is_err());
    }
}
