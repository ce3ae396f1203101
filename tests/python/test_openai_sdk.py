"""OPM's OpenAI-compatible ingress (`POST /v1/chat/completions`) driven by the official `openai` SDK."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import PRODUCT, SYSTEM_RENDERED
from harness import MOCK_PREFIX, chat_content, message_tokens, summary_reply, words

QUESTION = "How do I tighten the wheels on my skates before the race"
VARS = {"product": PRODUCT}


def user(text: str = QUESTION) -> list[dict]:
    return [{"role": "user", "content": text}]


def expected_usage(*texts: str, reply: str) -> tuple[int, int]:
    return sum(message_tokens(t) for t in texts), words(reply)


def check_prompt_headers(headers, name: str, version: int, label: str | None = "production"):
    assert headers.get("x-opm-prompt") == name, dict(headers)
    assert headers.get("x-opm-prompt-version") == str(version), dict(headers)
    if label is not None:
        assert headers.get("x-opm-label") == label, dict(headers)
    assert headers.get("x-opm-generation-id"), dict(headers)
    overhead = headers.get("x-opm-overhead-ms")
    assert overhead is not None, dict(headers)
    assert float(overhead) >= 0


def check_completion(completion, question: str = QUESTION, system: str = SYSTEM_RENDERED):
    reply = summary_reply(question)
    assert completion.object == "chat.completion"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == reply
    assert choice.finish_reason == "stop"
    prompt_tokens, completion_tokens = expected_usage(system, question, reply=reply)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == prompt_tokens
    assert completion.usage.completion_tokens == completion_tokens
    assert completion.usage.total_tokens == prompt_tokens + completion_tokens


# --- managed prompts, non-streaming --------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["support", "support-claude"], ids=["openai-upstream", "anthropic-upstream"])
def test_prompt_id_in_extra_body(gateway, oai, prompt):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=user(),
        extra_body={"prompt_id": prompt, "prompt_variables": VARS, "prompt_label": "production"},
    )
    assert raw.status_code == 200
    check_prompt_headers(raw.headers, prompt, gateway.versions[prompt])
    check_completion(raw.parse())


@pytest.mark.parametrize("prompt", ["support", "support-claude"], ids=["openai-upstream", "anthropic-upstream"])
def test_opm_model_form(gateway, oai, prompt):
    raw = oai.chat.completions.with_raw_response.create(
        model=f"opm:{prompt}", messages=user(), extra_body={"prompt_variables": VARS})
    check_prompt_headers(raw.headers, prompt, gateway.versions[prompt])
    check_completion(raw.parse())


def test_opm_model_form_with_label(gateway, oai):
    raw = oai.chat.completions.with_raw_response.create(
        model="opm:support@production", messages=user(), extra_body={"prompt_variables": VARS})
    check_prompt_headers(raw.headers, "support", gateway.versions["support"], label="production")
    check_completion(raw.parse())


def test_label_and_version_select_what_runs(gateway, oai):
    """v1 is production, v2 (a longer system prompt) is staging; each form must run the version it names."""
    opm = gateway.opm
    v1 = opm.seed_prompt("versioned", chat_content("You help with {{ product }}.", provider="up-openai",
                                                   model="gpt-4o-mini"))
    v2 = opm.seed_prompt("versioned", chat_content("You help with {{ product }} and nothing else at all.",
                                                   provider="up-openai", model="gpt-4o-mini"), label="staging")
    assert (v1, v2) == (1, 2)
    system_v2 = f"You help with {PRODUCT} and nothing else at all."
    cases = [
        ({"model": "opm:versioned@staging"}, 2, "staging", system_v2),
        ({"model": "opm:versioned"}, 1, "production", SYSTEM_RENDERED),
        ({"model": "gpt-4o-mini", "extra": {"prompt_id": "versioned", "prompt_label": "staging"}}, 2, "staging",
         system_v2),
        ({"model": "gpt-4o-mini", "extra": {"prompt_id": "versioned", "prompt_version": 2}}, 2, None, system_v2),
        ({"model": "gpt-4o-mini", "extra": {"prompt_id": "versioned", "prompt_version": 1}}, 1, None,
         SYSTEM_RENDERED),
    ]
    for case, version, label, system in cases:
        extra = {"prompt_variables": VARS, **case.get("extra", {})}
        raw = oai.chat.completions.with_raw_response.create(model=case["model"], messages=user(), extra_body=extra)
        check_prompt_headers(raw.headers, "versioned", version, label=label)
        check_completion(raw.parse(), system=system)


def test_request_messages_follow_rendered_ones(oai):
    """A multi-turn request: the rendered system prompt first, then every request message in order."""
    history = [
        {"role": "user", "content": "first question about skates"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question about brakes and pads"},
    ]
    completion = oai.chat.completions.create(model="opm:support", messages=history,
                                             extra_body={"prompt_variables": VARS})
    reply = summary_reply(history[-1]["content"])
    assert completion.choices[0].message.content == reply
    assert completion.usage.prompt_tokens == message_tokens(SYSTEM_RENDERED) + sum(
        message_tokens(m["content"]) for m in history)


# --- plain routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["up-openai", "up-anthropic"])
def test_plain_routing(oai, provider):
    messages = [{"role": "system", "content": "Be brief."}, *user()]
    completion = oai.chat.completions.create(model=f"{provider}/some-model", messages=messages, max_tokens=64)
    check_completion(completion, system="Be brief.")


def test_plain_routing_to_anthropic_hoists_system(oai):
    """The echo upstream repeats the last user message; a system message left in `messages` would get a
    400 from the Anthropic-shaped upstream, so a 200 with these token counts shows it became `system`."""
    text = "repeat these exact words back"
    completion = oai.chat.completions.create(
        model="up-echo-anthropic/claude-echo",
        messages=[{"role": "system", "content": "You are an echo."}, {"role": "user", "content": text}],
        max_tokens=64,
    )
    assert completion.choices[0].message.content == text
    assert completion.usage.prompt_tokens == message_tokens("You are an echo.") + message_tokens(text)
    assert completion.usage.completion_tokens == words(text)


# --- streaming ---------------------------------------------------------------------------------------


def collect(stream):
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    usage = [c.usage for c in chunks if c.usage is not None]
    return chunks, content, finish, usage


@pytest.mark.parametrize("prompt", ["support", "support-claude"], ids=["openai-upstream", "anthropic-upstream"])
@pytest.mark.parametrize("include_usage", [True, False], ids=["with-usage", "without-usage"])
def test_stream(gateway, oai, prompt, include_usage):
    kwargs = {"stream_options": {"include_usage": True}} if include_usage else {}
    raw = oai.chat.completions.with_raw_response.create(
        model=f"opm:{prompt}", messages=user(), stream=True, extra_body={"prompt_variables": VARS}, **kwargs)
    assert raw.headers.get("content-type", "").startswith("text/event-stream"), dict(raw.headers)
    check_prompt_headers(raw.headers, prompt, gateway.versions[prompt])
    chunks, content, finish, usage = collect(raw.parse())
    reply = summary_reply(QUESTION)
    assert content == reply
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1, "content in one piece"
    assert finish == ["stop"]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1, "one id for the whole stream"
    if include_usage:
        assert len(usage) == 1, usage
        assert chunks[-1].usage is not None and chunks[-1].choices == [], "usage must come in a last, choice-less chunk"
        prompt_tokens, completion_tokens = expected_usage(SYSTEM_RENDERED, QUESTION, reply=reply)
        assert (usage[0].prompt_tokens, usage[0].completion_tokens) == (prompt_tokens, completion_tokens)
        assert usage[0].total_tokens == prompt_tokens + completion_tokens
    else:
        assert usage == [], "usage chunk sent although include_usage was not asked for"


def test_stream_plain_routing(oai):
    stream = oai.chat.completions.create(model="up-openai/gpt-4o-mini", messages=user(), stream=True,
                                         stream_options={"include_usage": True})
    _, content, finish, usage = collect(stream)
    assert content == summary_reply(QUESTION)
    assert finish == ["stop"]
    assert usage and usage[0].completion_tokens == words(content)


def test_stream_context_manager_closes_cleanly(oai):
    with oai.chat.completions.create(model="opm:support", messages=user(), stream=True,
                                     extra_body={"prompt_variables": VARS}) as stream:
        first = next(iter(stream))
        assert first.object == "chat.completion.chunk"
    # Leaving early closed the connection; the gateway must keep serving.
    assert oai.chat.completions.create(model="opm:support", messages=user(),
                                       extra_body={"prompt_variables": VARS}).choices[0].message.content


# --- tools -------------------------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a place",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}


@pytest.mark.parametrize("provider", ["up-openai", "up-anthropic"])
def test_tool_call_round_trip(oai, provider):
    ask = "weather in Paris call:get_weather"
    messages = [{"role": "user", "content": ask}]
    first = oai.chat.completions.create(model=f"{provider}/tool-model", messages=messages, tools=[WEATHER_TOOL],
                                        max_tokens=64)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"query": "weather in Paris"}
    assert call.id
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny and 21 degrees"},
    ]
    second = oai.chat.completions.create(model=f"{provider}/tool-model", messages=messages, max_tokens=64)
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content.startswith(MOCK_PREFIX)


# --- concurrency -------------------------------------------------------------------------------------


def test_concurrent_streams_do_not_mix(gateway):
    """Eight streams at once, each with its own question, through both upstream formats: every client gets
    exactly its own answer."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[str, str]:
        question = f"question number {i} about wheel {i * 7} and bearing {i * 13}"
        client = gateway.openai()
        stream = client.chat.completions.create(
            model="opm:support" if i % 2 else "opm:support-claude", messages=user(question), stream=True,
            stream_options={"include_usage": True}, extra_body={"prompt_variables": VARS})
        return question, "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(8)))
    for question, content in results:
        assert content == summary_reply(question)


@pytest.mark.parametrize("provider", ["up-openai", "up-anthropic"])
def test_streamed_tool_call(oai, provider):
    stream = oai.chat.completions.create(model=f"{provider}/tool-model", stream=True, tools=[WEATHER_TOOL],
                                         messages=[{"role": "user", "content": "weather in Paris call:get_weather"}])
    calls: dict[int, dict] = {}
    finish = []
    for chunk in stream:
        if not chunk.choices:
            continue
        for delta in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or delta.id
            if delta.function:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
        if chunk.choices[0].finish_reason:
            finish.append(chunk.choices[0].finish_reason)
    assert list(calls) == [0] and calls[0]["id"] and calls[0]["name"] == "get_weather", calls
    assert json.loads(calls[0]["arguments"]) == {"query": "weather in Paris"}
    assert finish == ["tool_calls"]


# --- request validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [
    ("n=2", {"model": "up-openai/m", "n": 2}, 400),
    ("undeclared variable", {"model": "opm:support", "extra_body": {"prompt_variables": {**VARS, "nope": "x"}}}, 422),
    ("no such version", {"model": "m", "extra_body": {"prompt_id": "support", "prompt_version": 99,
                                                      "prompt_variables": VARS}}, 404),
    ("label and version", {"model": "m", "extra_body": {"prompt_id": "support", "prompt_version": 1,
                                                        "prompt_label": "production", "prompt_variables": VARS}}, 400),
    ("prompt_id disagrees with model", {"model": "opm:support-claude",
                                        "extra_body": {"prompt_id": "support", "prompt_variables": VARS}}, 400),
    ("model names no provider", {"model": "gpt-4o-mini"}, (400, 422)),
], ids=lambda case: case[0])
def test_request_validation(oai, case):
    _, kwargs, status = case
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(messages=user(), **kwargs)
    assert caught.value.status_code in (status if isinstance(status, tuple) else (status,)), caught.value
