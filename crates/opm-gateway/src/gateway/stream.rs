//! The established stream handed to the caller: replays the first event, enforces the attempt's end
//! deadline, measures time to first token and upstream time, prices the usage at `Finish`, and
//! reports mid-stream failures to the provider's breaker. No retry happens here.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::provider::{Deadlines, Provider, UpstreamEvents};
use crate::{ChatStream, GatewayError, PriceTable, StreamEvent};

/// Everything the stream needs, gathered by `Gateway::chat_stream`.
pub(super) struct StreamParts {
    pub(super) first: StreamEvent,
    pub(super) events: UpstreamEvents,
    pub(super) provider: Arc<Provider>,
    pub(super) prices: Arc<PriceTable>,
    pub(super) requested_model: String,
    pub(super) call_started: Instant,
    pub(super) attempt_started: Instant,
    pub(super) upstream_before: Duration,
    pub(super) deadlines: Deadlines,
    pub(super) attempts: u32,
    pub(super) fallback_index: usize,
}

struct State {
    first: Option<StreamEvent>,
    events: UpstreamEvents,
    provider: Arc<Provider>,
    prices: Arc<PriceTable>,
    requested_model: String,
    answered_model: String,
    call_started: Instant,
    attempt_started: Instant,
    upstream_before: Duration,
    deadlines: Deadlines,
    ttft: Option<Duration>,
    done: bool,
}

pub(super) fn build(parts: StreamParts) -> ChatStream {
    let answered_model = match &parts.first {
        StreamEvent::Start { model, .. } if !model.is_empty() => model.clone(),
        _ => parts.requested_model.clone(),
    };
    let provider_name = parts.provider.name.clone();
    let state = State {
        first: Some(parts.first),
        events: parts.events,
        provider: parts.provider,
        prices: parts.prices,
        requested_model: parts.requested_model,
        answered_model: answered_model.clone(),
        call_started: parts.call_started,
        attempt_started: parts.attempt_started,
        upstream_before: parts.upstream_before,
        deadlines: parts.deadlines,
        ttft: None,
        done: false,
    };
    let inner = futures::stream::unfold(state, |mut state| async move {
        let item = state.next_item().await?;
        Some((item, state))
    });
    ChatStream::new(Box::pin(inner), provider_name, answered_model, parts.attempts, parts.fallback_index)
}

impl State {
    async fn next_item(&mut self) -> Option<Result<StreamEvent, GatewayError>> {
        if self.done {
            return None;
        }
        let event = match self.first.take() {
            Some(first) => Ok(first),
            None => match tokio::time::timeout_at(self.deadlines.end_at(), self.events.next()).await {
                Err(_) => Err(self.deadlines.end_error()),
                Ok(Some(result)) => result,
                Ok(None) => Err(GatewayError::BadResponse {
                    provider: self.provider.name.clone(),
                    message: "the stream ended without a finish".into(),
                }),
            },
        };
        match event {
            Err(error) => {
                self.done = true;
                self.provider.breaker.record(error.breaker_outcome(), Instant::now());
                tracing::warn!(provider = %self.provider.name, code = error.code(), error = %error, "stream failed mid-way");
                Some(Err(error))
            }
            Ok(event) => Some(Ok(self.complete(event))),
        }
    }

    /// Notes the first token and fills in the `Finish` event's cost and timings.
    fn complete(&mut self, event: StreamEvent) -> StreamEvent {
        match event {
            StreamEvent::TextDelta(_) | StreamEvent::ToolCallDelta { .. } => {
                if self.ttft.is_none() {
                    self.ttft = Some(self.call_started.elapsed());
                }
                event
            }
            StreamEvent::Finish { finish_reason, usage, .. } => {
                self.done = true;
                let cost_usd =
                    super::cost(&self.prices, &self.provider.name, &self.answered_model, &self.requested_model, &usage);
                StreamEvent::Finish {
                    finish_reason,
                    usage,
                    cost_usd,
                    upstream_latency: self.upstream_before + self.attempt_started.elapsed(),
                    ttft: self.ttft,
                }
            }
            StreamEvent::Start { .. } => event,
        }
    }
}
