"""The real `langfuse` Python SDK (5.x, unchanged) against OPM's Langfuse-compatible prompt API.

A Langfuse app switches by changing its base URL and keys: `public_key` = an OPM key id,
`secret_key` = the key. Covered: get by label (production by default) and version, compile,
the SDK's cache and fallback, create and label moves visible in `opm history` and the audit trail,
a wrong key as the SDK's auth error, and a Jinja template refused rather than served half-rendered.
"""

from __future__ import annotations

import time

import pytest
from langfuse import Langfuse
from langfuse.api.commons.errors.not_found_error import NotFoundError
from langfuse.api.commons.errors.unauthorized_error import UnauthorizedError


def client(server, key, **kwargs) -> Langfuse:
    return Langfuse(public_key=key.id, secret_key=key.secret, base_url=server.url, tracing_enabled=False, **kwargs)


@pytest.fixture(scope="module")
def seeded(server):
    text = {"type": "text", "template": "Hello {{ name }}, welcome to {{product}}.",
            "variables": {"name": {"type": "string"}, "product": {"type": "string"}},
            "model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.3}}}
    v1 = server.publish("lf-welcome", text, "first words")
    server.label("lf-welcome", "production", v1)
    chat = {"type": "chat", "messages": [{"role": "system", "content": "You are {{ persona }}."},
                                         {"role": "user", "content": "{{question}}"}],
            "variables": {"persona": {"type": "string"}, "question": {"type": "string"}}}
    v2 = server.publish("lf-chat", chat)
    server.label("lf-chat", "staging", v2)
    server.label("lf-chat", "production", v2)
    return v1


def test_get_by_label_and_version_and_compile(server, viewer, seeded):
    langfuse = client(server, viewer)
    assert langfuse.auth_check() is True
    prompt = langfuse.get_prompt("lf-welcome", cache_ttl_seconds=0)  # no label: production
    assert prompt.version == seeded
    assert prompt.compile(name="Ada", product="OPM") == "Hello Ada, welcome to OPM."
    assert prompt.config == {"model": "openai/gpt-4o-mini", "temperature": 0.3}
    assert prompt.commit_message == "first words"
    assert "production" in prompt.labels and "latest" in prompt.labels
    by_version = langfuse.get_prompt("lf-welcome", version=seeded, cache_ttl_seconds=0)
    assert by_version.version == seeded
    chat = langfuse.get_prompt("lf-chat", label="staging", type="chat", cache_ttl_seconds=0)
    assert chat.compile(persona="a librarian", question="Where is Dune?") == [
        {"role": "system", "content": "You are a librarian."},
        {"role": "user", "content": "Where is Dune?"},
    ]
    assert sorted(chat.variables) == ["persona", "question"]


def test_create_and_label_moves_are_opm_versions_and_audited(server, editor):
    langfuse = client(server, editor)
    created = langfuse.create_prompt(name="lf-created", prompt="Summarize {{ text }}", labels=["staging"],
                                     config={"model": "openai/gpt-4o-mini", "max_tokens": 50},
                                     commit_message="from the SDK", tags=["sdk"])
    assert created.version == 1 and created.tags == ["sdk"]
    second = langfuse.create_prompt(name="lf-created", prompt="Summarize briefly: {{ text }}", labels=[])
    assert second.version == 2
    langfuse.update_prompt(name="lf-created", version=2, new_labels=["production"])
    served = langfuse.get_prompt("lf-created", cache_ttl_seconds=0)
    assert served.version == 2 and served.compile(text="a long story") == "Summarize briefly: a long story"
    # OPM sees real versions, label history and audit entries by the editor key, with the reason.
    status, version, _ = server.api("GET", "/api/v1/prompts/lf-created/versions/1")
    assert status == 200 and version["message"] == "from the SDK"
    assert version["content"]["model"] == {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"max_tokens": 50}}
    history = server.opm_cli("label", "history", "lf-created", "production")
    assert "via Langfuse API" in history, history
    versions = server.opm_cli("history", "lf-created")
    assert "from the SDK" in versions, versions
    status, audit, _ = server.api("GET", "/api/v1/audit?prompt=lf-created&action=label.set")
    entries = [e for e in audit["items"] if e["reason"] == "via Langfuse API"]
    assert {e["actor"]["name"] for e in entries} == {"compat-editor"}, audit


def test_cache_serves_until_ttl_then_refreshes_and_fallback(server, editor):
    langfuse = client(server, editor)
    langfuse.create_prompt(name="lf-cached", prompt="v1 {{ x }}", labels=["production"])
    first = langfuse.get_prompt("lf-cached", cache_ttl_seconds=2)
    assert first.version == 1
    # A move made elsewhere (OPM's own API) is not seen while the cache entry is fresh…
    v2 = server.publish("lf-cached", {"type": "text", "template": "v2 {{ x }}", "variables": {"x": {"type": "string"}}})
    server.label("lf-cached", "production", v2)
    assert langfuse.get_prompt("lf-cached", cache_ttl_seconds=2).version == 1
    # …and is after the TTL: the stale copy is served once while a background refresh runs.
    time.sleep(2.5)
    deadline = time.monotonic() + 10
    while langfuse.get_prompt("lf-cached", cache_ttl_seconds=2).version != v2:
        assert time.monotonic() < deadline, "the SDK never refreshed from OPM"
        time.sleep(0.2)
    # A prompt OPM does not have: the SDK's NotFoundError, or the fallback when one is given.
    with pytest.raises(NotFoundError):
        langfuse.get_prompt("lf-missing", max_retries=0, cache_ttl_seconds=0)
    fallback = langfuse.get_prompt("lf-missing", fallback="offline {{ x }}", max_retries=0, cache_ttl_seconds=0)
    assert fallback.is_fallback and fallback.compile(x="copy") == "offline copy"


def test_wrong_key_is_the_sdks_auth_error(server, viewer, seeded):
    # The SDK keeps one client per public key in the process: use a key no other test has used.
    fresh = server.create_key("compat-auth", "viewer")
    wrong = type(fresh)(fresh.id, fresh.secret[:-4] + "xxxx")
    langfuse = client(server, wrong)
    with pytest.raises(UnauthorizedError):
        langfuse.get_prompt("lf-welcome", max_retries=0, cache_ttl_seconds=0)
    with pytest.raises(Exception, match="401|nauthori"):
        langfuse.auth_check()
    # The public key must be the secret's key id.
    other = type(viewer)("not-the-id", viewer.secret)
    with pytest.raises(UnauthorizedError):
        client(server, other).get_prompt("lf-welcome", max_retries=0, cache_ttl_seconds=0)


def test_viewer_cannot_create(server, viewer):
    with pytest.raises(Exception, match="403|forbidden|`editor` role"):
        client(server, viewer).create_prompt(name="lf-denied", prompt="hi")


def test_jinja_templates_are_refused_not_served_half_rendered(server, viewer):
    jinja = {"type": "text", "template": "Hi {{ name | title }}", "variables": {"name": {"type": "string"}}}
    server.label("lf-jinja", "production", server.publish("lf-jinja", jinja))
    langfuse = client(server, viewer)
    with pytest.raises(Exception) as raised:
        langfuse.get_prompt("lf-jinja", max_retries=0, cache_ttl_seconds=0)
    assert "{{ name | title }}" in str(raised.value) and getattr(raised.value, "status_code", None) == 422
