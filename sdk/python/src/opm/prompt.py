"""What `get_prompt` returns: one served version, ready to render locally."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from . import telemetry
from .includes import Included, Resolution
from .template import CompiledPrompt

__all__ = ["Arm", "ModelConfig", "Prompt"]


@dataclass(frozen=True)
class ModelConfig:
    """The version's model configuration (`model:` in the prompt file)."""

    provider: Optional[str]
    model: Optional[str]
    parameters: Dict[str, Any] = field(default_factory=dict)
    fallbacks: Tuple[Tuple[str, str], ...] = ()
    tools: Any = None
    response_format: Any = None

    @classmethod
    def from_wire(cls, model: Optional[Mapping[str, Any]]) -> Optional["ModelConfig"]:
        if model is None:
            return None
        return cls(
            provider=model.get("provider"),
            model=model.get("model"),
            parameters=dict(model.get("parameters") or {}),
            fallbacks=tuple((f["provider"], f["model"]) for f in model.get("fallbacks") or ()),
            tools=model.get("tools"),
            response_format=model.get("response_format"),
        )


@dataclass(frozen=True)
class Arm:
    """The split arm that served (as in the server's resolve answer)."""

    version: int
    index: int
    weight: int
    sticky: bool
    algorithm: str
    algorithm_version: int


class Prompt:
    """A prompt version as served through a label (or by number): metadata plus local `render`."""

    __slots__ = ("name", "version", "label", "arm", "content_hash", "type", "variables", "model", "content",
                 "included", "is_fallback", "_resolution", "_compiled")

    def __init__(
        self,
        *,
        name: str,
        version: Optional[int],
        label: Optional[str],
        arm: Optional[Arm],
        content_hash: Optional[str],
        content: Mapping[str, Any],
        resolution: Resolution,
        is_fallback: bool = False,
        compiled: Optional[CompiledPrompt] = None,
    ) -> None:
        self.name = name
        self.version = version
        self.label = label
        self.arm = arm
        self.content_hash = content_hash
        self.content = content
        self.type: str = content.get("type", "text")
        self.variables: Dict[str, Any] = dict(content.get("variables") or {})
        self.model = ModelConfig.from_wire(content.get("model"))
        self.included: List[Included] = list(resolution.included)
        self.is_fallback = is_fallback
        self._resolution = resolution
        self._compiled = compiled

    def render(self, **variables: Any) -> Union[List[Dict[str, str]], str]:
        """Renders locally, exactly as the server would: chat → `[{"role", "content"}, …]`, text → `str`.

        Raises `RenderError` naming missing, undeclared or mistyped variables, like the server.
        """
        if self._compiled is None:
            self._compiled = self._resolution.compile(self.content)
        telemetry.annotate(self.name, self.version, self.label, self.arm.version if self.arm else None)
        return self._compiled.render(variables)

    def __repr__(self) -> str:
        where = f"@{self.label}" if self.label else ""
        arm = f" arm={self.arm.index}" if self.arm else ""
        return f"<Prompt {self.name}{where} v{self.version}{arm} {self.content_hash}>"
