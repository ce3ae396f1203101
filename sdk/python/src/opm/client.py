"""The public clients: `Client` (threads) and `AsyncClient` (asyncio), with the same surface.

    client = Client()                        # OPM_URL, OPM_API_KEY, OPM_PROJECT
    prompt = client.get_prompt("support-reply", label="production", key="user-42")
    messages = prompt.render(customer_name="Ada", ticket="hi")
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import httpx

from . import _http, snapshot, telemetry
from ._core import RETRY_AFTER_FAILURE, Engine, Entry, Key, VersionRecord, selector_key
from .errors import OPMError, PromptNotFound
from .includes import IncludedVersion, resolve_includes
from .prompt import Prompt
from .template import check_template
from .watch import Watcher

log = logging.getLogger("opm")

DEFAULT_URL = "http://127.0.0.1:8321"
Fallback = Union[str, Sequence[Mapping[str, str]], Mapping[str, Any]]
Rendered = Union[List[Dict[str, str]], str]

__all__ = ["Client", "AsyncClient"]


def _fallback_content(fallback: Fallback) -> Dict[str, Any]:
    """An inline fallback as version content: a text template, a list of chat messages, or full content.

    Variables of a template or message list are inferred (required, any type); full content is
    checked the way the server checks a published version.
    """
    if isinstance(fallback, str):
        content: Dict[str, Any] = {"type": "text", "template": fallback}
    elif isinstance(fallback, Mapping):
        content = dict(fallback)
        check_template(content)
        return content
    else:
        content = {"type": "chat", "messages": [{"role": m["role"], "content": m["content"]} for m in fallback]}
    content["variables"] = {name: {"type": "any"} for name in check_template(content, infer=True)}
    return content


def _no_includes_offline(prompt: str, _label: Optional[str], _version: Optional[int]) -> IncludedVersion:
    raise PromptNotFound(f"included prompt `{prompt}` is not available to an inline fallback",
                         code="prompt_not_found")


class Client:
    """A prompt client with an in-memory cache, push invalidation and offline fallbacks.

    `cache_ttl`: seconds an entry is served without asking OPM; older entries are served at once
    and refreshed in the background. `watch`: keep one `/api/v1/watch` stream so a label move is
    seen within a second. `snapshot_path`: keep a last-known-good copy on disk and start from it.
    `timeout`: seconds per request to OPM.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        project: Optional[str] = None,
        cache_ttl: float = 60.0,
        snapshot_path: Optional[str] = None,
        watch: bool = True,
        timeout: float = 2.0,
    ) -> None:
        url = url or os.environ.get("OPM_URL") or DEFAULT_URL
        api_key = api_key if api_key is not None else os.environ.get("OPM_API_KEY")
        project = project if project is not None else os.environ.get("OPM_PROJECT")
        self._engine = Engine(url, api_key, project, cache_ttl, timeout)
        self._snapshot_path = snapshot_path
        self._snapshot_lock = threading.Lock()
        self._fallback_until: Dict[Key, float] = {}
        if snapshot_path:
            self._load_snapshot(snapshot_path)
            self._engine.on_change = self._write_snapshot
        self._watcher: Optional[Watcher] = Watcher(self._engine).start() if watch else None

    # --- the surface --------------------------------------------------------------------------

    def get_prompt(
        self,
        name: str,
        label: Optional[str] = None,
        version: Optional[int] = None,
        key: Optional[str] = None,
        fallback: Optional[Fallback] = None,
    ) -> Prompt:
        """The version `label` (default `production`) or `version` serves, with `key` routing a split.

        From memory when cached; never raises when a cached or snapshot copy exists. Without one:
        `fallback` (a text template, chat messages or content) if given, else `PromptNotFound`,
        `AuthError`, `OPMUnavailable` or `InvalidRequest`.
        """
        cache_key = selector_key(name, label, version)
        if fallback is not None and self._fallback_until.get(cache_key, 0.0) > time.monotonic():
            prompt = self._fallback(cache_key, fallback, None)  # OPM failed a moment ago: do not wait again
        else:
            try:
                prompt = self._engine.get(cache_key, key)
            except OPMError as error:
                if fallback is None:
                    raise
                prompt = self._fallback(cache_key, fallback, error)
        telemetry.annotate(prompt.name, prompt.version, prompt.label, prompt.arm.version if prompt.arm else None)
        return prompt

    def render(
        self,
        name: str,
        variables: Optional[Mapping[str, Any]] = None,
        label: Optional[str] = None,
        version: Optional[int] = None,
        key: Optional[str] = None,
    ) -> Rendered:
        """Server-side render (`POST /api/v1/prompts/{name}/render`): the same answer as
        `get_prompt(...).render(**variables)`."""
        body = _render_body(variables, label, version, key)
        try:
            response = self._engine.http.post(f"/api/v1/prompts/{name}/render", json=body)
        except _http.TRANSPORT_ERRORS as error:
            raise _http.unavailable(error, self._engine.url) from None
        return _render_answer(response)

    def feedback(self, generation_id: str, score: float = 1.0, comment: Optional[str] = None) -> Dict[str, Any]:
        """Scores a generation (its `x-opm-generation-id`); returns the stored feedback."""
        body: Dict[str, Any] = {"generation_id": generation_id, "score": score}
        if comment is not None:
            body["comment"] = comment
        try:
            response = self._engine.http.post("/api/v1/feedback", json=body)
        except _http.TRANSPORT_ERRORS as error:
            raise _http.unavailable(error, self._engine.url) from None
        if response.status_code not in (200, 201):
            raise _http.error_from_response(response)
        answer: Dict[str, Any] = response.json()
        return answer

    def stats(self) -> Dict[str, int]:
        """Counters: cache hits and misses, stale and offline serves, HTTP requests, errors, watch events…"""
        return self._engine.stats()

    @property
    def watching(self) -> bool:
        """Whether the watch stream is connected right now."""
        return self._watcher is not None and self._watcher.connected.is_set()

    def wait_until_watching(self, timeout: float = 5.0) -> bool:
        return self._watcher is not None and self._watcher.connected.wait(timeout)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self._engine.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------------

    def _fallback(self, cache_key: Key, fallback: Fallback, error: Optional[OPMError]) -> Prompt:
        content = _fallback_content(fallback)
        if error is not None:
            self._engine.failed(cache_key, error, "serving the inline fallback")
            self._fallback_until[cache_key] = time.monotonic() + RETRY_AFTER_FAILURE
        self._engine.count("fallback_served")
        resolution = resolve_includes(cache_key[0], content, cache_key[1] or "production", _no_includes_offline)
        return Prompt(name=cache_key[0], version=None, label=cache_key[1], arm=None, content_hash=None,
                      content=content, resolution=resolution, is_fallback=True)

    def _load_snapshot(self, path: str) -> None:
        if not os.path.exists(path):
            return
        try:
            loaded = snapshot.load(path)
        except (snapshot.SnapshotRefused, OSError) as error:
            self._engine.count("snapshot_refused")
            log.error("opm: refusing snapshot %s: %s", path, error)
            return
        for key, fields in loaded:
            versions = {
                number: VersionRecord(record["prompt"], number, record["content"], record["content_hash"], resolution)
                for number, (record, resolution) in fields["versions"].items()
            }
            depends = {key[0]}
            for record in versions.values():
                depends |= record.resolution.depends_on
            self._engine.entries[key] = Entry(key, versions, fields["served_version"], fields["split"], False,
                                              fetched_at=-1e12, depends_on=depends, invalid=True, from_snapshot=True)

    def _write_snapshot(self) -> None:
        assert self._snapshot_path is not None
        with self._snapshot_lock:
            with self._engine.lock:
                entries = list(self._engine.entries.values())
            try:
                snapshot.write(self._snapshot_path, snapshot.dump(entries, self._engine.url, self._engine.project))
                self._engine.count("snapshot_writes")
            except OSError as error:
                self._engine.count("errors")
                log.error("opm: writing snapshot %s failed: %s", self._snapshot_path, error)


def _render_body(variables: Optional[Mapping[str, Any]], label: Optional[str], version: Optional[int],
                 key: Optional[str]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"variables": dict(variables or {})}
    if label is not None:
        body["label"] = label
    if version is not None:
        body["version"] = version
    if key is not None:
        body["key"] = key
    return body


def _render_answer(response: httpx.Response) -> Rendered:
    if response.status_code != 200:
        raise _http.error_from_response(response)
    answer = response.json()
    if answer.get("type") == "chat":
        return [{"role": m["role"], "content": m["content"]} for m in answer["messages"]]
    text: str = answer["text"]
    return text


class AsyncClient:
    """`Client` for asyncio: the same arguments and methods, awaitable.

    A cached `get_prompt` answers without leaving the event loop; a miss runs the fetch on a worker
    thread (the cache, the watch stream and background refreshes are the threaded `Client`'s), and
    `render` / `feedback` use an `httpx.AsyncClient`.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        project: Optional[str] = None,
        cache_ttl: float = 60.0,
        snapshot_path: Optional[str] = None,
        watch: bool = True,
        timeout: float = 2.0,
    ) -> None:
        self._sync = Client(url, api_key, project, cache_ttl, snapshot_path, watch, timeout)
        engine = self._sync._engine
        self._http = httpx.AsyncClient(base_url=engine.url, headers=engine.headers, timeout=timeout,
                                       event_hooks={"request": [self._count]})

    async def _count(self, _request: httpx.Request) -> None:
        self._sync._engine.count("http_requests")

    async def get_prompt(
        self,
        name: str,
        label: Optional[str] = None,
        version: Optional[int] = None,
        key: Optional[str] = None,
        fallback: Optional[Fallback] = None,
    ) -> Prompt:
        cache_key = selector_key(name, label, version)
        hit = self._sync._engine.lookup(cache_key, key)
        if hit is not None:
            telemetry.annotate(hit.name, hit.version, hit.label, hit.arm.version if hit.arm else None)
            return hit
        call = functools.partial(self._sync.get_prompt, name, label, version, key, fallback)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def render(
        self,
        name: str,
        variables: Optional[Mapping[str, Any]] = None,
        label: Optional[str] = None,
        version: Optional[int] = None,
        key: Optional[str] = None,
    ) -> Rendered:
        body = _render_body(variables, label, version, key)
        try:
            response = await self._http.post(f"/api/v1/prompts/{name}/render", json=body)
        except _http.TRANSPORT_ERRORS as error:
            raise _http.unavailable(error, self._sync._engine.url) from None
        return _render_answer(response)

    async def feedback(self, generation_id: str, score: float = 1.0, comment: Optional[str] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"generation_id": generation_id, "score": score}
        if comment is not None:
            body["comment"] = comment
        try:
            response = await self._http.post("/api/v1/feedback", json=body)
        except _http.TRANSPORT_ERRORS as error:
            raise _http.unavailable(error, self._sync._engine.url) from None
        if response.status_code not in (200, 201):
            raise _http.error_from_response(response)
        answer: Dict[str, Any] = response.json()
        return answer

    def stats(self) -> Dict[str, int]:
        return self._sync.stats()

    @property
    def watching(self) -> bool:
        return self._sync.watching

    async def wait_until_watching(self, timeout: float = 5.0) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._sync.wait_until_watching, timeout)

    async def close(self) -> None:
        await self._http.aclose()
        await asyncio.get_running_loop().run_in_executor(None, self._sync.close)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

