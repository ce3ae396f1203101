"""Dotprompt and Prompty files through the real CLI against a real server: `opm apply` imports
them beside OPM YAML, OPM renders them, and `opm export --format prompty` writes files that apply
back with nothing to change."""

from __future__ import annotations

PROMPTY = """---
name: fmt-bard
description: Answers like the bard
model: {id: gpt-4o-mini, provider: up, options: {temperature: 0.5, maxOutputTokens: 100}}
inputs:
  question: {kind: string, required: true}
---
system:
You are Shakespeare.

user:
{{ question }}
"""

DOTPROMPT = """---
model: up/gpt-4o-mini
input:
  schema:
    name: string
    vip?: boolean
---
{{role "system"}}
Greet {{name}}.{{#if vip}} Bow deeply.{{/if}}
"""


def test_apply_imports_and_prompty_export_round_trips(server, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "bard.prompty").write_text(PROMPTY)
    (source / "fmt-greet.prompt").write_text(DOTPROMPT)
    server.opm_cli("apply", "-f", str(source), "--label", "production", "--reason", "import")
    status, body, _ = server.api("POST", "/api/v1/prompts/fmt-greet/render", {"variables": {"name": "Ada", "vip": True}})
    assert status == 200, body
    assert body["messages"] == [{"role": "system", "content": "Greet Ada. Bow deeply."}]
    status, body, _ = server.api("POST", "/api/v1/prompts/fmt-bard/render", {"variables": {"question": "To be?"}})
    assert status == 200 and body["messages"][1] == {"role": "user", "content": "To be?"}, body
    assert body["model"]["parameters"] == {"temperature": 0.5, "max_completion_tokens": 100}
    exported = tmp_path / "out"
    server.opm_cli("export", "--format", "prompty", str(exported))
    assert (exported / "fmt-bard.prompty").is_file() and (exported / "fmt-greet.prompty").is_file()
    for name in ("fmt-bard", "fmt-greet"):
        status, before, _ = server.api("GET", f"/api/v1/prompts/{name}")
        assert status == 200, before
    plan = server.opm_cli("apply", "-f", str(exported / "fmt-bard.prompty"), "--dry-run")
    assert "unchanged" in plan, plan
    plan = server.opm_cli("apply", "-f", str(exported / "fmt-greet.prompty"), "--dry-run")
    assert "unchanged" in plan, plan
