//! The Anthropic ingress: parsing (system, content blocks, tool use and results, stop sequences,
//! metadata, prompt references), the `message` object, the SSE encoder and error shapes.

use std::time::Duration;

use opm_gateway::ingress::anthropic::{StreamEncoder, error_body, parse_request, response_json};
use opm_gateway::{ChatMessage, ChatResponse, FinishReason, StreamEvent, ToolCall, Usage};
use serde_json::{Value, json};

/// Splits SSE text into (event name, data JSON) pairs, checking that each frame names its event.
fn named_frames(sse: &str) -> Vec<(String, Value)> {
    assert!(sse.ends_with("\n\n"), "{sse:?}");
    sse.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            let (event, data) = frame.split_once('\n').unwrap();
            let event = event.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], event.as_str(), "the data's type matches the event name");
            (event, data)
        })
        .collect()
}

#[test]
fn parses_system_blocks_tools_and_extras() {
    let request = parse_request(&json!({
        "model": "claude/claude-sonnet-4-5",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "text", "text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]}]},
        ],
        "stop_sequences": ["END"],
        "temperature": 0.1,
        "top_k": 40,
        "metadata": {"user_id": "user-9"},
        "stream": true,
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "tool", "name": "get_weather"},
    }))
    .unwrap();
    assert_eq!(
        request.messages,
        [
            ChatMessage::system("Be brief."),
            ChatMessage::user("Weather in Paris?"),
            ChatMessage {
                tool_calls: vec![ToolCall {
                    id: "toolu_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into()
                }],
                ..ChatMessage::assistant("Checking.")
            },
            ChatMessage::tool("toolu_1", "sunny"),
        ]
    );
    assert_eq!((request.params.max_tokens, request.params.temperature), (Some(256), Some(0.1)));
    assert_eq!(request.params.stop, ["END"]);
    assert_eq!(Value::Object(request.params.anthropic_extra.clone()), json!({"top_k": 40}));
    assert!(request.params.extra.is_empty());
    assert_eq!(request.user.as_deref(), Some("user-9"));
    assert!(request.stream && request.include_usage);
    assert_eq!(
        request.tools,
        Some(json!([
            {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}},
            {"type": "web_search_20250305", "name": "web_search"},
        ]))
    );
    assert_eq!(request.tool_choice, Some(json!({"type": "function", "function": {"name": "get_weather"}})));
}

#[test]
fn prompt_references_and_mistakes() {
    let request = parse_request(&json!({
        "model": "opm:welcome@production",
        "max_tokens": 100,
        "prompt_variables": {"name": "Ada"},
        "messages": [{"role": "user", "content": "hi"}],
    }))
    .unwrap();
    let reference = request.prompt_ref.unwrap();
    assert_eq!((reference.name.as_str(), reference.label.as_deref()), ("welcome", Some("production")));
    assert!(request.params.anthropic_extra.is_empty());
    let request = parse_request(&json!({"prompt_id": "welcome", "max_tokens": 10})).unwrap();
    assert_eq!(request.model, "opm:welcome");

    for (body, param) in [
        (
            json!({"model": "claude/x", "max_tokens": 10, "messages": [{"role": "system", "content": "x"}]}),
            "messages.0",
        ),
        (json!({"model": "claude/x", "max_tokens": 10}), "messages"),
        (
            json!({"model": "claude/x", "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "sometimes"}}),
            "tool_choice",
        ),
        (json!({"model": "claude/x", "messages": [{"role": "user", "content": "x"}], "system": 5}), "system"),
    ] {
        assert_eq!(parse_request(&body).unwrap_err().param(), Some(param), "{body}");
    }
}

fn response(content: &str, tool_calls: Vec<ToolCall>, finish_reason: FinishReason, usage: Usage) -> ChatResponse {
    ChatResponse {
        id: "msg_1".into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        content: content.into(),
        tool_calls,
        finish_reason,
        usage,
        cost_usd: None,
        upstream_latency: Duration::ZERO,
        attempts: 1,
        fallback_index: 0,
    }
}

#[test]
fn message_objects_golden() {
    let call = ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city":"Rome"}"#.into() };
    let usage = Usage { input_tokens: Some(30), output_tokens: Some(4), cached_input_tokens: Some(10) };
    assert_eq!(
        response_json(&response("Let me check.", vec![call], FinishReason::ToolCalls, usage), "openai/gpt-4o"),
        json!({
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "openai/gpt-4o",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Rome"}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 20, "cache_read_input_tokens": 10, "output_tokens": 4},
        })
    );
    let stopped = response_json(&response("Hi", Vec::new(), FinishReason::Length, Usage::default()), "m");
    assert_eq!(stopped["stop_reason"], "max_tokens");
    assert_eq!(stopped["content"], json!([{"type": "text", "text": "Hi"}]));
}

#[test]
fn stream_encoder_golden() {
    let events = [
        StreamEvent::Start {
            id: "chatcmpl-5".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            usage: opm_gateway::Usage::default(),
        },
        StreamEvent::TextDelta("Let me".into()),
        StreamEvent::TextDelta(" check.".into()),
        StreamEvent::ToolCallDelta {
            index: 0,
            id: Some("call_1".into()),
            name: Some("get_weather".into()),
            arguments: "".into(),
        },
        StreamEvent::ToolCallDelta { index: 0, id: None, name: None, arguments: "{\"city\":".into() },
        StreamEvent::ToolCallDelta { index: 0, id: None, name: None, arguments: "\"Rome\"}".into() },
        StreamEvent::Finish {
            finish_reason: FinishReason::ToolCalls,
            usage: Usage { input_tokens: Some(12), output_tokens: Some(6), cached_input_tokens: Some(2) },
            cost_usd: None,
            upstream_latency: Duration::ZERO,
            ttft: None,
        },
    ];
    let mut encoder = StreamEncoder::new("openai/gpt-4o");
    let sse: String = events.iter().map(|event| encoder.encode(event)).collect();
    assert_eq!(
        named_frames(&sse).into_iter().map(|(_, data)| data).collect::<Vec<_>>(),
        [
            json!({"type": "message_start", "message": {"id": "chatcmpl-5", "type": "message", "role": "assistant",
                "model": "openai/gpt-4o", "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " check."}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Rome\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 2, "output_tokens": 6}}),
            json!({"type": "message_stop"}),
        ]
    );
    assert_eq!(encoder.encode(&StreamEvent::TextDelta("late".into())), "");
    let mut encoder = StreamEncoder::new("m");
    encoder.encode(&events[0]);
    let failure = encoder.error(&error_body("overloaded_error", "busy"));
    let frames = named_frames(&failure);
    assert_eq!(frames[0].0, "error");
    assert_eq!(frames[0].1["error"]["type"], "overloaded_error");
}

#[test]
fn error_body_shape() {
    let body = error_body("overloaded_error", "busy");
    assert_eq!(body, json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}));
}
