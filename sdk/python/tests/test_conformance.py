"""The shared rendering conformance file (tests/conformance/render.yaml) against the SDK's local
renderer, offline: the file's prompts are served by an in-memory resolver with the server's
semantics (a missing prompt, label or version is the server's 404 code; a split label's include is
its stable arm). crates/opm-registry/tests/render_conformance.rs runs the same file against the
server's renderer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import pytest
import yaml

from opm.errors import OPMError, PromptNotFound
from opm.includes import IncludedVersion, resolve_includes
from opm.canonical import content_hash
from opm.template import check_template

FILE = Path(__file__).resolve().parents[3] / "tests" / "conformance" / "render.yaml"
CONFORMANCE = yaml.safe_load(FILE.read_text())


def fixture_fetch(prompts: Dict[str, Any]):
    def fetch(name: str, label: Optional[str], version: Optional[int]) -> IncludedVersion:
        prompt = prompts.get(name)
        if prompt is None:
            raise PromptNotFound(f"prompt `{name}` not found", code="prompt_not_found")
        if version is None:
            target = prompt["labels"].get(label)
            if target is None:
                raise PromptNotFound(f"prompt `{name}` has no label `{label}`", code="label_not_found")
            version = target if isinstance(target, int) else target[0][0]
        if not 1 <= version <= len(prompt["versions"]):
            raise PromptNotFound(f"prompt `{name}` has no version {version}", code="version_not_found")
        content = prompt["versions"][version - 1]
        return IncludedVersion(name, version, content, content_hash(content))

    return fetch


def render_case(case: Dict[str, Any]) -> Any:
    name = f"case-{case['name']}"
    label = case.get("label", "production")
    prompts = {**CONFORMANCE["prompts"], name: {"versions": [case["content"]], "labels": {label: 1}}}
    include_label = "production" if case.get("by_version") else label
    resolution = resolve_includes(name, case["content"], include_label, fixture_fetch(prompts))
    return resolution.compile(case["content"]).render(case.get("variables") or {})


@pytest.mark.parametrize("case", CONFORMANCE["cases"], ids=[c["name"] for c in CONFORMANCE["cases"]])
def test_local_rendering_matches_the_conformance_file(case: Dict[str, Any]) -> None:
    if "publish_error" in case:
        with pytest.raises(OPMError) as refused:
            check_template(case["content"])
        assert refused.value.code == case["publish_error"], refused.value
        return
    check_template(case["content"])  # published content passes the server's checks
    output = case.get("sdk_output", case.get("output"))
    error = case.get("sdk_error", case.get("error"))
    if error is None:
        assert render_case(case) == output
        return
    with pytest.raises(OPMError) as failed:
        render_case(case)
    assert failed.value.code == error, failed.value
    if "message" in case and "sdk_error" not in case:
        assert failed.value.message == case["message"]


def test_the_file_covers_what_the_sdk_promises() -> None:
    codes = {c.get("error") or c.get("publish_error") for c in CONFORMANCE["cases"]}
    for code in ["missing_variables", "undeclared_variables", "variable_type", "render_failed", "include_cycle",
                 "include_depth", "include_not_text", "template_undeclared_variable", "template_syntax",
                 "invalid_include", "prompt_not_found", "label_not_found", "version_not_found"]:
        assert code in codes, code
    assert sum(1 for c in CONFORMANCE["cases"] if "output" in c) >= 30
