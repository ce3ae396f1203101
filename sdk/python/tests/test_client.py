"""The client against a real `opm serve`: what get_prompt returns, local render == server render,
cache hits without HTTP, content hashes recomputed like the server's, error mapping, feedback."""

from __future__ import annotations

import pytest

from conftest import Server, chat, text, unique
from opm import AuthError, InvalidRequest, OPMUnavailable, PromptNotFound, RenderError
from opm.canonical import content_hash


def test_get_prompt_returns_the_served_version_and_renders_like_the_server(server: Server, clients) -> None:
    name = unique("support")
    server.publish(name, chat("You help {{ product }} users.", "{{ ticket }}", product={}, ticket={}))
    version = server.publish(name, chat("You help {{ product }} customers.", "{{ ticket }}", product={}, ticket={}))
    server.label(name, "production", version)
    client = clients(server.client(watch=False))
    prompt = client.get_prompt(name)
    assert (prompt.name, prompt.version, prompt.label, prompt.arm, prompt.type) == (name, 2, "production", None, "chat")
    assert prompt.model is not None and (prompt.model.provider, prompt.model.model) == ("mock", "mock-1")
    assert prompt.model.parameters == {"temperature": 0.3}
    assert set(prompt.variables) == {"product", "ticket"}
    resolved = server.api("GET", f"/api/v1/prompts/{name}/resolve")
    assert prompt.content_hash == resolved["content_hash"]
    local = prompt.render(product="Acme", ticket="Where is my order?")
    assert local == [{"role": "system", "content": "You help Acme customers."},
                     {"role": "user", "content": "Where is my order?"}]
    assert client.render(name, variables={"product": "Acme", "ticket": "Where is my order?"}) == local
    assert client.get_prompt(name, version=1).render(product="A", ticket="t")[0]["content"] == "You help A users."
    assert client.get_prompt(name, version=1).label is None
    assert client.get_prompt(name, label="latest").version == 2


def test_cache_hits_do_no_http(server: Server, clients) -> None:
    name = unique("cached")
    server.label(name, "production", server.publish(name, text("Hello {{ name }}", name={})))
    client = clients(server.client(watch=False))
    client.get_prompt(name)
    before = client.stats()
    resolves_before = _resolutions(server, name)
    for _ in range(500):
        assert client.get_prompt(name).render(name="Ada") == "Hello Ada"
    after = client.stats()
    assert after["http_requests"] == before["http_requests"]
    assert after["cache_hits"] - before["cache_hits"] == 500
    assert _resolutions(server, name) == resolves_before  # the server saw nothing either


def _resolutions(server: Server, name: str) -> float:
    import urllib.request

    metrics = urllib.request.urlopen(f"{server.url}/metrics").read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("opm_prompt_resolutions_total") and f'prompt="{name}"' in line)


def test_content_hashes_are_recomputed_exactly_like_the_server(server: Server) -> None:
    name = unique("hashes")
    content = {
        "type": "text", "template": "{{ a }} é \u2028 \"q\" \\ \t",
        "variables": {"a": {"type": "string", "description": "ünï", "default": "x"}, "b": {"required": False}},
        "model": {"provider": "mock", "model": "m", "parameters": {
            "temperature": 0.3, "top_p": 1.0, "big": 1e16, "bigger": 1e21, "small": 1e-7, "tiny": 1.5e-5,
            "n": 12345678901234, "neg": -2.5, "zero": 0.0, "list": [1, 2.50, {"z": None, "a": True}]}},
        "metadata": {"team": "växjö", "nested": {"b": 1, "a": [0.1, 100.0]}},
    }
    server.publish(name, content)
    resolved = server.api("GET", f"/api/v1/prompts/{name}/resolve?version=1")
    assert content_hash(resolved["content"]) == resolved["content_hash"]
    assert content_hash(content) == resolved["content_hash"]


def test_errors_map_to_typed_exceptions(server: Server, clients) -> None:
    name = unique("errors")
    server.label(name, "production", server.publish(name, text("{{ n }}", n={"type": "number"})))
    client = clients(server.client(watch=False))
    with pytest.raises(PromptNotFound) as missing:
        client.get_prompt(unique("nobody"))
    assert missing.value.status == 404 and missing.value.code == "prompt_not_found" and missing.value.request_id
    with pytest.raises(PromptNotFound) as no_label:
        client.get_prompt(name, label="staging")
    assert no_label.value.code == "label_not_found"
    with pytest.raises(PromptNotFound):
        client.get_prompt(name, version=9)
    with pytest.raises(InvalidRequest) as bad_name:
        client.get_prompt("Not A Name")
    assert bad_name.value.status == 422 and bad_name.value.code == "invalid_name"
    with pytest.raises(InvalidRequest):
        client.get_prompt(name, label="production", version=1)
    # 422 on render: the server and the local renderer raise the same error, same message.
    with pytest.raises(RenderError) as remote:
        client.render(name, variables={"n": "three"})
    with pytest.raises(RenderError) as local:
        client.get_prompt(name).render(n="three")
    assert remote.value.status == 422
    assert (remote.value.code, remote.value.message) == (local.value.code, local.value.message) == (
        "variable_type", "variable `n` must be number, got string")
    for variables in ({}, {"n": 1, "m": 2}):
        with pytest.raises(RenderError) as remote:
            client.render(name, variables=variables)
        with pytest.raises(RenderError) as local:
            client.get_prompt(name).render(**variables)
        assert (remote.value.code, remote.value.message) == (local.value.code, local.value.message)
    # 401: no key, a wrong key; 403: a viewer is fine for reads, so use a key of another project.
    for key in ("", "opm_nope_nope"):
        with pytest.raises(AuthError) as denied:
            clients(server.client(api_key=key, watch=False)).get_prompt(name)
        assert denied.value.status == 401 and denied.value.code == "unauthenticated"
    viewer = server.key("viewer")
    assert clients(server.client(api_key=viewer, watch=False)).get_prompt(name).version == 1
    with pytest.raises(OPMUnavailable):
        clients(server.client(url="http://127.0.0.1:9", watch=False, timeout=0.5)).get_prompt(name)


def test_feedback_scores_a_generation(server: Server, clients) -> None:
    name = unique("scored")
    server.label(name, "production", server.publish(name, chat("Hi", "{{ q }}", q={})))
    invoked = server.api("POST", f"/api/v1/prompts/{name}/invoke", {"variables": {"q": "hello"}})
    generation_id = invoked.get("generation_id") or invoked["id"]
    client = clients(server.client(watch=False))
    stored = client.feedback(generation_id, score=0.5, comment="fine")
    assert stored["score"] == 0.5
    with pytest.raises(PromptNotFound) as unknown:
        client.feedback("00000000-0000-0000-0000-000000000000", score=1.0)
    assert unknown.value.code == "generation_not_found"
    with pytest.raises(InvalidRequest):
        client.feedback(generation_id, score=1.0, comment="x" * 4097)


def test_environment_fallbacks_and_the_project_header(server: Server, monkeypatch) -> None:
    import harness

    project = unique("team")
    server.api("POST", "/api/v1/projects", {"name": project})
    name = unique("scoped")
    headers = {"authorization": f"Bearer {server.admin_key}", "x-opm-project": project}
    status, _, _ = harness.http_json("POST", f"{server.url}/api/v1/prompts/{name}/versions",
                                     {"content": text("in {{ where }}", where={}), "message": "t"}, headers)
    assert status in (200, 201)
    status, _, _ = harness.http_json("PUT", f"{server.url}/api/v1/prompts/{name}/labels/production",
                                     {"version": 1, "reason": "t"}, headers)
    assert status == 200
    monkeypatch.setenv("OPM_URL", server.url)
    monkeypatch.setenv("OPM_API_KEY", server.admin_key)
    monkeypatch.setenv("OPM_PROJECT", project)
    from opm import Client

    with Client(watch=False) as client:
        assert client.get_prompt(name).render(where="a project") == "in a project"
    monkeypatch.delenv("OPM_PROJECT")
    with Client(watch=False) as client, pytest.raises(PromptNotFound):
        client.get_prompt(name)  # the default project has no such prompt
