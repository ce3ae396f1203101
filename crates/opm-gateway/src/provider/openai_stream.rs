//! Parsing a Chat Completions stream: chunks with content and tool-call deltas, the finish chunk, the
//! usage chunk (asked for with `stream_options.include_usage`), then `[DONE]`.

use serde_json::Value;

use super::openai::parse_usage;
use super::sse::{bad_stream, in_stream_error};
use crate::{FinishReason, GatewayError, StreamEvent, Usage};

/// The state of one Chat Completions stream.
#[derive(Debug)]
pub(crate) struct OpenAiStreamParser {
    provider: String,
    started: bool,
    finish_reason: Option<FinishReason>,
    usage: Usage,
    done: bool,
}

impl OpenAiStreamParser {
    pub(crate) fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            started: false,
            finish_reason: None,
            usage: Usage::default(),
            done: false,
        }
    }

    /// The events one SSE `data:` payload yields.
    pub(crate) fn feed(&mut self, data: &str) -> Result<Vec<StreamEvent>, GatewayError> {
        if self.done {
            return Ok(Vec::new());
        }
        if data.trim() == "[DONE]" {
            return self.finish();
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|error| bad_stream(&self.provider, &format!("a chunk is not JSON ({error})")))?;
        if let Some(error) = chunk.get("error").filter(|error| !error.is_null()) {
            let kind = error.get("type").or_else(|| error.get("code")).and_then(Value::as_str).unwrap_or_default();
            let message = error.get("message").and_then(Value::as_str).unwrap_or("error event without a message");
            return Err(in_stream_error(&self.provider, kind, message));
        }
        let mut events = Vec::new();
        if !self.started {
            self.started = true;
            events.push(StreamEvent::Start {
                id: text(&chunk, "id"),
                provider: self.provider.clone(),
                model: text(&chunk, "model"),
                usage: Usage::default(),
            });
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| usage.is_object()) {
            self.usage = parse_usage(Some(usage));
        }
        let choices = chunk.get("choices").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for choice in choices.iter().filter(|choice| choice.get("index").and_then(Value::as_u64).unwrap_or(0) == 0) {
            if let Some(delta) = choice.get("delta") {
                self.read_delta(delta, &mut events)?;
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(FinishReason::from_openai(reason));
            }
        }
        Ok(events)
    }

    fn read_delta(&self, delta: &Value, events: &mut Vec<StreamEvent>) -> Result<(), GatewayError> {
        if let Some(content) = delta.get("content").and_then(Value::as_str).filter(|content| !content.is_empty()) {
            events.push(StreamEvent::TextDelta(content.to_owned()));
        }
        let calls = delta.get("tool_calls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (position, call) in calls.iter().enumerate() {
            let index = match call.get("index") {
                None => position,
                Some(index) => index
                    .as_u64()
                    .and_then(|index| usize::try_from(index).ok())
                    .ok_or_else(|| bad_stream(&self.provider, "a tool-call delta has a bad `index`"))?,
            };
            let function = call.get("function");
            events.push(StreamEvent::ToolCallDelta {
                index,
                id: call.get("id").and_then(Value::as_str).map(str::to_owned),
                name: function.and_then(|function| function.get("name")).and_then(Value::as_str).map(str::to_owned),
                arguments: function
                    .and_then(|function| function.get("arguments"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// Called when the body ends: lenient with servers that omit `[DONE]` after a finish chunk.
    pub(crate) fn end(&mut self) -> Result<Vec<StreamEvent>, GatewayError> {
        if self.done {
            return Ok(Vec::new());
        }
        if self.started && self.finish_reason.is_some() {
            return self.finish();
        }
        Err(GatewayError::Unavailable {
            provider: self.provider.clone(),
            status: None,
            message: "the stream ended before its finish chunk".into(),
        })
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, GatewayError> {
        if !self.started {
            return Err(bad_stream(&self.provider, "the stream ended without any chunk"));
        }
        self.done = true;
        Ok(vec![StreamEvent::Finish {
            finish_reason: self.finish_reason.take().unwrap_or(FinishReason::Other("unknown".into())),
            usage: self.usage,
            cost_usd: None,
            upstream_latency: std::time::Duration::ZERO,
            ttft: None,
        }])
    }
}

fn text(chunk: &Value, key: &str) -> String {
    chunk.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn feed_all(parser: &mut OpenAiStreamParser, chunks: &[Value]) -> Vec<StreamEvent> {
        chunks.iter().flat_map(|chunk| parser.feed(&chunk.to_string()).unwrap()).collect()
    }

    #[test]
    fn text_tool_calls_finish_and_usage() {
        let mut parser = OpenAiStreamParser::new("openai");
        let chunk = |delta: Value, finish: Value| json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        let mut events = feed_all(
            &mut parser,
            &[
                chunk(json!({"role": "assistant", "content": ""}), Value::Null),
                chunk(json!({"content": "Hi"}), Value::Null),
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get", "arguments": ""}}]}),
                    Value::Null,
                ),
                chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}), Value::Null),
                chunk(json!({}), json!("tool_calls")),
                json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2,
                    "prompt_tokens_details": {"cached_tokens": 1}}}),
            ],
        );
        events.extend(parser.feed("[DONE]").unwrap());
        assert_eq!(
            events,
            [
                StreamEvent::Start {
                    id: "c1".into(),
                    provider: "openai".into(),
                    model: "gpt-4o".into(),
                    usage: Usage::default()
                },
                StreamEvent::TextDelta("Hi".into()),
                StreamEvent::ToolCallDelta {
                    index: 0,
                    id: Some("call_1".into()),
                    name: Some("get".into()),
                    arguments: "".into()
                },
                StreamEvent::ToolCallDelta { index: 0, id: None, name: None, arguments: "{}".into() },
                StreamEvent::Finish {
                    finish_reason: FinishReason::ToolCalls,
                    usage: Usage { input_tokens: Some(5), output_tokens: Some(2), cached_input_tokens: Some(1) },
                    cost_usd: None,
                    upstream_latency: std::time::Duration::ZERO,
                    ttft: None,
                },
            ]
        );
        assert!(parser.end().unwrap().is_empty());
    }

    #[test]
    fn failures_are_errors_not_truncations() {
        let mut parser = OpenAiStreamParser::new("local");
        assert_eq!(parser.feed("{not json").unwrap_err().code(), "upstream_bad_response");
        let mut parser = OpenAiStreamParser::new("local");
        parser.feed(&json!({"id": "x", "choices": [{"index": 0, "delta": {"content": "a"}}]}).to_string()).unwrap();
        assert_eq!(parser.end().unwrap_err().code(), "upstream_unavailable");
        let error = parser.feed(r#"{"error": {"message": "boom", "type": "server_error"}}"#).unwrap_err();
        assert!(error.to_string().contains("boom"), "{error}");
        let mut parser = OpenAiStreamParser::new("local");
        assert!(parser.feed("[DONE]").is_err());
    }

    #[test]
    fn a_missing_done_after_a_finish_chunk_is_tolerated_and_usage_stays_unknown() {
        let mut parser = OpenAiStreamParser::new("local");
        parser
            .feed(&json!({"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string())
            .unwrap();
        let events = parser.end().unwrap();
        assert!(
            matches!(&events[..], [StreamEvent::Finish { usage, finish_reason: FinishReason::Stop, .. }] if *usage == Usage::default())
        );
    }
}
