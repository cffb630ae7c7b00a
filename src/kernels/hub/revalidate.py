"""The one request of a warm load: which commit a cached branch or tag points to now."""

from __future__ import annotations

from typing import Optional

from .cache import is_commit_hash
from .light import file_url, raise_if_hub_down, request


def current_commit(repo_id: str, revision: str, path: str, *, user_agent_extra=None) -> Optional[str]:
    """The commit ``revision`` points to now, from one ``HEAD`` of ``path`` (a small file of
    that revision), read from the ``X-Repo-Commit`` header without following redirects.

    None when the answer does not say (the caller then resolves from scratch: a revision or
    file that is gone, an unexpected answer). A Hub that cannot be reached, or keeps failing,
    raises :class:`~kernels.errors.HubUnreachableError` / ``HubServerError`` (the caller may
    fall back to the cache). The request goes without a token first, and again with one when
    the Hub hides the repository (see :func:`kernels.hub.light.request`).

    Example::

        >>> current_commit("kernels-community/relu", "v1", "build/torch-cpu/metadata.json")  # doctest: +SKIP
        '4f2c...'
    """
    action = "check which commit the revision is now"
    response = request("HEAD", file_url(repo_id, revision, path), repo_id, revision, action=action,
                       user_agent_extra=user_agent_extra)
    raise_if_hub_down(response, repo_id, revision, action=action)
    if response.status_code >= 400:
        return None  # gone or hidden: resolving from scratch says which, with the right error
    commit = response.headers.get("X-Repo-Commit")
    return commit if is_commit_hash(commit) else None
