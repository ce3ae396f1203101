//! Rendering a completion as a `message` object or as Anthropic's stream of named events.

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::fault::Fault;
use crate::stream::{event_frame, json_response, shape_frames, sse_response};
use crate::text::{Completion, Output, stream_pieces};

/// One answer, with the ids it is sent under.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) id: String,
    pub(crate) tool_use_id: String,
    pub(crate) model: String,
    pub(crate) completion: Completion,
    pub(crate) request_id: String,
}

impl Reply {
    /// The non-streamed `message` response.
    pub(crate) fn json(&self, fault: &Fault) -> Response {
        let block = match &self.completion.output {
            Output::Text { text, .. } => json!({ "type": "text", "text": text }),
            Output::ToolCall { name, arguments } => {
                let input: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
                json!({ "type": "tool_use", "id": self.tool_use_id, "name": name, "input": input })
            }
        };
        let mut body = self.message(vec![block], Some(self.stop_reason()));
        if !fault.no_usage {
            body["usage"] = self.usage(self.completion.output_tokens);
        }
        json_response(&body, fault, &self.headers())
    }

    /// The streamed response: `message_start`, `content_block_start`, `ping`, `content_block_delta`s word
    /// by word, `content_block_stop`, `message_delta`, `message_stop`.
    pub(crate) fn stream(&self, fault: &Fault) -> Response {
        let mut start = self.message(Vec::new(), None);
        if !fault.no_usage {
            start["usage"] = self.usage(1);
        }
        let (block, deltas) = match &self.completion.output {
            Output::Text { text, .. } => (
                json!({ "type": "text", "text": "" }),
                stream_pieces(text).into_iter().map(|piece| json!({ "type": "text_delta", "text": piece })).collect(),
            ),
            Output::ToolCall { name, arguments } => (
                json!({ "type": "tool_use", "id": self.tool_use_id, "name": name, "input": {} }),
                stream_pieces(arguments)
                    .into_iter()
                    .map(|piece| json!({ "type": "input_json_delta", "partial_json": piece }))
                    .collect::<Vec<_>>(),
            ),
        };
        let mut frames = vec![
            frame("message_start", json!({ "type": "message_start", "message": start })),
            frame("content_block_start", json!({ "type": "content_block_start", "index": 0, "content_block": block })),
            frame("ping", json!({ "type": "ping" })),
        ];
        for delta in deltas {
            frames.push(frame(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 0, "delta": delta }),
            ));
        }
        frames.push(frame("content_block_stop", json!({ "type": "content_block_stop", "index": 0 })));
        let mut message_delta = json!({
            "type": "message_delta",
            "delta": { "stop_reason": self.stop_reason(), "stop_sequence": null },
        });
        if !fault.no_usage {
            message_delta["usage"] = json!({ "output_tokens": self.completion.output_tokens });
        }
        frames.push(frame("message_delta", message_delta));
        frames.push(frame("message_stop", json!({ "type": "message_stop" })));
        let malformed = event_frame(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"#,
        );
        let error = Failure::new(StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE), "Overloaded");
        let error = event_frame("error", &error.anthropic_body().to_string());
        sse_response(shape_frames(frames, fault, 3, malformed, error), fault, &self.headers())
    }

    fn message(&self, content: Vec<Value>, stop_reason: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": null,
        })
    }

    fn stop_reason(&self) -> &'static str {
        match &self.completion.output {
            Output::ToolCall { .. } => "tool_use",
            Output::Text { truncated: true, .. } => "max_tokens",
            Output::Text { truncated: false, .. } => "end_turn",
        }
    }

    /// Anthropic's usage: `input_tokens` excludes the cached ones, reported as `cache_read_input_tokens`.
    fn usage(&self, output_tokens: u64) -> Value {
        let completion = &self.completion;
        json!({
            "input_tokens": completion.input_tokens - completion.cached_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": completion.cached_tokens,
            "output_tokens": output_tokens,
        })
    }

    fn headers(&self) -> [(&'static str, String); 1] {
        [("request-id", self.request_id.clone())]
    }
}

fn frame(event: &str, data: Value) -> Bytes {
    event_frame(event, &data.to_string())
}
