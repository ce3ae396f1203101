//! Authentication and authorization: the [`Caller`] extractor reads the key (bearer, `x-api-key`, or
//! HTTP Basic `KEY_ID:KEY` as the Langfuse SDKs send it) and the project it acts in;
//! [`Caller::require`] enforces a role and records refusals in the audit trail.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use opm_core::audit::{AuditRecord, action};
use opm_core::auth::{ApiKey, Role};
use opm_core::names::ProjectName;
use opm_core::prompt::Actor;
use opm_store::MutationContext;

use crate::AppState;
use crate::error::ApiError;

/// Header a global admin key uses to choose a project.
pub const PROJECT_HEADER: &str = "x-opm-project";
/// Header carrying the request id (set by middleware when the client sends none).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Header the Anthropic SDKs carry the key in.
pub const API_KEY_HEADER: &str = "x-api-key";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Arc<ApiKey>,
    /// The project this request acts in.
    pub project: ProjectName,
    pub request_id: Option<String>,
    pub path: String,
}

impl Caller {
    /// The audit context for mutations made by this caller.
    pub fn context(&self) -> MutationContext {
        MutationContext { actor: self.actor(), request_id: self.request_id.clone() }
    }

    /// The caller as an audit actor.
    pub fn actor(&self) -> Actor {
        Actor { key_id: Some(self.key.id.clone()), name: self.key.name.clone() }
    }

    /// Whether the key is a global (all-project) key.
    pub fn is_global(&self) -> bool {
        self.key.project.is_none()
    }

    /// Fails with 403 (recorded in the audit trail) unless the key has at least `role`.
    pub async fn require(&self, state: &AppState, role: Role) -> Result<(), ApiError> {
        if self.key.role >= role {
            return Ok(());
        }
        let detail = format!("this needs the `{role}` role; key `{}` has `{}`", self.key.name, self.key.role);
        record_denial(state, Some(self.actor()), self.project.as_str(), &self.path, &detail, self.request_id.clone())
            .await;
        Err(ApiError::forbidden(detail).with_request_id(self.request_id.clone()))
    }

    /// Fails with 403 unless the key is a global admin key.
    pub async fn require_global_admin(&self, state: &AppState) -> Result<(), ApiError> {
        self.require(state, Role::Admin).await?;
        if self.is_global() {
            return Ok(());
        }
        let detail =
            format!("this needs a global admin key; key `{}` belongs to project `{}`", self.key.name, self.project);
        record_denial(state, Some(self.actor()), self.project.as_str(), &self.path, &detail, self.request_id.clone())
            .await;
        Err(ApiError::forbidden(detail).with_request_id(self.request_id.clone()))
    }
}

/// Appends an `auth.denied` audit entry; a failure to record is logged, not surfaced.
async fn record_denial(
    state: &AppState,
    actor: Option<Actor>,
    project: &str,
    path: &str,
    detail: &str,
    request_id: Option<String>,
) {
    let record = AuditRecord {
        at: opm_store_now(),
        actor: actor.unwrap_or_else(|| Actor::system("anonymous")),
        action: action::AUTH_DENIED.to_owned(),
        project: project.to_owned(),
        target: path.to_owned(),
        before: None,
        after: None,
        reason: Some(detail.to_owned()),
        request_id,
    };
    if let Err(error) = state.registry.store().append_audit(record).await {
        tracing::error!(%error, "could not record an authorization failure in the audit trail");
    }
}

fn opm_store_now() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request_id = parts.headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let path = parts.uri.path().to_owned();
        let fail = |error: ApiError| error.with_request_id(request_id.clone());
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        // Langfuse's SDKs send `Basic base64(public_key:secret_key)`: the key id and the key.
        let basic = header.and_then(|value| value.strip_prefix("Basic ")).map(basic_credentials);
        let basic = basic.transpose().map_err(fail)?;
        // Anthropic's SDKs send the key as `x-api-key`; everything else as a bearer token.
        let secret = basic
            .as_ref()
            .map(|(_, secret)| secret.as_str())
            .or_else(|| header.and_then(|value| value.strip_prefix("Bearer ")))
            .or_else(|| parts.headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok()))
            .map(str::trim);
        let Some(secret) = secret.filter(|secret| !secret.is_empty()) else {
            return Err(fail(ApiError::unauthenticated("send an API key as `Authorization: Bearer <key>`")));
        };
        let Some(authenticated) = state.registry.authenticate(secret).await.map_err(|e| fail(e.into()))? else {
            return Err(fail(ApiError::unauthenticated("the API key is not valid")));
        };
        let key = authenticated.key;
        if let Some((public_key, _)) = &basic
            && *public_key != key.id
        {
            return Err(fail(ApiError::unauthenticated(
                "HTTP Basic credentials are `KEY_ID:KEY`: the public key (user name) must be the id of the key given as the secret key",
            )));
        }
        if key.is_revoked() {
            let actor = Actor { key_id: Some(key.id.clone()), name: key.name.clone() };
            let project = key.project.as_ref().map(|p| p.as_str()).unwrap_or_default();
            record_denial(state, Some(actor), project, &path, "revoked key used", request_id.clone()).await;
            return Err(fail(ApiError::unauthenticated("the API key has been revoked")));
        }
        if let Some(expires_at) = key.expires_at.filter(|_| key.is_expired(state.registry.clock().now())) {
            let actor = Actor { key_id: Some(key.id.clone()), name: key.name.clone() };
            let project = key.project.as_ref().map(|p| p.as_str()).unwrap_or_default();
            record_denial(state, Some(actor), project, &path, "expired key used", request_id.clone()).await;
            return Err(fail(ApiError::new(
                opm_core::ErrorKind::Unauthenticated,
                "key_expired",
                format!("the API key expired at {expires_at}; ask an admin for a new one"),
            )));
        }
        let requested = parts.headers.get(PROJECT_HEADER).map(|value| {
            value.to_str().ok().and_then(|text| ProjectName::parse(text).ok()).ok_or_else(|| {
                ApiError::invalid("invalid_name", "the X-OPM-Project header is not a valid project name")
            })
        });
        let project = match (&key.project, requested) {
            (_, Some(Err(error))) => return Err(fail(error)),
            (Some(own), None) => own.clone(),
            (Some(own), Some(Ok(asked))) if *own == asked => asked,
            (Some(own), Some(Ok(asked))) => {
                let detail = format!("key `{}` belongs to project `{own}`, not `{asked}`", key.name);
                let actor = Actor { key_id: Some(key.id.clone()), name: key.name.clone() };
                record_denial(state, Some(actor), asked.as_str(), &path, &detail, request_id.clone()).await;
                return Err(fail(ApiError::forbidden(detail)));
            }
            (None, Some(Ok(asked))) => {
                state.registry.ensure_project(&asked).await.map_err(|e| fail(e.into()))?;
                asked
            }
            (None, None) => ProjectName::default_project(),
        };
        Ok(Caller { key, project, request_id, path })
    }
}

/// Decodes HTTP Basic credentials (`base64(user:password)`) into the public and secret key.
fn basic_credentials(encoded: &str) -> Result<(String, String), ApiError> {
    use base64::Engine;
    let invalid = || ApiError::unauthenticated("the HTTP Basic credentials are not base64 of `KEY_ID:KEY`");
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (user, password) = text.split_once(':').ok_or_else(invalid)?;
    Ok((user.to_owned(), password.to_owned()))
}
