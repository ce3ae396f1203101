"""The include label rule against a real `opm serve`, local render == server render: an unpinned
include follows the prompt's label and falls back to `production` when the included prompt lacks
it (the README quick start's split on `staging`), neither label is the server's `label_not_found`
with the same message, and a snapshot taken with a fallback renders offline."""

from __future__ import annotations

import pytest

from conftest import Server, text, unique
from opm import Client, PromptNotFound


def test_an_include_falls_back_to_production_like_the_server(server: Server, clients) -> None:
    snippet, reply = unique("tone"), unique("reply")
    server.label(snippet, "production", server.publish(snippet, text("calm")))
    server.publish(snippet, text("warm"))
    server.publish(reply, text("[{% include '" + snippet + "' %}] {{ who }}", who={}))
    server.label(reply, "staging", 1)
    client = clients(server.client(watch=False))

    local = client.get_prompt(reply, label="staging")
    assert local.render(who="Ada") == client.render(reply, {"who": "Ada"}, label="staging") == "[calm] Ada"
    assert [(i.prompt, i.version) for i in local.included] == [(snippet, 1)]

    # The snippet gains the label: both follow it.
    server.label(snippet, "staging", 2)
    fresh = clients(server.client(watch=False))
    assert fresh.get_prompt(reply, label="staging").render(who="Ada") == "[warm] Ada"
    assert fresh.render(reply, {"who": "Ada"}, label="staging") == "[warm] Ada"


def test_neither_label_is_the_servers_error(server: Server, clients) -> None:
    snippet, reply = unique("snippet"), unique("reply")
    server.label(snippet, "staging", server.publish(snippet, text("s")))
    server.label(reply, "canary", server.publish(reply, text("{% include '" + snippet + "' %}")))
    client = clients(server.client(watch=False))
    with pytest.raises(PromptNotFound) as remote:
        client.render(reply, label="canary")
    with pytest.raises(PromptNotFound) as local:
        client.get_prompt(reply, label="canary").render()
    assert (remote.value.code, remote.value.message) == (local.value.code, local.value.message) == (
        "label_not_found", f"prompt `{snippet}` (included by `{reply}`) has neither label `canary` nor `production`")


def test_a_snapshot_with_a_fallback_include_renders_offline(own_server: Server, clients, tmp_path) -> None:
    path = tmp_path / "snapshot.json"
    own_server.label("footer", "production", own_server.publish("footer", text("-- OPM")))
    own_server.label("reply", "staging", own_server.publish("reply", text("hi {% include 'footer' %}")))
    online = clients(own_server.client(snapshot_path=str(path), watch=False))
    assert online.get_prompt("reply", label="staging").render() == "hi -- OPM"
    online.close()
    own_server.stop()
    offline = clients(Client(url=own_server.url, api_key=own_server.admin_key, snapshot_path=str(path),
                             watch=False, timeout=0.5))
    assert offline.get_prompt("reply", label="staging").render() == "hi -- OPM"
