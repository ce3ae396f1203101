//! Audit routes: read the trail with filters, and verify its hash chain.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use opm_api::Page;
use opm_api::audit::{AuditEntryDto, AuditVerifyDto, ChainBreakDto};
use opm_core::auth::Role;
use opm_store::AuditFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_limit;
use crate::AppState;
use crate::auth::{Caller, PROJECT_HEADER};
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

/// Audit filters. Project keys see their project's entries; global keys see every project unless
/// they name one with the `X-OPM-Project` header.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries about this prompt (its versions and labels included).
    #[param(schema_with = opm_api::names::name)]
    pub prompt: Option<String>,
    /// Key id or key name.
    pub actor: Option<String>,
    /// e.g. `label.set`, `version.create`, `auth.denied`.
    pub action: Option<String>,
    /// RFC 3339 time; entries at or after it.
    pub since: Option<DateTime<Utc>>,
    /// RFC 3339 time; entries before it.
    pub until: Option<DateTime<Utc>>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<i64>,
    /// Page size (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Read the audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEntryDto>)))]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntryDto>>> {
    caller.require(&state, Role::Viewer).await?;
    let limit = page_limit(query.limit)?;
    let project = if caller.is_global() && !headers.contains_key(PROJECT_HEADER) {
        None
    } else {
        Some(caller.project.to_string())
    };
    if let Some(prompt) = &query.prompt {
        super::prompt_name(prompt)?;
    }
    if query.cursor.is_some_and(|c| c < 1) {
        return Err(ApiError::invalid("invalid_query", "`cursor` must be a positive entry number"));
    }
    let filter = AuditFilter {
        project,
        prompt: query.prompt,
        actor: query.actor,
        action: query.action,
        since: query.since,
        until: query.until,
        before_seq: query.cursor,
        limit,
    };
    let entries = state.registry.store().list_audit(&filter).await?;
    let next_cursor = (entries.len() == limit as usize).then(|| entries.last().map(|e| e.seq.to_string())).flatten();
    Ok(Json(Page { items: entries.iter().map(convert::audit_entry).collect(), next_cursor }))
}

/// Recompute the hash chain over the whole trail and report the first broken entry.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, body = AuditVerifyDto)))]
pub async fn verify_audit(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<AuditVerifyDto>> {
    caller.require(&state, Role::Viewer).await?;
    let report = state.registry.verify_audit_chain().await?;
    Ok(Json(AuditVerifyDto {
        ok: report.broken_at.is_none(),
        checked: report.checked,
        head_hash: report.head_hash,
        broken_at: report.broken_at.map(|b| ChainBreakDto { seq: b.seq, reason: b.reason }),
    }))
}
