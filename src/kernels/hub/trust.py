"""Whether a publisher is trusted: the Hub's answer, memoised in the process and, for
"trusted", remembered on disk (so warm and offline loads need no request)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .cache import cache_root
from .client import endpoint
from .failures import hub_call

#: ``(endpoint, org) -> trusted``: answers of the Hub, memoised for the life of the process.
_TRUSTED_PUBLISHERS: dict = {}


def is_trusted_publisher(org: str) -> bool:
    """Whether the Hub marks ``org`` as a trusted kernel publisher (``trustedKernelPublisher``
    in ``GET /api/organizations/{org}/overview``). Unknown organisations (and users) are not
    trusted. Answers are memoised per endpoint for the life of the process.

    Example::

        >>> is_trusted_publisher("kernels-community")                           # doctest: +SKIP
        True
    """
    key = (endpoint(), org)
    if key in _TRUSTED_PUBLISHERS:
        return _TRUSTED_PUBLISHERS[key]
    if _remembered_trust(key):
        _TRUSTED_PUBLISHERS[key] = True
        return True

    from urllib.parse import quote  # noqa: PLC0415

    from .light import api_json  # noqa: PLC0415

    def overview():  # -> the organisation's overview; None: no such organisation (or a user)
        from huggingface_hub.errors import HfHubHTTPError  # noqa: PLC0415

        try:
            return api_json(f"organizations/{quote(org, safe='')}/overview")
        except HfHubHTTPError as exc:
            if getattr(getattr(exc, "response", None), "status_code", None) == 404:
                return None
            raise

    # The one read of the overview, as HfApi.get_organization_overview makes it (without
    # importing HfApi, whose module costs more than the rest of a cold load).
    answer = hub_call(overview, org, action=f"tell whether {org!r} is a trusted kernel publisher")
    if not isinstance(answer, dict):
        trusted = False
    else:
        value = answer.get("trustedKernelPublisher")
        if value is None:
            value = answer.get("trusted_kernel_publisher", False)
        trusted = bool(value)
    _TRUSTED_PUBLISHERS[key] = trusted
    if trusted:
        _remember_trust(key)
    return trusted


#: How long a "trusted publisher" answer is reused by later processes (seconds).
TRUST_TTL = 24 * 3600


def _trust_file() -> Path:
    return cache_root() / ".kernels" / "trusted-publishers.json"


def _remembered_trust(key: tuple, max_age: Optional[float] = TRUST_TTL) -> bool:
    """Whether the Hub said ``org`` is trusted, less than ``max_age`` seconds ago (None: ever),
    as remembered on disk (so a warm load in a new process needs no request). Only "trusted"
    is remembered."""
    import time  # noqa: PLC0415

    try:
        seen = json.loads(_trust_file().read_text()).get(f"{key[0] or ''}|{key[1]}")
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(seen, (int, float)):
        return False
    return max_age is None or 0 <= time.time() - seen < max_age


def remembered_trusted_publisher(org: str) -> bool:
    """Whether the Hub (at :func:`endpoint`) ever said, on this machine, that ``org`` is a
    trusted kernel publisher. What offline loads go by, since the Hub cannot be asked then.

    Example::

        >>> remembered_trusted_publisher("kernels-community")                   # doctest: +SKIP
        True
    """
    return _remembered_trust((endpoint(), org), max_age=None)


def _remember_trust(key: tuple) -> None:
    import time  # noqa: PLC0415

    from ..atomic_files import remember_in_json  # noqa: PLC0415

    remember_in_json(_trust_file(), f"{key[0] or ''}|{key[1]}", time.time())
