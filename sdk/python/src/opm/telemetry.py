"""Optional OpenTelemetry: the prompt's name, version, label and arm on the current span.

The attribute names are the server's (crates/opm-telemetry/src/genai.rs): the GenAI semantic
conventions' `gen_ai.prompt.name` / `gen_ai.prompt.version`, and OPM's `opm.prompt.label` /
`opm.rollout.arm` (the serving arm's version, as the gateway records it). Without
`opentelemetry-api` installed, or without a recording span, nothing happens.
"""

from __future__ import annotations

from typing import Any, Optional

PROMPT_NAME = "gen_ai.prompt.name"
PROMPT_VERSION = "gen_ai.prompt.version"
OPM_PROMPT_LABEL = "opm.prompt.label"
OPM_ROLLOUT_ARM = "opm.rollout.arm"

try:  # pragma: no cover - exercised with and without the package installed
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover
    _trace = None  # type: ignore[assignment]


def annotate(name: str, version: Optional[int], label: Optional[str], arm: Optional[int]) -> None:
    """Sets the prompt attributes on the current span, if OpenTelemetry is installed and one is recording."""
    if _trace is None:
        return
    span: Any = _trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute(PROMPT_NAME, name)
    if version is not None:
        span.set_attribute(PROMPT_VERSION, str(version))
    if label is not None:
        span.set_attribute(OPM_PROMPT_LABEL, label)
    if arm is not None:
        span.set_attribute(OPM_ROLLOUT_ARM, str(arm))
