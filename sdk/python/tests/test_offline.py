"""Offline: a snapshot written atomically with verified hashes, a cold start from it with OPM
stopped, a refused tampered snapshot, inline fallbacks, and OPM dying under a running client."""

from __future__ import annotations

import json
import logging
import time

import pytest

from conftest import Server, chat, text, unique
from opm import Client, OPMUnavailable, RenderError


def test_cold_start_from_the_snapshot_with_opm_stopped(own_server: Server, clients, tmp_path, caplog) -> None:
    path = tmp_path / "state" / "opm-snapshot.json"
    own_server.label("footer", "production", own_server.publish("footer", text("-- {{ agent }}", agent={})))
    own_server.label("reply", "production", own_server.publish(
        "reply", chat("You help.{% include 'footer' %}", "{{ ticket }}", agent={}, ticket={})))
    own_server.publish("ab", text("A"))
    own_server.publish("ab", text("B"))
    own_server.label("ab", "production", split=[[1, 50], [2, 50]])
    online = clients(own_server.client(snapshot_path=str(path)))
    expected = online.get_prompt("reply").render(agent="Bo", ticket="hi")
    arms = {k: online.get_prompt("ab", key=k).version for k in ("u1", "u2", "u3", "u4", "u5", "u6")}
    assert online.get_prompt("ab", version=1).render() == "A"
    assert path.exists() and online.stats()["snapshot_writes"] >= 1
    document = json.loads(path.read_text())
    assert document["format"] == "opm-sdk-snapshot"
    assert {(e["prompt"], e["label"], e["version"]) for e in document["entries"]} == {
        ("reply", "production", None), ("ab", "production", None), ("ab", None, 1)}
    assert not list(path.parent.glob(".opm-snapshot-*")), "no temporary file left behind"
    online.close()
    own_server.stop()

    caplog.set_level(logging.WARNING, logger="opm")
    offline = clients(Client(url=own_server.url, api_key=own_server.admin_key, snapshot_path=str(path),
                             timeout=0.5))
    for _ in range(3):
        prompt = offline.get_prompt("reply")
        assert prompt.render(agent="Bo", ticket="hi") == expected
    assert prompt.version == 1 and prompt.included[0].prompt == "footer"
    assert {k: offline.get_prompt("ab", key=k).version for k in arms} == arms  # splits route offline too
    stats = offline.stats()
    assert stats["offline_served"] >= 3 and stats["errors"] >= 1
    warnings = [r for r in caplog.records if "reply" in r.getMessage() and r.levelno == logging.WARNING]
    assert len(warnings) == 1, "a run of failures is logged once"
    with pytest.raises(OPMUnavailable):
        offline.get_prompt("never-used")
    fallback = offline.get_prompt("never-used", fallback="Hello {{ name }}")
    assert fallback.is_fallback and fallback.version is None and fallback.render(name="Ada") == "Hello Ada"


def test_a_snapshot_whose_hashes_do_not_match_is_refused(own_server: Server, clients, tmp_path) -> None:
    path = tmp_path / "snapshot.json"
    own_server.label("tampered", "production", own_server.publish("tampered", text("the real text")))
    clients(own_server.client(snapshot_path=str(path), watch=False)).get_prompt("tampered")
    document = json.loads(path.read_text())
    document["entries"][0]["versions"][0]["content"]["template"] = "an edited text"
    path.write_text(json.dumps(document))
    own_server.stop()
    client = clients(Client(url=own_server.url, api_key=own_server.admin_key, snapshot_path=str(path), watch=False,
                            timeout=0.5))
    assert client.stats()["snapshot_refused"] == 1
    with pytest.raises(OPMUnavailable):
        client.get_prompt("tampered")
    path.write_text("{not json")
    assert clients(Client(url=own_server.url, snapshot_path=str(path), watch=False)).stats()["snapshot_refused"] == 1


def test_fallbacks_are_used_only_without_a_copy(server: Server, clients) -> None:
    down = clients(Client(url="http://127.0.0.1:9", api_key="k", watch=False, timeout=0.5))
    chat_fallback = down.get_prompt("support", fallback=[{"role": "system", "content": "Help {{ who }}."}])
    assert chat_fallback.render(who="Ada") == [{"role": "system", "content": "Help Ada."}]
    content = {"type": "text", "template": "{{ n }}!", "variables": {"n": {"type": "number"}}}
    typed = down.get_prompt("typed", fallback=content)
    assert typed.render(n=3) == "3!"
    with pytest.raises(RenderError) as wrong:
        typed.render(n="3")
    assert wrong.value.code == "variable_type"
    with pytest.raises(RenderError) as bad:
        down.get_prompt("bad", fallback={"type": "text", "template": "{{ undeclared }}"})
    assert bad.value.code == "template_undeclared_variable"
    assert down.stats()["fallback_served"] == 2
    name = unique("online")
    server.label(name, "production", server.publish(name, text("from OPM")))
    up = clients(server.client(watch=False))
    assert up.get_prompt(name, fallback="inline").render() == "from OPM"


def test_opm_dying_under_a_running_client_is_not_a_crash(own_server: Server, clients) -> None:
    name = unique("dying")
    own_server.label(name, "production", own_server.publish(name, text("still here")))
    client = clients(own_server.client(cache_ttl=0.2, timeout=0.5))
    assert client.get_prompt(name).render() == "still here"
    own_server.kill()
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # stale → background refresh fails → invalid/offline copy
        assert client.get_prompt(name).render() == "still here"
        time.sleep(0.02)
    assert client.stats()["errors"] >= 1
