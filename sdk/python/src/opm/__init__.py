"""Open Prompt Manager SDK: managed prompts in the app, cached in memory, invalidated by push,
rendered locally exactly like the server, and still served when OPM is unreachable.

    from opm import Client
    with Client() as client:                      # OPM_URL, OPM_API_KEY, OPM_PROJECT
        prompt = client.get_prompt("support-reply", label="production", key="user-42")
        messages = prompt.render(customer_name="Ada", ticket="hi")
"""

from .client import AsyncClient, Client
from .errors import AuthError, InvalidRequest, OPMError, OPMUnavailable, PromptNotFound, RenderError
from .prompt import Arm, ModelConfig, Prompt

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Arm",
    "AuthError",
    "Client",
    "InvalidRequest",
    "ModelConfig",
    "OPMError",
    "OPMUnavailable",
    "Prompt",
    "PromptNotFound",
    "RenderError",
]
