"""The last-known-good snapshot: every prompt the app has used, so a process started while OPM is
unreachable still serves them.

One JSON file, written atomically (a temporary file in the same directory, fsync, `os.replace`,
then the directory fsync'd), with the server's content hash of every version in it. On load every
hash is recomputed from the content (the server's canonical JSON SHA-256, `canonical.py`); one
mismatch and the whole file is refused (logged and counted), never partly trusted.

Format (version 1):
`{"format": "opm-sdk-snapshot", "version": 1, "url", "project", "written_at",
  "entries": [{"prompt", "label", "version", "target": {"type": "version", "version"} |
               {"type": "split", "arms": [[version, weight], …], "group", "algorithm",
                "algorithm_version"},
               "versions": [{"prompt", "version", "content", "content_hash",
                             "includes": [{"prompt", "label", "version", "resolved_version",
                                           "content", "content_hash"}, …]}, …]}, …]}`
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .bucketing import Split
from .canonical import content_hash
from .errors import OPMUnavailable
from .includes import IncludedVersion, resolve_includes

log = logging.getLogger("opm")

FORMAT = "opm-sdk-snapshot"
VERSION = 1

if False:  # typing only (no import cycle at runtime)
    from ._core import Entry


class SnapshotRefused(Exception):
    """The snapshot file exists but cannot be trusted (bad format or a content hash mismatch)."""


def _version_record(record: Any) -> Dict[str, Any]:
    includes = []
    for (prompt, label, version), included in record.resolution.fetched.items():
        includes.append({"prompt": prompt, "label": label, "version": version, "resolved_version": included.version,
                         "content": included.content, "content_hash": included.content_hash})
    return {"prompt": record.prompt, "version": record.version, "content": record.content,
            "content_hash": record.content_hash, "includes": includes}


def dump(entries: List["Entry"], url: str, project: Optional[str]) -> Dict[str, Any]:
    out = []
    for entry in entries:
        if entry.remote_split:
            continue
        name, label, version = entry.key
        if entry.split is not None:
            target: Dict[str, Any] = {"type": "split", "arms": [list(a) for a in entry.split.arms],
                                      "group": entry.split.group, "algorithm": entry.split.algorithm,
                                      "algorithm_version": entry.split.algorithm_version}
        else:
            target = {"type": "version", "version": entry.served_version}
        out.append({"prompt": name, "label": label, "version": version, "target": target,
                    "versions": [_version_record(r) for r in entry.versions.values()]})
    return {"format": FORMAT, "version": VERSION, "url": url, "project": project,
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "entries": out}


def write(path: str, document: Mapping[str, Any]) -> None:
    """Atomically replaces `path` with `document` (readers see the old file or the new one, whole)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".opm-snapshot-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(document, file, ensure_ascii=False, separators=(",", ":"))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
    except OSError:
        pass


def _check_hash(prompt: str, version: Any, content: Mapping[str, Any], recorded: str) -> None:
    actual = content_hash(content)
    if actual != recorded:
        raise SnapshotRefused(f"prompt `{prompt}` version {version}: content hash {actual} does not match "
                              f"the recorded {recorded}")


def load(path: str) -> List[Tuple[Tuple[str, Optional[str], Optional[int]], Dict[str, Any]]]:
    """Reads and verifies the snapshot: `[(key, entry fields)]`. Raises `SnapshotRefused`."""
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except ValueError as error:
        raise SnapshotRefused(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
        raise SnapshotRefused(f"{path} is not an {FORMAT} version {VERSION} file")
    loaded = []
    try:
        for item in document["entries"]:
            key = (item["prompt"], item["label"], item["version"])
            versions = {}
            for record in item["versions"]:
                _check_hash(record["prompt"], record["version"], record["content"], record["content_hash"])
                fetched: Dict[Tuple[str, Optional[str], Optional[int]], IncludedVersion] = {}
                for inc in record["includes"]:
                    _check_hash(inc["prompt"], inc["resolved_version"], inc["content"], inc["content_hash"])
                    fetched[(inc["prompt"], inc["label"], inc["version"])] = IncludedVersion(
                        inc["prompt"], int(inc["resolved_version"]), inc["content"], inc["content_hash"])

                def from_snapshot(prompt: str, label: Optional[str], version: Optional[int],
                                  _fetched: Dict[Any, IncludedVersion] = fetched) -> IncludedVersion:
                    found = _fetched.get((prompt, label, version))
                    if found is None:
                        raise OPMUnavailable(f"the snapshot has no copy of included prompt `{prompt}`")
                    return found

                include_label = key[1] if key[1] is not None else "production"
                resolution = resolve_includes(record["prompt"], record["content"], include_label, from_snapshot)
                versions[int(record["version"])] = (record, resolution)
            target = item["target"]
            split = None
            served = None
            if target["type"] == "split":
                split = Split(tuple((int(v), int(w)) for v, w in target["arms"]), target["group"],
                              target["algorithm"], int(target["algorithm_version"]))
            else:
                served = int(target["version"])
            loaded.append((key, {"versions": versions, "split": split, "served_version": served}))
    except (KeyError, TypeError, ValueError) as error:
        raise SnapshotRefused(f"{path} is malformed: {type(error).__name__}: {error}") from None
    return loaded
