//! Streamed answers: the provider-neutral [`StreamEvent`]s and the [`ChatStream`] that yields them.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;

use crate::{FinishReason, GatewayError, Usage};

/// One step of a streamed answer. A well-formed stream is `Start`, any number of deltas, `Finish`;
/// a failure after `Start` arrives as an `Err` item instead of `Finish`, never as a silent end.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The upstream accepted the call: its response id, the provider that answers and its model name,
    /// and the usage known at the start (Anthropic reports input tokens here; others report none).
    Start { id: String, provider: String, model: String, usage: Usage },
    /// More assistant text.
    TextDelta(String),
    /// A piece of tool call number `index` (0-based, in call order): `id` and `name` come with the
    /// first piece of each call, `arguments` is a fragment of JSON text to append.
    ToolCallDelta { index: usize, id: Option<String>, name: Option<String>, arguments: String },
    /// The end of the answer.
    Finish {
        finish_reason: FinishReason,
        usage: Usage,
        /// `None` when tokens or the model's price are unknown.
        cost_usd: Option<f64>,
        /// Time spent in upstream exchanges, failed attempts included, until this event.
        upstream_latency: Duration,
        /// From the `chat_stream` call to the first text or tool-call delta (`None` when there was none).
        ttft: Option<Duration>,
    },
}

/// A boxed stream of events, as built by the gateway.
pub(crate) type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, GatewayError>> + Send>>;

/// A streamed chat answer. Dropping it closes the upstream connection, which cancels the generation.
pub struct ChatStream {
    inner: EventStream,
    provider: String,
    model: String,
    attempts: u32,
    fallback_index: usize,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("attempts", &self.attempts)
            .field("fallback_index", &self.fallback_index)
            .finish_non_exhaustive()
    }
}

impl ChatStream {
    pub(crate) fn new(
        inner: EventStream,
        provider: String,
        model: String,
        attempts: u32,
        fallback_index: usize,
    ) -> Self {
        Self { inner, provider, model, attempts, fallback_index }
    }

    /// The configured provider that answers.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The model as the upstream named it in its first event.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Upstream requests made before this stream was established, across all targets.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Index in `targets` of the target that answers (0 = primary).
    pub fn fallback_index(&self) -> usize {
        self.fallback_index
    }
}

impl Stream for ChatStream {
    type Item = Result<StreamEvent, GatewayError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
