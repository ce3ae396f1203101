//! CLIENT spans for model calls, named `"{operation} {request model}"` and carrying the GenAI
//! semantic-convention attributes: what was asked at the start ([`ModelCallStart`]), what came back
//! at the end ([`ModelCallOutcome`]).

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Array, KeyValue, StringValue, Value};

use crate::genai;
use crate::{Telemetry, TraceContext};

/// What is known when a model call starts. Borrowed, so a disabled [`Telemetry`] costs nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelCallStart<'a> {
    /// `gen_ai.operation.name`: [`genai::OPERATION_CHAT`] for chat completions.
    pub operation: &'a str,
    /// `gen_ai.provider.name`.
    pub provider: &'a str,
    /// `gen_ai.request.model`.
    pub request_model: &'a str,
    pub prompt_name: Option<&'a str>,
    pub prompt_version: Option<u32>,
    /// `opm.prompt.label`: the label that chose the version.
    pub label: Option<&'a str>,
    /// `opm.rollout.arm`.
    pub arm: Option<&'a str>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    /// `gen_ai.request.stream`, recorded when true.
    pub stream: bool,
    /// `server.address` of the upstream (host only).
    pub server_address: Option<&'a str>,
    pub server_port: Option<u16>,
    /// `gen_ai.input.messages` as JSON; recorded only when content capture is on (see
    /// [`Telemetry::captures_content`]: do not build it otherwise), cut to [`MAX_CONTENT_BYTES`].
    pub input_messages_json: Option<&'a str>,
}

impl<'a> ModelCallStart<'a> {
    /// A chat call to `request_model` on `provider`; set the other fields with struct update syntax.
    pub fn chat(provider: &'a str, request_model: &'a str) -> ModelCallStart<'a> {
        ModelCallStart { operation: genai::OPERATION_CHAT, provider, request_model, ..ModelCallStart::default() }
    }
}

/// How a model call ended. Unknown token counts stay `None` and are not recorded (never 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelCallOutcome<'a> {
    /// `gen_ai.response.model`.
    pub response_model: Option<&'a str>,
    /// `gen_ai.response.id`.
    pub response_id: Option<&'a str>,
    /// `gen_ai.response.finish_reasons`; not recorded when empty.
    pub finish_reasons: &'a [&'a str],
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// `error.type`: the error's stable code; also sets the span's status to error.
    pub error_type: Option<&'a str>,
    /// `gen_ai.output.messages` as JSON; recorded only when content capture is on, cut to
    /// [`MAX_CONTENT_BYTES`].
    pub output_messages_json: Option<&'a str>,
    /// `opm.generation.id`: the generation record's id.
    pub generation_id: Option<&'a str>,
}

/// The span of one model call. Ends at [`ModelSpan::finish`], or when dropped (a call cancelled
/// by its caller) with what was known at the start.
#[derive(Debug, Default)]
pub struct ModelSpan {
    /// `None` when tracing is off, and after the span ended.
    context: Option<TraceContext>,
    capture_content: bool,
}

impl Telemetry {
    /// Starts the CLIENT span of a model call, a child of `parent` (the request's
    /// [`crate::RequestSpan::context`]), or the root of a new trace when `parent` is `None`.
    pub fn model_span(&self, parent: Option<&TraceContext>, start: &ModelCallStart<'_>) -> ModelSpan {
        let Some(inner) = self.inner.as_deref() else { return ModelSpan::default() };
        let Some(tracer) = inner.tracer.as_ref() else { return ModelSpan::default() };
        let name = if start.request_model.is_empty() {
            start.operation.to_owned()
        } else {
            format!("{} {}", start.operation, start.request_model)
        };
        let mut attributes = Vec::with_capacity(12);
        attributes.push(KeyValue::new(genai::OPERATION_NAME, start.operation.to_owned()));
        attributes.push(KeyValue::new(genai::PROVIDER_NAME, start.provider.to_owned()));
        if !start.request_model.is_empty() {
            attributes.push(KeyValue::new(genai::REQUEST_MODEL, start.request_model.to_owned()));
        }
        push_str(&mut attributes, genai::PROMPT_NAME, start.prompt_name);
        if let Some(version) = start.prompt_version {
            attributes.push(KeyValue::new(genai::PROMPT_VERSION, version.to_string()));
        }
        push_str(&mut attributes, genai::OPM_PROMPT_LABEL, start.label);
        push_str(&mut attributes, genai::OPM_ROLLOUT_ARM, start.arm);
        if let Some(temperature) = start.temperature {
            attributes.push(KeyValue::new(genai::REQUEST_TEMPERATURE, temperature));
        }
        if let Some(max_tokens) = start.max_tokens {
            attributes.push(KeyValue::new(genai::REQUEST_MAX_TOKENS, count(max_tokens)));
        }
        if start.stream {
            attributes.push(KeyValue::new(genai::REQUEST_STREAM, true));
        }
        push_str(&mut attributes, genai::SERVER_ADDRESS, start.server_address);
        if let Some(port) = start.server_port {
            attributes.push(KeyValue::new(genai::SERVER_PORT, i64::from(port)));
        }
        if inner.capture_content {
            push_content(&mut attributes, genai::INPUT_MESSAGES, start.input_messages_json);
        }
        let parent = parent.cloned().unwrap_or_default();
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent);
        ModelSpan { context: Some(parent.with_span(span)), capture_content: inner.capture_content }
    }
}

impl ModelSpan {
    /// A span that records nothing.
    pub fn disabled() -> ModelSpan {
        ModelSpan::default()
    }

    /// Whether this span is recorded.
    pub fn is_recording(&self) -> bool {
        self.context.as_ref().is_some_and(|context| context.span().is_recording())
    }

    /// The span's context (a parent for further spans). Empty when tracing is off.
    pub fn context(&self) -> TraceContext {
        self.context.clone().unwrap_or_default()
    }

    /// The trace id as 32 hex digits; `None` when tracing is off.
    pub fn trace_id(&self) -> Option<String> {
        crate::server::trace_id(self.context.as_ref()?)
    }

    /// The W3C `traceparent` header value naming this span as the parent
    /// (`00-{trace id}-{span id}-{flags}`), to send with the upstream request; `None` when
    /// tracing is off.
    pub fn traceparent(&self) -> Option<String> {
        let context = self.context.as_ref()?;
        let span = context.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| {
            format!(
                "00-{:032x}-{:016x}-{:02x}",
                span_context.trace_id(),
                span_context.span_id(),
                span_context.trace_flags().to_u8()
            )
        })
    }

    /// Ends the span with the call's outcome.
    pub fn finish(mut self, outcome: &ModelCallOutcome<'_>) {
        let Some(context) = self.context.take() else { return };
        let span = context.span();
        let mut attributes = Vec::with_capacity(8);
        push_str(&mut attributes, genai::RESPONSE_MODEL, outcome.response_model);
        push_str(&mut attributes, genai::RESPONSE_ID, outcome.response_id);
        if !outcome.finish_reasons.is_empty() {
            let reasons: Vec<StringValue> =
                outcome.finish_reasons.iter().map(|reason| StringValue::from((*reason).to_owned())).collect();
            attributes.push(KeyValue::new(genai::RESPONSE_FINISH_REASONS, Value::Array(Array::String(reasons))));
        }
        if let Some(tokens) = outcome.input_tokens {
            attributes.push(KeyValue::new(genai::USAGE_INPUT_TOKENS, count(tokens)));
        }
        if let Some(tokens) = outcome.output_tokens {
            attributes.push(KeyValue::new(genai::USAGE_OUTPUT_TOKENS, count(tokens)));
        }
        push_str(&mut attributes, genai::OPM_GENERATION_ID, outcome.generation_id);
        if self.capture_content {
            push_content(&mut attributes, genai::OUTPUT_MESSAGES, outcome.output_messages_json);
        }
        if let Some(error_type) = outcome.error_type {
            attributes.push(KeyValue::new(genai::ERROR_TYPE, error_type.to_owned()));
            span.set_status(Status::error(error_type.to_owned()));
        }
        span.set_attributes(attributes);
        span.end();
    }
}

impl Drop for ModelSpan {
    fn drop(&mut self) {
        if let Some(context) = self.context.take() {
            context.span().end();
        }
    }
}

/// The most bytes of message content kept on a span: a long conversation must not make span
/// batches too large to export. Longer content is cut at a character boundary (so it is no
/// longer valid JSON) and ends with `…`.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;

fn push_content(attributes: &mut Vec<KeyValue>, key: &'static str, content: Option<&str>) {
    let Some(content) = content else { return };
    if content.len() <= MAX_CONTENT_BYTES {
        attributes.push(KeyValue::new(key, content.to_owned()));
        return;
    }
    let mut end = MAX_CONTENT_BYTES;
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    attributes.push(KeyValue::new(key, format!("{}…", &content[..end])));
}

fn push_str(attributes: &mut Vec<KeyValue>, key: &'static str, value: Option<&str>) {
    if let Some(value) = value {
        attributes.push(KeyValue::new(key, value.to_owned()));
    }
}

/// A count as an OTLP integer (saturating: OTLP integers are signed).
pub(crate) fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(text: &str) -> String {
        let mut attributes = Vec::new();
        push_content(&mut attributes, genai::INPUT_MESSAGES, Some(text));
        attributes[0].value.as_str().into_owned()
    }

    #[test]
    fn content_is_kept_whole_up_to_the_limit_then_cut_at_a_char_boundary() {
        let exact = "a".repeat(MAX_CONTENT_BYTES);
        assert_eq!(content(&exact), exact);
        let long = format!("{}é and more", "a".repeat(MAX_CONTENT_BYTES - 1));
        let cut = content(&long);
        assert_eq!(cut, format!("{}…", "a".repeat(MAX_CONTENT_BYTES - 1)));
        assert_eq!(count(u64::MAX), i64::MAX);
    }
}
