"""The one translation of Hub and transport failures into :mod:`kernels.errors` types.

Every call of the Hub client goes through :func:`hub_call`; whatever it raises for a missing
repository, revision or file, a refused token, a failing server, a network that cannot be
reached or offline mode becomes one of our exceptions, whose message names the repository,
what was being done, what failed and what to do. The table of types is in
:mod:`kernels.errors`; this module decides which one applies.

Transport errors are recognised by their class (``httpx``/``httpx2``/``httpcore``
``TransportError`` and ``TimeoutException`` families, ``ssl.SSLError``, ``ConnectionError``,
``TimeoutError``), so nothing here imports the HTTP library.
"""

from __future__ import annotations

from typing import Callable, Optional, TypeVar
from urllib.parse import urlsplit

from ..errors import HubError, HubUnreachableError, KernelNotCachedError, KernelsError
from .client import endpoint_url, offline

T = TypeVar("T")

#: Module prefixes of the HTTP stacks huggingface_hub has used (its 1.x and 2.x lines).
_TRANSPORT_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3")
_TRANSPORT_BASES = {"TransportError", "TimeoutException", "RequestError", "ConnectionError", "Timeout"}


def hub_call(fn: Callable[[], T], repo_id: Optional[str], revision: Optional[str] = None, *,
             action: str) -> T:
    """Run one Hub client call; raise our exception type for a Hub or transport failure.

    ``action`` says what the call does, for the message ("list the versions").
    Anything else (a bug) propagates unchanged.
    """
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - sorted below; not ours is re-raised
        ours = translate(exc, repo_id, revision, action=action)
        if ours is None or ours is exc:
            raise
        raise ours from exc


def translate(exc: BaseException, repo_id: Optional[str], revision: Optional[str] = None, *,
              action: str) -> Optional[KernelsError]:
    """Our exception for ``exc``, raised by the Hub client while doing ``action`` for
    ``repo_id`` (at ``revision``); None when ``exc`` is no Hub or transport failure.

    Example::

        >>> err = translate(ConnectionRefusedError(111, "Connection refused"), "org/relu", action="list")
        >>> type(err).__name__, isinstance(err, ConnectionError)
        ('HubUnreachableError', True)
    """
    if isinstance(exc, KernelsError):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "OfflineModeIsEnabled" in names:
        from .exceptions import HubOfflineError  # noqa: PLC0415

        return HubOfflineError(
            f"{_subject(repo_id, revision)}: cannot {action}: HF_HUB_OFFLINE is set, and this needs the "
            "Hub; unset HF_HUB_OFFLINE, or use what is cached (loading a cached kernel works offline)")
    if "LocalEntryNotFoundError" in names:
        # huggingface_hub could not reach the Hub (or was told not to) and the cache lacks the files.
        if offline():
            return KernelNotCachedError(
                f"{_subject(repo_id, revision)}: cannot {action}: HF_HUB_OFFLINE is set and the cache does "
                f"not hold it; {_cache_hint(repo_id)}")
        cause = exc.__cause__ or exc.__context__
        reason = _transport_reason(cause) if cause is not None and _is_transport(cause) else "no answer"
        return _unreachable(repo_id, revision, action, reason + "; and the cache does not hold it")
    if isinstance(exc, ValueError) and str(exc).startswith("Invalid repo type"):
        import huggingface_hub  # noqa: PLC0415

        return HubError(f"{_subject(repo_id, revision)}: cannot {action}: huggingface_hub "
                        f"{huggingface_hub.__version__} does not support kernel repositories for this; "
                        "upgrade it: pip install -U huggingface_hub")
    if "HFValidationError" in names:  # huggingface_hub refused the id before any request
        return HubError(f"{repo_id or _quoted_id(exc)} is neither an existing local path nor a Hub repository id "
                        "ORG/NAME")
    if "HfHubHTTPError" in names or "EntryNotFoundError" in names:
        return _http_failure(exc, names, repo_id, revision, action)
    if _is_transport(exc):
        return _unreachable(repo_id, revision, action, _transport_reason(exc))
    return None


def _http_failure(exc: BaseException, names: set, repo_id: Optional[str], revision: Optional[str],
                  action: str) -> KernelsError:
    from . import exceptions  # noqa: PLC0415 - imports huggingface_hub.errors

    subject = _subject(repo_id, revision)
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    server = _first_line(getattr(exc, "server_message", None) or "")
    said = f" (the Hub said: {server})" if server else ""
    if "GatedRepoError" in names or status in (401, 403) and "RepositoryNotFoundError" not in names:
        return exceptions.HubAccessError(
            f"{subject}: cannot {action}: access denied (HTTP {status}){said}; log in with `hf auth login` "
            "or set HF_TOKEN to a token that can read (or, to publish, write) this repository",
            response=response)
    if "RepositoryNotFoundError" in names:
        return exceptions.KernelRepositoryNotFoundError(
            f"{repo_id}: kernel repository not found on {endpoint_url()} (while trying to {action}); check "
            "the name, and for a private repository log in (`hf auth login` or HF_TOKEN)",
            response=response)
    if "RevisionNotFoundError" in names:
        return exceptions.KernelRevisionNotFoundError(
            f"{repo_id}: revision {revision!r} not found (while trying to {action}); `kernels versions "
            f"{repo_id}` lists the versions, or give an existing branch, tag or commit id",
            response=response)
    if "EntryNotFoundError" in names:
        return HubError(f"{subject}: cannot {action}: file not found on the Hub{said}")
    if status == 429 or (status is not None and status >= 500):
        what = "too many requests (HTTP 429)" if status == 429 else f"the Hub failed (HTTP {status})"
        return exceptions.HubServerError(
            f"{subject}: cannot {action}: {what}{said}, after huggingface_hub's retries; try again later, "
            "or work from the cache with HF_HUB_OFFLINE=1", response=response)
    return HubError(f"{subject}: cannot {action}: the Hub answered: {_first_line(str(exc))}")


def _is_transport(exc: BaseException) -> bool:
    import socket  # noqa: PLC0415
    import ssl  # noqa: PLC0415

    if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError, socket.gaierror)):
        return True
    return any(cls.__name__ in _TRANSPORT_BASES and cls.__module__.split(".")[0] in _TRANSPORT_MODULES
               for cls in type(exc).__mro__)


def _transport_reason(exc: BaseException) -> str:
    """What went wrong on the wire, in words, with what to change."""
    text = _first_line(str(exc))
    lowered = f"{type(exc).__name__} {text}".lower()
    if "timeout" in lowered or "timed out" in lowered:
        return ("the request timed out (a slow network may need a larger HF_HUB_ETAG_TIMEOUT / "
                "HF_HUB_DOWNLOAD_TIMEOUT)")
    if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        return (f"the TLS connection failed ({text}); behind a proxy that re-signs traffic, point "
                "SSL_CERT_FILE at its CA bundle")
    if "name or service not known" in lowered or "name resolution" in lowered or "nodename" in lowered \
            or "getaddrinfo" in lowered or "no address associated" in lowered:
        return f"the host name {urlsplit(endpoint_url()).hostname} could not be resolved (DNS)"
    if "refused" in lowered:
        return "connection refused"
    if "proxy" in lowered:
        return f"the proxy failed ({text}); check HTTPS_PROXY / HTTP_PROXY"
    return text or type(exc).__name__


def unreachable_error(repo_id: Optional[str], revision: Optional[str], action: str,
                      reason: str) -> HubUnreachableError:
    """The :class:`~kernels.errors.HubUnreachableError` for ``repo_id`` that could not ``action``
    because of ``reason`` (e.g. ``"connection refused"``)."""
    return _unreachable(repo_id, revision, action, reason)


def _unreachable(repo_id: Optional[str], revision: Optional[str], action: str, reason: str) -> HubUnreachableError:
    return HubUnreachableError(
        f"{_subject(repo_id, revision)}: cannot reach the Hub at {endpoint_url()} to {action}: {reason}. "
        "Check the network (and HF_ENDPOINT or proxy settings); to work without the Hub, set "
        f"HF_HUB_OFFLINE=1 (uses the cache) or {_local_hint(repo_id)}",
        repo_id=repo_id, reason=reason)


def _cache_hint(repo_id: Optional[str]) -> str:
    return ("connect once (or unset HF_HUB_OFFLINE) to fetch it, download it ahead with `kernels download`, "
            f"or {_local_hint(repo_id)}")


def _local_hint(repo_id: Optional[str]) -> str:
    return f"point LOCAL_KERNELS at a local build (LOCAL_KERNELS=\"{repo_id or 'org/name'}=/path/to/kernel\")"


def _quoted_id(exc: BaseException) -> str:
    """The id huggingface_hub quoted in its validation message (``'...'`` at the end), if any."""
    text = _first_line(str(exc))
    start = text.find(": '")
    return text[start + 2:text.rfind("'") + 1] if start >= 0 and text.rfind("'") > start + 2 else "the argument"


def _subject(repo_id: Optional[str], revision: Optional[str]) -> str:
    if repo_id is None:
        return "the Hub"
    return f"{repo_id}@{revision}" if revision else repo_id


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text and text.strip() else ""


def is_hub_down(exc: BaseException) -> bool:
    """Whether ``exc`` (one of ours) says the Hub cannot answer now: unreachable, or failing
    with 5xx/429 after retries. Loads may then use what the cache holds."""
    return isinstance(exc, HubUnreachableError) or any(
        cls.__name__ == "HubServerError" for cls in type(exc).__mro__)
