"""The official `mcp` Python SDK (2.x) client against OPM's MCP prompts server at `/mcp`.

The client connects with its default `mode="auto"`: its `server/discover` probe gets "method not
found" and it falls back to the `initialize` handshake. Covered: initialize, paginated
`prompts/list`, `prompts/get` with arguments converted to the declared types and rendered by OPM
(a system message arriving as `user`), `?label=`, a missing required argument as a JSON-RPC error
naming it, an unknown prompt, bearer auth and `notifications/prompts/list_changed` on a label move.
"""

from __future__ import annotations

import anyio
import httpx2
import mcp_types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


@pytest.fixture(scope="module")
def seeded(server):
    content = {
        "type": "chat",
        "messages": [{"role": "system", "content": "You answer for {{ product }}."},
                     {"role": "user", "content": "{{ customer }} asks{% if urgent %} (urgent){% endif %}: {{ ticket }}"
                                                 " [{{ attempts + 1 }}]"}],
        "variables": {"product": {"type": "string", "default": "Acme"},
                      "customer": {"type": "string", "description": "who asks"},
                      "ticket": {"type": "string"}, "urgent": {"type": "boolean"},
                      "attempts": {"type": "number", "required": False, "default": 0}},
    }
    version = server.publish("mcp-support", content)
    server.label("mcp-support", "production", version)
    staged = server.publish("mcp-support", {**content, "messages": [{"role": "user", "content": "staging {{ ticket }}"}],
                                            "variables": {"ticket": {"type": "string"}}})
    server.label("mcp-support", "staging", staged)
    for name in ("mcp-a", "mcp-b", "mcp-c"):
        server.label(name, "production", server.publish(name, {"type": "text", "template": f"{name} text"}))
    return version


def connect(server, key: str, query: str = "", **kwargs) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(20, read=60))
    return Client(streamable_http_client(f"{server.url}/mcp{query}", http_client=http), **kwargs)


def run(test):
    anyio.run(test)


def test_initialize_list_pages_and_get_with_arguments(server, viewer, seeded):
    async def main():
        async with connect(server, viewer.secret, "?limit=2") as client:
            assert client.protocol_version == "2025-11-25"
            prompts, cursor, pages = [], None, 0
            while True:
                page = await client.list_prompts(cursor=cursor)
                prompts += page.prompts
                pages += 1
                if not (cursor := page.next_cursor):
                    break
            names = [p.name for p in prompts]
            assert pages >= 2 and names == sorted(names) and len(names) == len(set(names))
            assert {"mcp-a", "mcp-b", "mcp-c", "mcp-support"} <= set(names)
            support = next(p for p in prompts if p.name == "mcp-support")
            arguments = {a.name: a for a in support.arguments}
            assert arguments["customer"].required and arguments["customer"].description == "who asks"
            assert not arguments["product"].required and not arguments["attempts"].required
            assert arguments["urgent"].description == "(boolean)"
            result = await client.get_prompt("mcp-support", {"customer": "Ada", "ticket": "Where is my order?",
                                                             "urgent": "true", "attempts": "2"})
            assert [(m.role, m.content.text) for m in result.messages] == [
                ("user", "You answer for Acme."),
                ("user", "Ada asks (urgent): Where is my order? [3]"),
            ]
    run(main)


def test_label_from_the_endpoint_url(server, viewer, seeded):
    async def main():
        async with connect(server, viewer.secret, "?label=staging") as client:
            page = await client.list_prompts()
            names = {p.name: p for p in page.prompts}
            assert "mcp-support" in names and "mcp-b" not in names, names  # mcp-b has no staging label
            assert names["mcp-support"].meta["opm/label"] == "staging"
            result = await client.get_prompt("mcp-support", {"ticket": "hi"})
            assert result.messages[0].content.text == "staging hi"
    run(main)


def test_missing_argument_and_bad_values_are_json_rpc_errors(server, viewer, seeded):
    async def main():
        async with connect(server, viewer.secret) as client:
            with pytest.raises(MCPError, match=r"Missing required arguments: \[customer, urgent\]"):
                await client.get_prompt("mcp-support", {"ticket": "x"})
            with pytest.raises(MCPError, match="argument `urgent` must be boolean, got `maybe`"):
                await client.get_prompt("mcp-support", {"customer": "A", "ticket": "x", "urgent": "maybe"})
            with pytest.raises(MCPError, match="Unknown prompt: nope"):
                await client.get_prompt("nope", {})
    run(main)


def test_a_wrong_key_cannot_connect(server, seeded):
    async def main():
        async with connect(server, "opm_wrong_key") as client:
            await client.list_prompts()
    with pytest.raises(BaseException) as raised:
        run(main)
    assert "the API key is not valid" in " ".join(leaf_messages(raised.value)), raised.value


def leaf_messages(error: BaseException) -> list[str]:
    """The messages of an exception and of everything grouped in it or chained to it."""
    found = [str(error)]
    for inner in getattr(error, "exceptions", ()):
        found += leaf_messages(inner)
    if error.__cause__ is not None:
        found += leaf_messages(error.__cause__)
    return found


def test_list_changed_is_pushed_when_a_label_moves(server, viewer, seeded):
    changed = anyio.Event()

    async def on_message(message):
        if isinstance(message, mcp_types.PromptListChangedNotification):
            changed.set()

    async def main():
        async with connect(server, viewer.secret, message_handler=on_message) as client:
            await client.list_prompts()
            await anyio.sleep(0.5)  # the client opens its GET stream after initializing
            server.label("mcp-a", "staging", 1)
            with anyio.fail_after(10):
                await changed.wait()
    run(main)
