//! An upstream's stream as provider-neutral events: SSE framing (eventsource-stream) over the HTTP
//! body, fed to the wire format's parser; or a fixed list of events (the built-in mock).

use std::collections::VecDeque;
use std::pin::Pin;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{FutureExt, Stream, StreamExt};

use super::anthropic_stream::AnthropicStreamParser;
use super::openai_stream::OpenAiStreamParser;
use super::{Wire, http};
use crate::{GatewayError, StreamEvent};

type SseStream = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// How many already-arrived frames are read after the end event so the connection can go back to the pool.
const DRAIN_POLLS: usize = 4;

#[derive(Debug)]
enum Parser {
    OpenAi(OpenAiStreamParser),
    Anthropic(AnthropicStreamParser),
}

impl Parser {
    fn feed(&mut self, event: &Event) -> Result<Vec<StreamEvent>, GatewayError> {
        match self {
            Parser::OpenAi(parser) => parser.feed(&event.data),
            Parser::Anthropic(parser) => parser.feed(&event.event, &event.data),
        }
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, GatewayError> {
        match self {
            Parser::OpenAi(parser) => parser.end(),
            Parser::Anthropic(parser) => parser.end(),
        }
    }
}

enum Source {
    Sse { provider: String, stream: SseStream, parser: Parser },
    Fixed,
}

/// The events of one upstream stream, ending with `Finish` or an error (never silently).
pub(crate) struct UpstreamEvents {
    source: Source,
    pending: VecDeque<StreamEvent>,
    finished: bool,
}

impl std::fmt::Debug for UpstreamEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamEvents")
            .field("pending", &self.pending.len())
            .field("finished", &self.finished)
            .finish()
    }
}

impl UpstreamEvents {
    /// Events parsed from an SSE response body.
    pub(crate) fn sse(provider: &str, wire: Wire, response: reqwest::Response) -> Self {
        let parser = match wire {
            Wire::OpenAi { .. } => Parser::OpenAi(OpenAiStreamParser::new(provider)),
            Wire::Anthropic => Parser::Anthropic(AnthropicStreamParser::new(provider)),
        };
        let stream: SseStream = Box::pin(response.bytes_stream().eventsource());
        Self {
            source: Source::Sse { provider: provider.to_owned(), stream, parser },
            pending: VecDeque::new(),
            finished: false,
        }
    }

    /// A stream of known events (they must end with `Finish`).
    pub(crate) fn fixed(events: Vec<StreamEvent>) -> Self {
        Self { source: Source::Fixed, pending: events.into(), finished: false }
    }

    /// The next event; `None` only after `Finish` or an error.
    pub(crate) async fn next(&mut self) -> Option<Result<StreamEvent, GatewayError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if matches!(event, StreamEvent::Finish { .. }) {
                    self.close();
                }
                return Some(Ok(event));
            }
            if self.finished {
                return None;
            }
            let Source::Sse { provider, stream, parser } = &mut self.source else {
                self.finished = true;
                return None;
            };
            let result = match stream.next().await {
                Some(Ok(event)) => parser.feed(&event),
                Some(Err(error)) => Err(sse_error(provider, error)),
                None => parser.end(),
            };
            match result {
                Ok(events) => self.pending.extend(events),
                Err(error) => {
                    self.close();
                    return Some(Err(error));
                }
            }
        }
    }

    /// Stops reading: drains what already arrived (so a finished body frees its connection for
    /// reuse) and drops the body, which closes the connection if more was coming.
    fn close(&mut self) {
        self.finished = true;
        if let Source::Sse { stream, .. } = &mut self.source {
            for _ in 0..DRAIN_POLLS {
                match stream.next().now_or_never() {
                    Some(Some(_)) => {}
                    Some(None) | None => break,
                }
            }
        }
        self.source = Source::Fixed;
    }
}

fn sse_error(provider: &str, error: EventStreamError<reqwest::Error>) -> GatewayError {
    match error {
        EventStreamError::Transport(error) => GatewayError::Unavailable {
            provider: provider.to_owned(),
            status: None,
            message: format!("the stream broke: {}", http::error_chain(&error)),
        },
        EventStreamError::Utf8(error) => bad_stream(provider, &format!("the stream is not UTF-8 ({error})")),
        EventStreamError::Parser(error) => bad_stream(provider, &format!("the stream is not valid SSE ({error})")),
    }
}

/// A malformed stream.
pub(crate) fn bad_stream(provider: &str, message: &str) -> GatewayError {
    GatewayError::BadResponse { provider: provider.to_owned(), message: message.to_owned() }
}

/// An error event inside a stream, by its OpenAI or Anthropic error type.
pub(crate) fn in_stream_error(provider: &str, kind: &str, message: &str) -> GatewayError {
    let provider = provider.to_owned();
    let message = format!("error in the stream: {message}");
    match kind {
        "rate_limit_error" | "rate_limit_exceeded" | "requests" | "tokens" => {
            GatewayError::RateLimited { provider, status: 429, retry_after: None, message }
        }
        "overloaded_error" => GatewayError::Unavailable { provider, status: Some(529), message },
        "invalid_request_error" => GatewayError::Upstream { provider, status: 400, message },
        _ => GatewayError::Unavailable { provider, status: None, message },
    }
}
