"""The real `litellm` package calling OPM's OpenAI-compatible gateway as its upstream: the route
that keeps OPM's whole feature set (labels, splits, rollouts, server-side rendering, telemetry).

`model="openai/opm:NAME@LABEL"`, `api_base=<OPM>/v1`, `api_key=<OPM key>`, and the variables in
`extra_body={"prompt_variables": {...}}` (a top-level `prompt_variables=` is LiteLLM's own
parameter and never leaves the process). The upstream is an `opm-mock-llm` in echo mode, so the
reply is the last user message OPM rendered.
"""

from __future__ import annotations

import litellm
import pytest

CONTENT = {
    "type": "chat",
    "messages": [{"role": "system", "content": "You help with {{ product }}."},
                 {"role": "user", "content": "Ticket about {{ product }}: {{ ticket }}"}],
    "variables": {"product": {"type": "string"}, "ticket": {"type": "string"}},
    "model": {"provider": "up", "model": "gpt-4o-mini", "parameters": {"temperature": 0}},
}


@pytest.fixture(scope="module")
def prompt(server):
    v1 = server.publish("lite-support", CONTENT)
    server.label("lite-support", "production", v1)
    staged = {**CONTENT, "messages": [CONTENT["messages"][0], {"role": "user", "content": "STAGING {{ ticket }}"}]}
    server.label("lite-support", "staging", server.publish("lite-support", staged))
    return v1


def complete(server, key, model, variables, **kwargs):
    return litellm.completion(model=model, api_base=f"{server.url}/v1", api_key=key.secret, messages=[],
                              extra_body={"prompt_variables": variables}, timeout=30, **kwargs)


def opm_headers(response) -> dict:
    headers = response._hidden_params.get("additional_headers") or {}
    return {k.removeprefix("llm_provider-"): v for k, v in headers.items() if "x-opm-" in k}


def test_completion_renders_the_labelled_version_in_opm(server, viewer, prompt):
    variables = {"product": "rocket skates", "ticket": "a wheel fell off"}
    response = complete(server, viewer, "openai/opm:lite-support@production", variables)
    assert response.choices[0].message.content == "Ticket about rocket skates: a wheel fell off"
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    headers = opm_headers(response)
    assert headers["x-opm-prompt"] == "lite-support" and headers["x-opm-label"] == "production"
    assert headers["x-opm-prompt-version"] == str(prompt)
    # The call is an OPM generation of that version, with its tokens.
    status, generation, _ = server.api("GET", f"/api/v1/generations/{headers['x-opm-generation-id']}")
    assert status == 200, generation
    assert generation["prompt"] == "lite-support" and generation["prompt_version"] == prompt
    staged = complete(server, viewer, "openai/opm:lite-support@staging", {"product": "x", "ticket": "hi"})
    assert staged.choices[0].message.content == "STAGING hi"


def test_streaming(server, viewer, prompt):
    chunks = complete(server, viewer, "openai/opm:lite-support", {"product": "p", "ticket": "stream me please"},
                      stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "Ticket about p: stream me please"


def test_opm_errors_reach_the_app_as_litellm_exceptions(server, viewer, prompt):
    with pytest.raises(litellm.BadRequestError, match="missing required variables: ticket"):
        complete(server, viewer, "openai/opm:lite-support@production", {"product": "p"})
    with pytest.raises(litellm.NotFoundError):
        complete(server, viewer, "openai/opm:no-such-prompt", {})
    wrong = type(viewer)(viewer.id, "opm_not_a_key")
    with pytest.raises(litellm.AuthenticationError):
        complete(server, wrong, "openai/opm:lite-support", {"product": "p", "ticket": "t"})
