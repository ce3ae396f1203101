//! Telemetry routes: the Prometheus scrape, stored generations, feedback and per-prompt stats.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opm_api::telemetry::{ComparisonDto, FeedbackDto, FeedbackRequest, GenerationDto, StatsDto, TestDto};
use opm_core::ErrorKind;
use opm_core::auth::Role;
use opm_core::experiment::{AB_ALPHA, compare_arms};
use opm_store::{NewFeedback, StatsGroupBy, StatsQuery, StoreError};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{label_name, prompt_name};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// Shortest and longest stats windows.
const MIN_WINDOW: Duration = Duration::from_secs(60);
const MAX_WINDOW: Duration = Duration::from_secs(90 * 24 * 3600);
/// Longest feedback comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 4096;

/// Prometheus metrics in the text exposition format. Unauthenticated, like `/healthz`: expose it
/// only where your Prometheus can reach it.
#[utoipa::path(get, path = "/metrics", tag = "telemetry",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.breakers(&state.gateway.breaker_states());
    state.metrics.retries(&state.gateway.retry_counts());
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// Attach a score (and an optional comment) to a generation.
#[utoipa::path(post, path = "/api/v1/feedback", tag = "telemetry", request_body = FeedbackRequest,
    responses((status = 201, body = FeedbackDto), (status = 404, body = opm_api::Problem),
              (status = 422, body = opm_api::Problem)))]
pub async fn feedback(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<FeedbackRequest>,
) -> ApiResult<(StatusCode, Json<FeedbackDto>)> {
    caller.require(&state, Role::Viewer).await?;
    if !request.score.is_finite() {
        return Err(ApiError::invalid("invalid_feedback", "`score` must be a finite number"));
    }
    if request.comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(ApiError::invalid(
            "invalid_feedback",
            format!("`comment` is longer than {MAX_COMMENT_CHARS} characters"),
        ));
    }
    let new = NewFeedback {
        project: caller.project.clone(),
        generation_id: request.generation_id,
        score: request.score,
        comment: request.comment,
        key_id: Some(caller.key.id.clone()),
    };
    let store = state.registry.store();
    let stored = match store.add_feedback(&new).await {
        // The generation may still be queued: write the queue out and try once more.
        Err(error) if error.kind() == ErrorKind::NotFound => {
            state.writer.flush().await;
            store.add_feedback(&new).await
        }
        other => other,
    }
    .map_err(generation_error)?;
    Ok((StatusCode::CREATED, Json(convert::feedback(&stored))))
}

/// One stored generation with its feedback.
#[utoipa::path(get, path = "/api/v1/generations/{id}", tag = "telemetry", params(("id" = String, Path)),
    responses((status = 200, body = GenerationDto), (status = 404, body = opm_api::Problem)))]
pub async fn get_generation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<GenerationDto>> {
    caller.require(&state, Role::Viewer).await?;
    let store = state.registry.store();
    let row = match store.get_generation(&caller.project, &id).await {
        Err(error) if error.kind() == ErrorKind::NotFound => {
            state.writer.flush().await;
            store.get_generation(&caller.project, &id).await
        }
        other => other,
    }
    .map_err(generation_error)?;
    let feedback = store.list_feedback(&caller.project, &id).await?;
    Ok(Json(convert::generation(&row, &feedback)))
}

fn generation_error(error: StoreError) -> ApiError {
    if error.kind() == ErrorKind::NotFound {
        ApiError::new(ErrorKind::NotFound, "generation_not_found", error.to_string())
    } else {
        error.into()
    }
}

/// The stats window and grouping.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// How far back from now, e.g. `15m`, `1h` (default), `7d`; 1 minute to 90 days.
    pub window: Option<String>,
    /// `version` (default), `label`, `model` or `arm`.
    #[param(schema_with = stats_by)]
    pub by: Option<String>,
    /// Only calls served through this label (e.g. to compare a split's arms).
    #[param(schema_with = opm_api::names::name)]
    pub label: Option<String>,
}

/// Per-version (or label, or model) calls, error rate, latency and TTFT percentiles, tokens,
/// cost and feedback of one prompt over a recent window.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/stats", tag = "telemetry",
    params(("name" = String, Path), StatsParams),
    responses((status = 200, body = StatsDto), (status = 404, body = opm_api::Problem)))]
pub async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> ApiResult<Json<StatsDto>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let window_text = params.window.unwrap_or_else(|| "1h".to_owned());
    let window = parse_window(&window_text)?;
    let by = group_by(params.by.as_deref())?;
    let label = params.label.as_deref().map(label_name).transpose()?;
    // 404 for a prompt that does not exist, rather than empty stats.
    state.registry.store().get_prompt(&caller.project, &name).await?;
    let until = state.registry.clock().now();
    let since = until - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
    let label_filter = label.as_ref().map(ToString::to_string);
    let query =
        StatsQuery { project: caller.project.clone(), prompt: name.clone(), since, until, by, label: label_filter };
    let groups = state.registry.store().generation_stats(&query).await?;
    let (baseline, comparisons) = match by {
        StatsGroupBy::Version | StatsGroupBy::Arm => {
            let stable = match &label {
                Some(label) => stable_arm(&state, &caller, &name, label).await?,
                None => None,
            };
            compare(&groups, stable)
        }
        StatsGroupBy::Label | StatsGroupBy::Model => (None, Vec::new()),
    };
    Ok(Json(StatsDto {
        prompt: name.to_string(),
        window: window_text,
        since,
        until,
        by: params.by.unwrap_or_else(|| "version".to_owned()),
        label: label.map(|label| label.to_string()),
        groups: groups.iter().map(convert::group_stats).collect(),
        baseline,
        comparisons,
    }))
}

/// The stable (first) arm of the label's split, if the label is one.
async fn stable_arm(
    state: &AppState,
    caller: &Caller,
    name: &opm_core::names::PromptName,
    label: &opm_core::names::LabelName,
) -> ApiResult<Option<String>> {
    let labels = state.registry.store().list_labels(&caller.project, name).await?;
    Ok(labels
        .iter()
        .find(|l| &l.name == label)
        .and_then(|l| l.target.split())
        .map(|split| split.base_version().to_string()))
}

/// Every group against the baseline (the stable arm, else the busiest group).
fn compare(groups: &[opm_store::GroupStats], stable: Option<String>) -> (Option<String>, Vec<ComparisonDto>) {
    let candidates: Vec<&opm_store::GroupStats> =
        groups.iter().filter(|g| g.group != opm_store::GroupStats::NONE).collect();
    let baseline = stable
        .and_then(|stable| candidates.iter().find(|g| g.group == stable).copied())
        .or_else(|| candidates.iter().max_by_key(|g| g.calls).copied());
    let Some(baseline) = baseline else { return (None, Vec::new()) };
    let base = opm_registry::arm_metrics(baseline);
    let comparisons = candidates
        .iter()
        .filter(|g| g.group != baseline.group)
        .map(|group| {
            let answer = compare_arms(&base, &opm_registry::arm_metrics(group), AB_ALPHA);
            let test = |difference: Option<f64>, test: Option<opm_core::SignificanceTest>| {
                Some(TestDto {
                    difference: difference?,
                    statistic: test.as_ref()?.statistic,
                    p_value: test.as_ref()?.p_value,
                    alpha: test.as_ref()?.alpha,
                    significant: test?.significant,
                })
            };
            ComparisonDto {
                group: group.group.clone(),
                baseline: baseline.group.clone(),
                error_rate: test(answer.error_rate_difference, answer.error_rate),
                latency_mean_ms: test(answer.latency_mean_difference_ms, answer.latency_mean),
                feedback_mean: test(answer.feedback_mean_difference, answer.feedback_mean),
            }
        })
        .collect();
    (Some(baseline.group.clone()), comparisons)
}

/// Parses `by` (default `version`).
pub(crate) fn group_by(by: Option<&str>) -> Result<StatsGroupBy, ApiError> {
    match by.unwrap_or("version") {
        "version" => Ok(StatsGroupBy::Version),
        "label" => Ok(StatsGroupBy::Label),
        "model" => Ok(StatsGroupBy::Model),
        "arm" => Ok(StatsGroupBy::Arm),
        other => Err(bad_query(format!("`by` is `version`, `label`, `model` or `arm`, not `{other}`"))),
    }
}

pub(crate) fn parse_window(text: &str) -> Result<Duration, ApiError> {
    let window = humantime::parse_duration(text)
        .map_err(|error| bad_query(format!("`window` `{text}` is not a duration such as 15m, 1h or 7d: {error}")))?;
    if !(MIN_WINDOW..=MAX_WINDOW).contains(&window) {
        return Err(bad_query("`window` must be between 1m and 90d".to_owned()));
    }
    Ok(window)
}

/// A malformed query parameter: 400 `invalid_query`, like the query extractor's own rejections.
pub(crate) fn bad_query(detail: String) -> ApiError {
    ApiError::invalid("invalid_query", detail).with_status(StatusCode::BAD_REQUEST)
}

/// The `by` query parameter of the stats routes: one of the grouping names.
pub fn stats_by() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["version", "label", "model", "arm"]))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse_window("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_window("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_window("7d").unwrap(), Duration::from_secs(7 * 86400));
        for bad in ["", "1x", "10s", "365d", "-1h"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
