"""Failures must reach the client in its own wire format, with a status that makes the official SDK
raise the matching exception; a stream the upstream breaks must raise, never end silently truncated."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest

from conftest import PRODUCT
from harness import summary_reply

VARS = {"product": PRODUCT}
MAX_TOKENS = 128
QUESTION = [{"role": "user", "content": "is anyone there"}]

SDK_ERRORS = {"openai": openai, "anthropic": anthropic}


def call(gateway, sdk: str, model: str, *, key: str | None = None, extra: dict | None = None, stream=False):
    """One request through `sdk`'s client; a stream is consumed to the end. Returns the content."""
    if sdk == "openai":
        response = gateway.openai(key).chat.completions.create(
            model=model, messages=QUESTION, extra_body=extra, stream=stream)
        if stream:
            return "".join(c.choices[0].delta.content or "" for c in response if c.choices)
        return response.choices[0].message.content
    client = gateway.anthropic(key, auth="x-api-key" if sdk == "anthropic-x-api-key" else "sdk")
    response = client.messages.create(
        model=model, max_tokens=MAX_TOKENS, messages=QUESTION, extra_body=extra, stream=stream)
    if stream:
        return "".join(e.delta.text for e in response if e.type == "content_block_delta" and e.delta.type == "text_delta")
    return response.content[0].text


def problem(error) -> str:
    """What the error carried, for assertion messages."""
    return f"{type(error).__name__} status={getattr(error, 'status_code', None)} body={getattr(error, 'body', None)}"


# --- upstream errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("model", ["up-rate-openai/gpt-4o-mini", "up-rate-anthropic/claude", "opm:limited",
                                   "opm:limited-claude"])
def test_upstream_429_is_rate_limit_error(gateway, sdk, model):
    extra = {"prompt_variables": VARS} if model.startswith("opm:") else None
    with pytest.raises(SDK_ERRORS[sdk].RateLimitError) as caught:
        call(gateway, sdk, model, extra=extra)
    assert caught.value.status_code == 429


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("upstream", ["up-down-openai", "up-down-anthropic"])
def test_upstream_5xx_is_bad_gateway(gateway, sdk, upstream):
    with pytest.raises(SDK_ERRORS[sdk].APIStatusError) as caught:
        call(gateway, sdk, f"{upstream}/model")
    assert caught.value.status_code in (502, 503, 504), problem(caught.value)


# What OPM answers for an upstream status (the kind `GatewayError::kind` gives it, then the one table in
# crates/opm-server/src/wire.rs): the caller's own mistakes (400, 404, 409, 413, 422) keep their status; a
# rejected OPM credential upstream (401, 403) or another 4xx/5xx is the gateway's problem (502); overload
# (503, 529) is 503 with Anthropic's `overloaded_error` type; 429 stays 429.
UPSTREAM_STATUS_MAP = {400: 400, 404: 404, 422: 422, 401: 502, 403: 502, 418: 502, 429: 429, 500: 502,
                       503: 503, 529: 503}


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("upstream_status", sorted(UPSTREAM_STATUS_MAP))
def test_upstream_status_mapping(gateway, sdk, upstream_status):
    """The mock fails a model named `…-fail-N` with status N (in the upstream's own format)."""
    expected = UPSTREAM_STATUS_MAP[upstream_status]
    provider = "up-openai" if upstream_status % 2 else "up-anthropic"  # both upstream formats, alternately
    with pytest.raises(SDK_ERRORS[sdk].APIStatusError) as caught:
        call(gateway, sdk, f"{provider}/model-fail-{upstream_status}")
    assert caught.value.status_code == expected, problem(caught.value)


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("upstream", ["up-reset-openai", "up-reset-anthropic", "up-malformed-openai",
                                      "up-malformed-anthropic"])
def test_broken_upstream_body_is_bad_gateway(gateway, sdk, upstream):
    """`reset`: the connection drops after 3 body bytes; `malformed`: the body is not JSON."""
    with pytest.raises(SDK_ERRORS[sdk].APIStatusError) as caught:
        call(gateway, sdk, f"{upstream}/model")
    assert caught.value.status_code == 502, problem(caught.value)


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_upstream_rejecting_opms_key_is_bad_gateway_not_401(gateway, sdk):
    """A wrong *provider* key must not look like a wrong OPM key to the client."""
    with pytest.raises(SDK_ERRORS[sdk].APIStatusError) as caught:
        call(gateway, sdk, "up-badkey-openai/gpt-4o-mini")
    assert caught.value.status_code == 502, problem(caught.value)


def test_upstream_5xx_is_retried(gateway):
    mock = gateway.mocks["down"]
    before = mock.requests()
    with pytest.raises(openai.APIStatusError):
        call(gateway, "openai", "up-down-openai/gpt-4o-mini")
    attempts = mock.requests() - before
    assert attempts >= 2, f"OPM sent {attempts} request(s) to an upstream answering 503: no retry"


def test_breaker_opens(gateway):
    """`up-breaker-openai`: one attempt per request, breaker opens after 2 failures. The third request
    must be refused by OPM itself (503) without reaching the upstream."""
    mock = gateway.mocks["down"]
    reached = []
    for _ in range(3):
        before = mock.requests()
        with pytest.raises(openai.APIStatusError) as caught:
            call(gateway, "openai", "up-breaker-openai/gpt-4o-mini")
        reached.append((caught.value.status_code, mock.requests() - before))
    assert reached[:2] == [(503, 1), (503, 1)], reached
    assert reached[2] == (503, 0), f"(status, upstream requests) per call: {reached}"


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_fallback_model_answers_when_primary_fails(gateway, sdk):
    content = call(gateway, sdk, "opm:resilient", extra={"prompt_variables": VARS})
    assert content == summary_reply(QUESTION[0]["content"])


# --- client errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", ["openai", "anthropic", "anthropic-x-api-key"])
@pytest.mark.parametrize("model", ["opm:support", "up-openai/gpt-4o-mini"])
def test_wrong_key_is_authentication_error(gateway, sdk, model):
    module = anthropic if sdk.startswith("anthropic") else openai
    with pytest.raises(module.AuthenticationError) as caught:
        call(gateway, sdk, model, key="opm_wrong_key_0123456789abcdef", extra={"prompt_variables": VARS})
    assert caught.value.status_code == 401


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_missing_key_is_authentication_error(gateway, sdk):
    url = f"{gateway.url}/v1/chat/completions" if sdk == "openai" else f"{gateway.url}/v1/messages"
    body = {"model": "opm:support", "max_tokens": 16, "messages": QUESTION, "prompt_variables": VARS}
    response = httpx2.post(url, json=body, headers={"anthropic-version": "2023-06-01"}, timeout=30)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("form", ["model", "prompt_id"])
def test_unknown_prompt_is_not_found(gateway, sdk, form):
    if form == "model":
        model, extra = "opm:no-such-prompt", {"prompt_variables": VARS}
    else:
        model, extra = "gpt-4o-mini", {"prompt_id": "no-such-prompt", "prompt_variables": VARS}
    with pytest.raises(SDK_ERRORS[sdk].NotFoundError) as caught:
        call(gateway, sdk, model, extra=extra)
    assert caught.value.status_code == 404


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_unknown_label_is_not_found(gateway, sdk):
    with pytest.raises(SDK_ERRORS[sdk].NotFoundError):
        call(gateway, sdk, "opm:support@no-such-label", extra={"prompt_variables": VARS})


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("variables", [{}, None, {"product": 42}], ids=["empty", "absent", "wrong-type"])
def test_bad_variables_are_client_errors(gateway, sdk, variables):
    extra = {} if variables is None else {"prompt_variables": variables}
    module = SDK_ERRORS[sdk]
    with pytest.raises((module.BadRequestError, module.UnprocessableEntityError)) as caught:
        call(gateway, sdk, "opm:support", extra=extra)
    assert caught.value.status_code in (400, 422)


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_unknown_provider_is_client_error(gateway, sdk):
    module = SDK_ERRORS[sdk]
    with pytest.raises(module.APIStatusError) as caught:
        call(gateway, sdk, "no-such-provider/gpt-4o-mini")
    assert 400 <= caught.value.status_code < 500, problem(caught.value)


def test_openai_error_body_shape(gateway):
    with pytest.raises(openai.NotFoundError) as caught:
        call(gateway, "openai", "opm:no-such-prompt", extra={"prompt_variables": VARS})
    body = caught.value.body
    assert isinstance(body, dict) and {"message", "type"} <= set(body), body  # the SDK unwraps {"error": …}
    assert body["message"]


def test_anthropic_error_body_shape(gateway):
    with pytest.raises(anthropic.NotFoundError) as caught:
        call(gateway, "anthropic", "opm:no-such-prompt", extra={"prompt_variables": VARS})
    body = caught.value.body
    assert body.get("type") == "error" and body["error"]["type"] == "not_found_error", body
    assert body["error"]["message"]


# --- broken streams ------------------------------------------------------------------------------------

# What an SDK may raise when a stream breaks: its own errors, or the transport's (anthropic lets
# httpx2.RemoteProtocolError through on a reset connection; so would openai outside its retry loop).
STREAM_ERRORS = {
    "openai": (openai.APIError, httpx2.TransportError),
    "anthropic": (anthropic.APIError, httpx2.TransportError),
}


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("upstream", ["up-reset-openai", "up-reset-anthropic", "up-cut-openai", "up-cut-anthropic"])
def test_broken_stream_raises(gateway, sdk, upstream):
    """`reset`: the upstream drops the connection after 3 events; `cut`: it sends its format's in-stream
    error event after 3 events. Either way the client must see an exception, not a short answer."""
    try:
        content = call(gateway, sdk, f"{upstream}/model", stream=True)
    except STREAM_ERRORS[sdk]:
        return
    pytest.fail(f"stream from {upstream} ended without an error; the client got {content!r}")


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_broken_stream_raises_with_managed_prompt(gateway, sdk):
    with pytest.raises(STREAM_ERRORS[sdk]):
        call(gateway, sdk, "opm:fragile", stream=True, extra={"prompt_variables": VARS})
