//! SERVER spans for incoming HTTP requests: [`Telemetry::server_span`] continues a W3C
//! `traceparent` when the caller sent one, and [`RequestSpan`] carries the span's context to the
//! handlers (through request extensions) until the response status is known.

use http::HeaderMap;
use opentelemetry::KeyValue;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};

use opentelemetry_sdk::propagation::TraceContextPropagator;

use crate::genai;
use crate::{Telemetry, TraceContext};

/// The span of one HTTP request. Ends at [`RequestSpan::finish`], or when dropped (a request the
/// client abandoned) without a status.
#[derive(Debug, Default)]
pub struct RequestSpan {
    /// `None` when tracing is off, and after the span ended.
    context: Option<TraceContext>,
}

impl Telemetry {
    /// Starts the SERVER span of a request: named `"{method} {route}"` (just `"{method}"` when
    /// `route` is empty: no route matched), a child of the `traceparent` in `headers` when there is
    /// a valid one, else the root of a new trace. Add `url.path` with [`RequestSpan::set_url_path`].
    pub fn server_span(&self, method: &str, route: &str, headers: &HeaderMap) -> RequestSpan {
        let Some(tracer) = self.inner.as_deref().and_then(|inner| inner.tracer.as_ref()) else {
            return RequestSpan::default();
        };
        let parent =
            TraceContextPropagator::new().extract_with_context(&TraceContext::new(), &HeaderExtractor(headers));
        let method = known_method(method);
        let mut attributes = Vec::with_capacity(2);
        attributes.push(KeyValue::new(genai::HTTP_REQUEST_METHOD, method));
        let name = if route.is_empty() {
            method.to_owned()
        } else {
            attributes.push(KeyValue::new(genai::HTTP_ROUTE, route.to_owned()));
            format!("{method} {route}")
        };
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent);
        RequestSpan { context: Some(parent.with_span(span)) }
    }
}

impl RequestSpan {
    /// A span that records nothing (what a disabled [`Telemetry`] returns).
    pub fn disabled() -> RequestSpan {
        RequestSpan::default()
    }

    /// Whether this span is recorded.
    pub fn is_recording(&self) -> bool {
        self.context.as_ref().is_some_and(|context| context.span().is_recording())
    }

    /// Sets `url.path`: the request's path, without the query string (it may hold secrets).
    pub fn set_url_path(&self, path: &str) {
        if let Some(context) = &self.context {
            context.span().set_attribute(KeyValue::new(genai::URL_PATH, path.to_owned()));
        }
    }

    /// The span's context, to put in request extensions and pass to
    /// [`Telemetry::model_span`] as the parent. Empty when tracing is off.
    pub fn context(&self) -> TraceContext {
        self.context.clone().unwrap_or_default()
    }

    /// The trace id as 32 hex digits (for logs and a response header); `None` when tracing is off.
    pub fn trace_id(&self) -> Option<String> {
        trace_id(self.context.as_ref()?)
    }

    /// Ends the span with the response status: `http.response.status_code`, and for 5xx an
    /// error status with `error.type` set to the code.
    pub fn finish(mut self, status: u16) {
        let Some(context) = self.context.take() else { return };
        let span = context.span();
        span.set_attribute(KeyValue::new(genai::HTTP_RESPONSE_STATUS_CODE, i64::from(status)));
        if status >= 500 {
            span.set_attribute(KeyValue::new(genai::ERROR_TYPE, status.to_string()));
            span.set_status(Status::error(""));
        }
        span.end();
    }
}

impl Drop for RequestSpan {
    fn drop(&mut self) {
        if let Some(context) = self.context.take() {
            context.span().end();
        }
    }
}

/// The trace id of the span in `context`, when it is valid.
pub(crate) fn trace_id(context: &TraceContext) -> Option<String> {
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| format!("{:032x}", span_context.trace_id()))
}

/// The method as the HTTP conventions want it: a known method, else `_OTHER` (bounded cardinality).
fn known_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "_OTHER",
    }
}

/// Reads propagation headers from an `http::HeaderMap`.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_other() {
        assert_eq!(known_method("POST"), "POST");
        assert_eq!(known_method("post"), "_OTHER");
        assert_eq!(known_method("BREW"), "_OTHER");
    }

    #[test]
    fn disabled_span_records_nothing_and_has_no_trace_id() {
        let span = Telemetry::disabled().server_span("GET", "/healthz", &HeaderMap::new());
        span.set_url_path("/healthz");
        assert!(!span.is_recording());
        assert_eq!(span.trace_id(), None);
        assert!(!span.context().has_active_span());
        span.finish(200);
    }
}
