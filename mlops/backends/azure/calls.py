"""Azure SDK calls with Azure's errors turned into messages a platform owner can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops.errors import BackendError

DENIED_HINT = (
    "the signed-in identity needs Contributor on the resource group"
    " (or Owner on the subscription to create it)"
)


def call(fn: Callable[[], Any], what: str, *, denied_hint: str = DENIED_HINT) -> Any:
    """Run an SDK call, turning Azure's errors into a readable BackendError."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        return fn()
    except (ServiceRequestError, ServiceResponseError) as exc:  # after azure-core's retries
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise BackendError(
            f"{what}: cannot reach Azure ({type(exc).__name__}: {first})",
            hint="check the network or proxy to management.azure.com, then try again",
        ) from None
    except ClientAuthenticationError as exc:
        raise BackendError(
            f"{what}: not signed in to Azure ({str(exc).splitlines()[0]})",
            hint="sign in with `az login`",
        ) from None
    except HttpResponseError as exc:
        if exc.status_code == 403:
            raise BackendError(
                f"{what}: permission denied: {error_text(exc.error) or exc.message}",
                hint=denied_hint,
            ) from None
        raise BackendError(f"{what} failed: {error_text(exc.error) or exc.message}") from None


def error_text(error: Any) -> str:
    """`code: message` of an ARM error (or of its first detail when it has no message)."""
    if error is None:
        return ""
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or ""
    details = getattr(error, "details", None) or []
    if details and not message:
        return error_text(details[0])
    return f"{code}: {message}" if code else message
