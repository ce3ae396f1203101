"""The web UI in a real headless Chromium against a real `opm serve`: sign in, browse, diff, edit
and publish, preview errors, labels, playground on the mock, rollouts, audit, keys, roles, CSRF,
security headers, phone width. Every check that something changed is made against the API too."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import SUPPORT_V2, mock_chat

WAIT = 20
IGNORED = (NoSuchElementException, StaleElementReferenceException)


def wait(browser):
    """A wait that rides over page loads (elements going stale, not there yet)."""
    return WebDriverWait(browser, WAIT, ignored_exceptions=IGNORED)


def sign_in(browser, server, key: str | None = None, next_path: str = "/ui/"):
    browser.get(f"{server.url}/ui/login?next={urllib.parse.quote(next_path)}")
    field = browser.find_element(By.ID, "key")
    field.send_keys(key or server.opm.admin_key)
    field.send_keys(Keys.ENTER)  # keyboard only: Enter submits the form
    wait(browser).until(lambda d: "/ui/login" not in d.current_url)


def loaded(browser, url_part: str):
    """Waits for the page at a URL containing `url_part` to finish loading: a click that submits a
    GET form returns before the new page replaces the old one, and elements read in between
    belong to the document going away."""
    wait(browser).until(lambda d: url_part in d.current_url
                        and d.execute_script("return document.readyState") == "complete")


def text(browser, css: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, css).text


def fill(browser, name: str, value: str, form: str = ""):
    field = browser.find_element(By.CSS_SELECTOR, f"{form} [name='{name}']".strip())
    field.clear()
    field.send_keys(value)


def set_value(browser, css: str, value: str):
    """Sets a textarea's value at once (send_keys would be slow for JSON and types braces oddly)."""
    element = browser.find_element(By.CSS_SELECTOR, css)
    browser.execute_script("arguments[0].value = arguments[1];", element, value)


def csp_errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]


def publish(server, name: str, content: dict, message: str = "api") -> int:
    status, body, _ = server.api("POST", f"/api/v1/prompts/{name}/versions", {"content": content, "message": message})
    assert status in (200, 201), body
    return body["version"]["version"]


def two_versions_production_on_v1(server, name: str):
    publish(server, name, mock_chat("one {{ x }}", "u", {"x": {"type": "string"}}))
    status, body, _ = server.api("PUT", f"/api/v1/prompts/{name}/labels/production", {"version": 1, "reason": "seed"})
    assert status == 200, body
    publish(server, name, mock_chat("two {{ x }}", "u", {"x": {"type": "string"}}))


def session_cookie(browser) -> str:
    return next(c["value"] for c in browser.get_cookies() if c["name"] == "opm_session")


def raw_post(server, path: str, fields: dict, cookie: str):
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(f"{server.url}{path}", data=data, method="POST")
    request.add_header("content-type", "application/x-www-form-urlencoded")
    request.add_header("cookie", f"opm_session={cookie}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_sign_in_list_search_and_prompt_page(browser, server, screenshots):
    browser.get(server.url + "/")
    assert "/ui/login" in browser.current_url  # / → /ui/ → sign-in
    browser.save_screenshot(str(screenshots / "login.png"))
    sign_in(browser, server)
    rows = browser.find_elements(By.CSS_SELECTOR, "#prompts tbody tr")
    names = {r.find_element(By.CSS_SELECTOR, "td a").text for r in rows}
    assert {"support-reply", "billing-faq", "onboarding"} <= names
    browser.save_screenshot(str(screenshots / "prompts.png"))
    fill(browser, "q", "billing")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    loaded(browser, "q=billing")
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#prompts tbody td:first-child a")]
    assert names == ["billing-faq"]
    browser.get(f"{server.url}/ui/?label=production")
    assert "support-reply" in text(browser, "#prompts")
    browser.find_element(By.LINK_TEXT, "support-reply").click()
    labels = text(browser, "#labels")
    assert "production" in labels and "v1" in labels
    assert "admin" in text(browser, ".who")
    assert csp_errors(browser) == []


def test_diff_two_versions_side_by_side(browser, server, screenshots):
    name = "diffed"
    publish(server, name, mock_chat("Hello {{ who }}.", "Line one\nLine two", {"who": {"type": "string"}}))
    publish(server, name, mock_chat("Hello {{ who }}!", "Line one\nLine two", {"who": {"type": "string"}},
                                    fallbacks=[{"provider": "mock", "model": "mock-2"}]))
    sign_in(browser, server, next_path=f"/ui/prompts/{name}")
    Select(browser.find_element(By.NAME, "from")).select_by_value("1")
    Select(browser.find_element(By.NAME, "to")).select_by_value("2")
    browser.find_element(By.CSS_SELECTOR, "form.inline button").click()
    assert "messages" in text(browser, "#changed-fields") and "model" in text(browser, "#changed-fields")
    removed = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "td.del")]
    added = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "td.ins")]
    assert any("Hello {{ who }}." in t and t.startswith("−") for t in removed), removed
    assert any("Hello {{ who }}!" in t and t.startswith("+") for t in added), added
    assert any("fallback 1: mock/mock-2" in t for t in added), added
    assert "unchanged" in text(browser, "section.diff-part:nth-of-type(2) h3")  # variables
    browser.save_screenshot(str(screenshots / "diff.png"))


def test_edit_preview_error_then_publish_and_move_label(browser, server, screenshots):
    name = "editable"
    publish(server, name, SUPPORT_V2)
    sign_in(browser, server, next_path=f"/ui/prompts/{name}/edit")
    contents = browser.find_elements(By.NAME, "content")
    contents[0].send_keys(Keys.END, " Sign as {{ agent }}.")
    set_value(browser, "textarea[name='variables']", json.dumps({
        "product": {"type": "string", "default": "Acme"}, "customer_name": {"type": "string"},
        "ticket": {"type": "string"}, "agent": {"type": "string"}}))
    set_value(browser, "textarea[name='sample']", json.dumps({"customer_name": "Ada", "ticket": "Where is it?"}))
    browser.find_element(By.CSS_SELECTOR, "button[value='preview']").click()
    error = wait(browser).until(lambda d: text(d, "#preview .notice.error"))
    assert "agent" in error, error  # the server's error names the missing variable
    set_value(browser, "textarea[name='sample']", json.dumps({"customer_name": "Ada", "ticket": "Where is it?",
                                                              "agent": "Sam"}))
    browser.find_element(By.CSS_SELECTOR, "button[value='preview']").click()
    preview = wait(browser).until(lambda d: "Preview" in text(d, "#preview h2") and text(d, "#preview"))
    assert "Sign as Sam." in preview and "Customer Ada asks: Where is it?" in preview
    browser.save_screenshot(str(screenshots / "edit-preview.png"))
    fill(browser, "message", "sign answers")
    fill(browser, "then_label", "staging")
    fill(browser, "then_reason", "try the signature")
    browser.find_element(By.CSS_SELECTOR, "button[value='publish']").click()
    wait(browser).until(EC.url_contains("/versions/2"))
    assert "published=created" in browser.current_url
    assert "Sign as {{ agent }}." in text(browser, "main")
    assert server.label_version(name, "staging") == 2
    status, audit, _ = server.api("GET", f"/api/v1/audit?prompt={name}&action=label.set")
    assert audit["items"][0]["reason"] == "try the signature"


def test_move_label_roll_back_and_history(browser, server):
    name = "moving"
    two_versions_production_on_v1(server, name)
    sign_in(browser, server, next_path=f"/ui/prompts/{name}")
    form = "#move-label"
    Select(browser.find_element(By.CSS_SELECTOR, f"{form} select[name='version']")).select_by_value("2")
    browser.find_element(By.CSS_SELECTOR, f"{form} button").click()
    # the reason is required: the browser refuses to submit without it, nothing moved
    assert server.label_version(name, "production") == 1
    fill(browser, "reason", "v2 is better", form)
    browser.find_element(By.CSS_SELECTOR, f"{form} button").click()
    wait(browser).until(lambda d: "v2" in text(d, "#labels"))
    assert server.label_version(name, "production") == 2
    fill(browser, "reason", "v2 was not better", "#rollback-label")
    browser.find_element(By.CSS_SELECTOR, "#rollback-label button").click()
    wait(browser).until(lambda d: "v1" in text(d, "#labels"))
    assert server.label_version(name, "production") == 1
    browser.find_element(By.LINK_TEXT, "production").click()
    history = text(browser, "#label-history")
    assert "rollback" in history and "v2 was not better" in history and "v2 is better" in history
    # a split from the same form
    browser.get(f"{server.url}/ui/prompts/{name}")
    fill(browser, "label", "staging", form)
    fill(browser, "split", "1=50,2=50", form)
    fill(browser, "reason", "A/B on staging", form)
    browser.find_element(By.CSS_SELECTOR, f"{form} button").click()
    wait(browser).until(lambda d: "v1 50% / v2 50%" in text(d, "#labels"))


def test_playground_streams_on_the_mock_and_takes_feedback(browser, server, screenshots):
    sign_in(browser, server, next_path="/ui/prompts/support-reply/playground")
    set_value(browser, "textarea[name='sample']", json.dumps({"customer_name": "Ada", "ticket": "Where is my order?"}))
    browser.find_element(By.CSS_SELECTOR, "#playground button[data-stream]").click()
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#run-output code.generation-id")))
    answer = text(browser, "#run-output pre.answer")
    assert answer.startswith("mock reply to:"), answer
    summary = text(browser, "#run-output dl.summary")
    assert re.search(r"Tokens in / out\s+\d+ / \d+", summary), summary
    assert "mock / mock-1" in summary and "Latency" in summary and "v1" in summary
    generation_id = text(browser, "#run-output code.generation-id")
    browser.save_screenshot(str(screenshots / "playground.png"))
    fill(browser, "comment", "clear answer", "#run-output form.feedback")
    browser.find_element(By.CSS_SELECTOR, "#run-output form.feedback button").click()
    assert "recorded" in text(browser, ".notice.ok")
    status, generation, _ = server.api("GET", f"/api/v1/generations/{generation_id}")
    assert status == 200 and generation["feedback"][0]["comment"] == "clear answer"
    assert csp_errors(browser) == []


def test_playground_runs_an_unpublished_draft(browser, server):
    sign_in(browser, server, next_path="/ui/prompts/support-reply/edit")
    set_value(browser, "textarea[name='sample']", json.dumps({"customer_name": "Bo", "ticket": "draft question"}))
    browser.find_element(By.CSS_SELECTOR, "button[data-stream='run-output']").click()
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#run-output code.generation-id")))
    assert text(browser, "#run-output pre.answer").startswith("mock reply to: Customer Bo asks: draft question")


def test_rollout_start_status_and_abort(browser, server, screenshots):
    name = "canaried"
    two_versions_production_on_v1(server, name)
    sign_in(browser, server, next_path=f"/ui/prompts/{name}/rollouts")
    form = "#start-rollout"
    fill(browser, "to", "2", form)
    fill(browser, "steps", "10,50,100", form)
    fill(browser, "max_error_rate", "0.05", form)
    fill(browser, "reason", "careful v2", form)
    browser.find_element(By.CSS_SELECTOR, f"{form} button").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "rollout-status")))
    status = text(browser, "#rollout-status")
    assert "progressing" in status and "10%" in status and "v1 → v2" in status
    assert "rollout.start" in text(browser, "#rollout-decisions")
    browser.get(f"{server.url}/ui/prompts/{name}")
    assert "rollout progressing: v2 at 10%" in text(browser, "#labels")
    browser.back()
    browser.save_screenshot(str(screenshots / "rollout.png"))
    fill(browser, "reason", "demo abort", "#rollout-actions")
    browser.find_element(By.CSS_SELECTOR, "#rollout-actions button[value='abort']").click()
    wait(browser).until(lambda d: "aborted" in text(d, "#rollout-status"))
    assert server.label_version(name, "production") == 1
    status, labels, _ = server.api("GET", f"/api/v1/prompts/{name}/labels")
    production = next(l for l in labels["items"] if l["name"] == "production")
    assert production["target"] == {"type": "version", "version": 1}


def test_stats_page_draws_charts(browser, server, screenshots):
    for ticket in ("a", "b", "c"):
        status, body, _ = server.api("POST", "/api/v1/prompts/support-reply/invoke",
                                     {"variables": {"customer_name": "Cy", "ticket": ticket}})
        assert status == 200, body
    sign_in(browser, server, next_path="/ui/prompts/support-reply/stats")
    table = text(browser, "table.stats")
    assert re.search(r"^1 \d+ 0\.0%", table, re.M), table  # version 1, its calls, no errors
    charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg polyline, figure.chart svg circle")
    assert charts, "no chart lines drawn"
    assert [c.text.split()[0] for c in browser.find_elements(By.CSS_SELECTOR, "figure.chart figcaption")] == \
        ["Calls", "Error", "Latency", "Cost"]
    browser.save_screenshot(str(screenshots / "stats.png"))
    assert csp_errors(browser) == []


def test_audit_trail_and_chain_verification(browser, server, screenshots):
    sign_in(browser, server, next_path="/ui/audit")
    trail = text(browser, "#audit")
    assert "version.create" in trail and "label.set" in trail
    fill(browser, "action", "label.set")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    loaded(browser, "action=label.set")
    actions = {td.text for td in browser.find_elements(By.CSS_SELECTOR, "#audit tbody td:nth-child(4)")}
    assert actions == {"label.set"}
    browser.save_screenshot(str(screenshots / "audit.png"))
    browser.find_element(By.LINK_TEXT, "Verify the chain").click()
    assert "the chain verifies" in text(browser, ".notice.ok")


def test_admin_creates_and_revokes_a_key(browser, server):
    sign_in(browser, server, next_path="/ui/keys")
    fill(browser, "name", "ui-made", "#create-key")
    Select(browser.find_element(By.CSS_SELECTOR, "#create-key select[name='role']")).select_by_value("viewer")
    browser.find_element(By.CSS_SELECTOR, "#create-key button").click()
    secret = text(browser, "#new-secret")
    assert secret.startswith("opm_")
    status, who, _ = server.api("GET", "/api/v1/whoami", key=secret)
    assert status == 200 and who["key"]["role"] == "viewer"
    browser.get(f"{server.url}/ui/keys")
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#keys tbody tr") if r.text.startswith("ui-made"))
    assert secret not in browser.page_source  # shown once only
    row.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait(browser).until(lambda d: any(r.text.startswith("ui-made") and "revoked" in r.text
                                      for r in d.find_elements(By.CSS_SELECTOR, "#keys tbody tr")))
    status, _, _ = server.api("GET", "/api/v1/whoami", key=secret)
    assert status == 401


def test_viewer_sees_no_write_controls_and_the_server_refuses_anyway(browser, server):
    viewer = server.create_key("ui-viewer", "viewer")
    sign_in(browser, server, key=viewer, next_path="/ui/prompts/support-reply")
    assert "viewer" in text(browser, ".who")
    page = browser.page_source
    for control in ("move-label", "rollback-label", "Archive prompt", "/edit", "New prompt"):
        assert control not in page, control
    assert not browser.find_elements(By.LINK_TEXT, "Keys")
    browser.get(f"{server.url}/ui/prompts/support-reply/rollouts")
    assert not browser.find_elements(By.ID, "start-rollout")
    # The same form posted by hand (valid session and CSRF token): the API refuses with 403.
    browser.get(f"{server.url}/ui/prompts/support-reply")
    csrf = browser.find_element(By.CSS_SELECTOR, "header form input[name='csrf']").get_attribute("value")
    status, body = raw_post(server, "/ui/prompts/support-reply/label-move",
                            {"csrf": csrf, "label": "production", "version": "1", "reason": "sneaky"},
                            session_cookie(browser))
    assert status == 403 and "forbidden" in body
    status, audit, _ = server.api("GET", "/api/v1/audit?action=auth.denied&actor=ui-viewer")
    assert audit["items"], "the refusal is in the audit trail"


def test_csrf_token_missing_or_wrong_is_refused(browser, server):
    sign_in(browser, server, next_path="/ui/prompts/support-reply")
    before = server.label_version("support-reply", "production")
    cookie = session_cookie(browser)
    fields = {"label": "production", "version": str(before), "reason": "forged"}
    for forged in (fields, {**fields, "csrf": "0" * 64}):
        status, body = raw_post(server, "/ui/prompts/support-reply/label-move", forged, cookie)
        assert status == 403 and "csrf_failed" in body
    status, history, _ = server.api("GET", "/api/v1/prompts/support-reply/labels/production/history")
    assert all(change["reason"] != "forged" for change in history["items"])
    # without a session cookie a form is not even read: sign in first
    status, body = raw_post(server, "/ui/prompts/support-reply/label-move", fields, "not-a-session")
    assert status in (200, 303) and "Sign in" in body


def test_security_headers_and_cookie_flags(server):
    request = urllib.request.Request(f"{server.url}/ui/login")
    with urllib.request.urlopen(request, timeout=30) as response:
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
        page = response.read().decode()
    assert "<script>" not in page and " style=" not in page and "onclick" not in page
    # the API itself is unchanged by the UI: no UI headers on its answers
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=30) as response:
        assert "content-security-policy" not in response.headers


def test_wrong_key_is_refused_at_sign_in(browser, server):
    browser.get(f"{server.url}/ui/login")
    browser.find_element(By.ID, "key").send_keys("opm_nope_nope")
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    assert "not valid" in text(browser, ".notice.error")
    assert not [c for c in browser.get_cookies() if c["name"] == "opm_session"]


def test_sign_out_ends_the_session(browser, server):
    sign_in(browser, server)
    cookie = session_cookie(browser)
    browser.find_element(By.CSS_SELECTOR, ".who button").click()
    wait(browser).until(EC.url_contains("/ui/login"))
    request = urllib.request.Request(f"{server.url}/ui/", headers={"cookie": f"opm_session={cookie}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert "/ui/login" in response.url  # the old cookie no longer signs in


@pytest.mark.parametrize("path", ["/ui/", "/ui/prompts/support-reply", "/ui/prompts/support-reply/diff?from=1&to=1",
                                  "/ui/prompts/support-reply/edit", "/ui/prompts/support-reply/stats"])
def test_phone_width_has_no_sideways_scrolling(browser, server, screenshots, path):
    sign_in(browser, server, next_path=path)
    browser.set_window_size(390, 844)
    time.sleep(0.2)
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{path} is {overflow}px wider than a phone screen"
    if path == "/ui/prompts/support-reply":
        browser.save_screenshot(str(screenshots / "prompt-phone.png"))
