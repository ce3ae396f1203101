//! Parsing a Messages stream: `message_start` (id, model, input usage), content blocks (text and
//! `tool_use` with `input_json_delta`), `message_delta` (stop reason, output usage), `message_stop`,
//! `ping` and in-stream `error` events.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::anthropic::parse_usage;
use super::sse::{bad_stream, in_stream_error};
use crate::{FinishReason, GatewayError, StreamEvent, Usage};

/// The state of one Messages stream.
#[derive(Debug)]
pub(crate) struct AnthropicStreamParser {
    provider: String,
    started: bool,
    /// Usage fields as Anthropic reports them, later events overriding earlier ones.
    usage: Map<String, Value>,
    stop_reason: Option<FinishReason>,
    /// Content block index → tool call index.
    tool_blocks: HashMap<u64, usize>,
    done: bool,
}

impl AnthropicStreamParser {
    pub(crate) fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            started: false,
            usage: Map::new(),
            stop_reason: None,
            tool_blocks: HashMap::new(),
            done: false,
        }
    }

    /// The events one SSE event yields.
    pub(crate) fn feed(&mut self, event: &str, data: &str) -> Result<Vec<StreamEvent>, GatewayError> {
        if self.done {
            return Ok(Vec::new());
        }
        let json: Value = serde_json::from_str(data)
            .map_err(|error| bad_stream(&self.provider, &format!("an event is not JSON ({error})")))?;
        let kind = json.get("type").and_then(Value::as_str).unwrap_or(event);
        let mut events = Vec::new();
        match kind {
            "message_start" => {
                let message = json
                    .get("message")
                    .ok_or_else(|| bad_stream(&self.provider, "`message_start` without a message"))?;
                self.merge_usage(message.get("usage"));
                self.started = true;
                let usage = message.get("usage").map(|usage| parse_usage(Some(usage))).unwrap_or_default();
                let usage = Usage { output_tokens: None, ..usage };
                events.push(StreamEvent::Start {
                    id: text(message, "id"),
                    provider: self.provider.clone(),
                    model: text(message, "model"),
                    usage,
                });
            }
            "content_block_start" => {
                self.require_start()?;
                let block = json.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(text) = block.get("text").and_then(Value::as_str).filter(|text| !text.is_empty()) {
                            events.push(StreamEvent::TextDelta(text.to_owned()));
                        }
                    }
                    Some("tool_use") => {
                        let index = self.tool_blocks.len();
                        self.tool_blocks.insert(block_index(&json), index);
                        let input = block.get("input").filter(|input| input.as_object().is_some_and(|o| !o.is_empty()));
                        events.push(StreamEvent::ToolCallDelta {
                            index,
                            id: Some(text(block, "id")),
                            name: Some(text(block, "name")),
                            arguments: input.map(Value::to_string).unwrap_or_default(),
                        });
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                self.require_start()?;
                let delta = json.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(text) = delta.get("text").and_then(Value::as_str).filter(|text| !text.is_empty()) {
                            events.push(StreamEvent::TextDelta(text.to_owned()));
                        }
                    }
                    Some("input_json_delta") => {
                        let index = self.tool_blocks.get(&block_index(&json)).copied().ok_or_else(|| {
                            bad_stream(&self.provider, "`input_json_delta` for a block that is not a tool_use")
                        })?;
                        let partial = delta.get("partial_json").and_then(Value::as_str).unwrap_or_default();
                        if !partial.is_empty() {
                            events.push(StreamEvent::ToolCallDelta {
                                index,
                                id: None,
                                name: None,
                                arguments: partial.to_owned(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) =
                    json.get("delta").and_then(|delta| delta.get("stop_reason")).and_then(Value::as_str)
                {
                    self.stop_reason = Some(FinishReason::from_anthropic(reason));
                }
                self.merge_usage(json.get("usage"));
            }
            "message_stop" => {
                self.require_start()?;
                self.done = true;
                events.push(StreamEvent::Finish {
                    finish_reason: self.stop_reason.take().unwrap_or(FinishReason::Other("unknown".into())),
                    usage: parse_usage(Some(&Value::Object(std::mem::take(&mut self.usage)))),
                    cost_usd: None,
                    upstream_latency: std::time::Duration::ZERO,
                    ttft: None,
                });
            }
            "error" => {
                let error = json.get("error").unwrap_or(&Value::Null);
                let kind = error.get("type").and_then(Value::as_str).unwrap_or_default();
                let message = error.get("message").and_then(Value::as_str).unwrap_or("error event without a message");
                return Err(in_stream_error(&self.provider, kind, message));
            }
            _ => {}
        }
        Ok(events)
    }

    /// Called when the body ends: before `message_stop` that is a broken stream.
    pub(crate) fn end(&mut self) -> Result<Vec<StreamEvent>, GatewayError> {
        if self.done {
            return Ok(Vec::new());
        }
        Err(GatewayError::Unavailable {
            provider: self.provider.clone(),
            status: None,
            message: "the stream ended before `message_stop`".into(),
        })
    }

    fn require_start(&self) -> Result<(), GatewayError> {
        if self.started { Ok(()) } else { Err(bad_stream(&self.provider, "an event came before `message_start`")) }
    }

    fn merge_usage(&mut self, usage: Option<&Value>) {
        if let Some(usage) = usage.and_then(Value::as_object) {
            for (key, value) in usage {
                if !value.is_null() {
                    self.usage.insert(key.clone(), value.clone());
                }
            }
        }
    }
}

fn block_index(json: &Value) -> u64 {
    json.get("index").and_then(Value::as_u64).unwrap_or(0)
}

fn text(object: &Value, key: &str) -> String {
    object.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Usage;

    fn feed(parser: &mut AnthropicStreamParser, event: Value) -> Vec<StreamEvent> {
        let name = event["type"].as_str().unwrap().to_owned();
        parser.feed(&name, &event.to_string()).unwrap()
    }

    #[test]
    fn text_then_tool_use_with_usage_from_start_and_delta() {
        let mut parser = AnthropicStreamParser::new("anthropic");
        let mut events = Vec::new();
        for event in [
            json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-haiku-4-5", "content": [],
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me check."}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Rome\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ] {
            events.extend(feed(&mut parser, event));
        }
        assert_eq!(
            events,
            [
                StreamEvent::Start {
                    id: "msg_1".into(),
                    provider: "anthropic".into(),
                    model: "claude-haiku-4-5".into(),
                    usage: Usage { input_tokens: Some(30), output_tokens: None, cached_input_tokens: Some(20) },
                },
                StreamEvent::TextDelta("Let me check.".into()),
                StreamEvent::ToolCallDelta {
                    index: 0,
                    id: Some("toolu_1".into()),
                    name: Some("get".into()),
                    arguments: "".into()
                },
                StreamEvent::ToolCallDelta { index: 0, id: None, name: None, arguments: "{\"city\":".into() },
                StreamEvent::ToolCallDelta { index: 0, id: None, name: None, arguments: "\"Rome\"}".into() },
                StreamEvent::Finish {
                    finish_reason: FinishReason::ToolCalls,
                    usage: Usage { input_tokens: Some(30), output_tokens: Some(9), cached_input_tokens: Some(20) },
                    cost_usd: None,
                    upstream_latency: std::time::Duration::ZERO,
                    ttft: None,
                },
            ]
        );
        assert!(parser.end().unwrap().is_empty());
    }

    #[test]
    fn errors_and_truncation() {
        let mut parser = AnthropicStreamParser::new("anthropic");
        feed(&mut parser, json!({"type": "message_start", "message": {"id": "m", "model": "c"}}));
        let error = parser
            .feed("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
            .unwrap_err();
        assert_eq!(error.upstream_status(), Some(529));
        assert_eq!(error.kind(), opm_core::ErrorKind::Unavailable);
        assert_eq!(parser.end().unwrap_err().code(), "upstream_unavailable");
        let mut parser = AnthropicStreamParser::new("anthropic");
        assert_eq!(parser.feed("content_block_delta", "{\"type\":").unwrap_err().code(), "upstream_bad_response");
        let mut parser = AnthropicStreamParser::new("anthropic");
        let early = parser.feed("message_stop", r#"{"type":"message_stop"}"#).unwrap_err();
        assert_eq!(early.code(), "upstream_bad_response");
    }
}
