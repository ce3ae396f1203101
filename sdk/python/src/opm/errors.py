"""The SDK's exceptions: one base class, and the four a caller usually handles.

Every error carries the server's stable `code` (docs/errors.md) when there is one, so local and
server-side failures of the same kind compare equal by code.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["OPMError", "PromptNotFound", "RenderError", "AuthError", "OPMUnavailable", "InvalidRequest"]


class OPMError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        suffix = f" [{self.code}]" if self.code else ""
        if self.request_id:
            suffix += f" (request {self.request_id})"
        return f"{self.message}{suffix}"


class PromptNotFound(OPMError):
    """The prompt, label or version does not exist (404: `prompt_not_found`, `label_not_found`, …)."""


class RenderError(OPMError):
    """Rendering failed: missing, undeclared or mistyped variables, a template or include error.

    `code` is the server's (`missing_variables`, `undeclared_variables`, `variable_type`,
    `render_failed`, `template_syntax`, `include_cycle`, `include_depth`, `invalid_include`,
    `include_not_text`, or the code of an included prompt that could not be resolved), and the
    message is the server's wording, naming the variables.
    """


class AuthError(OPMError):
    """The key is missing, unknown or revoked (401), or lacks the role or project (403)."""


class OPMUnavailable(OPMError):
    """OPM could not be reached or answered 5xx, and no cached, snapshot or fallback copy exists."""


class InvalidRequest(OPMError):
    """The request is malformed (a bad name, label or version; 400/422 other than rendering)."""
