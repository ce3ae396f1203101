"""Processes and helpers for the gateway tests: real `opm` and `opm-mock-llm` binaries on loopback.

Nothing here knows pytest; `conftest.py` turns it into fixtures.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# --- what the mock LLM answers (crates/opm-mock-llm/src/text.rs) -----------------------------------

MOCK_PREFIX = "mock reply to:"
MESSAGE_OVERHEAD_TOKENS = 3


def words(text: str) -> int:
    """The mock's token count: whitespace-separated words."""
    return len(text.split())


def message_tokens(text: str) -> int:
    """Tokens one input message (system prompt included) costs at the mock."""
    return MESSAGE_OVERHEAD_TOKENS + words(text)


def summary_reply(last_user: str) -> str:
    """The mock's default (`--reply summary`) answer to a conversation whose last user message is this."""
    first = last_user.split()[:8]
    return f"{MOCK_PREFIX} {' '.join(first)}" if first else MOCK_PREFIX


# --- binaries ---------------------------------------------------------------------------------------


def binary(env_name: str, default: str) -> Path:
    path = Path(os.environ.get(env_name) or ROOT / default)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"{path} is not an executable file: build it first (`cargo build -p opm-cli -p opm-mock-llm`) "
            f"or point {env_name} at it"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- processes --------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when pytest dies, even if it is killed without cleanup (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Process:
    """A child process whose stdout is drained by a thread (lines kept) and stderr goes to a log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> "Process":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=self.env,
            cwd=ROOT,
            start_new_session=True,  # its own process group, so a wrapper script's children stop too
            preexec_fn=_die_with_parent,
        )
        log.close()
        threading.Thread(target=self._drain, name=f"{self.name}-stdout", daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.popen and self.popen.stdout
        for raw in self.popen.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                if self.popen and self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.popen.returncode} before printing "
                                       f"/{pattern}/; stderr:\n{self.log_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name} printed no /{pattern}/ in {timeout} s; stderr:\n{self.log_tail()}")
                self._cond.wait(min(left, 0.2))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if not self.popen or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def http_json(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 30):
    """A small JSON request with the standard library; returns (status, parsed body or text, headers)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, response_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, response_headers = error.code, error.read(), error.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed, response_headers


# --- the mock LLM -----------------------------------------------------------------------------------

UPSTREAM_OPENAI_KEY = "sk-upstream-openai-" + secrets.token_hex(8)
UPSTREAM_ANTHROPIC_KEY = "sk-ant-upstream-" + secrets.token_hex(8)


@dataclass
class Mock:
    name: str
    process: Process
    url: str  # http://127.0.0.1:PORT (no /v1)

    def requests(self, key: str = "") -> int:
        """Completion requests the mock counted under `x-mock-key: key` (OPM sends none, so the default is all)."""
        status, body, _ = http_json("GET", f"{self.url}/mock/requests?key={key}")
        assert status == 200, body
        return body["count"]


def start_mock(name: str, log_dir: Path, *args: str) -> Mock:
    argv = [
        str(binary("OPM_MOCK_LLM_BIN", "target/debug/opm-mock-llm")),
        "--addr", "127.0.0.1:0",
        "--openai-key", UPSTREAM_OPENAI_KEY,
        "--anthropic-key", UPSTREAM_ANTHROPIC_KEY,
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPM_MOCK_")}
    process = Process(f"opm-mock-llm[{name}]", argv, log_dir / f"mock-{name}.log", env=env).start()
    match = process.wait_for_line(r"opm-mock-llm listening on (http://\S+)", timeout=30)
    return Mock(name, process, match.group(1).rstrip("/"))


# --- OPM ----------------------------------------------------------------------------------------------


def toml_value(value) -> str:
    """A TOML value for the small shapes the gateway config uses (strings, numbers, booleans, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string for the text used here
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


@dataclass
class Provider:
    """One `[gateway.providers.NAME]` table of the gateway config (crates/opm-gateway/src/config.rs)."""

    name: str
    type: str  # openai | anthropic | openai-compatible | mock
    base_url: str  # including the version path: http://HOST:PORT/v1
    api_key_env: str | None = None
    settings: dict = field(default_factory=dict)  # retry, breaker, timeouts…: inline tables

    def toml(self) -> str:
        table = {"type": self.type, "base_url": self.base_url}
        if self.api_key_env:
            table["api_key_env"] = self.api_key_env
        table.update(self.settings)
        return f"[gateway.providers.{self.name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items())


# Test upstreams fail on purpose: retry fast, and keep breakers closed unless a test wants one.
FAST_FAILURE_SETTINGS = {
    "retry": {"max_attempts": 3, "base_delay_ms": 10, "max_delay_ms": 50},
    "breaker": {"failure_threshold": 0},
}


def openai_provider(name: str, mock: Mock, **settings) -> Provider:
    return Provider(name, "openai", f"{mock.url}/v1", "UP_OPENAI_KEY", {**FAST_FAILURE_SETTINGS, **settings})


def anthropic_provider(name: str, mock: Mock, **settings) -> Provider:
    return Provider(name, "anthropic", f"{mock.url}/v1", "UP_ANTHROPIC_KEY", {**FAST_FAILURE_SETTINGS, **settings})


def gateway_config(providers: list[Provider]) -> str:
    return "# written by tests/python (gateway providers for this run)\n\n" + "\n".join(p.toml() for p in providers)


@dataclass
class Opm:
    process: Process
    url: str
    admin_key: str
    data_dir: Path

    def api(self, method: str, path: str, body=None, key: str | None = None):
        headers = {"authorization": f"Bearer {key or self.admin_key}"}
        return http_json(method, f"{self.url}{path}", body, headers)

    def seed_prompt(self, name: str, content: dict, label: str = "production") -> int:
        """Publishes `content` as a new version of prompt `name` and points `label` at it; returns the version."""
        status, body, _ = self.api("POST", f"/api/v1/prompts/{name}/versions", {"content": content, "message": "seed"})
        assert status in (200, 201), f"publishing {name}: {status} {body}"
        version = body["version"]["version"]
        if label:
            status, body, _ = self.api("PUT", f"/api/v1/prompts/{name}/labels/{label}",
                                       {"version": version, "reason": "seed"})
            assert status in (200, 201), f"labelling {name}@{label}: {status} {body}"
        return version


def start_opm(work_dir: Path, providers: list[Provider], extra_env: dict[str, str] | None = None) -> Opm:
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "opm.toml"
    config.write_text(gateway_config(providers))
    admin_key = "pytest-admin-" + secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPM_", "UP_"))}
    env.update({
        "OPM_BOOTSTRAP_ADMIN_KEY": admin_key,
        "UP_OPENAI_KEY": UPSTREAM_OPENAI_KEY,
        "UP_ANTHROPIC_KEY": UPSTREAM_ANTHROPIC_KEY,
        "RUST_LOG": os.environ.get("OPM_TEST_RUST_LOG", "info"),
        **(extra_env or {}),
    })
    argv = [
        str(binary("OPM_BIN", "target/debug/opm")),
        "serve", "--addr", "127.0.0.1:0", "--data-dir", str(data_dir), "--config", str(config),
    ]
    process = Process("opm", argv, work_dir / "opm.log", env=env).start()
    match = process.wait_for_line(r"opm listening on (http://\S+)", timeout=60)
    return Opm(process, match.group(1).rstrip("/"), admin_key, data_dir)


def chat_content(system: str, *, provider: str, model: str, variables: dict | None = None,
                 extra_messages: list[dict] | None = None, fallbacks: list[dict] | None = None,
                 parameters: dict | None = None) -> dict:
    """A chat prompt's version content: a system message (a template) and the model to run it on."""
    model_config = {"provider": provider, "model": model, "parameters": parameters or {"temperature": 0}}
    if fallbacks:
        model_config["fallbacks"] = fallbacks
    return {
        "type": "chat",
        "messages": [{"role": "system", "content": system}, *(extra_messages or [])],
        "variables": variables if variables is not None else {"product": {"type": "string"}},
        "model": model_config,
    }
