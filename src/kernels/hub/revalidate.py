"""The one request of a warm load: which commit a cached branch or tag points to now.

It goes through huggingface_hub's HTTP layer (its shared session: proxies, CA bundle, headers,
offline mode, ``HF_HUB_ETAG_TIMEOUT``; ``http_backoff`` for 429/5xx answers), importing only
that layer: the whole client costs more to import than the rest of a warm load.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

from .cache import is_commit_hash
from .client import REPO_TYPE, endpoint_url, user_agent
from .failures import hub_call


def current_commit(repo_id: str, revision: str, path: str, *, user_agent_extra=None) -> Optional[str]:
    """The commit ``revision`` points to now, from one ``HEAD`` of ``path`` (a small file of
    that revision), read from the ``X-Repo-Commit`` header without following redirects.

    None when the answer does not say (the caller then resolves from scratch: a revision or
    file that is gone, an unexpected answer). A Hub that cannot be reached, or keeps failing,
    raises :class:`~kernels.errors.HubUnreachableError` / ``HubServerError`` (the caller may
    fall back to the cache); connection failures are not retried, so a Hub that is down costs
    one attempt, not huggingface_hub's five.

    The first request carries no token: most kernels are public, and huggingface_hub's token
    machinery (``build_hf_headers``: token file, OAuth refresh, OIDC) costs more to import than
    the rest of a warm load. When the Hub answers 401, 403 or 404 (a private or gated
    repository, or one only a token may see), the request is made again with
    ``build_hf_headers``.

    Example::

        >>> current_commit("kernels-community/relu", "v1", "build/torch-cpu/metadata.json")  # doctest: +SKIP
        '4f2c...'
    """
    from huggingface_hub import constants  # noqa: PLC0415
    from huggingface_hub.utils import hf_raise_for_status, http_backoff  # noqa: PLC0415

    url = f"{endpoint_url()}/{REPO_TYPE}s/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"
    action = "check which commit the revision is now"

    def head(headers: dict):  # -> httpx Response
        return hub_call(lambda: http_backoff("HEAD", url, headers=headers, follow_redirects=False,
                                             timeout=constants.HF_HUB_ETAG_TIMEOUT, retry_on_exceptions=()),
                        repo_id, revision, action=action)

    response = head({"user-agent": _user_agent(user_agent_extra)})
    if response.status_code in (401, 403, 404):
        response = head(_authenticated_headers(user_agent_extra))
    status = response.status_code
    if status == 429 or status >= 500:  # still failing after http_backoff's retries
        hub_call(lambda: hf_raise_for_status(response), repo_id, revision, action=action)
    if status >= 400:
        return None  # gone or hidden: resolving from scratch says which, with the right error
    commit = response.headers.get("X-Repo-Commit")
    return commit if is_commit_hash(commit) else None


def _user_agent(extra) -> str:  # type: ignore[no-untyped-def]
    agent = user_agent(extra if isinstance(extra, str) else {"file_type": "kernel", **(extra or {})})
    if isinstance(agent, str):
        return agent
    return "; ".join(f"{k}/{v}" for k, v in (agent or {"kernels": "runtime"}).items())


def _authenticated_headers(extra) -> dict:  # type: ignore[no-untyped-def]
    from huggingface_hub.utils import build_hf_headers  # noqa: PLC0415

    from .. import __version__  # noqa: PLC0415

    return build_hf_headers(library_name="kernels", library_version=__version__,
                            user_agent=extra if isinstance(extra, str) else {"file_type": "kernel", **(extra or {})})
