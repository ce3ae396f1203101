"""HTTP plumbing shared by the clients: headers, problem+json → typed errors, conditional resolves."""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, Mapping, Optional, Tuple

import httpx

from .errors import AuthError, InvalidRequest, OPMError, OPMUnavailable, PromptNotFound, RenderError

# Codes a render answers with 422 that are about the template or its variables (docs/errors.md).
RENDER_CODES = frozenset(
    [
        "missing_variables", "undeclared_variables", "variable_type", "render_failed", "template_syntax",
        "template_undeclared_variable", "include_cycle", "include_depth", "invalid_include", "include_not_text",
    ]
)
NOT_FOUND_CODES = frozenset(["prompt_archived"])


def headers(api_key: Optional[str], project: Optional[str]) -> Dict[str, str]:
    out = {"user-agent": "opm-sdk-python/0.1.0", "accept": "application/json"}
    if api_key:
        out["authorization"] = f"Bearer {api_key}"
    if project:
        out["x-opm-project"] = project
    return out


def error_from_response(response: httpx.Response) -> OPMError:
    """The typed error for a non-2xx answer (an RFC 9457 problem document when OPM sent one)."""
    try:
        problem = response.json()
    except (ValueError, json.JSONDecodeError):
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    code = problem.get("code")
    detail = problem.get("detail") or problem.get("title") or f"OPM answered {response.status_code}"
    request_id = problem.get("request_id") or response.headers.get("x-request-id")
    status = response.status_code
    kwargs: Dict[str, Any] = {"code": code, "status": status, "request_id": request_id}
    if status in (401, 403):
        return AuthError(detail, **kwargs)
    if status == 404 or code in NOT_FOUND_CODES:
        return PromptNotFound(detail, **kwargs)
    if status == 422 and code in RENDER_CODES:
        return RenderError(detail, **kwargs)
    if status in (400, 409, 413, 415, 422):
        return InvalidRequest(detail, **kwargs)
    if status == 429 or status >= 500:
        return OPMUnavailable(detail, **kwargs)
    return OPMError(detail, **kwargs)


def unavailable(error: Exception, url: str) -> OPMUnavailable:
    return OPMUnavailable(f"OPM at {url} is unreachable: {type(error).__name__}: {error}".rstrip(": "))


TRANSPORT_ERRORS = (httpx.TransportError,)


class ResolveMemo:
    """The last answer per resolve query with its `ETag`, so repeated fetches send `If-None-Match`
    and a 304 reuses the remembered body."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: Dict[Tuple[Any, ...], Tuple[str, Mapping[str, Any]]] = {}
        self.not_modified = 0

    def etag(self, key: Tuple[Any, ...]) -> Optional[str]:
        with self._lock:
            found = self._answers.get(key)
        return found[0] if found else None

    def remember(self, key: Tuple[Any, ...], etag: Optional[str], body: Mapping[str, Any]) -> None:
        if etag:
            with self._lock:
                self._answers[key] = (etag, body)

    def reuse(self, key: Tuple[Any, ...]) -> Optional[Mapping[str, Any]]:
        with self._lock:
            found = self._answers.get(key)
            if found:
                self.not_modified += 1
        return found[1] if found else None
