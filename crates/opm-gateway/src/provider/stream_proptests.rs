//! Property tests of the upstream stream parsers (OpenAI `chat.completion.chunk` data lines and
//! Anthropic named events): whatever an upstream sends — valid frames cut short, reordered, with
//! bytes flipped, or noise — feeding and ending never panic, and every error names the provider
//! and is a gateway failure, never the caller's.

#![allow(clippy::unwrap_used)]

use opm_core::ErrorKind;
use proptest::prelude::*;

use super::anthropic_stream::AnthropicStreamParser;
use super::openai_stream::OpenAiStreamParser;
use crate::GatewayError;

const OPENAI_FRAMES: &[&str] = &[
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":null}]}"#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
    r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
    "[DONE]",
];

const ANTHROPIC_FRAMES: &[(&str, &str)] = &[
    (
        "message_start",
        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":0}}}"#,
    ),
    ("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
    ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#),
    (
        "content_block_start",
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}}"#,
    ),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}"#,
    ),
    ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
    ("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#),
    ("message_stop", r#"{"type":"message_stop"}"#),
    ("ping", r#"{"type":"ping"}"#),
    ("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#),
];

/// A frame as an upstream might garble it: whole, cut at any byte, with one byte replaced, or noise.
fn garbled(frame: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(frame.to_owned()),
        1 => (0..=frame.len()).prop_map(move |cut| String::from_utf8_lossy(&frame.as_bytes()[..cut]).into_owned()),
        1 => (0..frame.len().max(1), any::<u8>()).prop_map(move |(at, byte)| {
            let mut bytes = frame.as_bytes().to_vec();
            if let Some(slot) = bytes.get_mut(at) {
                *slot = byte;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }),
        1 => "\\PC{0,40}",
    ]
}

fn openai_frame() -> impl Strategy<Value = String> {
    (0..OPENAI_FRAMES.len()).prop_flat_map(|i| garbled(OPENAI_FRAMES[i]))
}

fn anthropic_frame() -> impl Strategy<Value = (String, String)> {
    (0..ANTHROPIC_FRAMES.len(), any::<bool>()).prop_flat_map(|(i, rename)| {
        let (event, data) = ANTHROPIC_FRAMES[i];
        let name = if rename { "\\PC{0,12}".boxed() } else { Just(event.to_owned()).boxed() };
        (name, garbled(data))
    })
}

fn check(error: &GatewayError) {
    assert_eq!(error.provider(), Some("up"), "{error}");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::UpstreamFailed
                | ErrorKind::Unavailable
                | ErrorKind::RateLimited
                | ErrorKind::Malformed
                | ErrorKind::Invalid
        ),
        "{error}: {:?}",
        error.kind()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn openai_streams_never_panic(frames in prop::collection::vec(openai_frame(), 0..10)) {
        let mut parser = OpenAiStreamParser::new("up");
        for data in &frames {
            if let Err(error) = parser.feed(data) {
                check(&error);
                break;
            }
        }
        if let Err(error) = parser.end() {
            check(&error);
        }
    }

    #[test]
    fn anthropic_streams_never_panic(frames in prop::collection::vec(anthropic_frame(), 0..12)) {
        let mut parser = AnthropicStreamParser::new("up");
        for (event, data) in &frames {
            if let Err(error) = parser.feed(event, data) {
                check(&error);
                break;
            }
        }
        if let Err(error) = parser.end() {
            check(&error);
        }
    }
}

#[test]
fn a_valid_stream_parses_whole() {
    let mut parser = OpenAiStreamParser::new("up");
    let events: usize = [0, 1, 3, 4].iter().map(|&i| parser.feed(OPENAI_FRAMES[i]).unwrap().len()).sum();
    assert!(events >= 2, "{events}");
    let mut parser = AnthropicStreamParser::new("up");
    for i in [0, 1, 2, 5, 6, 7] {
        let (event, data) = ANTHROPIC_FRAMES[i];
        parser.feed(event, data).unwrap();
    }
    parser.end().unwrap();
}
