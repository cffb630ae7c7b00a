"""Small requests that skip huggingface_hub's client: the revalidation of a warm load, the
redirect check and the API reads of a cold load (publisher, refs, file listing). They go
through huggingface_hub's HTTP layer (its shared session: proxies, CA bundle, offline mode,
``http_backoff`` for 429/5xx answers; its headers, token and error types for the API reads),
importing only that layer: the whole client (``HfApi``) costs more to import than the rest of
a load.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from .client import REPO_TYPE, endpoint_url, user_agent
from .failures import hub_call

#: ``X-Error-Code`` values that say the repository is visible without a token (no retry with one).
_VISIBLE_ANYWAY = frozenset({"EntryNotFound", "RevisionNotFound"})


def file_url(repo_id: str, revision: str, path: str) -> str:
    """``<endpoint>/kernels/<repo_id>/resolve/<revision>/<path>``, quoted."""
    return f"{endpoint_url()}/{REPO_TYPE}s/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"


def request(method: str, url: str, repo_id: str, revision: str, *, action: str, user_agent_extra: Any = None,
            follow_redirects: bool = False, timeout: Optional[float] = None):  # -> httpx.Response
    """One ``method`` request of ``url``; the response, whatever its status.

    The first attempt carries no token: most kernels are public. When the Hub answers 401,
    403, or 404 for a repository it does not show (``X-Error-Code`` other than
    ``EntryNotFound``/``RevisionNotFound``), the request is made again with huggingface_hub's
    ``build_hf_headers`` (the user's token). Connection failures are not retried, so a Hub
    that is down costs one attempt; they raise :class:`~kernels.errors.HubUnreachableError`
    (through :func:`~kernels.hub.failures.hub_call`). ``timeout`` defaults to
    ``HF_HUB_ETAG_TIMEOUT`` (seconds).
    """
    from huggingface_hub import constants  # noqa: PLC0415
    from huggingface_hub.utils import http_backoff  # noqa: PLC0415

    wait = constants.HF_HUB_ETAG_TIMEOUT if timeout is None else timeout

    def attempt(headers: dict):  # -> httpx.Response
        return hub_call(lambda: http_backoff(method, url, headers=headers, follow_redirects=follow_redirects,
                                             timeout=wait, retry_on_exceptions=()),
                        repo_id, revision, action=action)

    response = attempt({"user-agent": _user_agent(user_agent_extra)})
    hidden = response.status_code in (401, 403) or (
        response.status_code == 404 and response.headers.get("X-Error-Code") not in _VISIBLE_ANYWAY)
    if hidden:
        response = attempt(_authenticated_headers(user_agent_extra))
    return response


def api_json(path: str, *, params: Optional[dict] = None, user_agent_extra: Any = None) -> Any:
    """The JSON of ``GET <endpoint>/api/<path>``, read as ``HfApi`` reads it: huggingface_hub's
    shared session, its headers (the user's token) and its errors (``hf_raise_for_status``:
    ``RepositoryNotFoundError``, ``RevisionNotFoundError``, ...), untranslated.

    ``HfApi`` itself is not imported: its module costs more than the rest of a cold load.
    """
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status  # noqa: PLC0415

    response = get_session().get(f"{endpoint_url()}/api/{path}", params=params,
                                 headers=build_hf_headers(user_agent=user_agent(user_agent_extra)))
    hf_raise_for_status(response)
    return response.json()


def api_get(path: str, repo_id: Optional[str], revision: Optional[str] = None, *, action: str,
            params: Optional[dict] = None, user_agent_extra: Any = None) -> Any:
    """:func:`api_json` through :func:`~kernels.hub.failures.hub_call` (our error types)."""
    return hub_call(lambda: api_json(path, params=params, user_agent_extra=user_agent_extra), repo_id, revision,
                    action=action)


def api_pages(path: str, repo_id: str, revision: str, *, action: str, params: Optional[dict] = None,
              user_agent_extra: Any = None) -> list:
    """Every item of a paginated ``GET <endpoint>/api/<path>`` (``Link: <...>; rel="next"``
    pages), through huggingface_hub's ``paginate`` as ``HfApi.list_repo_tree`` reads them."""
    from huggingface_hub.utils import build_hf_headers, paginate  # noqa: PLC0415

    def call() -> list:
        return list(paginate(f"{endpoint_url()}/api/{path}", params=params or {},
                             headers=build_hf_headers(user_agent=user_agent(user_agent_extra))))

    return hub_call(call, repo_id, revision, action=action)


def raise_if_hub_down(response: Any, repo_id: str, revision: str, *, action: str) -> None:
    """Raise :class:`~kernels.errors.HubServerError` for a 429 or 5xx ``response`` (still
    failing after ``http_backoff``'s retries); other statuses are the caller's to read."""
    from huggingface_hub.utils import hf_raise_for_status  # noqa: PLC0415

    if response.status_code == 429 or response.status_code >= 500:
        hub_call(lambda: hf_raise_for_status(response), repo_id, revision, action=action)


def _agent_fields(extra: Any) -> Any:
    """The user-agent fields of a kernel request: text as given, else a dict."""
    return extra if isinstance(extra, str) else {"file_type": "kernel", **(extra or {})}


def _user_agent(extra: Any) -> str:
    agent = user_agent(_agent_fields(extra))
    if isinstance(agent, str):
        return agent
    return "; ".join(f"{k}/{v}" for k, v in (agent or {"kernels": "runtime"}).items())


def _authenticated_headers(extra: Any) -> dict:
    from huggingface_hub.utils import build_hf_headers  # noqa: PLC0415

    from .. import __version__  # noqa: PLC0415

    return build_hf_headers(library_name="kernels", library_version=__version__, user_agent=_agent_fields(extra))
