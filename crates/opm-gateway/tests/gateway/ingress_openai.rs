//! The OpenAI ingress: parsing (params, pass-through, prompt references), the `chat.completion`
//! object, the SSE encoder and error shapes, checked against golden JSON.

use std::time::Duration;

use opm_gateway::ingress::openai::{StreamEncoder, error_body, parse_request, response_json};
use opm_gateway::{ChatMessage, ChatResponse, FinishReason, ModelTarget, Role, StreamEvent, ToolCall, Usage};
use serde_json::{Value, json};

/// Splits SSE text into its `data:` payloads as JSON (`[DONE]` as a string).
pub fn data_frames(sse: &str) -> Vec<Value> {
    assert!(sse.ends_with("\n\n"), "{sse:?}");
    sse.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            let data = frame.strip_prefix("data: ").unwrap_or_else(|| panic!("bad frame {frame:?}"));
            serde_json::from_str(data).unwrap_or_else(|_| json!(data))
        })
        .collect()
}

#[test]
fn parses_messages_params_and_passes_unknown_params_through() {
    let request = parse_request(&json!({
        "model": "openai/gpt-4o",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{\"x\":1}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        ],
        "temperature": 0.3,
        "max_tokens": 100,
        "max_completion_tokens": 50,
        "stop": "END",
        "seed": 42,
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "user-7",
        "presence_penalty": 0.5,
        "logit_bias": {"50256": -100},
        "tools": [{"type": "function", "function": {"name": "look"}}],
        "tool_choice": "auto",
        "response_format": {"type": "json_object"},
    }))
    .unwrap();
    assert_eq!(request.direct_target(), Some(ModelTarget::new("openai", "gpt-4o")));
    assert_eq!(request.prompt_ref, None);
    assert_eq!(
        request.messages,
        [
            ChatMessage::new(Role::Developer, "Be brief."),
            ChatMessage::user("What is this?"),
            ChatMessage {
                tool_calls: vec![ToolCall { id: "call_1".into(), name: "look".into(), arguments: "{\"x\":1}".into() }],
                ..ChatMessage::assistant("")
            },
            ChatMessage::tool("call_1", "a cat"),
        ]
    );
    assert_eq!(
        (request.params.temperature, request.params.max_tokens, request.params.seed),
        (Some(0.3), Some(50), Some(42))
    );
    assert_eq!(request.params.stop, ["END"]);
    assert_eq!(
        Value::Object(request.params.extra.clone()),
        json!({"presence_penalty": 0.5, "logit_bias": {"50256": -100}})
    );
    assert!(request.stream && request.include_usage);
    assert_eq!(request.user.as_deref(), Some("user-7"));
    assert_eq!(request.tool_choice, Some(json!("auto")));
    assert_eq!(request.response_format, Some(json!({"type": "json_object"})));
}

#[test]
fn prompt_references_litellm_style_and_by_model_name() {
    let request = parse_request(&json!({
        "model": "opm:welcome",
        "prompt_id": "welcome",
        "prompt_variables": {"name": "Ada"},
        "prompt_version": 4,
        "messages": [{"role": "user", "content": "hi"}],
    }))
    .unwrap();
    let reference = request.prompt_ref.unwrap();
    assert_eq!((reference.name.as_str(), reference.version, reference.label), ("welcome", Some(4), None));
    assert_eq!(Value::Object(reference.variables), json!({"name": "Ada"}));
    assert!(request.params.extra.is_empty(), "prompt fields are not passed upstream");

    let request = parse_request(&json!({"prompt_id": "welcome", "prompt_label": "beta"})).unwrap();
    assert_eq!(request.model, "opm:welcome");
    assert!(request.messages.is_empty());
    assert_eq!(request.prompt_ref.unwrap().label.as_deref(), Some("beta"));

    let request = parse_request(&json!({"model": "opm:support-bot@canary", "messages": []})).unwrap();
    let reference = request.prompt_ref.clone().unwrap();
    assert_eq!((reference.name.as_str(), reference.label.as_deref()), ("support-bot", Some("canary")));
    assert_eq!(request.direct_target(), None);
}

#[test]
fn rejects_bad_requests_naming_the_parameter() {
    for (body, param) in [
        (json!({"messages": [{"role": "user", "content": "x"}]}), "model"),
        (json!({"model": "openai/gpt-4o"}), "messages"),
        (json!({"model": "openai/gpt-4o", "messages": []}), "messages"),
        (json!({"model": "openai/gpt-4o", "messages": [{"role": "robot", "content": "x"}]}), "messages[0]"),
        (json!({"model": "openai/gpt-4o", "messages": [{"role": "tool", "content": "x"}]}), "messages[0]"),
        (json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}], "n": 2}), "n"),
        (
            json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}),
            "max_tokens",
        ),
        (json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}), "stream"),
        (
            json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}], "prompt_version": 2}),
            "prompt_id",
        ),
    ] {
        let error = parse_request(&body).unwrap_err();
        assert_eq!(error.param(), Some(param), "{body}: {error}");
        assert_eq!(error.kind(), opm_core::ErrorKind::Malformed);
    }
    assert!(parse_request(&json!([1])).is_err());
}

fn response(content: &str, tool_calls: Vec<ToolCall>, finish_reason: FinishReason, usage: Usage) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-1".into(),
        provider: "claude".into(),
        model: "claude-haiku-4-5".into(),
        content: content.into(),
        tool_calls,
        finish_reason,
        usage,
        cost_usd: Some(0.001),
        upstream_latency: Duration::from_millis(5),
        attempts: 1,
        fallback_index: 0,
    }
}

fn without_created(mut json: Value) -> Value {
    assert!(json["created"].is_u64());
    json.as_object_mut().unwrap().remove("created");
    json
}

#[test]
fn completion_objects_golden() {
    let usage = Usage { input_tokens: Some(20), output_tokens: Some(5), cached_input_tokens: Some(8) };
    let text = response("Hello.", Vec::new(), FinishReason::Stop, usage);
    assert_eq!(
        without_created(response_json(&text, "opm:welcome")),
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "opm:welcome",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello.", "refusal": null},
                "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
                "prompt_tokens_details": {"cached_tokens": 8}},
            "system_fingerprint": null,
        })
    );
    let call = ToolCall { id: "toolu_1".into(), name: "look".into(), arguments: "{\"x\":1}".into() };
    let tools = response("", vec![call], FinishReason::ToolCalls, Usage::default());
    assert_eq!(
        without_created(response_json(&tools, "claude/claude-haiku-4-5")),
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "claude/claude-haiku-4-5",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "look", "arguments": "{\"x\":1}"}}]},
                "logprobs": null, "finish_reason": "tool_calls"}],
            "system_fingerprint": null,
        }),
        "unknown usage is left out, not sent as zeros"
    );
}

fn events() -> Vec<StreamEvent> {
    vec![
        StreamEvent::Start {
            id: "chatcmpl-9".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            usage: opm_gateway::Usage::default(),
        },
        StreamEvent::TextDelta("Hi".into()),
        StreamEvent::ToolCallDelta {
            index: 0,
            id: Some("call_1".into()),
            name: Some("look".into()),
            arguments: "".into(),
        },
        StreamEvent::ToolCallDelta { index: 0, id: None, name: None, arguments: "{}".into() },
        StreamEvent::Finish {
            finish_reason: FinishReason::ToolCalls,
            usage: Usage { input_tokens: Some(7), output_tokens: Some(3), cached_input_tokens: None },
            cost_usd: None,
            upstream_latency: Duration::ZERO,
            ttft: None,
        },
    ]
}

#[test]
fn stream_encoder_golden_with_and_without_usage() {
    let chunk = |delta: Value, finish: Value, usage: bool| {
        let mut chunk = json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000, "model": "m",
            "system_fingerprint": null, "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
        if usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    };
    for include_usage in [false, true] {
        let mut encoder = StreamEncoder::new("m", include_usage).with_created(1_700_000_000);
        let sse: String = events().iter().map(|event| encoder.encode(event)).collect();
        let mut expected = vec![
            chunk(json!({"role": "assistant", "content": "", "refusal": null}), Value::Null, include_usage),
            chunk(json!({"content": "Hi"}), Value::Null, include_usage),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "look", "arguments": ""}}]}),
                Value::Null,
                include_usage,
            ),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}), Value::Null, include_usage),
            chunk(json!({}), json!("tool_calls"), include_usage),
        ];
        if include_usage {
            expected.push(json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000, "model": "m",
                "system_fingerprint": null, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}));
        }
        expected.push(json!("[DONE]"));
        assert_eq!(data_frames(&sse), expected, "include_usage = {include_usage}");
        assert_eq!(encoder.encode(&StreamEvent::TextDelta("late".into())), "", "nothing after [DONE]");
    }
    let mut encoder = StreamEncoder::new("m", false);
    let start = encoder.encode(&events()[0]);
    let failure = encoder.error(&error_body("api_error", "reset", None, "upstream_unavailable"));
    assert_eq!(data_frames(&start).len(), 1);
    assert_eq!(data_frames(&failure)[0]["error"]["code"], "upstream_unavailable");
}

#[test]
fn error_body_shape() {
    let body = error_body("invalid_request_error", "`messages` is required", Some("messages"), "invalid_request");
    let mut keys: Vec<&String> = body["error"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["code", "message", "param", "type"]);
    assert_eq!(body["error"]["param"], "messages");
    assert_eq!(error_body("api_error", "x", None, "c")["error"]["param"], serde_json::Value::Null);
}
