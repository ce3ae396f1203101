//! Writing a stream as Chat Completions SSE: a role chunk first, content and tool-call deltas, the
//! finish chunk, the usage chunk when the client asked for it, then `data: [DONE]`.

use serde_json::{Value, json};

use super::openai::openai_usage;
use super::unix_now;
use crate::StreamEvent;

/// Turns [`StreamEvent`]s into `data: …\n\n` frames for one response.
#[derive(Debug, Clone)]
pub struct StreamEncoder {
    model: String,
    include_usage: bool,
    id: String,
    created: u64,
    role_sent: bool,
    finished: bool,
}

impl StreamEncoder {
    /// An encoder answering under `requested_model`; `include_usage` is the client's
    /// `stream_options.include_usage`.
    pub fn new(requested_model: impl Into<String>, include_usage: bool) -> Self {
        Self {
            model: requested_model.into(),
            include_usage,
            id: "chatcmpl-opm".to_owned(),
            created: unix_now(),
            role_sent: false,
            finished: false,
        }
    }

    /// Fixes the `created` timestamp (for reproducible output).
    #[must_use]
    pub fn with_created(mut self, created: u64) -> Self {
        self.created = created;
        self
    }

    /// The frames for one event (possibly none).
    pub fn encode(&mut self, event: &StreamEvent) -> String {
        if self.finished {
            return String::new();
        }
        let mut out = String::new();
        match event {
            StreamEvent::Start { id, .. } => {
                if !id.is_empty() {
                    self.id = id.clone();
                }
                self.ensure_role(&mut out);
            }
            StreamEvent::TextDelta(text) => {
                self.ensure_role(&mut out);
                out.push_str(&self.chunk(json!({ "content": text }), None));
            }
            StreamEvent::ToolCallDelta { index, id, name, arguments } => {
                self.ensure_role(&mut out);
                let mut call = json!({ "index": index, "function": { "arguments": arguments } });
                if let Some(id) = id {
                    call["id"] = json!(id);
                    call["type"] = json!("function");
                }
                if let Some(name) = name {
                    call["function"]["name"] = json!(name);
                }
                out.push_str(&self.chunk(json!({ "tool_calls": [call] }), None));
            }
            StreamEvent::Finish { finish_reason, usage, .. } => {
                self.ensure_role(&mut out);
                out.push_str(&self.chunk(json!({}), Some(finish_reason.as_str())));
                if self.include_usage
                    && let Some(usage) = openai_usage(usage)
                {
                    let chunk = json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "system_fingerprint": null,
                        "choices": [],
                        "usage": usage,
                    });
                    out.push_str(&frame(&chunk));
                }
                out.push_str("data: [DONE]\n\n");
                self.finished = true;
            }
        }
        out
    }

    /// The frame for a failure in the middle of the stream (OpenAI sends an `error` object, then closes).
    pub fn error(&mut self, body: &Value) -> String {
        self.finished = true;
        frame(body)
    }

    fn ensure_role(&mut self, out: &mut String) {
        if !self.role_sent {
            self.role_sent = true;
            out.push_str(&self.chunk(json!({ "role": "assistant", "content": "", "refusal": null }), None));
        }
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> String {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason }],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        frame(&chunk)
    }
}

fn frame(json: &Value) -> String {
    format!("data: {json}\n\n")
}
