"""Seeds an OPM server for bench/writes.sh, and reads back what the benchmark needs to verify.
Uses only the standard library.

    seed-writes.py URL KEY seed KIND:PREFIX:COUNT...
        versions:PREFIX:COUNT  prompts PREFIX-0000… with version 1 (the benchmark adds versions)
        labels:PREFIX:COUNT    prompts PREFIX-0000… with versions 1 and 2 and `production` on 1
    seed-writes.py URL KEY audit-head              prints the newest audit entry's number
    seed-writes.py URL KEY versions PREFIX COUNT   prints the sum of the prompts' latest versions
    seed-writes.py URL KEY verify                  prints "ok CHECKED" or "broken CHECKED"
"""
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

url, key, command, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]


def call(method, path, body=None):
    request = urllib.request.Request(
        url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def content(revision):
    return {
        "type": "chat",
        "messages": [
            {"role": "system", "content": f"You are the support assistant for {{{{ product }}}} (revision {revision})."},
            {"role": "user", "content": "Hello, I am {{ customer }} and I have a question about {{ product }}."},
        ],
        "variables": {"customer": {"type": "string"}, "product": {"type": "string"}},
        "model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2}},
    }


def seed(job):
    kind, name = job
    call("POST", f"/api/v1/prompts/{name}/versions", {"content": content(1), "message": "seed"})
    if kind == "labels":
        call("POST", f"/api/v1/prompts/{name}/versions", {"content": content(2), "message": "seed"})
        call("PUT", f"/api/v1/prompts/{name}/labels/production", {"version": 1, "reason": "seed"})


if command == "seed":
    jobs = []
    for spec in args:
        kind, prefix, count = spec.split(":")
        jobs += [(kind, f"{prefix}-{index:04d}") for index in range(int(count))]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(seed, jobs))
    print(f"seeded {len(jobs)} prompts")
elif command == "audit-head":
    items = call("GET", "/api/v1/audit?limit=1")["items"]
    print(items[0]["seq"] if items else 0)
elif command == "versions":
    prefix, count = args[0], int(args[1])
    print(sum(call("GET", f"/api/v1/prompts/{prefix}-{index:04d}")["latest_version"] for index in range(count)))
elif command == "verify":
    result = call("GET", "/api/v1/audit/verify")
    print(("ok" if result["ok"] else "broken"), result["checked"])
else:
    sys.exit(f"unknown command {command}")
