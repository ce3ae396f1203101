//! Providers: one per configured name, each with its transport (HTTP in one of two wire formats, or
//! the built-in mock), its policies and its circuit breaker; plus the per-attempt deadlines.

pub(crate) mod anthropic;
mod anthropic_stream;
mod http;
mod mock;
pub(crate) mod openai;
mod openai_stream;
mod sse;
#[cfg(test)]
mod stream_proptests;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::breaker::CircuitBreaker;
use crate::error::TimeoutPhase;
use crate::{
    ChatRequest, FinishReason, GatewayError, ProviderConfig, ProviderKind, RetryPolicy, Timeouts, ToolCall, Usage,
};

pub use anthropic::DEFAULT_ANTHROPIC_MAX_TOKENS;
pub(crate) use sse::UpstreamEvents;

/// What a non-streamed attempt brings back, before the gateway adds cost and timings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Completion {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) content: String,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) finish_reason: FinishReason,
    pub(crate) usage: Usage,
}

/// The two wire formats an HTTP upstream can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Chat Completions; `compatible` servers get `max_tokens` and no `developer` role.
    OpenAi { compatible: bool },
    /// Messages.
    Anthropic,
}

impl Wire {
    fn path(self) -> &'static str {
        match self {
            Wire::OpenAi { .. } => "/chat/completions",
            Wire::Anthropic => "/messages",
        }
    }

    pub(crate) fn request_body(self, model: &str, request: &ChatRequest, stream: bool) -> Value {
        match self {
            Wire::OpenAi { compatible } => openai::request_body(model, request, stream, compatible),
            Wire::Anthropic => anthropic::request_body(model, request, stream),
        }
    }

    fn parse_response(self, provider: &str, body: &Value) -> Result<Completion, GatewayError> {
        match self {
            Wire::OpenAi { .. } => openai::parse_response(provider, body),
            Wire::Anthropic => anthropic::parse_response(provider, body),
        }
    }
}

/// A configured provider, ready to make attempts.
#[derive(Debug)]
pub(crate) struct Provider {
    pub(crate) name: String,
    pub(crate) kind: ProviderKind,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeouts: Timeouts,
    pub(crate) breaker: Arc<CircuitBreaker>,
    /// Attempts made after a failed one on the same target, since start.
    pub(crate) retries: std::sync::atomic::AtomicU64,
    transport: Transport,
}

#[derive(Debug)]
enum Transport {
    Http(http::HttpUpstream),
    Mock,
}

impl Provider {
    /// Checks the configuration, reads the API key and builds the pooled HTTP client.
    pub(crate) fn build(name: &str, config: &ProviderConfig) -> Result<Self, GatewayError> {
        let invalid = |message: String| GatewayError::Config { message: format!("provider `{name}`: {message}") };
        if config.retry.max_attempts == 0 {
            return Err(invalid("retry.max_attempts must be at least 1".into()));
        }
        let timeouts = config.timeouts;
        if timeouts.connect_ms == 0 || timeouts.first_byte_ms == 0 || timeouts.total_ms == 0 {
            return Err(invalid("timeouts must be positive".into()));
        }
        if config.pool.idle_timeout_ms < 1_000 || config.pool.max_idle > 10_000 {
            return Err(invalid("pool.idle_timeout_ms must be at least 1000 and pool.max_idle at most 10000".into()));
        }
        let transport = match config.kind {
            ProviderKind::Mock => Transport::Mock,
            ProviderKind::Openai => {
                Transport::Http(http::HttpUpstream::build(name, config, Wire::OpenAi { compatible: false })?)
            }
            ProviderKind::OpenaiCompatible => {
                Transport::Http(http::HttpUpstream::build(name, config, Wire::OpenAi { compatible: true })?)
            }
            ProviderKind::Anthropic => Transport::Http(http::HttpUpstream::build(name, config, Wire::Anthropic)?),
        };
        Ok(Self {
            name: name.to_owned(),
            kind: config.kind,
            retry: config.retry,
            timeouts,
            breaker: Arc::new(CircuitBreaker::new(name, config.breaker)),
            retries: std::sync::atomic::AtomicU64::new(0),
            transport,
        })
    }

    /// One non-streamed attempt.
    pub(crate) async fn complete(
        &self,
        model: &str,
        request: &ChatRequest,
        deadlines: &Deadlines,
    ) -> Result<Completion, GatewayError> {
        match &self.transport {
            Transport::Mock => Ok(mock::complete(model, request)),
            Transport::Http(upstream) => {
                let body = upstream.wire.request_body(model, request, false);
                let json = upstream.post_json(&self.name, &body, request.traceparent.as_deref(), deadlines).await?;
                upstream.wire.parse_response(&self.name, &json)
            }
        }
    }

    /// Opens a streamed attempt (the first event is not awaited here).
    pub(crate) async fn open_stream(
        &self,
        model: &str,
        request: &ChatRequest,
        deadlines: &Deadlines,
    ) -> Result<UpstreamEvents, GatewayError> {
        match &self.transport {
            Transport::Mock => Ok(UpstreamEvents::fixed(mock::stream_events(&self.name, model, request))),
            Transport::Http(upstream) => {
                let body = upstream.wire.request_body(model, request, true);
                let response = upstream.post(&self.name, &body, request.traceparent.as_deref(), deadlines).await?;
                Ok(UpstreamEvents::sse(&self.name, upstream.wire, response))
            }
        }
    }
}

/// When one attempt must have its first byte and its end, given the provider's timeouts and the
/// caller's deadline; and which error to report when one of them passes.
#[derive(Debug, Clone)]
pub(crate) struct Deadlines {
    provider: String,
    first_byte: Instant,
    attempt_end: Instant,
    request: Option<Instant>,
    timeouts: Timeouts,
}

impl Deadlines {
    pub(crate) fn new(provider: &str, timeouts: Timeouts, request: Option<Instant>, now: Instant) -> Self {
        Self {
            provider: provider.to_owned(),
            first_byte: now + Duration::from_millis(timeouts.first_byte_ms),
            attempt_end: now + Duration::from_millis(timeouts.total_ms),
            request,
            timeouts,
        }
    }

    /// The first byte (response headers; a stream's first event) is due then.
    pub(crate) fn first_byte_at(&self) -> Instant {
        self.end_at().min(self.first_byte)
    }

    /// The attempt must be over then.
    pub(crate) fn end_at(&self) -> Instant {
        self.request.map_or(self.attempt_end, |request| request.min(self.attempt_end))
    }

    /// The error for a missed first byte.
    pub(crate) fn first_byte_error(&self) -> GatewayError {
        if self.first_byte < self.end_at() {
            self.timeout(TimeoutPhase::FirstByte, self.timeouts.first_byte_ms)
        } else {
            self.end_error()
        }
    }

    /// The error for a missed end.
    pub(crate) fn end_error(&self) -> GatewayError {
        match self.request {
            Some(request) if request <= self.attempt_end => {
                GatewayError::DeadlineExceeded { provider: Some(self.provider.clone()) }
            }
            _ => self.timeout(TimeoutPhase::Total, self.timeouts.total_ms),
        }
    }

    pub(crate) fn connect_error(&self) -> GatewayError {
        self.timeout(TimeoutPhase::Connect, self.timeouts.connect_ms)
    }

    fn timeout(&self, phase: TimeoutPhase, limit_ms: u64) -> GatewayError {
        GatewayError::Timeout { provider: self.provider.clone(), phase, limit_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_pick_the_binding_limit() {
        let now = Instant::now();
        let timeouts = Timeouts { connect_ms: 10, first_byte_ms: 100, total_ms: 1_000 };
        let plain = Deadlines::new("p", timeouts, None, now);
        assert_eq!(plain.first_byte_at(), now + Duration::from_millis(100));
        assert_eq!(plain.first_byte_error().code(), "upstream_timeout");
        assert!(matches!(plain.end_error(), GatewayError::Timeout { phase: TimeoutPhase::Total, .. }));

        let tight = Deadlines::new("p", timeouts, Some(now + Duration::from_millis(50)), now);
        assert_eq!(tight.first_byte_at(), now + Duration::from_millis(50));
        assert_eq!(tight.first_byte_error().code(), "deadline_exceeded");
        assert_eq!(tight.end_error().code(), "deadline_exceeded");

        let loose = Deadlines::new("p", timeouts, Some(now + Duration::from_secs(60)), now);
        assert_eq!(loose.end_at(), now + Duration::from_millis(1_000));
        assert_eq!(loose.end_error().code(), "upstream_timeout");
        assert!(matches!(loose.connect_error(), GatewayError::Timeout { phase: TimeoutPhase::Connect, .. }));
    }
}
