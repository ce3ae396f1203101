"""What the gateway must carry across wire formats besides text: cached-token accounting (OpenAI counts
cached tokens inside `prompt_tokens`, Anthropic outside `input_tokens`) and incremental streaming."""

from __future__ import annotations

import time

import pytest

from harness import message_tokens, summary_reply

QUESTION = "one two three four five six seven"
SYSTEM = "Be brief."
CACHED = 5  # the `cached` mock reports 5 prompt tokens as cache reads
TOTAL_INPUT = message_tokens(SYSTEM) + message_tokens(QUESTION)
MAX_TOKENS = 64


def openai_messages():
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]


@pytest.mark.parametrize("upstream", ["up-cached-openai", "up-cached-anthropic"])
def test_cached_tokens_openai_client(oai, upstream):
    completion = oai.chat.completions.create(model=f"{upstream}/m", messages=openai_messages(), max_tokens=MAX_TOKENS)
    usage = completion.usage
    assert usage.prompt_tokens == TOTAL_INPUT, usage
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == CACHED, usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.parametrize("upstream", ["up-cached-openai", "up-cached-anthropic"])
def test_cached_tokens_openai_client_stream(oai, upstream):
    stream = oai.chat.completions.create(model=f"{upstream}/m", messages=openai_messages(), max_tokens=MAX_TOKENS,
                                         stream=True, stream_options={"include_usage": True})
    (usage,) = [chunk.usage for chunk in stream if chunk.usage is not None]
    assert usage.prompt_tokens == TOTAL_INPUT, usage
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == CACHED, usage


@pytest.mark.parametrize("upstream", ["up-cached-anthropic", "up-cached-openai"])
def test_cached_tokens_anthropic_client(claude, upstream):
    message = claude.messages.create(model=f"{upstream}/m", max_tokens=MAX_TOKENS, system=SYSTEM,
                                     messages=[{"role": "user", "content": QUESTION}])
    assert message.usage.input_tokens == TOTAL_INPUT - CACHED, message.usage
    assert message.usage.cache_read_input_tokens == CACHED, message.usage


@pytest.mark.parametrize("upstream", ["up-cached-anthropic", "up-cached-openai"])
def test_cached_tokens_anthropic_client_stream(claude, upstream):
    with claude.messages.stream(model=f"{upstream}/m", max_tokens=MAX_TOKENS, system=SYSTEM,
                                messages=[{"role": "user", "content": QUESTION}]) as stream:
        final = stream.get_final_message()
    assert final.usage.input_tokens == TOTAL_INPUT - CACHED, final.usage
    assert final.usage.cache_read_input_tokens == CACHED, final.usage


# --- streaming is incremental ----------------------------------------------------------------------------
# The `drip` upstream waits 60 ms between stream events (~14 events). A gateway that forwards as it
# receives spreads the client's pieces over most of that time; one that buffers delivers them at once.
# The bound is far from both outcomes, so machine load does not make this flaky.
MIN_SPREAD_S = 0.3


@pytest.mark.parametrize("upstream", ["up-drip-openai", "up-drip-anthropic"])
def test_openai_stream_is_incremental(oai, upstream):
    stream = oai.chat.completions.create(model=f"{upstream}/m", messages=openai_messages(), max_tokens=MAX_TOKENS,
                                         stream=True)
    arrivals = [(time.monotonic(), c.choices[0].delta.content) for c in stream if c.choices and c.choices[0].delta.content]
    assert "".join(text for _, text in arrivals) == summary_reply(QUESTION)
    spread = arrivals[-1][0] - arrivals[0][0]
    assert spread >= MIN_SPREAD_S, f"{len(arrivals)} pieces arrived within {spread * 1000:.0f} ms: buffered"


@pytest.mark.parametrize("upstream", ["up-drip-anthropic", "up-drip-openai"])
def test_anthropic_stream_is_incremental(claude, upstream):
    with claude.messages.stream(model=f"{upstream}/m", max_tokens=MAX_TOKENS, system=SYSTEM,
                                messages=[{"role": "user", "content": QUESTION}]) as stream:
        arrivals = [(time.monotonic(), text) for text in stream.text_stream]
    assert "".join(text for _, text in arrivals) == summary_reply(QUESTION)
    spread = arrivals[-1][0] - arrivals[0][0]
    assert spread >= MIN_SPREAD_S, f"{len(arrivals)} pieces arrived within {spread * 1000:.0f} ms: buffered"
