"""Fixtures of the client-compatibility suite: one real `opm serve` (SQLite) on loopback with an
`opm-mock-llm` upstream in echo mode, keys for each role, and the environment the real clients
need to stay offline (Langfuse tracing off, LiteLLM's bundled cost map).

The clients are the real packages from PyPI, pinned in tests/compat/requirements.txt: `langfuse`
5.x, `mcp` 2.x, `litellm`. Binaries: OPM_BIN (default target/debug/opm) and OPM_MOCK_LLM_BIN
(default target/debug/opm-mock-llm); build them first with `cargo build -p opm-cli -p opm-mock-llm`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

# Before any client is imported: no telemetry, no network beyond loopback.
os.environ["LANGFUSE_TRACING_ENABLED"] = "false"
os.environ["OTEL_SDK_DISABLED"] = "true"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_TELEMETRY"] = "False"
os.environ.pop("LANGFUSE_HOST", None)
os.environ.pop("LANGFUSE_BASE_URL", None)

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import harness  # noqa: E402  (the process helpers of tests/python)


@dataclass
class Key:
    id: str
    secret: str


@dataclass
class Server:
    opm: harness.Opm
    mock: harness.Mock

    @property
    def url(self) -> str:
        return self.opm.url

    def api(self, method: str, path: str, body=None, key: str | None = None):
        return self.opm.api(method, path, body, key)

    def create_key(self, name: str, role: str) -> Key:
        status, body, _ = self.api("POST", "/api/v1/keys", {"name": name, "role": role, "project": "default"})
        assert status == 201, body
        return Key(body["key"]["id"], body["secret"])

    def publish(self, name: str, content: dict, message: str = "seed") -> int:
        status, body, _ = self.api("POST", f"/api/v1/prompts/{name}/versions", {"content": content, "message": message})
        assert status in (200, 201), body
        return body["version"]["version"]

    def label(self, name: str, label: str, version: int, reason: str = "test") -> None:
        status, body, _ = self.api("PUT", f"/api/v1/prompts/{name}/labels/{label}", {"version": version, "reason": reason})
        assert status == 200, body

    def opm_cli(self, *args: str) -> str:
        """Runs the `opm` CLI against this server with the admin key; returns its stdout."""
        import subprocess

        env = {**os.environ, "OPM_URL": self.url, "OPM_API_KEY": self.opm.admin_key}
        done = subprocess.run([str(harness.binary("OPM_BIN", "target/debug/opm")), *args], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    work = tmp_path_factory.mktemp("opm-compat")
    mock = harness.start_mock("echo", work, "--reply", "echo")
    try:
        opm = harness.start_opm(work, [harness.openai_provider("up", mock)])
        try:
            yield Server(opm, mock)
        finally:
            opm.process.stop()
    finally:
        mock.process.stop()


@pytest.fixture(scope="session")
def editor(server) -> Key:
    return server.create_key("compat-editor", "editor")


@pytest.fixture(scope="session")
def viewer(server) -> Key:
    return server.create_key("compat-viewer", "viewer")
