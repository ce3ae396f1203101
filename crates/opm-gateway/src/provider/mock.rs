//! The built-in `mock` provider: deterministic replies without any network, for demos and the quick
//! start. It replies `mock reply to: <first 8 words of the last user message>`, or calls a declared
//! tool when the user message contains `call:NAME`; a token is a whitespace-separated word and each
//! input message costs 3 tokens more than its words.

use serde_json::{Value, json};

use super::Completion;
use crate::{ChatRequest, FinishReason, Role, StreamEvent, ToolCall, Usage};

const PREFIX: &str = "mock reply to:";
const SUMMARY_WORDS: usize = 8;
const MESSAGE_OVERHEAD_TOKENS: u64 = 3;

/// A non-streamed mock answer.
pub(crate) fn complete(model: &str, request: &ChatRequest) -> Completion {
    let reply = reply(request);
    Completion {
        id: format!("mock-{}", uuid::Uuid::now_v7().simple()),
        model: model.to_owned(),
        content: reply.text,
        tool_calls: reply.tool_call.into_iter().collect(),
        finish_reason: reply.finish_reason,
        usage: reply.usage,
    }
}

/// The same answer as stream events: start, one delta per word, finish.
pub(crate) fn stream_events(provider: &str, model: &str, request: &ChatRequest) -> Vec<StreamEvent> {
    let reply = reply(request);
    let mut events = vec![StreamEvent::Start {
        id: format!("mock-{}", uuid::Uuid::now_v7().simple()),
        provider: provider.to_owned(),
        model: model.to_owned(),
        usage: Usage::default(),
    }];
    events.extend(word_pieces(&reply.text).into_iter().map(StreamEvent::TextDelta));
    if let Some(call) = reply.tool_call {
        events.push(StreamEvent::ToolCallDelta {
            index: 0,
            id: Some(call.id),
            name: Some(call.name),
            arguments: call.arguments,
        });
    }
    events.push(StreamEvent::Finish {
        finish_reason: reply.finish_reason,
        usage: reply.usage,
        cost_usd: None,
        upstream_latency: std::time::Duration::ZERO,
        ttft: None,
    });
    events
}

struct Reply {
    text: String,
    tool_call: Option<ToolCall>,
    finish_reason: FinishReason,
    usage: Usage,
}

fn reply(request: &ChatRequest) -> Reply {
    let last_user = request.messages.iter().rev().find(|message| message.role == Role::User);
    let last_user = last_user.map(|message| message.content.as_str()).unwrap_or_default();
    let input_tokens: u64 =
        request.messages.iter().map(|message| MESSAGE_OVERHEAD_TOKENS + count_words(&message.content)).sum();
    let (text, tool_call, finish_reason) = match requested_tool(last_user, request.tools.as_ref()) {
        Some(call) => (String::new(), Some(call), FinishReason::ToolCalls),
        None => {
            let words: Vec<&str> = last_user.split_whitespace().take(SUMMARY_WORDS).collect();
            let full = if words.is_empty() { PREFIX.to_owned() } else { format!("{PREFIX} {}", words.join(" ")) };
            let limit = request.params.max_tokens.and_then(|max| usize::try_from(max).ok()).unwrap_or(usize::MAX);
            let all: Vec<&str> = full.split(' ').collect();
            if all.len() > limit {
                (all[..limit].join(" "), None, FinishReason::Length)
            } else {
                (full, None, FinishReason::Stop)
            }
        }
    };
    let output_tokens = match &tool_call {
        Some(call) => 1 + count_words(&call.arguments),
        None => count_words(&text),
    };
    let usage =
        Usage { input_tokens: Some(input_tokens), output_tokens: Some(output_tokens), cached_input_tokens: Some(0) };
    Reply { text, tool_call, finish_reason, usage }
}

/// A `call:NAME` word naming a declared function tool.
fn requested_tool(last_user: &str, tools: Option<&Value>) -> Option<ToolCall> {
    let declared: Vec<&str> =
        tools?.as_array()?.iter().filter_map(|tool| tool.get("function")?.get("name")?.as_str()).collect();
    let name = last_user
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("call:"))
        .find(|name| declared.contains(name))?;
    let query: Vec<&str> =
        last_user.split_whitespace().filter(|word| !word.starts_with("call:")).take(SUMMARY_WORDS).collect();
    Some(ToolCall {
        id: format!("call_mock_{name}"),
        name: name.to_owned(),
        arguments: json!({ "query": query.join(" ") }).to_string(),
    })
}

fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// `"a b c"` → `["a", " b", " c"]`.
fn word_pieces(text: &str) -> Vec<String> {
    text.split(' ')
        .enumerate()
        .map(|(index, word)| if index == 0 { word.to_owned() } else { format!(" {word}") })
        .filter(|piece| !piece.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatMessage, ChatParams};

    fn request(user: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![ChatMessage::system("Be brief."), ChatMessage::user(user)],
            ..ChatRequest::default()
        }
    }

    #[test]
    fn replies_deterministically_with_word_usage() {
        let completion = complete("demo", &request("one two three four five six seven eight nine"));
        assert_eq!(completion.content, "mock reply to: one two three four five six seven eight");
        assert_eq!(completion.finish_reason, FinishReason::Stop);
        assert_eq!(
            completion.usage,
            Usage { input_tokens: Some(5 + 12), output_tokens: Some(11), cached_input_tokens: Some(0) }
        );
        let short =
            ChatRequest { params: ChatParams { max_tokens: Some(2), ..ChatParams::default() }, ..request("hi") };
        let completion = complete("demo", &short);
        assert_eq!((completion.content.as_str(), completion.finish_reason), ("mock reply", FinishReason::Length));
    }

    #[test]
    fn streams_the_same_text_and_calls_declared_tools() {
        let events = stream_events("mock", "demo", &request("hello there"));
        let text: String = events
            .iter()
            .filter_map(|event| match event {
                StreamEvent::TextDelta(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "mock reply to: hello there");
        assert!(matches!(events.first(), Some(StreamEvent::Start { .. })));
        assert!(matches!(events.last(), Some(StreamEvent::Finish { .. })));

        let with_tools = ChatRequest {
            tools: Some(json!([{"type": "function", "function": {"name": "lookup"}}])),
            ..request("find cats call:lookup")
        };
        let completion = complete("demo", &with_tools);
        assert_eq!(completion.tool_calls[0].name, "lookup");
        assert_eq!(completion.tool_calls[0].arguments, r#"{"query":"find cats"}"#);
        assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
    }
}
