"""The Python SDK's benchmark (run by bench/sdk.sh against a seeded release `opm serve`).

In one run, one caller in sequence, each path timed call by call with perf_counter_ns:
  cached   `client.get_prompt(name).render(**variables)` (memory + local minijinja render)
  resolve  a raw httpx GET of `/api/v1/prompts/{name}/resolve` (keep-alive connection)
  render   a raw httpx POST of `/api/v1/prompts/{name}/render` (the server renders)
  stdlib   the same GET with the standard library's http.client (less client overhead, for scale)
and the label-move-to-visible latency: MOVES label moves (`PUT …/labels/production`), each timed
from the request's start and from its acknowledgement until `get_prompt` (watch on, cache_ttl
one hour, polled every 0.2 ms) returns the new version.

    python bench/sdk_bench.py URL KEY [--quick]      # prints a markdown report
"""

from __future__ import annotations

import statistics
import sys
import time

import httpx

from opm import Client

PROMPT = "bench-00000"
VARIABLES = {"customer": "Ada", "product": "OPM"}


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def timed(call, n):
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000.0)  # µs
    return samples


def row(name, samples):
    return (name, len(samples), statistics.median(samples), percentile(samples, 0.99), statistics.fmean(samples))


def main() -> None:
    url, key = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    n_cached, n_http, moves = (20_000, 500, 30) if quick else (200_000, 5_000, 200)
    headers = {"authorization": f"Bearer {key}"}
    http = httpx.Client(base_url=url, headers=headers, timeout=10)
    client = Client(url=url, api_key=key, cache_ttl=3600.0, watch=True, timeout=5.0)
    assert client.wait_until_watching(10), "the watch stream did not connect"

    # The include of the split's arms resolves at `canary` too (as on the server): label the footer there.
    http.put("/api/v1/prompts/bench-footer/labels/canary", json={"version": 1, "reason": "sdk bench"}).raise_for_status()
    # Same answer on every path first.
    local = client.get_prompt(PROMPT).render(**VARIABLES)
    remote = http.post(f"/api/v1/prompts/{PROMPT}/render", json={"variables": VARIABLES}).json()["messages"]
    assert local == remote, (local, remote)

    warm = min(2_000, n_http)
    timed(lambda: client.get_prompt(PROMPT).render(**VARIABLES), warm)
    timed(lambda: http.get(f"/api/v1/prompts/{PROMPT}/resolve").raise_for_status(), warm // 4)
    timed(lambda: http.post(f"/api/v1/prompts/{PROMPT}/render", json={"variables": VARIABLES}).raise_for_status(),
          warm // 4)
    requests_before = client.stats()["http_requests"]
    rows = [
        row("cached `get_prompt` + local `render`", timed(lambda: client.get_prompt(PROMPT).render(**VARIABLES), n_cached)),
        row("httpx GET …/resolve", timed(lambda: http.get(f"/api/v1/prompts/{PROMPT}/resolve").raise_for_status(),
                                          n_http)),
        row("httpx POST …/render", timed(lambda: http.post(f"/api/v1/prompts/{PROMPT}/render",
                                                           json={"variables": VARIABLES}).raise_for_status(), n_http)),
        row("stdlib http.client GET …/resolve (for scale: a lighter client)", timed(stdlib_get(url, key), n_http)),
    ]
    cached_requests = client.stats()["http_requests"] - requests_before
    held = client.get_prompt(PROMPT)
    parts = [row("… of which `get_prompt` alone (the cache)", timed(lambda: client.get_prompt(PROMPT), n_cached)),
             row("… of which `render` alone (local minijinja, 3 templates)", timed(lambda: held.render(**VARIABLES),
                                                                                  n_cached))]
    split_rows = [row("cached `get_prompt(key=…)` on a 50/50 split + `render`",
                      timed_split(client, n_cached // 2))]

    from_ack, from_start = [], []
    versions = [1, 2]
    for i in range(moves):
        target = versions[(i + 1) % 2]
        started = time.perf_counter()
        http.put(f"/api/v1/prompts/{PROMPT}/labels/production",
                 json={"version": target, "reason": "sdk bench"}).raise_for_status()
        acknowledged = time.perf_counter()
        while client.get_prompt(PROMPT).version != target:
            time.sleep(0.0002)
            if time.perf_counter() - acknowledged > 10:
                raise SystemExit(f"move {i} not visible after 10 s")
        visible = time.perf_counter()
        from_ack.append((visible - acknowledged) * 1000)
        from_start.append((visible - started) * 1000)
    client.close()
    http.close()

    cached_median = rows[0][2]
    print("| path | calls | p50 µs | p99 µs | mean µs | HTTP p50 / this p50 |")
    print("|---|---|---|---|---|---|")
    for name, n, p50, p99, mean in rows[:1] + parts + rows[1:] + split_rows:
        print(f"| {name} | {n} | {p50:.1f} | {p99:.1f} | {mean:.1f} | {p50 / cached_median:.0f}× |"
              if name.startswith(("httpx", "stdlib")) else f"| {name} | {n} | {p50:.1f} | {p99:.1f} | {mean:.1f} | |")
    print()
    print(f"HTTP requests made by the {n_cached} cached calls: {cached_requests}")
    print(f"cached get+render vs HTTP resolve: {rows[1][2] / cached_median:.0f}× faster (p50), "
          f"vs server render: {rows[2][2] / cached_median:.0f}× (target ≥ 100×); "
          f"get_prompt alone vs HTTP resolve: {rows[1][2] / parts[0][2]:.0f}×")
    print()
    print(f"| label move → visible to `get_prompt` ({moves} moves) | median ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    for name, samples in (("from the PUT's acknowledgement", from_ack), ("from the PUT's start", from_start)):
        print(f"| {name} | {statistics.median(samples):.2f} | {percentile(samples, 0.99):.2f} | {max(samples):.2f} |")


def stdlib_get(url: str, key: str):
    """A keep-alive `http.client` GET of the resolve route, body read: the HTTP round trip with less client cost."""
    import http.client
    from urllib.parse import urlparse

    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port)
    headers = {"authorization": f"Bearer {key}"}

    def get() -> None:
        connection.request("GET", f"/api/v1/prompts/{PROMPT}/resolve", headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200

    return get


def timed_split(client: Client, n: int):
    keys = [f"user-{i}" for i in range(1000)]
    samples = []
    for i in range(n):
        key = keys[i % 1000]
        start = time.perf_counter_ns()
        client.get_prompt(PROMPT, label="canary", key=key).render(**VARIABLES)
        samples.append((time.perf_counter_ns() - start) / 1000.0)
    return samples


if __name__ == "__main__":
    main()
