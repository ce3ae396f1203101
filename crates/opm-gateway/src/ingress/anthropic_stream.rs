//! Writing a stream as Anthropic Messages SSE: `message_start`, then per content block
//! `content_block_start` / `content_block_delta` (`text_delta`, `input_json_delta`) /
//! `content_block_stop` (with one `ping` after the first block opens), then `message_delta` (stop
//! reason and usage) and `message_stop`.

use serde_json::{Value, json};

use super::anthropic::usage_json;
use crate::{StreamEvent, Usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    /// The tool call with this index.
    Tool(usize),
}

/// Turns [`StreamEvent`]s into `event: …\ndata: …\n\n` frames for one response.
#[derive(Debug, Clone)]
pub struct StreamEncoder {
    model: String,
    started: bool,
    /// The open content block and its index.
    open: Option<(usize, Block)>,
    next_index: usize,
    pinged: bool,
    finished: bool,
}

impl StreamEncoder {
    /// An encoder answering under `requested_model`.
    pub fn new(requested_model: impl Into<String>) -> Self {
        Self {
            model: requested_model.into(),
            started: false,
            open: None,
            next_index: 0,
            pinged: false,
            finished: false,
        }
    }

    /// The frames for one event (possibly none).
    pub fn encode(&mut self, event: &StreamEvent) -> String {
        if self.finished {
            return String::new();
        }
        let mut out = String::new();
        match event {
            StreamEvent::Start { id, usage, .. } => self.start_with(id, usage, &mut out),
            StreamEvent::TextDelta(text) => {
                self.open_block(Block::Text, None, None, &mut out);
                let index = self.open.map_or(0, |(index, _)| index);
                out.push_str(&frame(
                    "content_block_delta",
                    &json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": text } }),
                ));
            }
            StreamEvent::ToolCallDelta { index: call, id, name, arguments } => {
                self.open_block(Block::Tool(*call), id.as_deref(), name.as_deref(), &mut out);
                if !arguments.is_empty() {
                    let index = self.open.map_or(0, |(index, _)| index);
                    out.push_str(&frame(
                        "content_block_delta",
                        &json!({ "type": "content_block_delta", "index": index,
                            "delta": { "type": "input_json_delta", "partial_json": arguments } }),
                    ));
                }
            }
            StreamEvent::Finish { finish_reason, usage, .. } => {
                self.start("msg_opm", &mut out);
                self.close_block(&mut out);
                out.push_str(&frame(
                    "message_delta",
                    &json!({
                        "type": "message_delta",
                        "delta": { "stop_reason": finish_reason.to_anthropic(), "stop_sequence": null },
                        "usage": usage_json(usage),
                    }),
                ));
                out.push_str(&frame("message_stop", &json!({ "type": "message_stop" })));
                self.finished = true;
            }
        }
        out
    }

    /// The `error` event for a failure in the middle of the stream.
    pub fn error(&mut self, body: &Value) -> String {
        self.finished = true;
        frame("error", body)
    }

    fn start(&mut self, id: &str, out: &mut String) {
        self.start_with(id, &Usage::default(), out);
    }

    /// `message_start`, carrying the input tokens when the upstream reported them at the start.
    fn start_with(&mut self, id: &str, usage: &Usage, out: &mut String) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({
            "id": if id.is_empty() { "msg_opm" } else { id },
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage_json(usage),
        });
        out.push_str(&frame("message_start", &json!({ "type": "message_start", "message": message })));
    }

    /// Makes `block` the open block, closing another one first.
    fn open_block(&mut self, block: Block, id: Option<&str>, name: Option<&str>, out: &mut String) {
        self.start("msg_opm", out);
        if self.open.is_some_and(|(_, open)| open == block) {
            return;
        }
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, block));
        let content_block = match block {
            Block::Text => json!({ "type": "text", "text": "" }),
            Block::Tool(call) => json!({
                "type": "tool_use",
                "id": id.map_or_else(|| format!("toolu_opm_{call}"), str::to_owned),
                "name": name.unwrap_or_default(),
                "input": {},
            }),
        };
        out.push_str(&frame(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": index, "content_block": content_block }),
        ));
        if !self.pinged {
            self.pinged = true;
            out.push_str(&frame("ping", &json!({ "type": "ping" })));
        }
    }

    fn close_block(&mut self, out: &mut String) {
        if let Some((index, _)) = self.open.take() {
            out.push_str(&frame("content_block_stop", &json!({ "type": "content_block_stop", "index": index })));
        }
    }
}

fn frame(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}
