//! Key and project routes (admin only). Secrets are generated here, returned once, stored hashed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opm_api::Page;
use opm_api::keys::{CreateKeyRequest, CreateProjectRequest, CreatedKeyDto, KeyDto, ProjectDto, WhoAmIDto};
use opm_core::auth::{Role, generate_key, hash_secret};
use opm_core::names::ProjectName;
use opm_store::NewApiKey;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// Longest key name, in bytes.
const MAX_KEY_NAME: usize = 128;

/// Create an API key. The secret is in this response only.
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys", request_body = CreateKeyRequest,
    responses((status = 201, body = CreatedKeyDto), (status = 403, body = opm_api::Problem), (status = 422, body = opm_api::Problem)))]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedKeyDto>)> {
    caller.require(&state, Role::Admin).await?;
    let role: Role = request.role.parse()?;
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.len() > MAX_KEY_NAME {
        return Err(ApiError::invalid("invalid_key_name", format!("key names are 1 to {MAX_KEY_NAME} bytes")));
    }
    let project = match request.project.as_deref() {
        Some(project) => Some(ProjectName::parse(project)?),
        None if role == Role::Admin && caller.is_global() => None,
        None => Some(caller.project.clone()),
    };
    match &project {
        None => caller.require_global_admin(&state).await?,
        Some(project) if !caller.is_global() && *project != caller.project => {
            return Err(ApiError::forbidden(format!(
                "key `{}` may only create keys in project `{}`",
                caller.key.name, caller.project
            )));
        }
        Some(project) => state.registry.ensure_project(project).await?,
    }
    if let Some(expires_at) = request.expires_at
        && expires_at <= state.registry.clock().now()
    {
        return Err(
            opm_core::CoreError::InvalidExpiry(format!("`expires_at` {expires_at} is not in the future")).into()
        );
    }
    let generated = generate_key(&mut rand::rng());
    let new = NewApiKey {
        id: generated.id,
        name,
        role,
        project,
        secret_hash: hash_secret(&generated.secret),
        expires_at: request.expires_at,
    };
    let key = state.registry.store().create_key(&new, &caller.context()).await?;
    Ok((StatusCode::CREATED, Json(CreatedKeyDto { key: convert::key(&key), secret: generated.secret })))
}

/// The calling key (never its secret) and the project it acts in; any role.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "keys", responses((status = 200, body = WhoAmIDto),
    (status = 401, body = opm_api::Problem)))]
pub async fn whoami(caller: Caller) -> Json<WhoAmIDto> {
    Json(WhoAmIDto { key: convert::key(&caller.key), project: caller.project.to_string() })
}

/// List keys (a project admin sees its project's keys; a global admin sees all).
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys", responses((status = 200, body = Page<KeyDto>)))]
pub async fn list_keys(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Page<KeyDto>>> {
    caller.require(&state, Role::Admin).await?;
    let project = (!caller.is_global()).then_some(&caller.project);
    let keys = state.registry.list_keys(project).await?;
    Ok(Json(Page { items: keys.iter().map(convert::key).collect(), next_cursor: None }))
}

/// `DELETE /api/v1/keys/{id}` options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RevokeQuery {
    /// Must be `true` to revoke the key making this request (it locks this client out).
    #[serde(default)]
    pub force: bool,
}

/// Revoke a key; it stops working at once on every replica. The last active global admin key
/// cannot be revoked (409 `last_admin_key`); revoking the calling key needs `?force=true`
/// (409 `self_revocation` without it).
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "keys", params(("id" = String, Path), RevokeQuery),
    responses((status = 200, body = KeyDto)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<RevokeQuery>,
) -> ApiResult<Json<KeyDto>> {
    caller.require(&state, Role::Admin).await?;
    if !caller.is_global() {
        let own = state.registry.store().list_keys(Some(&caller.project)).await?;
        if !own.iter().any(|key| key.id == id) {
            return Err(opm_store::StoreError::KeyNotFound(id).into());
        }
    }
    let key = state.registry.revoke_key(&id, &caller.context(), query.force).await?;
    Ok(Json(convert::key(&key)))
}

/// Create a project (global admin).
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectDto), (status = 409, body = opm_api::Problem)))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateProjectRequest>,
) -> ApiResult<(StatusCode, Json<ProjectDto>)> {
    caller.require_global_admin(&state).await?;
    let name = ProjectName::parse(&request.name)?;
    let project = state.registry.store().create_project(&name, &caller.context()).await?;
    Ok((StatusCode::CREATED, Json(convert::project(&project))))
}

/// List projects (admin).
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", responses((status = 200, body = Page<ProjectDto>)))]
pub async fn list_projects(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Page<ProjectDto>>> {
    caller.require(&state, Role::Admin).await?;
    let mut projects = state.registry.store().list_projects().await?;
    if !caller.is_global() {
        projects.retain(|p| p.name == caller.project);
    }
    Ok(Json(Page { items: projects.iter().map(convert::project).collect(), next_cursor: None }))
}
