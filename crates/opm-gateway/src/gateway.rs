//! The [`Gateway`]: configured providers, the retry-then-fallback loop shared by plain and streamed
//! calls, cost, and breaker states for readiness checks.

mod stream;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::breaker::BreakerState;
use crate::config::MOCK_PROVIDER;
use crate::provider::{Completion, Deadlines, Provider, UpstreamEvents};
use crate::retry::{MAX_RETRY_AFTER, backoff_delay};
use crate::{
    ChatRequest, ChatResponse, ChatStream, GatewayConfig, GatewayError, PriceTable, ProviderConfig, ProviderKind,
};

/// Calls LLM providers on behalf of the server. `Send + Sync` and cheap to share in an `Arc`; each
/// provider keeps one pooled HTTP client.
///
/// ```
/// # async fn demo() -> Result<(), opm_gateway::GatewayError> {
/// use opm_gateway::{ChatMessage, ChatRequest, Gateway, GatewayConfig, ModelTarget, PriceTable};
///
/// let gateway = Gateway::new(GatewayConfig::default(), PriceTable::builtin())?;
/// let response = gateway
///     .chat(ChatRequest {
///         targets: vec![ModelTarget::new("mock", "demo")],
///         messages: vec![ChatMessage::user("hello there")],
///         ..ChatRequest::default()
///     })
///     .await?;
/// assert_eq!(response.content, "mock reply to: hello there");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Gateway {
    providers: BTreeMap<String, Arc<Provider>>,
    prices: Arc<PriceTable>,
}

/// A target that answered: what came back and how it got there.
struct Answered<T> {
    output: T,
    provider: Arc<Provider>,
    fallback_index: usize,
    attempts: u32,
    /// Upstream time of the failed attempts before the successful one.
    upstream_before: Duration,
    /// When the successful attempt started.
    attempt_started: Instant,
    deadlines: Deadlines,
}

/// What one attempt is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Complete,
    Stream,
}

enum Output {
    Complete(Completion),
    /// The stream, its first event already read.
    Stream(crate::StreamEvent, UpstreamEvents),
}

impl Gateway {
    /// Builds every configured provider (reading API keys once) plus the always-present `mock`, and
    /// applies the configured price overrides over `prices`.
    pub fn new(config: GatewayConfig, prices: PriceTable) -> Result<Gateway, GatewayError> {
        let mut configs = config.providers;
        configs.entry(MOCK_PROVIDER.to_owned()).or_insert_with(|| ProviderConfig::new(ProviderKind::Mock));
        let mut prices = prices;
        let mut providers = BTreeMap::new();
        for (name, provider_config) in &configs {
            if name.is_empty() || name.contains('/') {
                return Err(GatewayError::Config {
                    message: format!("provider name `{name}` must be non-empty without `/`"),
                });
            }
            prices.set_provider_kind(name, provider_config.kind);
            for (model, price) in &provider_config.prices {
                prices.set_override(name, model, *price);
            }
            providers.insert(name.clone(), Arc::new(Provider::build(name, provider_config)?));
        }
        Ok(Gateway { providers, prices: Arc::new(prices) })
    }

    /// The configured providers and their kinds.
    pub fn providers(&self) -> Vec<(String, ProviderKind)> {
        self.providers.iter().map(|(name, provider)| (name.clone(), provider.kind)).collect()
    }

    /// The prices in use (the table given to [`Gateway::new`] plus configured overrides).
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Retries made so far per provider (attempts after a failed attempt on the same target),
    /// counted whether the call finally succeeded or not.
    pub fn retry_counts(&self) -> Vec<(String, u64)> {
        self.providers
            .iter()
            .map(|(name, provider)| (name.clone(), provider.retries.load(std::sync::atomic::Ordering::Relaxed)))
            .collect()
    }

    /// Each provider's circuit breaker, for readiness checks.
    pub fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        let now = Instant::now();
        self.providers.iter().map(|(name, provider)| (name.clone(), provider.breaker.state(now))).collect()
    }

    /// One answer, trying each target in order with retries, then falling back to the next.
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, GatewayError> {
        let answered = self.run(&request, Mode::Complete).await?;
        let Output::Complete(completion) = answered.output else {
            return Err(GatewayError::invalid("internal: a plain call produced a stream"));
        };
        let upstream_latency = answered.upstream_before + answered.attempt_started.elapsed();
        let requested_model = &request.targets[answered.fallback_index].model;
        let cost_usd = self.cost(&answered.provider.name, &completion.model, requested_model, &completion.usage);
        Ok(ChatResponse {
            id: completion.id,
            provider: answered.provider.name.clone(),
            model: completion.model,
            content: completion.content,
            tool_calls: completion.tool_calls,
            finish_reason: completion.finish_reason,
            usage: completion.usage,
            cost_usd,
            upstream_latency,
            attempts: answered.attempts,
            fallback_index: answered.fallback_index,
        })
    }

    /// Cost by the answered model's name, else by the requested one.
    fn cost(&self, provider: &str, answered_model: &str, requested_model: &str, usage: &crate::Usage) -> Option<f64> {
        cost(&self.prices, provider, answered_model, requested_model, usage)
    }

    /// The retry-then-fallback loop. Errors that end the call: an unknown provider, the deadline, or
    /// the last target's failure (a breaker-open error only when every remaining target was skipped).
    async fn run(&self, request: &ChatRequest, mode: Mode) -> Result<Answered<Output>, GatewayError> {
        if request.targets.is_empty() {
            return Err(GatewayError::invalid("the request has no target model"));
        }
        let providers = request
            .targets
            .iter()
            .map(|target| {
                self.providers
                    .get(&target.provider)
                    .cloned()
                    .ok_or_else(|| GatewayError::UnknownProvider { provider: target.provider.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut attempts = 0_u32;
        let mut upstream_before = Duration::ZERO;
        let mut last_error: Option<GatewayError> = None;
        for (fallback_index, (provider, target)) in providers.into_iter().zip(&request.targets).enumerate() {
            for attempt_number in 1..=provider.retry.max_attempts {
                let now = Instant::now();
                if request.deadline.is_some_and(|deadline| now >= deadline) {
                    return Err(GatewayError::DeadlineExceeded { provider: Some(provider.name.clone()) });
                }
                let Some(permit) = provider.breaker.try_acquire(now) else {
                    tracing::debug!(provider = %provider.name, "skipping a provider whose circuit breaker is open");
                    if last_error.as_ref().is_none_or(|error| matches!(error, GatewayError::BreakerOpen { .. })) {
                        last_error = Some(GatewayError::BreakerOpen { provider: provider.name.clone() });
                    }
                    break;
                };
                attempts += 1;
                if attempt_number > 1 {
                    provider.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                let deadlines = Deadlines::new(&provider.name, provider.timeouts, request.deadline, now);
                let result = attempt(&provider, &target.model, request, &deadlines, mode).await;
                match result {
                    Ok(output) => {
                        permit.finish(crate::error::BreakerOutcome::Success, Instant::now());
                        return Ok(Answered {
                            output,
                            provider,
                            fallback_index,
                            attempts,
                            upstream_before,
                            attempt_started: now,
                            deadlines,
                        });
                    }
                    Err(error) => {
                        upstream_before += now.elapsed();
                        permit.finish(error.breaker_outcome(), Instant::now());
                        tracing::warn!(
                            provider = %provider.name,
                            model = %target.model,
                            attempt = attempt_number,
                            code = error.code(),
                            error = %error,
                            "upstream attempt failed"
                        );
                        if matches!(error, GatewayError::DeadlineExceeded { .. }) {
                            return Err(error);
                        }
                        let retry = error.is_retryable() && attempt_number < provider.retry.max_attempts;
                        let delay =
                            error.retry_after().unwrap_or_else(|| backoff_delay(&provider.retry, attempt_number));
                        last_error = Some(error);
                        if !retry || delay > MAX_RETRY_AFTER {
                            break;
                        }
                        if request.deadline.is_some_and(|deadline| Instant::now() + delay >= deadline) {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| GatewayError::invalid("the request has no target model")))
    }
}

/// Cost by the answered model's name, else by the requested one.
pub(crate) fn cost(
    prices: &PriceTable,
    provider: &str,
    answered_model: &str,
    requested_model: &str,
    usage: &crate::Usage,
) -> Option<f64> {
    prices.cost(provider, answered_model, usage).or_else(|| prices.cost(provider, requested_model, usage))
}

/// One attempt at one provider. A streamed attempt succeeds only once its first event has arrived
/// within the first-byte limit, so failures before it can still be retried.
async fn attempt(
    provider: &Provider,
    model: &str,
    request: &ChatRequest,
    deadlines: &Deadlines,
    mode: Mode,
) -> Result<Output, GatewayError> {
    match mode {
        Mode::Complete => provider.complete(model, request, deadlines).await.map(Output::Complete),
        Mode::Stream => {
            let mut events = provider.open_stream(model, request, deadlines).await?;
            match tokio::time::timeout_at(deadlines.first_byte_at(), events.next()).await {
                Err(_) => Err(deadlines.first_byte_error()),
                Ok(None) => Err(GatewayError::BadResponse {
                    provider: provider.name.clone(),
                    message: "the stream ended before its first event".into(),
                }),
                Ok(Some(Err(error))) => Err(error),
                Ok(Some(Ok(first))) => Ok(Output::Stream(first, events)),
            }
        }
    }
}

impl Gateway {
    /// A streamed answer. Retries and fallbacks happen only before the first event, which this waits
    /// for: errors up to then are returned here (so the ingress can still answer with an error
    /// status); afterwards they arrive as an `Err` item of the stream.
    pub async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, GatewayError> {
        let call_started = Instant::now();
        let answered = self.run(&request, Mode::Stream).await?;
        let Output::Stream(first, events) = answered.output else {
            return Err(GatewayError::invalid("internal: a streamed call produced a plain answer"));
        };
        let requested_model = request.targets[answered.fallback_index].model.clone();
        Ok(stream::build(stream::StreamParts {
            first,
            events,
            provider: answered.provider,
            prices: Arc::clone(&self.prices),
            requested_model,
            call_started,
            attempt_started: answered.attempt_started,
            upstream_before: answered.upstream_before,
            deadlines: answered.deadlines,
            attempts: answered.attempts,
            fallback_index: answered.fallback_index,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}

    /// The server holds the gateway in an `Arc` and awaits its futures inside axum handlers.
    #[test]
    fn gateway_and_its_futures_are_send() {
        let gateway = Gateway::new(GatewayConfig::default(), PriceTable::default()).unwrap();
        assert_send_sync(&gateway);
        assert_send(&gateway.chat(ChatRequest::default()));
        assert_send(&gateway.chat_stream(ChatRequest::default()));
        fn stream_bounds<S: futures::Stream + Send + Unpin>() {}
        stream_bounds::<ChatStream>();
    }
}
