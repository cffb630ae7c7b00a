"""Where and how to reach the Hub: endpoint, cache directory, client, user agent, offline mode.

The endpoint and cache come from the environment *at call time* (huggingface_hub reads them
once, at import), so a test server or a mirror set later in the process is honoured.
"""

from __future__ import annotations

import os
import re
from typing import Optional

from ..errors import HubError

REPO_TYPE = "kernel"

_TRUE = ("1", "on", "yes", "true")


def endpoint() -> Optional[str]:
    """The Hub endpoint to talk to: ``HF_ENDPOINT`` when set, else huggingface_hub's default."""
    return os.environ.get("HF_ENDPOINT") or None


def endpoint_url() -> str:
    """:func:`endpoint` as a URL, with the public Hub for the default (for messages and URLs)."""
    return (endpoint() or "https://huggingface.co").rstrip("/")


def cache_dir() -> Optional[str]:
    """Where downloads go: ``KERNELS_CACHE``, else ``HF_HUB_CACHE``, else huggingface_hub's
    default (read at call time, like the endpoint)."""
    return os.environ.get("KERNELS_CACHE") or os.environ.get("HF_HUB_CACHE") or None


def api():  # -> huggingface_hub.HfApi
    """A client bound to the current endpoint and token."""
    from huggingface_hub import HfApi  # noqa: PLC0415 - keep `import kernels` cheap

    return HfApi(endpoint=endpoint())


def offline() -> bool:
    """Whether outgoing traffic is disabled: ``HF_HUB_OFFLINE`` read now, or as
    huggingface_hub read it at import.

    Example::

        >>> import os; os.environ["HF_HUB_OFFLINE"] = "1"; offline()   # doctest: +SKIP
        True
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    from huggingface_hub import constants  # noqa: PLC0415

    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def user_agent(extra=None):  # -> Union[dict, str, None]
    """The user agent of runtime requests: ``extra`` (dict or str) and, unless
    ``HF_HUB_DISABLE_TELEMETRY`` is set, the kernels/python/torch versions and ``file_type/kernel``.

    Example::

        >>> user_agent({"my-lib": "1.0"})["my-lib"]
        '1.0'
    """
    if os.environ.get("HF_HUB_DISABLE_TELEMETRY", "").strip().lower() in _TRUE:
        return extra or None
    import platform  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from .. import __version__  # noqa: PLC0415

    agent = {"kernels": __version__, "python": platform.python_version(), "file_type": "kernel",
             "platform": platform.platform(terse=True)}
    torch = sys.modules.get("torch")
    if torch is not None:
        agent["torch"] = str(getattr(torch, "__version__", "unknown")).split("+")[0]
    if isinstance(extra, str):
        return "; ".join(f"{k}/{v}" for k, v in agent.items()) + "; " + extra
    agent.update(extra or {})
    return agent


#: One part of a repository id by the Hub's rules (huggingface_hub's ``validate_repo_id``):
#: letters, digits, ``_``, ``-`` and ``.``, starting and ending with a letter, digit or ``_``.
_REPO_ID_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?"
_REPO_ID_RE = re.compile(rf"{_REPO_ID_PART}/{_REPO_ID_PART}")


def check_repo_id(repo_id: object) -> str:
    """``repo_id`` when it is a Hub repository id of the form ``"org/name"``; else
    :class:`~kernels.errors.HubError` (a ``ValueError``) naming it.

    Ids become cache paths and URLs, so nothing else may pass (``../../etc``, ``a//b``, names
    with spaces or line breaks). The rules are the Hub's, as huggingface_hub's
    ``validate_repo_id`` applies them (also: no ``--`` or ``..``, no ``.git`` ending, at most
    96 characters); they are checked here without importing huggingface_hub, because warm
    loads pinned to a commit otherwise never import it.

    >>> check_repo_id("kernels-community/relu")
    'kernels-community/relu'
    """
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise HubError(f"{repo_id!r} is not a kernel repository id of the form 'org/name'")
    if (not _REPO_ID_RE.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id
            or repo_id.endswith(".git") or len(repo_id) > 96):
        raise HubError(f"{repo_id!r} is not a valid repository id: use letters, digits, '-', '_' and '.', "
                       "not at the start or end of a part, without '--' or '..', at most 96 characters")
    return repo_id
