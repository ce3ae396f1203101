"""`{% include %}` resolution exactly as the server does it (crates/opm-registry/src/includes.rs).

References are found level by level (depth first, last template first, like the server's stack),
resolved through `fetch`: unpinned ones at the root's label (`production` when the root was asked
for by version number), falling back to `production` when the included prompt has no such label
(neither: `label_not_found` naming both labels and the including prompt); pinned `name@N` at that
version, never a fallback; an included split label contributes its stable arm. A prompt already on the path is a cycle; more than five levels, or more than 64
references in one render, are refused; an included chat prompt is refused.

The outcome of a definitive failure (a cycle, a missing prompt…) is kept and raised when the
prompt is rendered, as the server answers such a prompt's resolve but refuses its render; a failure
to reach OPM propagates, so a half-resolved prompt is never cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from .errors import AuthError, OPMError, OPMUnavailable, PromptNotFound, RenderError
from .template import MAX_INCLUDE_DEPTH, MAX_INCLUDE_VISITS, CompiledPrompt, find_includes, templates_of

__all__ = ["Included", "IncludedVersion", "Resolution", "resolve_includes"]

PRODUCTION = "production"


@dataclass(frozen=True)
class IncludedVersion:
    """What `fetch` answers: the version an include resolved to and its content."""

    prompt: str
    version: int
    content: Mapping[str, Any]
    content_hash: str


@dataclass(frozen=True)
class Included:
    """An included version: the reference as written (`name` or `name@N`), the prompt and version."""

    reference: str
    prompt: str
    version: int


# fetch(prompt, label, version): exactly one of label / version is given.
Fetch = Callable[[str, Optional[str], Optional[int]], IncludedVersion]


@dataclass
class Resolution:
    """The sources a version needs to render, or the error its render raises."""

    sources: Dict[str, str] = field(default_factory=dict)
    included: List[Included] = field(default_factory=list)
    # (prompt, label, version) asked for → what it resolved to (kept in the snapshot).
    fetched: Dict[Tuple[str, Optional[str], Optional[int]], IncludedVersion] = field(default_factory=dict)
    depends_on: Set[str] = field(default_factory=set)
    error: Optional[OPMError] = None

    def compile(self, content: Mapping[str, Any]) -> CompiledPrompt:
        if self.error is not None:
            raise self.error
        return CompiledPrompt(content, self.sources)


def resolve_includes(root: str, content: Mapping[str, Any], label: str, fetch: Fetch) -> Resolution:
    """Resolves every include of `content` (a version of `root` served through `label`)."""
    resolution = Resolution(depends_on={root})
    pending: List[Tuple[List[str], str]] = [([root], source) for _, _, source in templates_of(content)]
    visits = 0
    try:
        while pending:
            path, source = pending.pop()
            for reference in find_includes(source):
                name = reference.prompt
                resolution.depends_on.add(name)
                if name in path:
                    raise RenderError(f"include cycle: {' -> '.join([*path, name])}", code="include_cycle")
                if len(path) > MAX_INCLUDE_DEPTH:
                    raise RenderError(
                        f"includes nested deeper than {MAX_INCLUDE_DEPTH} levels: {' -> '.join([*path, name])}",
                        code="include_depth",
                    )
                visits += 1
                if visits > MAX_INCLUDE_VISITS:
                    raise RenderError(
                        f"rendering failed: more than {MAX_INCLUDE_VISITS} includes in one render", code="render_failed"
                    )
                key = (name, None if reference.version is not None else label, reference.version)
                if key not in resolution.fetched:
                    resolution.fetched[key] = _fetch_with_fallback(fetch, key, path[-1])
                target = resolution.fetched[key]
                if target.content.get("type") != "text":
                    raise RenderError(
                        f"prompt `{name}` is a chat prompt; only text prompts can be included", code="include_not_text"
                    )
                template = target.content.get("template") or ""
                template_name = reference.template_name
                if not any(i.reference == template_name for i in resolution.included):
                    resolution.included.append(Included(template_name, name, target.version))
                resolution.sources[template_name] = template
                pending.append(([*path, name], template))
    except (OPMUnavailable, AuthError):
        raise
    except OPMError as error:
        resolution.error = error
    return resolution


def _fetch_with_fallback(fetch: Fetch, key: Tuple[str, Optional[str], Optional[int]], including: str) -> IncludedVersion:
    """`fetch(*key)`; an unpinned include whose prompt lacks the label falls back to `production`."""
    name, label, version = key
    try:
        return fetch(name, label, version)
    except PromptNotFound as missing:
        if label is None or missing.code != "label_not_found":
            raise
        if label == PRODUCTION:
            raise PromptNotFound(f"prompt `{name}` (included by `{including}`) has no label `{label}`",
                                 code="label_not_found", status=404) from None
    try:
        return fetch(name, PRODUCTION, None)
    except PromptNotFound as missing:
        if missing.code != "label_not_found":
            raise
        raise PromptNotFound(
            f"prompt `{name}` (included by `{including}`) has neither label `{label}` nor `{PRODUCTION}`",
            code="label_not_found", status=404) from None
