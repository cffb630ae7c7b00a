"""Writing to the Hub: who the token is, whether it may write, repositories, branches, commits."""

from __future__ import annotations

from typing import List

from ..errors import HubError
from .client import REPO_TYPE, api, endpoint_url
from .failures import hub_call


def whoami() -> str:
    """The Hub user name of the current token (``HF_TOKEN`` or ``hf auth login``).

    Raises :class:`~kernels.errors.HubAccessError` without a token or for a refused one, and
    the other :class:`~kernels.errors.HubError` types for a Hub that cannot be reached.
    """
    return str(_whoami(None, "tell who the token belongs to")["name"])


def check_write_access(repo_id: str) -> str:
    """Check, before any work, that the current token may write to the kernel repository
    ``repo_id`` (or create it, when it does not exist yet); return the token's user name.

    The Hub decides: ``GET /api/kernels/<repo_id>/auth-check/write`` (huggingface_hub's
    ``auth_check(write=True)`` endpoint); where it does not know the repository (a new one),
    the namespace must be the user's own or one of its organisations where its role is not
    ``read``.

    Raises:
        HubAccessError: no token, a refused or read-only token, no write permission.
        HubError: the Hub cannot be reached, or fails (see :mod:`kernels.errors`).

    Example::

        >>> check_write_access("my-org/relu")                                   # doctest: +SKIP
        'me'
    """
    from ..errors import HubAccessError  # noqa: PLC0415

    account = _whoami(repo_id, "check the token's write permission")
    user = str(account.get("name"))
    role = ((account.get("auth") or {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise HubAccessError(f"{repo_id}: the token of {user!r} is read-only; publishing needs a token with "
                             "the write role (create one at <endpoint>/settings/tokens, then `hf auth login`)"
                             .replace("<endpoint>", endpoint_url()), response=None)
    if hub_call(lambda: _auth_check_write(repo_id), repo_id, action="check the token's write permission"):
        return user
    namespace = repo_id.split("/", 1)[0]
    orgs = {o.get("name"): o.get("roleInOrg") for o in account.get("orgs") or [] if isinstance(o, dict)}
    if namespace != user and (namespace not in orgs or orgs[namespace] == "read"):
        mine = ", ".join(repr(n) for n in [user, *sorted(n for n, r in orgs.items() if r != "read")])
        raise HubAccessError(
            f"{repo_id}: does not exist yet, and {user!r} may not create repositories under {namespace!r} "
            f"(namespaces it may write to: {mine}); check the name, or ask an admin of {namespace!r} "
            "for the write role", response=None)
    return user


def _whoami(repo_id, action: str) -> dict:  # type: ignore[no-untyped-def]
    from huggingface_hub import get_token  # noqa: PLC0415

    from ..errors import HubAccessError  # noqa: PLC0415

    if not get_token():
        raise HubAccessError(f"{repo_id or 'the Hub'}: cannot {action}: no Hub token; log in with "
                             "`hf auth login` or set HF_TOKEN", response=None)
    return hub_call(lambda: api().whoami(), repo_id, action=action)


def _auth_check_write(repo_id: str) -> bool:
    """The Hub's answer to "may this token write to ``repo_id``": True, False when the
    repository does not exist (the Hub then cannot say), HTTP errors raised.

    The request of huggingface_hub's ``HfApi.auth_check(write=True)``, made here because
    huggingface_hub 1.x's ``auth_check`` has no ``write`` argument."""
    from huggingface_hub.errors import RepositoryNotFoundError  # noqa: PLC0415
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status  # noqa: PLC0415

    response = get_session().get(f"{endpoint_url()}/api/{REPO_TYPE}s/{repo_id}/auth-check/write",
                                 headers=build_hf_headers())
    try:
        hf_raise_for_status(response)
    except RepositoryNotFoundError:
        if response.status_code == 404:
            return False
        raise
    return True


def ensure_repo(repo_id: str, *, private: bool = False) -> None:
    """Create the kernel repository when it does not exist yet."""
    hub_call(lambda: api().create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True), repo_id,
             action="create the repository")


def ensure_branch(repo_id: str, branch: str) -> bool:
    """Create ``branch`` from ``main`` when missing; return True when it was created."""
    refs = hub_call(lambda: api().list_repo_refs(repo_id, repo_type=REPO_TYPE), repo_id, action="list its branches")
    if any(b.name == branch for b in refs.branches):
        return False
    hub_call(lambda: api().create_branch(repo_id, repo_type=REPO_TYPE, branch=branch, exist_ok=True), repo_id,
             branch, action=f"create branch {branch}")
    return True


def commit(repo_id: str, branch: str, operations: List, message: str) -> str:
    """One commit of ``operations`` on ``branch``; return the commit id."""
    info = hub_call(
        lambda: api().create_commit(
            repo_id, repo_type=REPO_TYPE, revision=branch, operations=operations, commit_message=message
        ),
        repo_id, branch, action="upload (commit) the files",
    )
    if not getattr(info, "oid", None):
        raise HubError(f"{repo_id}@{branch}: the Hub did not return the new commit's id")
    return info.oid


def add_operation(path_in_repo: str, data):  # -> CommitOperationAdd
    """An upload of ``data`` (bytes, a path or a file object) to ``path_in_repo``."""
    from huggingface_hub import CommitOperationAdd  # noqa: PLC0415

    return CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=data)


def delete_operation(path_in_repo: str):  # -> CommitOperationDelete
    """A deletion of ``path_in_repo``."""
    from huggingface_hub import CommitOperationDelete  # noqa: PLC0415

    return CommitOperationDelete(path_in_repo=path_in_repo)
