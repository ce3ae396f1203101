"""Fixtures: a real `opm serve` on loopback (the binary from `OPM_BIN`, default target/debug/opm),
started with tests/python/harness.py's process helpers, plus SDK clients closed at teardown.

One server is shared by the session; tests that stop, kill or restart a server get their own
(`own_server`), on a fixed port so a restarted server is reachable at the same URL.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import harness  # noqa: E402  (tests/python/harness.py: Process, binary, free_port, http_json)

from opm import AsyncClient, Client  # noqa: E402


@dataclass
class Server:
    work_dir: Path
    port: int
    admin_key: str
    process: Optional[harness.Process] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPM_")}
        env.update({"OPM_BOOTSTRAP_ADMIN_KEY": self.admin_key, "RUST_LOG": os.environ.get("OPM_TEST_RUST_LOG", "warn")})
        argv = [str(harness.binary("OPM_BIN", "target/debug/opm")), "serve", "--addr", f"127.0.0.1:{self.port}",
                "--data-dir", str(self.work_dir / "data")]
        self.process = harness.Process("opm", argv, self.work_dir / "opm.log", env=env).start()
        self.process.wait_for_line(r"opm listening on (http://\S+)", timeout=60)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL: connections are cut without a goodbye."""
        if self.process and self.process.popen and self.process.popen.poll() is None:
            os.killpg(self.process.popen.pid, signal.SIGKILL)
            self.process.popen.wait(timeout=10)

    def api(self, method: str, path: str, body: Any = None, key: Optional[str] = None) -> Any:
        status, answer, _ = harness.http_json(method, f"{self.url}{path}", body,
                                              {"authorization": f"Bearer {key or self.admin_key}"})
        if status >= 300:
            raise AssertionError(f"{method} {path}: {status} {answer}")
        return answer

    def publish(self, name: str, content: Dict[str, Any]) -> int:
        answer = self.api("POST", f"/api/v1/prompts/{name}/versions", {"content": content, "message": "test"})
        return int(answer["version"]["version"])

    def label(self, name: str, label: str, version: Optional[int] = None,
              split: Optional[List[List[int]]] = None) -> None:
        body: Dict[str, Any] = {"reason": "test"}
        if split is not None:
            body["split"] = [{"version": v, "weight": w} for v, w in split]
        else:
            body["version"] = version
        self.api("PUT", f"/api/v1/prompts/{name}/labels/{label}", body)

    def key(self, role: str = "viewer") -> str:
        answer = self.api("POST", "/api/v1/keys", {"name": f"sdk-{role}-{uuid.uuid4().hex[:6]}", "role": role,
                                                   "project": "default"})
        return str(answer["secret"])

    def client(self, **kwargs: Any) -> Client:
        kwargs.setdefault("api_key", self.admin_key)
        kwargs.setdefault("url", self.url)
        return Client(**kwargs)

    def async_client(self, **kwargs: Any) -> AsyncClient:
        kwargs.setdefault("api_key", self.admin_key)
        kwargs.setdefault("url", self.url)
        return AsyncClient(**kwargs)


def new_server(work_dir: Path) -> Server:
    return Server(work_dir, harness.free_port(), "sdk-admin-" + secrets.token_urlsafe(24)).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = new_server(tmp_path_factory.mktemp("opm"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture()
def own_server(tmp_path: Path) -> Iterator[Server]:
    started = new_server(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture()
def clients() -> Iterator[Callable[[Client], Client]]:
    """Registers clients to close at teardown: `client = clients(server.client(...))`."""
    opened: List[Client] = []

    def register(client: Client) -> Client:
        opened.append(client)
        return client

    yield register
    for client in opened:
        client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def text(template: str, **variables: Dict[str, Any]) -> Dict[str, Any]:
    return {"type": "text", "template": template, "variables": variables}


def chat(system: str, user: str, **variables: Dict[str, Any]) -> Dict[str, Any]:
    return {"type": "chat", "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "variables": variables, "model": {"provider": "mock", "model": "mock-1", "parameters": {"temperature": 0.3}}}
