"""OPM's Anthropic-compatible ingress (`POST /v1/messages`) driven by the official `anthropic` SDK."""

from __future__ import annotations

import pytest

from conftest import PRODUCT, SYSTEM_RENDERED
from harness import MOCK_PREFIX, message_tokens, summary_reply, words
from test_openai_sdk import check_prompt_headers

QUESTION = "Which wheels should I buy for rough outdoor skating trails"
VARS = {"product": PRODUCT}
MAX_TOKENS = 128


def user(text: str = QUESTION) -> list[dict]:
    return [{"role": "user", "content": text}]


def check_message(message, question: str = QUESTION, system: str | None = SYSTEM_RENDERED):
    reply = summary_reply(question)
    assert message.type == "message" and message.role == "assistant"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == reply
    assert message.stop_reason == "end_turn"
    system_tokens = message_tokens(system) if system else 0
    assert message.usage.input_tokens == system_tokens + message_tokens(question)
    assert message.usage.output_tokens == words(reply)


@pytest.mark.parametrize("prompt", ["support-claude", "support"], ids=["anthropic-upstream", "openai-upstream"])
def test_prompt_id_in_extra_body(gateway, claude, prompt):
    raw = claude.messages.with_raw_response.create(
        model="claude-mock-haiku", max_tokens=MAX_TOKENS, messages=user(),
        extra_body={"prompt_id": prompt, "prompt_variables": VARS, "prompt_label": "production"})
    assert raw.status_code == 200
    check_prompt_headers(raw.headers, prompt, gateway.versions[prompt])
    check_message(raw.parse())


@pytest.mark.parametrize("auth", ["sdk", "x-api-key"])
def test_both_key_headers_accepted(gateway, auth):
    """anthropic>=2.0 sends the key as `Authorization: Bearer`; Anthropic's docs (and SDK 1.x) use `x-api-key`."""
    message = gateway.anthropic(auth=auth).messages.create(
        model="opm:support-claude", max_tokens=MAX_TOKENS, messages=user(), extra_body={"prompt_variables": VARS})
    check_message(message)


@pytest.mark.parametrize("prompt", ["support-claude", "support"], ids=["anthropic-upstream", "openai-upstream"])
def test_opm_model_form(gateway, claude, prompt):
    raw = claude.messages.with_raw_response.create(
        model=f"opm:{prompt}", max_tokens=MAX_TOKENS, messages=user(), extra_body={"prompt_variables": VARS})
    check_prompt_headers(raw.headers, prompt, gateway.versions[prompt])
    check_message(raw.parse())


def test_prompt_version_in_extra_body(gateway, claude):
    raw = claude.messages.with_raw_response.create(
        model="claude-mock-haiku", max_tokens=MAX_TOKENS, messages=user(),
        extra_body={"prompt_id": "support-claude", "prompt_variables": VARS, "prompt_version": 1})
    check_prompt_headers(raw.headers, "support-claude", 1, label=None)
    check_message(raw.parse())


def test_rendered_and_request_system_prompts(claude):
    """The prompt's rendered system message and the request's own `system` must both reach the upstream
    (an Anthropic upstream accepts no `system` role in `messages`: it would answer 400)."""
    message = claude.messages.create(
        model="opm:support-claude", max_tokens=MAX_TOKENS, system="Answer in one sentence.", messages=user(),
        extra_body={"prompt_variables": VARS})
    assert message.content[0].text == summary_reply(QUESTION)
    # However OPM joins the two, the mock counts one system prompt (3 tokens) with all their words.
    assert message.usage.input_tokens in (
        message_tokens(SYSTEM_RENDERED + " Answer in one sentence.") + message_tokens(QUESTION),
        message_tokens(SYSTEM_RENDERED) + message_tokens("Answer in one sentence.") + message_tokens(QUESTION),
    )


@pytest.mark.parametrize("provider", ["up-anthropic", "up-openai"])
def test_plain_routing(claude, provider):
    message = claude.messages.create(model=f"{provider}/some-model", max_tokens=MAX_TOKENS, system="Be brief.",
                                     messages=user())
    check_message(message, system="Be brief.")


def test_plain_routing_system_block_list(claude):
    message = claude.messages.create(model="up-openai/some-model", max_tokens=MAX_TOKENS,
                                     system=[{"type": "text", "text": "Be brief."}], messages=user())
    check_message(message, system="Be brief.")


# --- streaming ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["support-claude", "support"], ids=["anthropic-upstream", "openai-upstream"])
def test_stream_helper(gateway, claude, prompt):
    with claude.messages.stream(model=f"opm:{prompt}", max_tokens=MAX_TOKENS, messages=user(),
                                extra_body={"prompt_variables": VARS}) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    reply = summary_reply(QUESTION)
    assert "".join(pieces) == reply
    assert len(pieces) > 1, "content in one piece"
    check_message(final)


@pytest.mark.parametrize("prompt", ["support-claude", "support"], ids=["anthropic-upstream", "openai-upstream"])
def test_stream_true(gateway, claude, prompt):
    raw = claude.messages.with_raw_response.create(
        model=f"opm:{prompt}", max_tokens=MAX_TOKENS, messages=user(), stream=True,
        extra_body={"prompt_variables": VARS})
    assert raw.headers.get("content-type", "").startswith("text/event-stream"), dict(raw.headers)
    check_prompt_headers(raw.headers, prompt, gateway.versions[prompt])
    events = list(raw.parse())
    kinds = [event.type for event in events if event.type != "ping"]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
    assert kinds[1] == "content_block_start" and "content_block_stop" in kinds and kinds[-2] == "message_delta", kinds
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == summary_reply(QUESTION)
    (delta,) = [e for e in events if e.type == "message_delta"]
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens == words(text)
    # Current Anthropic streams repeat the (cumulative) input tokens in message_delta.
    assert delta.usage.input_tokens == message_tokens(SYSTEM_RENDERED) + message_tokens(QUESTION)


def test_stream_message_start_input_tokens_from_anthropic_upstream(claude):
    events = list(claude.messages.create(model="opm:support-claude", max_tokens=MAX_TOKENS, messages=user(),
                                         stream=True, extra_body={"prompt_variables": VARS}))
    assert events[0].type == "message_start"
    assert events[0].message.usage.input_tokens == message_tokens(SYSTEM_RENDERED) + message_tokens(QUESTION)


# --- tools -------------------------------------------------------------------------------------------

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a place",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
}


@pytest.mark.parametrize("provider", ["up-anthropic", "up-openai"])
def test_tool_use_round_trip(claude, provider):
    ask = "weather in Paris call:get_weather"
    messages = [{"role": "user", "content": ask}]
    first = claude.messages.create(model=f"{provider}/tool-model", max_tokens=MAX_TOKENS, messages=messages,
                                   tools=[WEATHER_TOOL])
    assert first.stop_reason == "tool_use"
    (use,) = [block for block in first.content if block.type == "tool_use"]
    assert use.name == "get_weather" and use.input == {"query": "weather in Paris"} and use.id
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "sunny and 21 degrees"}]},
    ]
    second = claude.messages.create(model=f"{provider}/tool-model", max_tokens=MAX_TOKENS, messages=messages)
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text.startswith(MOCK_PREFIX)


@pytest.mark.parametrize("provider", ["up-anthropic", "up-openai"])
def test_streamed_tool_use(claude, provider):
    with claude.messages.stream(model=f"{provider}/tool-model", max_tokens=MAX_TOKENS, tools=[WEATHER_TOOL],
                                messages=[{"role": "user", "content": "weather in Paris call:get_weather"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    (use,) = [block for block in final.content if block.type == "tool_use"]
    assert use.name == "get_weather" and use.input == {"query": "weather in Paris"} and use.id
