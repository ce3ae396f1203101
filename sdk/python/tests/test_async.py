"""AsyncClient: the same surface as Client, awaitable, against the real server."""

from __future__ import annotations

import asyncio
import time

import pytest

from conftest import Server, chat, text, unique
from opm import AuthError, PromptNotFound, RenderError


def run(coroutine):
    return asyncio.run(coroutine)


def test_async_client_gets_renders_and_follows_pushes(server: Server) -> None:
    name = unique("async")
    one = server.publish(name, chat("You help {{ product }}.", "{{ q }}", product={}, q={}))
    two = server.publish(name, chat("You assist {{ product }}.", "{{ q }}", product={}, q={}))
    server.label(name, "production", one)

    async def scenario() -> None:
        async with server.async_client(cache_ttl=3600) as client:
            assert await client.wait_until_watching(5)
            prompt = await client.get_prompt(name)
            assert prompt.version == one
            local = prompt.render(product="Acme", q="hi")
            assert await client.render(name, variables={"product": "Acme", "q": "hi"}) == local
            requests = client.stats()["http_requests"]
            many = await asyncio.gather(*(client.get_prompt(name) for _ in range(200)))
            assert {p.version for p in many} == {one}
            assert client.stats()["http_requests"] == requests, "cache hits stay in the event loop, no HTTP"
            server.label(name, "production", two)
            start = time.monotonic()
            while (await client.get_prompt(name)).version != two:
                assert time.monotonic() - start < 1.0
                await asyncio.sleep(0.002)
            with pytest.raises(PromptNotFound):
                await client.get_prompt(unique("nobody"))
            with pytest.raises(RenderError) as missing:
                await client.render(name, variables={"product": "Acme"})
            assert missing.value.code == "missing_variables"
            fallback = await client.get_prompt(unique("nobody"), fallback="hi {{ who }}")
            assert fallback.render(who="you") == "hi you"
        async with server.async_client(api_key="wrong", watch=False) as denied:
            with pytest.raises(AuthError):
                await denied.get_prompt(name)

    run(scenario())


def test_async_feedback(server: Server) -> None:
    name = unique("async-fb")
    server.label(name, "production", server.publish(name, chat("Hi", "{{ q }}", q={})))
    generation_id = server.api("POST", f"/api/v1/prompts/{name}/invoke", {"variables": {"q": "x"}})["generation_id"]

    async def scenario() -> None:
        async with server.async_client(watch=False) as client:
            assert (await client.feedback(generation_id, score=1.0))["score"] == 1.0

    run(scenario())


def test_async_split_routing_is_local(server: Server) -> None:
    name = unique("async-split")
    server.publish(name, text("a"))
    server.publish(name, text("b"))
    server.label(name, "production", split=[[1, 50], [2, 50]])

    async def scenario() -> None:
        async with server.async_client(watch=False) as client:
            for i in range(50):
                key = f"user-{i}"
                local = await client.get_prompt(name, key=key)
                remote = server.api("GET", f"/api/v1/prompts/{name}/resolve?key={key}")
                assert local.version == remote["version"]

    run(scenario())
