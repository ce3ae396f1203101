"""Push invalidation: one `GET /api/v1/watch` server-sent-event stream per client, on a daemon thread.

Every event names a prompt (a label moved, a version published, a rollback, a rollout step): the
entries depending on it (the prompt itself or an include of it) are marked invalid and refetched
in the background at once, so `get_prompt` sees the change within a round trip of the event.
A label event also carries the label's new target: a refetch that answers another target is older
than the event (a fetch racing it, or a replica that has not applied it yet) and is repeated.

The stream resumes with `Last-Event-ID` (the audit sequence number of the last event seen), so
events published while it was down are replayed by the server first. When there is nothing to
resume from (the first connection, or no event seen yet), connecting marks every entry invalid,
since a change may have happened before the stream was up. Reconnects back off exponentially
(0.1 s doubling to 3 s, jittered); a read timeout (the server sends a keep-alive every 15 s)
detects a silently dead connection.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import httpx

from . import _http
from ._core import Engine, jittered

log = logging.getLogger("opm")

INITIAL_BACKOFF = 0.1
MAX_BACKOFF = 3.0
READ_TIMEOUT = 45.0


def parse_sse(lines: Iterator[str]) -> Iterator[Tuple[Optional[str], str, str]]:
    """`(id, event, data)` per server-sent event (WHATWG rules: `data` lines joined, comments skipped)."""
    event_id: Optional[str] = None
    event = "message"
    data: List[str] = []
    for line in lines:
        if line == "":
            if data:
                yield event_id, event, "\n".join(data)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value
    if data:
        yield event_id, event, "\n".join(data)


class Watcher:
    """Keeps the watch stream open until `stop()`; `last_event_id` survives reconnects."""

    def __init__(self, engine: Engine, on_event: Optional[Callable[[str, Dict[str, object]], None]] = None) -> None:
        self.engine = engine
        self.last_event_id: Optional[int] = None
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._on_event = on_event
        self._http = httpx.Client(base_url=engine.url, headers={**engine.headers, "accept": "text/event-stream"},
                                  timeout=httpx.Timeout(engine.timeout, read=READ_TIMEOUT))
        self._thread = threading.Thread(target=self._run, name="opm-watch", daemon=True)
        self._failures = 0
        self._response: Optional[httpx.Response] = None

    def start(self) -> "Watcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            # Closing the client does not wake a thread blocked in a read; shutting the socket does.
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(timeout=2)
        self._http.close()

    def _run(self) -> None:
        backoff = INITIAL_BACKOFF
        while not self._stop.is_set():
            try:
                self._stream()
                backoff = INITIAL_BACKOFF  # a clean end of stream (server shutting down): reconnect soon
            except Exception as error:  # noqa: BLE001 - every failure means: reconnect later
                if self._stop.is_set():
                    break
                self._failures += 1
                if self._failures == 1:
                    log.warning("opm: the watch stream to %s failed (%s); reconnecting with backoff",
                                self.engine.url, error)
                self.engine.count("errors")
            self.connected.clear()
            if self._stop.wait(jittered(backoff)):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _stream(self) -> None:
        request_headers = {}
        resumed = self.last_event_id is not None
        if resumed:
            request_headers["last-event-id"] = str(self.last_event_id)
        with self._http.stream("GET", "/api/v1/watch", headers=request_headers) as response:
            self._response = response
            if response.status_code != 200:
                response.read()
                raise _http.error_from_response(response)
            self.engine.count("watch_connects")
            if self._failures:
                log.info("opm: the watch stream to %s is connected again", self.engine.url)
            self._failures = 0
            if not resumed:
                # Changes before this point were not seen: revalidate everything (cheap: ETags).
                for key in self.engine.invalidate(None):
                    self.engine.refresh(key, wait=False)
            self.connected.set()
            try:
                for event_id, event, data in parse_sse(response.iter_lines()):
                    self._handle(event_id, event, data)
            finally:
                self._response = None

    def _handle(self, event_id: Optional[str], event: str, data: str) -> None:
        try:
            payload = json.loads(data)
        except ValueError:
            payload = {}
        if event_id is not None and event_id.strip().lstrip("-").isdigit():
            self.last_event_id = int(event_id)
        self.engine.count("watch_events")
        prompt = payload.get("prompt") if isinstance(payload, dict) else None
        label = payload.get("label") if isinstance(payload, dict) else None
        after = payload.get("data") if isinstance(payload, dict) else None
        target = after.get("target") if isinstance(after, dict) else None
        if isinstance(prompt, str) and isinstance(label, str) and isinstance(target, dict):
            self.engine.announce(prompt, label, target)
        if isinstance(prompt, str):
            for key in self.engine.invalidate(prompt):
                self.engine.refresh(key, wait=False)
        if self._on_event is not None:
            self._on_event(event, payload if isinstance(payload, dict) else {})
