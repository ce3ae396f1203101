"""Seeds an OPM server for benchmarks: N chat prompts (3 messages, 4 variables, one include of a
shared text prompt), each with a `production` label on version 1, and a second version split
50/50 with the first under the `canary` label (for the sticky split routing benchmark).
Uses only the standard library."""
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

url, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])


def call(method, path, body):
    request = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


call("POST", "/api/v1/prompts/bench-footer/versions",
     {"content": {"type": "text", "template": "Reply in {{ language }}. Keep it under {{ max_words }} words.",
                  "variables": {"language": {"type": "string"}, "max_words": {"type": "number"}}},
      "message": "seed"})
call("PUT", "/api/v1/prompts/bench-footer/labels/production", {"version": 1, "reason": "seed"})
variables = {
    "customer": {"type": "string", "description": "customer name"},
    "product": {"type": "string"},
    "language": {"type": "string", "default": "English"},
    "max_words": {"type": "number", "default": 120},
}


def seed(index):
    name = f"bench-{index:05d}"
    content = {
        "type": "chat",
        "messages": [
            {"role": "system", "content": "You are the support assistant for {{ product }}. {% include \"bench-footer\" %}"},
            {"role": "user", "content": "Hello, I am {{ customer }} and I have a question about {{ product }}."},
            {"role": "assistant", "content": "Hi {{ customer }}! Happy to help with {{ product }}."},
        ],
        "variables": variables,
        "model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2, "max_tokens": 300}},
    }
    call("POST", f"/api/v1/prompts/{name}/versions", {"content": content, "message": "seed"})
    call("PUT", f"/api/v1/prompts/{name}/labels/production", {"version": 1, "reason": "seed"})
    content["model"]["parameters"]["temperature"] = 0.3
    call("POST", f"/api/v1/prompts/{name}/versions", {"content": content, "message": "seed v2"})
    split = [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]
    call("PUT", f"/api/v1/prompts/{name}/labels/canary", {"split": split, "reason": "seed"})


with ThreadPoolExecutor(8) as pool:
    list(pool.map(seed, range(count)))
print(f"seeded {count} prompts")
