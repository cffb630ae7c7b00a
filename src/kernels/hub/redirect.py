"""Kernel repositories that moved: ``kernel-status.toml`` redirects.

The ``main`` branch of a kernel repository may hold ``kernel-status.toml`` (the format of
the existing kernels project's ``kernels.status``)::

    kind = "redirect"
    destination = "org/new-name"
    revision = "v2"              # optional

Loads of the repository then load ``destination`` instead, at ``revision`` when the file
names one, else at the revision or version the caller asked for. One redirect is followed: a
destination that redirects again, or a malformed file, is a
:class:`~kernels.errors.KernelRedirectError`.

Cost: one ``GET`` of the file on ``main`` when a branch or version is resolved online
(none for a commit). The answer is remembered on disk (``<cache>/.kernels/redirects.json``)
for :data:`REDIRECT_TTL` seconds, so warm loads make no extra request, and offline loads
follow a redirect seen before. When the Hub cannot answer, the remembered answer (or none)
is used and the load goes on as it would without a redirect check.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from ..errors import HubError, KernelRedirectError
from .cache import cache_root, is_commit_hash
from .client import check_repo_id, endpoint
from .failures import is_hub_down
from .light import file_url, raise_if_hub_down, request

logger = logging.getLogger("kernels")

#: The file, and the branch it is read from.
STATUS_FILENAME = "kernel-status.toml"
STATUS_BRANCH = "main"
#: How long a remembered answer (redirect or none) spares the request (seconds).
REDIRECT_TTL = 3600
#: A status file larger than this is refused (bytes).
MAX_STATUS_BYTES = 64 * 1024


@dataclass(frozen=True)
class Redirect:
    """``source`` moved to ``destination``; ``revision`` (None: what the caller asked for)."""

    source: str
    destination: str
    revision: Optional[str] = None


@dataclass(frozen=True)
class Target:
    """Where a load goes: the repository and the revision or version to resolve there."""

    repo_id: str
    revision: Optional[str]
    version: Optional[int]
    redirect: Optional[Redirect] = None


def parse_status(text: str, repo_id: str) -> Optional[Redirect]:
    """The redirect that the ``kernel-status.toml`` of ``repo_id`` (``text``) describes.

    Raises :class:`~kernels.errors.KernelRedirectError` for text that is not TOML, a missing
    or unknown ``kind``, a ``destination`` that is not a repository id (or is ``repo_id``
    itself), or a ``revision`` that is not a non-empty string.

    Example::

        >>> parse_status('kind = "redirect"\\ndestination = "org/new"', "org/old")
        Redirect(source='org/old', destination='org/new', revision=None)
    """
    try:
        import tomllib  # noqa: PLC0415
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]  # noqa: PLC0415

    where = f"{repo_id}: {STATUS_FILENAME} on {STATUS_BRANCH}"
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeError) as exc:
        raise KernelRedirectError(f"{where} is not valid TOML ({exc})", repo_id=repo_id) from None
    kind = data.get("kind")
    if kind != "redirect":
        what = "has no 'kind'" if kind is None else f"has kind {kind!r}; the one known kind is 'redirect'"
        raise KernelRedirectError(f"{where} {what}", repo_id=repo_id)
    destination = data.get("destination")
    if not isinstance(destination, str) or not destination:
        raise KernelRedirectError(f"{where} has no 'destination' (the repository id it moved to)",
                                  repo_id=repo_id)
    try:
        check_repo_id(destination)
    except HubError as exc:
        raise KernelRedirectError(f"{where}: destination {destination!r} is not a repository id ({exc})",
                                  repo_id=repo_id) from None
    if destination == repo_id:
        raise KernelRedirectError(f"{where} redirects to the repository itself", repo_id=repo_id)
    revision = data.get("revision")
    if revision is not None and (not isinstance(revision, str) or not revision.strip()):
        raise KernelRedirectError(f"{where}: 'revision' must be a branch, tag or commit name, got {revision!r}",
                                  repo_id=repo_id)
    return Redirect(repo_id, destination, revision)


def fetch_status(repo_id: str, *, user_agent_extra: Any = None) -> Optional[Redirect]:
    """Ask the Hub for the ``kernel-status.toml`` of ``repo_id`` on ``main`` (one ``GET``;
    a second one with the token for a repository that is hidden without it).

    None when there is no such file, branch or (visible) repository: then the load says what
    is missing. Raises :class:`~kernels.errors.KernelRedirectError` for a malformed file and
    :class:`~kernels.errors.HubError` subclasses when the Hub cannot answer.
    """
    action = f"read its {STATUS_FILENAME}"
    response = request("GET", file_url(repo_id, STATUS_BRANCH, STATUS_FILENAME), repo_id, STATUS_BRANCH,
                       action=action, user_agent_extra=user_agent_extra, follow_redirects=True)
    raise_if_hub_down(response, repo_id, STATUS_BRANCH, action=action)
    if response.status_code != 200:
        return None
    if len(response.content) > MAX_STATUS_BYTES:
        raise KernelRedirectError(f"{repo_id}: {STATUS_FILENAME} on {STATUS_BRANCH} is larger than "
                                  f"{MAX_STATUS_BYTES} bytes", repo_id=repo_id)
    try:
        text = response.content.decode("utf-8")
    except UnicodeDecodeError:
        raise KernelRedirectError(f"{repo_id}: {STATUS_FILENAME} on {STATUS_BRANCH} is not UTF-8 text",
                                  repo_id=repo_id) from None
    return parse_status(text, repo_id)


#: ``(endpoint, repo_id) -> Redirect | None``: answers already used in this process.
_SEEN: Dict[tuple, Optional[Redirect]] = {}
#: Redirects already logged in this process.
_WARNED: set = set()


def follow(repo_id: str, revision: Optional[str], version: Optional[int], *, offline: bool,
           user_agent_extra: Any = None) -> Target:
    """Where a load of ``repo_id`` (at ``revision`` or ``version``) goes, after its redirect.

    A commit id is immutable and never redirected (no request). Online, the Hub is asked
    (unless a remembered answer is younger than :data:`REDIRECT_TTL`); offline, a redirect
    remembered from an earlier online answer is followed. Each redirect is logged once per
    process at WARNING.

    Raises :class:`~kernels.errors.KernelRedirectError` for a malformed file or a redirect
    to a repository that redirects again.

    Example::

        >>> follow("org/old-name", None, 1, offline=False)                     # doctest: +SKIP
        Target(repo_id='org/new-name', revision=None, version=1, redirect=Redirect(...))
    """
    if is_commit_hash(revision):
        return Target(repo_id, revision, version)
    key = (endpoint(), repo_id)
    if key in _SEEN:
        found = _SEEN[key]
    else:
        found = _lookup(repo_id, offline=offline, user_agent_extra=user_agent_extra)
        _SEEN[key] = found
    if found is None:
        return Target(repo_id, revision, version)
    if (repo_id, found.destination) not in _WARNED:
        _WARNED.add((repo_id, found.destination))
        at = f" (revision {found.revision})" if found.revision else ""
        logger.warning("%r redirected to %r%s: the repository moved (its %s says so); update the repository "
                       "id to skip this lookup", repo_id, found.destination, at, STATUS_FILENAME)
    if found.revision is not None:
        return Target(found.destination, found.revision, None, found)
    return Target(found.destination, revision, version, found)


def _lookup(repo_id: str, *, offline: bool, user_agent_extra: Any) -> Optional[Redirect]:
    remembered = _remembered(repo_id)
    if offline:
        return remembered[1] if remembered else None
    if remembered is not None and 0 <= time.time() - remembered[0] < REDIRECT_TTL:
        return remembered[1]
    try:
        found = fetch_status(repo_id, user_agent_extra=user_agent_extra)
        if found is not None:
            again = fetch_status(found.destination, user_agent_extra=user_agent_extra)
            if again is not None:
                raise KernelRedirectError(
                    f"{repo_id} redirects to {found.destination}, which redirects again to {again.destination}; "
                    f"only one redirect is followed: use {again.destination!r} directly, or ask the owner of "
                    f"{repo_id} to point its {STATUS_FILENAME} there", repo_id=repo_id)
    except HubError as exc:
        if isinstance(exc, KernelRedirectError) or not is_hub_down(exc):
            raise
        return remembered[1] if remembered else None  # the load itself says whether the Hub is down
    _remember(repo_id, found)
    return found


def forget() -> None:
    """Drop what this process remembers (tests, long-lived processes after a move)."""
    _SEEN.clear()
    _WARNED.clear()


def _memory_file() -> Path:
    return cache_root() / ".kernels" / "redirects.json"


def _key(repo_id: str) -> str:
    return f"{endpoint() or ''}|{repo_id}"


def _remembered(repo_id: str) -> Optional[tuple]:
    """``(when, Redirect | None)`` as remembered on disk, or None when nothing (valid) is."""
    try:
        entry = json.loads(_memory_file().read_text()).get(_key(repo_id))
        when = float(entry["checked"])
        if entry.get("destination") is None:
            return when, None
        lines = ['kind = "redirect"', f"destination = {json.dumps(entry['destination'])}"]
        if entry.get("revision") is not None:
            lines.append(f"revision = {json.dumps(entry['revision'])}")
        return when, parse_status("\n".join(lines), repo_id)  # the file is checked as the Hub's answer was
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _remember(repo_id: str, found: Optional[Redirect]) -> None:
    from ..atomic_files import remember_in_json  # noqa: PLC0415

    remember_in_json(_memory_file(), _key(repo_id), {"checked": time.time(),
                                                     "destination": found.destination if found else None,
                                                     "revision": found.revision if found else None})
