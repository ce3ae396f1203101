"""Fixtures: a set of `opm-mock-llm` upstreams, one `opm serve` gateway routing to them, seeded prompts,
and official-SDK clients pointed at OPM.

Binaries: `OPM_BIN` (default target/debug/opm) and `OPM_MOCK_LLM_BIN` (default target/debug/opm-mock-llm);
build them first with `cargo build -p opm-cli -p opm-mock-llm`. Every process is stopped at session end;
their logs stay under pytest's basetemp (path printed in the summary).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anthropic
import openai
import pytest

import harness
from harness import Mock, Opm, anthropic_provider, chat_content, openai_provider

# SDK timeout: generous for a loaded 2-core CI machine, but a hung stream still fails instead of blocking.
CLIENT_TIMEOUT = 30.0

# The product name used in prompt variables: 5 words, so a rendered system prompt has a different
# token count than the raw template ("You help with {{ product }}." is 6 words).
PRODUCT = "the Acme Rocket Skates line"
SYSTEM_TEMPLATE = "You help with {{ product }}."
SYSTEM_RENDERED = f"You help with {PRODUCT}."

# Upstreams, each an opm-mock-llm with a server-wide behaviour: name -> extra args.
MOCKS = {
    "main": [],
    "echo": ["--reply", "echo"],
    "rate": ["--fault", "status=429,retry-after=0"],
    "down": ["--fault", "status=503,retry-after=0"],
    "reset": ["--fault", "reset-after=3"],
    "cut": ["--fault", "error-after=3"],
    "malformed": ["--fault", "malformed"],
    "cached": ["--fault", "cached=5"],
    "drip": ["--fault", "drip=60"],
}

# Prompts seeded once per session: name -> (provider, model).
PROMPTS = {
    "support": ("up-openai", "gpt-4o-mini"),
    "support-claude": ("up-anthropic", "claude-mock-haiku"),
    "limited": ("up-rate-openai", "gpt-4o-mini"),
    "limited-claude": ("up-rate-anthropic", "claude-mock-haiku"),
    "fragile": ("up-reset-openai", "gpt-4o-mini"),
}


def anthropic_client(base_url: str, key: str, auth: str = "sdk", **kwargs) -> anthropic.Anthropic:
    if auth == "x-api-key":
        headers = {**kwargs.pop("default_headers", {}), "x-api-key": key, "Authorization": anthropic.Omit()}
        return anthropic.Anthropic(api_key=None, auth_token=None, base_url=base_url, max_retries=0,
                                   timeout=CLIENT_TIMEOUT, default_headers=headers, **kwargs)
    assert auth == "sdk", auth
    return anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0, timeout=CLIENT_TIMEOUT, **kwargs)


@dataclass
class Gateway:
    opm: Opm
    mocks: dict[str, Mock]
    versions: dict[str, int]

    @property
    def url(self) -> str:
        return self.opm.url

    def openai(self, key: str | None = None, **kwargs) -> openai.OpenAI:
        return openai.OpenAI(api_key=key or self.opm.admin_key, base_url=f"{self.url}/v1", max_retries=0,
                             timeout=CLIENT_TIMEOUT, **kwargs)

    def anthropic(self, key: str | None = None, auth: str = "sdk", **kwargs) -> anthropic.Anthropic:
        """auth="sdk": the key as the SDK sends it (anthropic>=2.0: `Authorization: Bearer`; 1.x sent
        `x-api-key`); auth="x-api-key": the key in `x-api-key` only, as Anthropic's API documents it."""
        return anthropic_client(self.url, key or self.opm.admin_key, auth, **kwargs)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("processes")


@pytest.fixture(scope="session")
def mocks(log_dir):
    started: dict[str, Mock] = {}
    try:
        for name, args in MOCKS.items():
            started[name] = harness.start_mock(name, log_dir, *args)
        yield started
    finally:
        for mock in started.values():
            mock.process.stop()


@pytest.fixture(scope="session")
def gateway(mocks, log_dir) -> Gateway:
    providers = []
    for name, mock in mocks.items():
        providers.append(openai_provider(f"up-{name}-openai", mock))
        providers.append(anthropic_provider(f"up-{name}-anthropic", mock))
    # The two everyday providers, under the names the brief's config example uses.
    providers.append(openai_provider("up-openai", mocks["main"]))
    providers.append(anthropic_provider("up-anthropic", mocks["main"]))
    # The main upstream, with a key it refuses.
    providers.append(harness.Provider("up-badkey-openai", "openai", f"{mocks['main'].url}/v1", "UP_WRONG_KEY",
                                      harness.FAST_FAILURE_SETTINGS))
    # A breaker that opens after two failed attempts (no retries), for test_breaker_opens.
    providers.append(openai_provider("up-breaker-openai", mocks["down"], retry={"max_attempts": 1},
                                     breaker={"failure_threshold": 2, "open_ms": 600000}))
    opm = harness.start_opm(log_dir / "opm", providers, {"UP_WRONG_KEY": "sk-not-the-upstream-key"})
    try:
        versions = {}
        for name, (provider, model) in PROMPTS.items():
            versions[name] = opm.seed_prompt(name, chat_content(SYSTEM_TEMPLATE, provider=provider, model=model))
        # Primary always 503s; the fallback answers.
        versions["resilient"] = opm.seed_prompt("resilient", chat_content(
            SYSTEM_TEMPLATE, provider="up-down-openai", model="gpt-4o-mini",
            fallbacks=[{"provider": "up-openai", "model": "gpt-4o-mini"}]))
        yield Gateway(opm, mocks, versions)
    finally:
        opm.process.stop()


@pytest.fixture()
def oai(gateway) -> openai.OpenAI:
    return gateway.openai()


@pytest.fixture()
def claude(gateway) -> anthropic.Anthropic:
    return gateway.anthropic()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if exitstatus not in (0, 5):
        base = config._tmp_path_factory.getbasetemp() if hasattr(config, "_tmp_path_factory") else None
        if base:
            terminalreporter.write_line(f"process logs (opm, opm-mock-llm): {base}/processes*/")
