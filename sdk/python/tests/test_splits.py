"""Split routing: the SDK assigns the same arm as the server, key by key, from the split the label
stores (its group, algorithm and version), and follows the split when it changes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import Server, text, unique
from opm.bucketing import ALGORITHM, Split

KEYS = [f"user-{i}" for i in range(2000)] + [f"sess:{i:x}/ü" for i in range(500)] + ["", "a", "x" * 300]


def server_arms(server: Server, name: str, keys) -> dict:
    """The server's assignment of every key (`resolve?key=`), four requests at a time."""
    keys = [k for k in keys if k]
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {server.admin_key}"}) as http:
        def one(key: str):
            body = http.get(f"/api/v1/prompts/{name}/resolve", params={"key": key}).json()
            return key, (body["version"], body["arm"]["index"], body["arm"]["sticky"])

        with ThreadPoolExecutor(4) as pool:
            return dict(pool.map(one, keys))


@pytest.mark.parametrize("weights", [[[1, 90], [2, 10]], [[1, 50], [2, 30], [3, 20]]], ids=["canary", "three-arms"])
def test_local_assignment_matches_the_server_for_thousands_of_keys(server: Server, clients, weights) -> None:
    name = unique("split")
    for i in range(3):
        server.publish(name, text(f"v{i + 1}"))
    server.label(name, "production", split=weights)
    client = clients(server.client(watch=False))
    expected = server_arms(server, name, KEYS)
    client.get_prompt(name, key="warm-up")
    requests = client.stats()["http_requests"]
    counts: dict = {}
    for key, (version, index, sticky) in expected.items():
        prompt = client.get_prompt(name, key=key)
        assert prompt.arm is not None
        assert (prompt.version, prompt.arm.index, prompt.arm.sticky) == (version, index, sticky), key
        assert (prompt.arm.algorithm, prompt.arm.algorithm_version) == (ALGORITHM, 1)
        assert prompt.arm.weight == dict(map(tuple, weights))[version]
        assert prompt.render() == f"v{version}"
        counts[version] = counts.get(version, 0) + 1
    assert client.stats()["http_requests"] == requests, "routing is local"
    assert len(counts) == len(weights)
    unsticky = client.get_prompt(name)  # no key: a random arm, marked unsticky, like the server
    assert unsticky.arm is not None and unsticky.arm.sticky is False


def test_a_canary_ramp_moves_keys_only_to_the_canary(server: Server, clients) -> None:
    name = unique("ramp")
    server.publish(name, text("stable"))
    server.publish(name, text("canary"))
    client = clients(server.client(cache_ttl=3600))
    assert client.wait_until_watching(5)
    server.label(name, "production", split=[[1, 90], [2, 10]])
    keys = [f"k{i}" for i in range(500)]
    first = {k: client.get_prompt(name, key=k).version for k in keys}
    server.label(name, "production", split=[[1, 50], [2, 50]])
    import time

    deadline = time.monotonic() + 2
    while client.get_prompt(name, key="probe").arm.weight != 50:  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.005)
    second = {k: client.get_prompt(name, key=k).version for k in keys}
    assert all(second[k] == 2 for k in keys if first[k] == 2)
    assert sum(v == 2 for v in second.values()) > sum(v == 2 for v in first.values())
    assert second == {k: v[0] for k, v in server_arms(server, name, keys).items()}


def test_an_unknown_bucketing_algorithm_is_not_routed_locally() -> None:
    split = Split(((1, 50), (2, 50)), "default/p/production", ALGORITHM, 2)
    assert not split.supported
    with pytest.raises(ValueError):
        split.assign("user-1")
    assert Split(((1, 50), (2, 50)), "g", "other-hash", 1).supported is False
