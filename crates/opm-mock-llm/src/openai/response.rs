//! Rendering a completion as a `chat.completion` object or a stream of `chat.completion.chunk`s.

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::fault::Fault;
use crate::stream::{data_frame, json_response, shape_frames, sse_response};
use crate::text::{Completion, Output, stream_pieces};

/// One answer, with the ids and timestamp it is sent under.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) id: String,
    pub(crate) tool_call_id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) completion: Completion,
    pub(crate) request_id: String,
}

impl Reply {
    /// The non-streamed `chat.completion` response.
    pub(crate) fn json(&self, fault: &Fault) -> Response {
        let message = match &self.completion.output {
            Output::Text { text, .. } => json!({ "role": "assistant", "content": text, "refusal": null }),
            Output::ToolCall { name, arguments } => json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": self.tool_call_id,
                    "type": "function",
                    "function": { "name": name, "arguments": arguments },
                }],
                "refusal": null,
            }),
        };
        let mut body = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": self.finish_reason() }],
            "system_fingerprint": null,
        });
        if !fault.no_usage {
            body["usage"] = self.usage();
        }
        json_response(&body, fault, &self.headers())
    }

    /// The streamed response: a role chunk, content (or tool-call argument) chunks word by word, a
    /// finish chunk, the usage chunk when `include_usage`, then `[DONE]`.
    pub(crate) fn stream(&self, fault: &Fault, include_usage: bool) -> Response {
        let with_usage = include_usage && !fault.no_usage;
        let mut frames = Vec::new();
        match &self.completion.output {
            Output::Text { text, .. } => {
                frames.push(self.chunk(
                    json!({ "role": "assistant", "content": "", "refusal": null }),
                    None,
                    with_usage,
                ));
                for piece in stream_pieces(text) {
                    frames.push(self.chunk(json!({ "content": piece }), None, with_usage));
                }
            }
            Output::ToolCall { name, arguments } => {
                let call = json!({
                    "index": 0,
                    "id": self.tool_call_id,
                    "type": "function",
                    "function": { "name": name, "arguments": "" },
                });
                frames.push(self.chunk(
                    json!({ "role": "assistant", "content": null, "tool_calls": [call] }),
                    None,
                    with_usage,
                ));
                for piece in stream_pieces(arguments) {
                    let delta = json!({ "tool_calls": [{ "index": 0, "function": { "arguments": piece } }] });
                    frames.push(self.chunk(delta, None, with_usage));
                }
            }
        }
        frames.push(self.chunk(json!({}), Some(self.finish_reason()), with_usage));
        if with_usage {
            let usage_chunk = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": null,
                "choices": [],
                "usage": self.usage(),
            });
            frames.push(data_frame(&usage_chunk.to_string()));
        }
        frames.push(data_frame("[DONE]"));
        let malformed =
            data_frame(&format!(r#"{{"id":"{}","object":"chat.completion.chunk","choices":[{{"delta":"#, self.id));
        let error = Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request (injected by opm-mock-llm mid-stream).",
        );
        let error = data_frame(&error.openai_body().to_string());
        sse_response(shape_frames(frames, fault, 1, malformed, error), fault, &self.headers())
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>, with_usage: bool) -> Bytes {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason }],
        });
        if with_usage {
            chunk["usage"] = Value::Null;
        }
        data_frame(&chunk.to_string())
    }

    fn finish_reason(&self) -> &'static str {
        match &self.completion.output {
            Output::ToolCall { .. } => "tool_calls",
            Output::Text { truncated: true, .. } => "length",
            Output::Text { truncated: false, .. } => "stop",
        }
    }

    fn usage(&self) -> Value {
        let completion = &self.completion;
        json!({
            "prompt_tokens": completion.input_tokens,
            "completion_tokens": completion.output_tokens,
            "total_tokens": completion.input_tokens + completion.output_tokens,
            "prompt_tokens_details": { "cached_tokens": completion.cached_tokens, "audio_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0 },
        })
    }

    fn headers(&self) -> [(&'static str, String); 1] {
        [("x-request-id", self.request_id.clone())]
    }
}
