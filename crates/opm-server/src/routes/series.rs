//! Statistics over time: a prompt's stats window cut into equal buckets, for charts.

use axum::Json;
use axum::extract::{Path, State};
use opm_api::telemetry::{StatsBucketDto, StatsSeriesDto};
use opm_core::auth::Role;
use opm_store::StatsQuery;
use serde::Deserialize;
use utoipa::IntoParams;

use super::telemetry::{bad_query, group_by, parse_window};
use super::{label_name, prompt_name};
use crate::AppState;
use crate::auth::Caller;
use crate::convert;
use crate::error::ApiResult;
use crate::extract::ApiQuery;

/// Most buckets in one series (each is one aggregate query).
pub const MAX_BUCKETS: u32 = 60;

/// The window, its cut and the grouping.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SeriesParams {
    /// How far back from now, e.g. `15m`, `1h` (default), `7d`; 1 minute to 90 days.
    pub window: Option<String>,
    /// Number of equal buckets (1–60, default 12).
    #[param(minimum = 1, maximum = 60)]
    pub buckets: Option<u32>,
    /// `version` (default), `label`, `model` or `arm`.
    #[param(schema_with = super::telemetry::stats_by)]
    pub by: Option<String>,
    /// Only calls served through this label.
    #[param(schema_with = opm_api::names::name)]
    pub label: Option<String>,
}

/// Calls, error rate, latency and TTFT percentiles, tokens, cost and feedback per group in each
/// of `buckets` equal slices of the window, oldest first.
#[utoipa::path(get, path = "/api/v1/prompts/{name}/stats/series", tag = "telemetry",
    params(("name" = String, Path), SeriesParams),
    responses((status = 200, body = StatsSeriesDto), (status = 400, body = opm_api::Problem),
              (status = 404, body = opm_api::Problem)))]
pub async fn stats_series(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(params): ApiQuery<SeriesParams>,
) -> ApiResult<Json<StatsSeriesDto>> {
    caller.require(&state, Role::Viewer).await?;
    let name = prompt_name(&name)?;
    let window_text = params.window.unwrap_or_else(|| "1h".to_owned());
    let window = parse_window(&window_text)?;
    let buckets = params.buckets.unwrap_or(12);
    if !(1..=MAX_BUCKETS).contains(&buckets) {
        return Err(bad_query(format!("`buckets` must be between 1 and {MAX_BUCKETS}")));
    }
    let by = group_by(params.by.as_deref())?;
    let label = params.label.as_deref().map(label_name).transpose()?;
    state.registry.store().get_prompt(&caller.project, &name).await?;
    let until = state.registry.clock().now();
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
    let since = until - window;
    let step = window / buckets as i32;
    let mut out = Vec::with_capacity(buckets as usize);
    for index in 0..buckets {
        let bucket_since = since + step * index as i32;
        let bucket_until = if index + 1 == buckets { until } else { bucket_since + step };
        let query = StatsQuery {
            project: caller.project.clone(),
            prompt: name.clone(),
            since: bucket_since,
            until: bucket_until,
            by,
            label: label.as_ref().map(ToString::to_string),
        };
        let groups = state.registry.store().generation_stats(&query).await?;
        out.push(StatsBucketDto {
            since: bucket_since,
            until: bucket_until,
            groups: groups.iter().map(convert::group_stats).collect(),
        });
    }
    Ok(Json(StatsSeriesDto {
        prompt: name.to_string(),
        window: window_text,
        by: params.by.unwrap_or_else(|| "version".to_owned()),
        label: label.map(|label| label.to_string()),
        since,
        until,
        buckets: out,
    }))
}
