"""Shared helpers of the deployment checks: the repository root, YAML documents, the Dockerfile
parsed into (instruction, arguments) per stage."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def parse_dockerfile(text: str) -> list[list[tuple[str, str]]]:
    """Stages of a Dockerfile, each a list of (INSTRUCTION, arguments) with continuations joined."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    stages: list[list[tuple[str, str]]] = []
    for instruction_line in logical:
        match = re.match(r"(\S+)\s*(.*)", instruction_line)
        assert match, instruction_line
        instruction, arguments = match.group(1).upper(), match.group(2).strip()
        if instruction == "FROM":
            stages.append([])
        if instruction == "ARG" and not stages:
            continue
        stages[-1].append((instruction, arguments))
    return stages


@pytest.fixture(scope="session")
def manifests() -> dict[tuple[str, str], dict]:
    """Every resource of deploy/kubernetes by (kind, name)."""
    found = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in load_documents(path):
            found[(doc["kind"], doc.get("metadata", {}).get("name", path.name))] = doc
    return found
