"""The Hub errors that also derive from huggingface_hub's own types (see :mod:`kernels.errors`
for the whole table). They live apart because defining them imports huggingface_hub, which
a warm load pinned to a commit never needs; ``kernels.errors`` exposes them by name.
"""

from __future__ import annotations

from huggingface_hub.errors import (
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from ..errors import HubError

__all__ = ["HubAccessError", "HubOfflineError", "HubServerError", "KernelRepositoryNotFoundError",
           "KernelRevisionNotFoundError"]


class _WithResponse:
    """huggingface_hub's HTTP errors carry the HTTP response they were made from."""

    def __init__(self, message: str, *, response) -> None:  # type: ignore[no-untyped-def]
        if response is not None:
            HfHubHTTPError.__init__(self, message, response=response)  # type: ignore[arg-type]
            return
        # Decided before any request (no token, a read-only token): no response to carry.
        Exception.__init__(self, message)
        self.response = None
        self.request_id = None
        self.server_message = None

    def __str__(self) -> str:  # OSError would format its args as (errno, strerror)
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # A response does not pickle: across processes the error travels as a plain HubError.
        return (HubError, (str(self),))


class KernelRepositoryNotFoundError(_WithResponse, HubError, RepositoryNotFoundError):
    """The kernel repository does not exist, or this token may not see it (a private one).

    Also a huggingface_hub ``RepositoryNotFoundError``, which the released ``kernels`` raised."""


class KernelRevisionNotFoundError(_WithResponse, HubError, RevisionNotFoundError):
    """The repository has no such branch, tag or commit.

    Also a huggingface_hub ``RevisionNotFoundError``, which the released ``kernels`` raised."""


class HubAccessError(_WithResponse, HubError, HfHubHTTPError):
    """The Hub refused the token (HTTP 401/403, a gated repository, no write permission).

    Also a huggingface_hub ``HfHubHTTPError``."""


class HubServerError(_WithResponse, HubError, HfHubHTTPError):
    """The Hub kept failing (HTTP 5xx) or limiting the rate (HTTP 429) after huggingface_hub's
    retries. Also a huggingface_hub ``HfHubHTTPError``."""


class HubOfflineError(HubError, OfflineModeIsEnabled):
    """``HF_HUB_OFFLINE`` is set and the operation needs the Hub (listing versions, uploading).

    Also huggingface_hub's ``OfflineModeIsEnabled`` (a ``ConnectionError``)."""
