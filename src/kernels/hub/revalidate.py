"""The one request of a warm load: which commit a cached branch or tag points to now.

It goes through huggingface_hub's HTTP layer (its shared session: proxies, CA bundle, headers,
offline mode, ``HF_HUB_ETAG_TIMEOUT``; ``http_backoff`` for 429/5xx answers), importing only
that layer: the whole client costs more to import than the rest of a warm load.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

from .cache import is_commit_hash
from .client import REPO_TYPE, endpoint_url
from .failures import hub_call


def current_commit(repo_id: str, revision: str, path: str, *, user_agent_extra=None) -> Optional[str]:
    """The commit ``revision`` points to now, from one ``HEAD`` of ``path`` (a small file of
    that revision), read from the ``X-Repo-Commit`` header without following redirects.

    None when the answer does not say (the caller then resolves from scratch: a revision or
    file that is gone, an unexpected answer). A Hub that cannot be reached, or keeps failing,
    raises :class:`~kernels.errors.HubUnreachableError` / ``HubServerError`` (the caller may
    fall back to the cache); connection failures are not retried, so a Hub that is down costs
    one attempt, not huggingface_hub's five.

    Example::

        >>> current_commit("kernels-community/relu", "v1", "build/torch-cpu/metadata.json")  # doctest: +SKIP
        '4f2c...'
    """
    from huggingface_hub import constants  # noqa: PLC0415
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_backoff  # noqa: PLC0415

    from .. import __version__  # noqa: PLC0415

    url = f"{endpoint_url()}/{REPO_TYPE}s/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"
    extra = user_agent_extra if isinstance(user_agent_extra, str) else {"file_type": "kernel",
                                                                        **(user_agent_extra or {})}
    headers = build_hf_headers(library_name="kernels", library_version=__version__, user_agent=extra)

    def head():  # -> httpx Response
        return http_backoff("HEAD", url, headers=headers, follow_redirects=False,
                            timeout=constants.HF_HUB_ETAG_TIMEOUT, retry_on_exceptions=())

    response = hub_call(head, repo_id, revision, action="check which commit the revision is now")
    status = response.status_code
    if status == 429 or status >= 500:  # still failing after http_backoff's retries
        hub_call(lambda: hf_raise_for_status(response), repo_id, revision,
                 action="check which commit the revision is now")
    if status >= 400:
        return None  # gone or hidden: resolving from scratch says which, with the right error
    commit = response.headers.get("X-Repo-Commit")
    return commit if is_commit_hash(commit) else None
