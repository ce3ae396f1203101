//! Rollout routes: start a canary rollout of a label, list and read rollouts, and the manual
//! actions (pause, resume, promote, abort). The controller that advances rollouts runs in
//! `crate::controller`.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opm_api::Page;
use opm_api::rollouts::{RolloutActionRequest, RolloutDto, StartRolloutRequest};
use opm_core::auth::Role;
use opm_core::names::LabelName;
use opm_core::rollout::{RolloutSpec, Thresholds};
use opm_registry::{ManualAction, StartRollout};
use opm_store::RolloutFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{label_name, page_limit, prompt_name};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// The steps when none are given.
const DEFAULT_STEPS: [u8; 4] = [5, 25, 50, 100];
/// The interval when none is given.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);
/// The samples per arm a check needs when not given.
const DEFAULT_MIN_SAMPLES: u64 = 200;

/// Start a canary rollout: the label (pointing at the stable version) becomes a sticky split with
/// the first step's share on the canary; the controller raises it step by step while checks pass,
/// and returns the label to the stable version at once when they fail.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/rollouts", tag = "rollouts", params(("name" = String, Path)),
    request_body = StartRolloutRequest,
    responses((status = 201, body = RolloutDto), (status = 404, body = opm_api::Problem),
              (status = 409, body = opm_api::Problem, description = "a rollout of the label is already active, or the label moved"),
              (status = 422, body = opm_api::Problem)))]
pub async fn start_rollout(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<StartRolloutRequest>,
) -> ApiResult<(StatusCode, Json<RolloutDto>)> {
    caller.require(&state, Role::Editor).await?;
    let start = start_of(&caller, &name, request)?;
    state.registry.authorize_rollout_start(&start.project, &start.prompt, &start.label, caller.key.role).await?;
    let now = state.registry.clock().now();
    let rollout = state.registry.start_rollout(&start, &caller.context(), now).await?;
    Ok((StatusCode::CREATED, Json(convert::rollout(&rollout))))
}

/// File a change request to start a rollout on a protected label (the body of
/// `POST …/rollouts`): once approved as a move of the label would be (four eyes), the rollout
/// starts, its first step timed from the approval, if the label still points at the stable
/// version it pointed at when the request was filed (otherwise the request is `stale`).
#[utoipa::path(post, path = "/api/v1/prompts/{name}/rollouts/requests", tag = "governance", params(("name" = String, Path)),
    request_body = StartRolloutRequest,
    responses((status = 201, body = opm_api::governance::ChangeRequestDto), (status = 404, body = opm_api::Problem),
              (status = 422, body = opm_api::Problem)))]
pub async fn request_rollout(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<StartRolloutRequest>,
) -> ApiResult<(StatusCode, Json<opm_api::governance::ChangeRequestDto>)> {
    caller.require(&state, Role::Editor).await?;
    let start = start_of(&caller, &name, request)?;
    let filed = state.registry.request_rollout_start(&start, caller.key.role, &caller.context()).await?;
    Ok((StatusCode::CREATED, Json(crate::convert_governance::request(&filed))))
}

/// The rollout a start request asks for, with the defaults filled in.
fn start_of(caller: &Caller, name: &str, request: StartRolloutRequest) -> Result<StartRollout, ApiError> {
    let prompt = prompt_name(name)?;
    let label = match &request.label {
        Some(label) => label_name(label)?,
        None => LabelName::production(),
    };
    let interval = match &request.interval {
        Some(text) => humantime::parse_duration(text).map_err(|error| {
            ApiError::invalid("invalid_rollout", format!("`interval` `{text}` is not a duration such as 10m: {error}"))
        })?,
        None => DEFAULT_INTERVAL,
    };
    let spec = RolloutSpec {
        steps: request.steps.clone().unwrap_or_else(|| DEFAULT_STEPS.to_vec()),
        interval,
        thresholds: Thresholds {
            max_error_rate: request.max_error_rate,
            max_p95_latency_ms: request.max_p95_latency_ms,
            max_cost_per_call_usd: request.max_cost_per_call,
            min_feedback: request.min_feedback,
        },
        min_samples: request.min_samples.unwrap_or(DEFAULT_MIN_SAMPLES),
        failure_limit: request.failure_limit.unwrap_or(0),
        inconclusive_limit: request.inconclusive_limit,
    };
    Ok(StartRollout {
        project: caller.project.clone(),
        prompt,
        label,
        canary_version: request.to,
        spec,
        reason: request.reason,
    })
}

/// Filters for listing rollouts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRolloutsQuery {
    /// Only this label's rollouts.
    #[param(schema_with = opm_api::names::name)]
    pub label: Option<String>,
    /// Only progressing or paused ones.
    pub active: Option<bool>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A prompt's rollouts, newest first.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/rollouts", tag = "rollouts",
    params(("name" = String, Path), ListRolloutsQuery),
    responses((status = 200, body = Page<RolloutDto>), (status = 404, body = opm_api::Problem)))]
pub async fn list_rollouts(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ListRolloutsQuery>,
) -> ApiResult<Json<Page<RolloutDto>>> {
    caller.require(&state, Role::Viewer).await?;
    let prompt = prompt_name(&name)?;
    state.registry.store().get_prompt(&caller.project, &prompt).await?;
    let filter = RolloutFilter {
        project: Some(caller.project.clone()),
        prompt: Some(prompt),
        label: query.label.as_deref().map(label_name).transpose()?,
        active_only: query.active.unwrap_or(false),
        limit: page_limit(query.limit)?,
    };
    let rollouts = state.registry.store().list_rollouts(&filter).await?;
    Ok(Json(Page { items: rollouts.iter().map(convert::rollout).collect(), next_cursor: None }))
}

/// One rollout, with its newest check.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/rollouts/{id}", tag = "rollouts",
    params(("name" = String, Path), ("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = RolloutDto), (status = 404, body = opm_api::Problem)))]
pub async fn get_rollout(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<RolloutDto>> {
    caller.require(&state, Role::Viewer).await?;
    let prompt = prompt_name(&name)?;
    let rollout = state.registry.store().get_rollout(&caller.project, &prompt, rollout_id(&id)?).await?;
    Ok(Json(convert::rollout(&rollout)))
}

/// Pause, resume, promote or abort a rollout. Promote points the label at the canary alone and
/// abort at the stable version alone, at once; both are final.
#[utoipa::path(post, path = "/api/v1/prompts/{name}/rollouts/{id}/{action}", tag = "rollouts",
    params(("name" = String, Path), ("id" = i64, Path, minimum = 1), ("action" = String, Path, pattern = "^(pause|resume|promote|abort)$", description = "pause, resume, promote or abort")),
    request_body = RolloutActionRequest,
    responses((status = 200, body = RolloutDto), (status = 404, body = opm_api::Problem),
              (status = 409, body = opm_api::Problem, description = "not allowed in the rollout's state")))]
pub async fn rollout_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, id, action)): Path<(String, String, String)>,
    ApiJson(request): ApiJson<RolloutActionRequest>,
) -> ApiResult<Json<RolloutDto>> {
    caller.require(&state, Role::Editor).await?;
    let prompt = prompt_name(&name)?;
    let id = rollout_id(&id)?;
    let reason = request.reason;
    let manual = match action.as_str() {
        "pause" => ManualAction::Pause { reason },
        "resume" => ManualAction::Resume { reason },
        "promote" => ManualAction::Promote { reason },
        "abort" => ManualAction::Abort { reason },
        other => {
            return Err(ApiError::new(
                opm_core::ErrorKind::NotFound,
                "route_not_found",
                format!("`{other}` is not a rollout action: pause, resume, promote or abort"),
            ));
        }
    };
    if matches!(manual, ManualAction::Resume { .. } | ManualAction::Promote { .. }) {
        // Moving a rollout forward moves the label: refused during a freeze (pause and abort are not).
        state.registry.ensure_not_frozen(&caller.project).await?;
    }
    let now = state.registry.clock().now();
    let rollout = state.registry.act_on_rollout(&caller.project, &prompt, id, &manual, &caller.context(), now).await?;
    Ok(Json(convert::rollout(&rollout)))
}

fn rollout_id(text: &str) -> Result<i64, ApiError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::invalid("invalid_rollout_id", format!("`{text}` is not a rollout id (1, 2, 3…)"))),
    }
}
