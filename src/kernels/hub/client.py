"""Where and how to reach the Hub: endpoint, cache directory, client, user agent, offline mode.

The endpoint and cache come from the environment *at call time* (huggingface_hub reads them
once, at import), so a test server or a mirror set later in the process is honoured.
"""

from __future__ import annotations

import functools
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


#: Any of these set to a true value turns telemetry off (as huggingface_hub, and kernels
#: 0.17.2 through it, read them).
_TELEMETRY_OFF_VARS = ("HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK")


def telemetry_disabled() -> bool:
    """Whether ``HF_HUB_DISABLE_TELEMETRY``, ``DISABLE_TELEMETRY`` or ``DO_NOT_TRACK`` is set
    (read at each call)."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in _TELEMETRY_OFF_VARS)


@functools.lru_cache(maxsize=4)
def _backend_tag(torch) -> Optional[str]:  # type: ignore[no-untyped-def]
    """The selected backend as variant names spell it (``cpu``, ``cu128``); None if unknown."""
    from ..selection import _backend_without_torch, _torch_backend  # noqa: PLC0415
    from ..variants import compute_tag  # noqa: PLC0415

    try:
        backend, version = _torch_backend(torch) if torch is not None else _backend_without_torch()
        return compute_tag(backend, version)
    except Exception:  # noqa: BLE001 - telemetry must never break a request
        return None


def user_agent(extra=None):  # -> Union[dict, str, None]
    """The user agent of runtime requests: ``extra`` (dict or str) and the keys kernels 0.17.2
    sends: ``kernels``, ``python`` (major.minor), ``backend`` (``cpu``, ``cu128``, ...),
    ``platform`` (``x86_64-linux``), ``file_type/kernel``, ``torch`` (and ``tvm-ffi``) when
    imported, ``glibc`` where there is one.

    With telemetry disabled (``HF_HUB_DISABLE_TELEMETRY``, ``DISABLE_TELEMETRY`` or
    ``DO_NOT_TRACK``) nothing is added, not even ``extra``: None, as 0.17.2 sends nothing.

    Example::

        >>> user_agent({"my-lib": "1.0"})["my-lib"]                              # doctest: +SKIP
        '1.0'
    """
    if telemetry_disabled():
        return None
    import platform  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from .. import __version__  # noqa: PLC0415
    from ..variants import host_cpu, host_os  # noqa: PLC0415

    torch = sys.modules.get("torch")
    agent = {"kernels": __version__, "python": ".".join(platform.python_version_tuple()[:2])}
    backend = _backend_tag(torch)
    if backend is not None:
        agent["backend"] = backend
    agent["platform"] = f"{host_cpu()}-{host_os()}"
    agent["file_type"] = "kernel"
    if torch is not None:
        agent["torch"] = str(getattr(torch, "__version__", "unknown"))
    tvm_ffi = sys.modules.get("tvm_ffi")
    if tvm_ffi is not None:
        agent["tvm-ffi"] = str(getattr(tvm_ffi, "__version__", "unknown"))
    libc, libc_version = platform.libc_ver()
    if libc == "glibc" and libc_version:
        agent["glibc"] = libc_version
    if isinstance(extra, str):
        return (extra + "; " if extra else "") + "; ".join(f"{k}/{v}" for k, v in agent.items())
    return {**(extra or {}), **{k: v for k, v in agent.items() if k not in (extra or {})}}


#: One part of a repository id by the Hub's rules (huggingface_hub's ``validate_repo_id``):
#: letters, digits, ``_``, ``-`` and ``.``, starting and ending with a letter, digit or ``_``.
_REPO_ID_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?"
_REPO_ID_RE = re.compile(rf"{_REPO_ID_PART}/{_REPO_ID_PART}")


def check_local_or_repo_id(target: str) -> str:
    """``target`` when it is a Hub repository id (see :func:`check_repo_id`), for commands that
    take a local path or an id and found no such path; else :class:`~kernels.errors.HubError`
    saying it is neither.

    >>> check_local_or_repo_id("kernels-community/relu")
    'kernels-community/relu'
    """
    try:
        return check_repo_id(target)
    except HubError:
        raise HubError(f"{target}: no such file or directory (nor a Hub repository id ORG/NAME)") from None


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
