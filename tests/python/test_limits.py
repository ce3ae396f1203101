"""Gateway limits through the official SDKs: a key over its project's request rate gets OPM's own
429 with `Retry-After`, which the OpenAI and Anthropic SDKs raise as their `RateLimitError`.

The limits live in a project of their own (`limits-sdk`), so no other test in the session meets them.
"""

from __future__ import annotations

import anthropic
import openai
import pytest

MESSAGES = [{"role": "user", "content": "how fast may I go"}]


@pytest.fixture(scope="module")
def limited_key(gateway):
    status, body, _ = gateway.opm.api("POST", "/api/v1/projects", {"name": "limits-sdk"})
    assert status in (200, 201, 409), body
    keys = {}
    for role in ("admin", "viewer"):
        status, body, _ = gateway.opm.api("POST", "/api/v1/keys",
                                          {"name": f"limits-{role}", "role": role, "project": "limits-sdk"})
        assert status in (200, 201), body
        keys[role] = body["secret"]
    # One call, then one every 100 s: the second call is refused with Retry-After: 100.
    policy = {"rules": {"limits": {"per_key": {"requests_per_second": 0.01, "burst": 1}}},
              "expected_revision": 0, "reason": "sdk limits test"}
    status, body, _ = gateway.opm.api("PUT", "/api/v1/governance", policy, key=keys["admin"])
    assert status == 200, body
    return keys["viewer"]


def test_a_rate_limited_key_raises_each_sdks_rate_limit_error(gateway, limited_key):
    client = gateway.openai(limited_key)
    answer = client.chat.completions.create(model="up-openai/gpt-4o-mini", messages=MESSAGES)
    assert answer.choices[0].message.content

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="up-openai/gpt-4o-mini", messages=MESSAGES)
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "100"
    assert error.body["type"] == "rate_limit_error" and error.body["code"] == "rate_limited", error.body
    assert "this key's request rate limit" in error.body["message"]

    with pytest.raises(anthropic.RateLimitError) as caught:
        gateway.anthropic(limited_key).messages.create(model="up-anthropic/claude-mock-haiku", max_tokens=32,
                                                       messages=MESSAGES)
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "100"
    assert error.body["error"]["type"] == "rate_limit_error", error.body


def test_the_admin_key_of_another_project_is_not_limited(oai):
    answer = oai.chat.completions.create(model="up-openai/gpt-4o-mini", messages=MESSAGES)
    assert answer.choices[0].message.content
