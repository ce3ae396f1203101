//! `GET /api/v1/watch`: label and version changes as server-sent events, resumable with
//! `Last-Event-ID`, so SDKs and sidecars drop their caches when something changes instead of
//! polling on a TTL. Also the test clock (`POST /api/v1/clock/advance`, only with
//! `opm serve --adjustable-clock`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use opm_api::events::ChangeEventDto;
use opm_core::auth::Role;
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// Most events replayed to a resuming client at once (it resumes again from the last one).
const MAX_REPLAY: usize = 10_000;

/// What to watch.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WatchQuery {
    /// Only this prompt's changes.
    pub prompt: Option<String>,
    /// Resume after this event id (the `Last-Event-ID` header takes precedence).
    pub after: Option<i64>,
}

/// Stream the project's changes (`version.create`, `label.set`, `label.rollback`, `rollout.*`, …)
/// as server-sent events: `id` is the audit sequence number, `event` the action, `data` a
/// `ChangeEventDto`. Reconnect with `Last-Event-ID` to receive what was missed. The stream
/// ends when the server stops.
#[utoipa::path(get, path = "/api/v1/watch", tag = "serving", params(WatchQuery),
    responses((status = 200, content_type = "text/event-stream", body = ChangeEventDto,
               description = "server-sent events, one per change")))]
pub async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<WatchQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(&state, Role::Viewer).await?;
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
            ApiError::invalid("invalid_last_event_id", "`Last-Event-ID` must be an event id (an integer)")
        })?),
        None => query.after,
    };
    if let Some(prompt) = &query.prompt {
        super::prompt_name(prompt)?;
    }
    // Subscribe before replaying, so nothing published in between is missed (duplicates are
    // skipped by id).
    let live = state.events.subscribe();
    let project = caller.project.to_string();
    let backlog = match resume {
        Some(after) => state.events.replay(&project, after, MAX_REPLAY).await?,
        None => Vec::new(),
    };
    let last = backlog.last().map(|e| e.id).or(resume).unwrap_or(0);
    let stopping = state.shutdown.begun();
    let watch = Watch { state, live, backlog: backlog.into(), last, project, prompt: query.prompt };
    let stream = futures::stream::unfold(watch, |mut watch| async move {
        let event = watch.next().await?;
        Some((Ok(sse(&event)), watch))
    });
    // The stream ends when the server starts to stop, so the drain does not wait on it; the
    // client resumes from its last id on another replica (or this one, restarted).
    let stream = futures::StreamExt::take_until(stream, stopping);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

struct Watch {
    state: AppState,
    live: broadcast::Receiver<Arc<ChangeEventDto>>,
    backlog: VecDeque<ChangeEventDto>,
    last: i64,
    project: String,
    prompt: Option<String>,
}

impl Watch {
    async fn next(&mut self) -> Option<ChangeEventDto> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                self.last = event.id;
                return Some(event);
            }
            match self.live.recv().await {
                Ok(event) => {
                    let wanted = event.id > self.last
                        && event.project == self.project
                        && self.prompt.as_ref().is_none_or(|p| event.prompt.as_ref() == Some(p));
                    if wanted {
                        self.last = event.id;
                        return Some((*event).clone());
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let replay = self.state.events.replay(&self.project, self.last, MAX_REPLAY).await;
                    let prompt = self.prompt.clone();
                    self.backlog = replay
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|e| prompt.as_ref().is_none_or(|p| e.prompt.as_ref() == Some(p)))
                        .collect();
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

fn sse(event: &ChangeEventDto) -> Event {
    Event::default()
        .id(event.id.to_string())
        .event(event.event.clone())
        .data(serde_json::to_string(event).unwrap_or_default())
}

/// `POST /api/v1/clock/advance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// How far, e.g. `10m`.
    pub by: String,
}

/// Moves an adjustable clock forward (tests and demos only; 404 unless the server runs with
/// `--adjustable-clock`). Admin only. Not in the OpenAPI document.
pub async fn advance_clock(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<AdvanceClock>,
) -> ApiResult<Json<serde_json::Value>> {
    if !state.registry.clock().is_adjustable() {
        return Err(ApiError::new(opm_core::ErrorKind::NotFound, "route_not_found", "the clock is not adjustable"));
    }
    caller.require(&state, Role::Admin).await?;
    let by = humantime::parse_duration(&request.by)
        .map_err(|error| ApiError::invalid("invalid_duration", format!("`{}`: {error}", request.by)))?;
    let now = state.registry.clock().advance(by);
    Ok(Json(serde_json::json!({"now": now})))
}
