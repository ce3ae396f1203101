"""The client's engine: the in-memory cache, fetching through OPM's existing routes, stale-while-
revalidate, push invalidation, and the offline paths (snapshot, fallback).

One entry per `(prompt, label, version)` asked for. An entry holds every version the selector can
serve (one, or each arm of a split with the split itself, routed locally), each with the sources of
its includes. Fetching uses only existing routes: `GET …/resolve` (with `If-None-Match`), and for a
split label `GET …/labels` (the split's arms, group and algorithm) plus `…/resolve?version=N` per
arm; includes are resolved the way the server does (`includes.py`).

States: fresh (served from memory, no IO), stale (older than `cache_ttl`: served at once and
refreshed in the background), invalid (a change event or a reconnect without resume named it:
the next `get_prompt` refetches and waits; if OPM fails, the old copy is served). A fetch that
raced an invalidation is refetched (epoch check), so a moved label is never re-cached stale.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Union

import httpx

from . import _http
from .bucketing import Split
from .errors import AuthError, InvalidRequest, OPMError, OPMUnavailable, PromptNotFound
from .includes import IncludedVersion, Resolution, resolve_includes
from .prompt import Arm, Prompt

log = logging.getLogger("opm")

# (prompt, label, version): exactly one of label and version is set.
Key = Tuple[str, Optional[str], Optional[int]]
# After a failed refresh, serve the old copy without trying again for this long.
RETRY_AFTER_FAILURE = 2.0
# How many times a fetch that raced an invalidation is repeated before the result is kept as invalid.
MAX_RACE_RETRIES = 3


@dataclass
class VersionRecord:
    """One fetched version with what it needs to render (kept in the snapshot as it is)."""

    prompt: str
    version: int
    content: Mapping[str, Any]
    content_hash: str
    resolution: Resolution


@dataclass
class Entry:
    key: Key
    versions: Dict[int, VersionRecord]
    served_version: Optional[int]  # a single-version target
    split: Optional[Split]  # a split routed here
    remote_split: bool  # a split whose algorithm this SDK does not implement: routed by the server
    fetched_at: float
    depends_on: Set[str]
    invalid: bool = False
    retry_at: float = 0.0
    from_snapshot: bool = False
    prompts: Dict[Tuple[int, bool], Prompt] = field(default_factory=dict)

    def prompt_for(self, version: int, arm_index: Optional[int], sticky: bool) -> Prompt:
        cache_key = (version if arm_index is None else arm_index, sticky)
        found = self.prompts.get(cache_key)
        if found is not None:
            return found
        record = self.versions[version]
        arm = None
        if self.split is not None and arm_index is not None:
            arm = Arm(version, arm_index, self.split.weight_of(version), sticky, self.split.algorithm,
                      self.split.algorithm_version)
        shared = next((p for p in self.prompts.values() if p.version == version), None)
        prompt = Prompt(name=record.prompt, version=version, label=self.key[1], arm=arm,
                        content_hash=record.content_hash, content=record.content, resolution=record.resolution,
                        compiled=shared._compiled if shared is not None else None)
        self.prompts[cache_key] = prompt
        return prompt

    def signature(self) -> Tuple[Any, ...]:
        split = (self.split.arms, self.split.group) if self.split else None
        includes = tuple(sorted((v, tuple((i.prompt, i.version, i.content_hash) for i in r.resolution.fetched.values()))
                                for v, r in self.versions.items()))
        return (tuple(sorted((v, r.content_hash) for v, r in self.versions.items())), self.served_version, split,
                includes)


class Engine:
    """Shared by `Client` and `AsyncClient`: everything but the public surface."""

    def __init__(self, url: str, api_key: Optional[str], project: Optional[str], cache_ttl: float,
                 timeout: float) -> None:
        self.url = url.rstrip("/")
        self.project = project
        self.cache_ttl = cache_ttl
        self.timeout = timeout
        self.headers = _http.headers(api_key, project)
        self.http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout,
                                 event_hooks={"request": [self._count_request]})
        self.memo = _http.ResolveMemo()
        self.lock = threading.RLock()
        self.entries: Dict[Key, Entry] = {}
        self.inflight: Dict[Key, "Future[Entry]"] = {}
        self.epoch = 0
        self.invalidated_at: Dict[str, int] = {}
        self.invalidated_all = -1
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="opm-refresh")
        self.counters: Dict[str, int] = {
            "cache_hits": 0, "cache_misses": 0, "stale_served": 0, "offline_served": 0, "fallback_served": 0,
            "http_requests": 0, "not_modified": 0, "refreshes": 0, "background_refreshes": 0, "errors": 0,
            "invalidations": 0, "watch_events": 0, "watch_connects": 0, "snapshot_writes": 0,
            "snapshot_refused": 0,
        }
        # The target each label was last announced to have by a watch event: a fetch answering
        # something else is older than that event (a race, or a lagging replica) and is repeated.
        self.announced: Dict[Tuple[str, str], Mapping[str, Any]] = {}
        self.failing: Set[Key] = set()
        self.on_change: Optional[Any] = None  # called with the entries after a refresh changed them
        self.closed = False

    # --- counters and logging -----------------------------------------------------------------

    def _count_request(self, _request: httpx.Request) -> None:
        self.count("http_requests")

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def stats(self) -> Dict[str, int]:
        with self.lock:
            out = dict(self.counters)
        out["not_modified"] = self.memo.not_modified
        return out

    def failed(self, key: Key, error: Exception, serving: str) -> None:
        """Counts every failure; logs the first of a run of failures for a key (then once on recovery)."""
        self.count("errors")
        with self.lock:
            first = key not in self.failing
            self.failing.add(key)
        if first:
            log.warning("opm: fetching %s failed (%s); %s", _describe(key), error, serving)

    def recovered(self, key: Key) -> None:
        with self.lock:
            was = key in self.failing
            self.failing.discard(key)
        if was:
            log.info("opm: %s is fetched from OPM again", _describe(key))

    # --- HTTP -----------------------------------------------------------------------------------

    def get_json(self, path: str, params: Optional[Dict[str, Any]] = None) -> Any:
        try:
            response = self.http.get(path, params=params)
        except _http.TRANSPORT_ERRORS as error:
            raise _http.unavailable(error, self.url) from None
        if response.status_code != 200:
            raise _http.error_from_response(response)
        return response.json()

    def resolve(self, name: str, label: Optional[str], version: Optional[int],
                key: Optional[str] = None) -> Mapping[str, Any]:
        """`GET /api/v1/prompts/{name}/resolve`, conditional on the last answer for the same query."""
        params: Dict[str, Any] = {}
        if label is not None:
            params["label"] = label
        if version is not None:
            params["version"] = version
        if key:
            params["key"] = key
        memo_key = (name, label, version, key)
        # Only version queries are conditional: the server's ETag names the served version's
        # content, not the label's target, so a 304 to a label query could hide that the label
        # became (or stopped being) a split.
        conditional = version is not None and not key
        etag = self.memo.etag(memo_key) if conditional else None
        request_headers = {"if-none-match": etag} if etag else None
        try:
            response = self.http.get(f"/api/v1/prompts/{name}/resolve", params=params, headers=request_headers)
        except _http.TRANSPORT_ERRORS as error:
            raise _http.unavailable(error, self.url) from None
        if response.status_code == 304:
            reused = self.memo.reuse(memo_key)
            if reused is not None:
                return reused
            response = self.http.get(f"/api/v1/prompts/{name}/resolve", params=params)
        if response.status_code != 200:
            raise _http.error_from_response(response)
        body: Mapping[str, Any] = response.json()
        if conditional:
            self.memo.remember(memo_key, response.headers.get("etag"), body)
        return body

    def label_target(self, name: str, label: str) -> Mapping[str, Any]:
        """The label's stored target (`{"type": "split", "arms", "group", "algorithm", …}`) and stable version."""
        body = self.get_json(f"/api/v1/prompts/{name}/labels")
        labels = body.get("items", []) if isinstance(body, dict) else body
        for one in labels:
            if one.get("name") == label:
                return dict(one)
        raise PromptNotFound(f"prompt `{name}` has no label `{label}`", code="label_not_found", status=404)

    def fetch_include(self, name: str, label: Optional[str], version: Optional[int]) -> IncludedVersion:
        """An included prompt as the server includes it (a split label: its stable arm)."""
        answer = self.resolve(name, label, version)
        if label is not None and answer.get("arm") is not None:
            stable = int(self.label_target(name, label)["version"])
            if stable != answer["version"]:
                answer = self.resolve(name, None, stable)
        return IncludedVersion(name, int(answer["version"]), answer["content"], answer["content_hash"])

    def _record(self, name: str, answer: Mapping[str, Any], include_label: str) -> VersionRecord:
        content = answer["content"]
        resolution = resolve_includes(name, content, include_label, self.fetch_include)
        return VersionRecord(name, int(answer["version"]), content, answer["content_hash"], resolution)

    def fetch(self, key: Key) -> Entry:
        """Builds a fresh entry for `key` from OPM (raises the typed error when OPM refuses or fails)."""
        name, label, version = key
        include_label = label if label is not None else "production"
        answer = self.resolve(name, label, version)
        versions: Dict[int, VersionRecord] = {}
        split: Optional[Split] = None
        remote = False
        served: Optional[int] = int(answer["version"])
        if label is not None and answer.get("arm") is not None:
            target = self.label_target(name, label)["target"]
            if target.get("type") == "split":
                split = Split(tuple((int(a["version"]), int(a["weight"])) for a in target["arms"]), target["group"],
                              str(target["algorithm"]), int(target["algorithm_version"]))
                served = None
                if not split.supported:
                    log.warning("opm: %s is split with bucketing %s v%s, which this SDK does not implement; "
                                "the server routes it", _describe(key), split.algorithm, split.algorithm_version)
                    remote = True
        if split is not None and not remote:
            for arm_version, _ in split.arms:
                arm_answer = answer if arm_version == answer["version"] else self.resolve(name, None, arm_version)
                versions[arm_version] = self._record(name, arm_answer, include_label)
        else:
            versions[int(answer["version"])] = self._record(name, answer, include_label)
            if remote:
                split = None
        depends: Set[str] = {name}
        for record in versions.values():
            depends |= record.resolution.depends_on
        return Entry(key, versions, served, split, remote, time.monotonic(), depends)

    # --- cache ----------------------------------------------------------------------------------

    def lookup(self, key: Key, sticky_key: Optional[str]) -> Optional[Prompt]:
        """The cached answer without any IO (a fresh or stale entry), or None (miss or invalid)."""
        entry = self.entries.get(key)
        if entry is None or entry.invalid or entry.remote_split:
            return None
        if time.monotonic() - entry.fetched_at > self.cache_ttl:
            self.count("stale_served")
            self.refresh(key, wait=False)
        else:
            self.count("cache_hits")
        return self.serve(entry, sticky_key)

    def serve(self, entry: Entry, sticky_key: Optional[str]) -> Prompt:
        if entry.split is not None:
            index, version, sticky = entry.split.assign(sticky_key)
            return entry.prompt_for(version, index, sticky)
        version = entry.served_version if entry.served_version is not None else next(iter(entry.versions))
        return entry.prompt_for(version, None, False)

    def get(self, key: Key, sticky_key: Optional[str]) -> Prompt:
        """`get_prompt`'s path: memory, else OPM (waiting), else the last good copy; raises only when
        there is no copy at all."""
        hit = self.lookup(key, sticky_key)
        if hit is not None:
            return hit
        entry = self.entries.get(key)
        if entry is not None and entry.remote_split:
            return self.serve_remote(entry, sticky_key)
        if entry is not None and time.monotonic() < entry.retry_at:
            self.count("offline_served")
            return self.serve(entry, sticky_key)
        self.count("cache_misses")
        try:
            fresh = self.refresh(key, wait=True)
        except Exception as error:  # noqa: BLE001 - with a copy to serve, nothing reaches the caller
            if entry is None:
                if isinstance(error, FutureTimeout):
                    raise OPMUnavailable(f"OPM at {self.url} did not answer in time") from None
                raise
            entry.retry_at = time.monotonic() + RETRY_AFTER_FAILURE
            self.failed(key, error, "serving the last good copy" + (" (snapshot)" if entry.from_snapshot else ""))
            self.count("offline_served")
            return self.serve(entry, sticky_key)
        assert fresh is not None
        if fresh.remote_split:
            return self.serve_remote(fresh, sticky_key)
        return self.serve(fresh, sticky_key)

    def serve_remote(self, entry: Entry, sticky_key: Optional[str]) -> Prompt:
        """A split this SDK cannot route: ask the server each time (its answer names the arm)."""
        name, label, _ = entry.key
        try:
            answer = self.resolve(name, label, None, key=sticky_key)
        except OPMError as error:
            self.failed(entry.key, error, "serving the last good copy")
            return self.serve(entry, sticky_key)
        record = self._record(name, answer, label or "production")
        arm = answer.get("arm")
        prompt = Prompt(name=name, version=record.version, label=label,
                        arm=Arm(**arm) if arm else None, content_hash=record.content_hash,
                        content=record.content, resolution=record.resolution)
        return prompt

    def refresh(self, key: Key, wait: bool) -> Optional[Entry]:
        """Refetches `key` once at a time: concurrent callers share the in-flight fetch."""
        with self.lock:
            future = self.inflight.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self.inflight[key] = future
        if owner:
            if wait:
                self._run_refresh(key, future, False)
            else:
                self.count("background_refreshes")
                try:
                    self.executor.submit(self._run_refresh, key, future, True)
                except RuntimeError:  # shut down
                    with self.lock:
                        self.inflight.pop(key, None)
                    return None
        if not wait:
            return None
        return future.result(timeout=self.timeout * 4 + 5)

    def _run_refresh(self, key: Key, future: "Future[Entry]", background: bool) -> None:
        try:
            for attempt in range(MAX_RACE_RETRIES):
                with self.lock:
                    started = self.epoch
                entry = self.fetch(key)
                with self.lock:
                    # One critical section with `invalidate`: an invalidation either came before
                    # this check (seen: refetch) or comes after the store (it marks this entry).
                    raced = self.invalidated_all > started or any(
                        self.invalidated_at.get(name, -1) > started for name in entry.depends_on
                    ) or not self._as_announced(entry)
                    if raced and attempt + 1 < MAX_RACE_RETRIES:
                        continue
                    entry.invalid = raced
                    previous = self.entries.get(key)
                    self.entries[key] = entry
                    self.inflight.pop(key, None)
                break
            self.count("refreshes")
            self.recovered(key)
            if self.on_change is not None and (previous is None or previous.signature() != entry.signature()):
                self.on_change()
            future.set_result(entry)
        except BaseException as error:  # noqa: BLE001 - handed to the waiter
            with self.lock:
                self.inflight.pop(key, None)
                entry_now = self.entries.get(key)
                if entry_now is not None:
                    entry_now.retry_at = time.monotonic() + RETRY_AFTER_FAILURE
            if background and isinstance(error, OPMError) and not self.closed:
                self.failed(key, error, "serving the stale copy")
            future.set_exception(error)

    def announce(self, prompt: str, label: str, target: Mapping[str, Any]) -> None:
        """A watch event said `label` of `prompt` now points at `target` (before invalidating)."""
        with self.lock:
            self.announced[(prompt, label)] = target

    def _as_announced(self, entry: Entry) -> bool:
        name, label, _ = entry.key
        target = self.announced.get((name, label)) if label is not None else None
        if target is None or entry.remote_split:
            return True
        if target.get("type") == "version":
            return entry.split is None and entry.served_version == target.get("version")
        if target.get("type") == "split" and entry.split is not None:
            arms = tuple((int(a["version"]), int(a["weight"])) for a in target.get("arms") or ())
            return entry.split.arms == arms
        return False

    def invalidate(self, prompt: Optional[str]) -> List[Key]:
        """Marks entries depending on `prompt` (every entry for None) invalid; returns their keys."""
        with self.lock:
            self.epoch += 1
            if prompt is None:
                self.invalidated_all = self.epoch
            else:
                self.invalidated_at[prompt] = self.epoch
            keys = [k for k, e in self.entries.items() if prompt is None or prompt in e.depends_on]
            for k in keys:
                self.entries[k].invalid = True
        self.count("invalidations", len(keys))
        return keys

    def close(self) -> None:
        self.closed = True
        self.executor.shutdown(wait=False)
        self.http.close()


def _describe(key: Key) -> str:
    name, label, version = key
    return f"prompt `{name}`" + (f" label `{label}`" if label is not None else f" version {version}")


def selector_key(name: str, label: Optional[str], version: Optional[int]) -> Key:
    if label is not None and version is not None:
        raise InvalidRequest("give `label` or `version`, not both", code="invalid_selector")
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidRequest("versions start at 1", code="invalid_version")
        return (name, None, version)
    return (name, label or "production", None)


def jittered(delay: float) -> float:
    return delay * (0.5 + random.random())
