"""Fixtures for the browser tests: one real `opm serve` (SQLite, the built-in mock provider) on
loopback with seeded prompts, and a real headless Chromium driven through chromium-driver
(WebDriver, selenium). Both come from Debian's packages, installed by scripts/chromium.sh.

Env: OPM_BIN (default target/debug/opm), OPM_CHROMIUM (/usr/bin/chromium), OPM_CHROMEDRIVER
(/usr/bin/chromedriver), OPM_UI_SCREENSHOTS (a folder to save the main pages' screenshots in,
e.g. docs/ui; by default they go to pytest's temporary folder).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import harness  # noqa: E402  (the process helpers of tests/python)


def mock_chat(system: str, user: str, variables: dict, **model) -> dict:
    return {
        "type": "chat",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "variables": variables,
        "model": {"provider": "mock", "model": "mock-1", "parameters": {"temperature": 0}, **model},
    }


SUPPORT_V1 = mock_chat("You answer for {{ product }}. Be brief.", "Customer {{ customer_name }} asks: {{ ticket }}",
                       {"product": {"type": "string", "default": "Acme"}, "customer_name": {"type": "string"},
                        "ticket": {"type": "string"}})
SUPPORT_V2 = mock_chat("You answer for {{ product }}. Be warm and brief.", "Customer {{ customer_name }} asks: {{ ticket }}",
                       {"product": {"type": "string", "default": "Acme"}, "customer_name": {"type": "string"},
                        "ticket": {"type": "string"}})


@dataclass
class Server:
    opm: harness.Opm

    @property
    def url(self) -> str:
        return self.opm.url

    def api(self, method: str, path: str, body=None, key: str | None = None):
        return self.opm.api(method, path, body, key)

    def label_version(self, prompt: str, label: str) -> int:
        status, body, _ = self.api("GET", f"/api/v1/prompts/{prompt}/labels")
        assert status == 200, body
        return next(l["version"] for l in body["items"] if l["name"] == label)

    def create_key(self, name: str, role: str) -> str:
        status, body, _ = self.api("POST", "/api/v1/keys", {"name": name, "role": role, "project": "default"})
        assert status == 201, body
        return body["secret"]


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    work = tmp_path_factory.mktemp("opm-ui")
    opm = harness.start_opm(work, [])
    try:
        opm.seed_prompt("support-reply", SUPPORT_V1)
        for name in ("billing-faq", "onboarding"):
            opm.seed_prompt(name, mock_chat(f"{name}: help with {{{{ topic }}}}.", "{{ topic }}",
                                            {"topic": {"type": "string"}}))
        yield Server(opm)
    finally:
        opm.process.stop()


def chrome_options(width: int = 1280, height: int = 800) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("OPM_CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture()
def browser(request, tmp_path):
    options = chrome_options()
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    service = Service(executable_path=os.environ.get("OPM_CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(3)  # find_element waits for pages still loading after a click
    try:
        yield driver
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            # What the browser showed when the test failed: the URL, the visible text, a screenshot.
            driver.save_screenshot(str(tmp_path / "failure.png"))
            body = driver.find_element("tag name", "body").text
            print(f"\n--- browser at {driver.current_url} (screenshot {tmp_path / 'failure.png'}):\n{body[:3000]}")
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("OPM_UI_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
