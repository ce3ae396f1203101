//! The deterministic "model": reply text, tool-call detection and token counting.
//!
//! A token is a whitespace-separated word. Each input message (a system prompt included) costs
//! [`MESSAGE_OVERHEAD_TOKENS`] plus its words; the reply costs its words.

use serde_json::Value;

use crate::ReplyMode;

/// Tokens every input message costs on top of its words.
pub const MESSAGE_OVERHEAD_TOKENS: u64 = 3;
/// The prefix of a [`ReplyMode::Summary`] reply.
pub const SUMMARY_PREFIX: &str = "mock reply to:";
/// How many words of the user message a summary reply repeats.
pub const SUMMARY_WORDS: usize = 8;

/// Tokens in `text`: its whitespace-separated words.
pub fn count_tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The tokens one input message with this text costs.
pub fn message_tokens(text: &str) -> u64 {
    MESSAGE_OVERHEAD_TOKENS + count_tokens(text)
}

/// The assistant's reply to a conversation whose last user message is `last_user`.
pub fn reply_text(mode: ReplyMode, last_user: &str) -> String {
    match mode {
        ReplyMode::Summary => {
            let words: Vec<&str> = last_user.split_whitespace().take(SUMMARY_WORDS).collect();
            if words.is_empty() { SUMMARY_PREFIX.to_owned() } else { format!("{SUMMARY_PREFIX} {}", words.join(" ")) }
        }
        ReplyMode::Echo => last_user.to_owned(),
        ReplyMode::Words(n) => (1..=n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" "),
    }
}

/// Keeps the first `max_tokens` words of `text`; the flag says whether anything was cut.
pub(crate) fn truncate_to_tokens(text: &str, max_tokens: Option<u64>) -> (String, bool) {
    let Some(max) = max_tokens else { return (text.to_owned(), false) };
    let pieces = stream_pieces(text);
    let keep = usize::try_from(max).unwrap_or(usize::MAX);
    if pieces.len() <= keep {
        return (text.to_owned(), false);
    }
    (pieces[..keep].concat(), true)
}

/// Splits `text` into word pieces that concatenate back to it: `"a b  c"` → `["a", " b", "  c"]`.
/// Leading whitespace stays with the first piece.
pub(crate) fn stream_pieces(text: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for character in text.chars() {
        let is_space = character.is_whitespace();
        if is_space && in_word {
            pieces.push(std::mem::take(&mut current));
        }
        in_word = !is_space;
        current.push(character);
    }
    match pieces.last_mut() {
        Some(last) if !in_word => last.push_str(&current),
        _ if in_word => pieces.push(current),
        _ => {}
    }
    pieces
}

/// The text of a message `content`: a string, or the `text` of its text blocks joined by a space.
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => {
            blocks.iter().filter_map(|block| block.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    }
}

/// A tool call requested by a `call:NAME` word in the user message, when NAME is a declared tool.
/// Returns the tool name and the arguments object (`{"query": "<the other words, first 8>"}`).
pub(crate) fn requested_tool_call(last_user: &str, declared: &[&str]) -> Option<(String, Value)> {
    let name = last_user
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("call:"))
        .find(|name| declared.contains(name))?;
    let query: Vec<&str> =
        last_user.split_whitespace().filter(|word| !word.starts_with("call:")).take(SUMMARY_WORDS).collect();
    Some((name.to_owned(), serde_json::json!({ "query": query.join(" ") })))
}

/// Tokens a tool call costs as output: one for the name plus the words of its arguments' JSON.
pub(crate) fn tool_call_tokens(arguments_json: &str) -> u64 {
    1 + count_tokens(arguments_json)
}

/// What the model produced for one request, with its token accounting.
#[derive(Debug, Clone)]
pub(crate) struct Completion {
    pub(crate) output: Output,
    /// All input tokens, cached ones included (OpenAI's `prompt_tokens`).
    pub(crate) input_tokens: u64,
    /// How many of `input_tokens` were cache reads (`cached=N`, capped at `input_tokens`).
    pub(crate) cached_tokens: u64,
    pub(crate) output_tokens: u64,
}

/// The assistant's output: text (maybe cut by the token limit) or one tool call.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    Text { text: String, truncated: bool },
    ToolCall { name: String, arguments: String },
}

/// Runs the deterministic model over a request's essentials.
pub(crate) fn complete(
    mode: ReplyMode,
    last_user: &str,
    declared_tools: &[&str],
    max_tokens: Option<u64>,
    input_tokens: u64,
    cached: Option<u64>,
) -> Completion {
    let (output, output_tokens) = match requested_tool_call(last_user, declared_tools) {
        Some((name, arguments)) => {
            let arguments = arguments.to_string();
            let tokens = tool_call_tokens(&arguments);
            (Output::ToolCall { name, arguments }, tokens)
        }
        None => {
            let (text, truncated) = truncate_to_tokens(&reply_text(mode, last_user), max_tokens);
            let tokens = count_tokens(&text);
            (Output::Text { text, truncated }, tokens)
        }
    };
    let cached_tokens = cached.unwrap_or(0).min(input_tokens);
    Completion { output, input_tokens, cached_tokens, output_tokens }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_echo_and_words() {
        let message = "one two three four five six seven eight nine ten";
        assert_eq!(reply_text(ReplyMode::Summary, message), "mock reply to: one two three four five six seven eight");
        assert_eq!(reply_text(ReplyMode::Summary, "  "), "mock reply to:");
        assert_eq!(reply_text(ReplyMode::Echo, "hi  there"), "hi  there");
        assert_eq!(reply_text(ReplyMode::Words(3), "ignored"), "w1 w2 w3");
    }

    #[test]
    fn pieces_concatenate_back() {
        for text in ["", "a", "a b  c", " lead", "trail ", "mock reply to: hi", "x\ny"] {
            let pieces = stream_pieces(text);
            assert_eq!(pieces.concat(), text);
            assert_eq!(pieces.len() as u64, count_tokens(text), "{text:?} → {pieces:?}");
        }
        assert_eq!(stream_pieces("a b  c"), ["a", " b", "  c"]);
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_to_tokens("a b c", Some(2)), ("a b".to_owned(), true));
        assert_eq!(truncate_to_tokens("a b c", Some(3)), ("a b c".to_owned(), false));
        assert_eq!(truncate_to_tokens("a b c", None), ("a b c".to_owned(), false));
    }

    #[test]
    fn content_and_tools() {
        assert_eq!(content_text(&serde_json::json!("hi")), "hi");
        let blocks =
            serde_json::json!([{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]);
        assert_eq!(content_text(&blocks), "a b");
        let (name, arguments) = requested_tool_call("weather in Paris call:get_weather", &["get_weather"]).unwrap();
        assert_eq!(name, "get_weather");
        assert_eq!(arguments, serde_json::json!({"query": "weather in Paris"}));
        assert!(requested_tool_call("call:unknown", &["get_weather"]).is_none());
        assert_eq!(message_tokens("two words"), 5);
    }
}
