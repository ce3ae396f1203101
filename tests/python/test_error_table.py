"""The error table, end to end: for every error kind in tests/conformance/wire-errors.json (the rows
crates/opm-server/src/wire.rs is pinned to), a real call that OPM fails with that kind, through both
official SDKs. Each must raise the exception class the table names, with the table's status and the
table's error `type` in the body the SDK parsed.

`internal` (a bug in OPM) has no call that causes it on purpose; its row is pinned by the Rust test only."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import openai
import pytest

from conftest import PRODUCT

TABLE = json.loads((Path(__file__).parents[1] / "conformance" / "wire-errors.json").read_text())["kinds"]
QUESTION = [{"role": "user", "content": "is anyone there"}]
VARS = {"product": PRODUCT}
SDKS = {"openai": openai, "anthropic": anthropic}

# kind -> how to cause it: model, extra body fields, extra headers, and which key ("admin", "wrong",
# "other-project").
SCENARIOS = {
    "invalid": ("opm:support", {"prompt_variables": {}}, {}, "admin"),                  # a required variable is missing
    "malformed": ("no-such-provider/gpt-4o-mini", {}, {}, "admin"),                     # no such provider
    "not found": ("opm:no-such-prompt", {"prompt_variables": VARS}, {}, "admin"),
    "conflict": ("up-openai/model-fail-409", {}, {}, "admin"),                          # the upstream answers 409
    "unauthenticated": ("opm:support", {"prompt_variables": VARS}, {}, "wrong"),
    "forbidden": ("opm:support", {"prompt_variables": VARS}, {"x-opm-project": "default"}, "other-project"),
    "too large": ("opm:support", {"prompt_variables": VARS, "padding": "x" * (1024 * 1024 + 1)}, {}, "admin"),
    "rate limited": ("up-rate-openai/gpt-4o-mini", {}, {}, "admin"),
    "unavailable": ("up-openai/model-fail-503", {}, {}, "admin"),                       # overloaded upstream
    "upstream failed": ("up-openai/model-fail-500", {}, {}, "admin"),
    "timed out": ("up-openai/gpt-4o-mini-slow-3000", {}, {"x-opm-timeout-ms": "300"}, "admin"),
}


def test_every_kind_but_internal_has_a_scenario():
    assert set(SCENARIOS) == set(TABLE) - {"internal"}


@pytest.fixture(scope="module")
def keys(gateway):
    """The admin key, a well-formed key OPM never issued, and a key of another project."""
    status, body, _ = gateway.opm.api("POST", "/api/v1/projects", {"name": "elsewhere"})
    assert status in (200, 201, 409), body
    status, body, _ = gateway.opm.api("POST", "/api/v1/keys",
                                      {"name": "error-table", "role": "viewer", "project": "elsewhere"})
    assert status in (200, 201), body
    return {"admin": gateway.opm.admin_key, "wrong": "opm_wrong_key_0123456789abcdef", "other-project": body["secret"]}


def call(gateway, sdk: str, model: str, extra: dict, headers: dict, key: str):
    if sdk == "openai":
        gateway.openai(key).chat.completions.create(model=model, messages=QUESTION, extra_body=extra,
                                                    extra_headers=headers)
    else:
        gateway.anthropic(key).messages.create(model=model, max_tokens=64, messages=QUESTION, extra_body=extra,
                                               extra_headers=headers)


@pytest.mark.parametrize("sdk", sorted(SDKS))
@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_each_kind_raises_the_tables_exception(gateway, keys, sdk, kind):
    row = TABLE[kind]
    model, extra, headers, key = SCENARIOS[kind]
    module = SDKS[sdk]
    with pytest.raises(module.APIStatusError) as caught:
        call(gateway, sdk, model, extra, headers, keys[key])
    error = caught.value
    expected = row[f"{sdk}_exception"]
    assert type(error).__name__ == expected, f"{kind}: {type(error).__name__} {error.status_code} {error.body}"
    assert error.status_code == row["status"], f"{kind}: {error.body}"
    body = error.body
    if sdk == "openai":  # the SDK unwraps {"error": {...}}
        assert body["type"] == row["openai_type"], f"{kind}: {body}"
        assert body["code"] and body["message"], body
    else:
        assert body["type"] == "error" and body["error"]["type"] == row["anthropic_type"], f"{kind}: {body}"
        assert body["error"]["message"], body
