"""Every conversation with the Hugging Face Hub, in one place.

Kernel repositories have repo type ``kernel``; builds live on version branches ``v<N>``
under ``build/<variant>/``. The endpoint comes from ``HF_ENDPOINT`` *at call time* (the
huggingface_hub client reads it once at import), so a test server or a mirror set later in
the process is honoured.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional, Sequence

from .errors import HubError

REPO_TYPE = "kernel"
_VERSION_BRANCH = re.compile(r"^v(\d+)$")


def endpoint() -> Optional[str]:
    """The Hub endpoint to talk to: ``HF_ENDPOINT`` when set, else huggingface_hub's default."""
    return os.environ.get("HF_ENDPOINT") or None


def cache_dir() -> Optional[str]:
    """Where downloads go: ``KERNELS_CACHE``, else ``HF_HUB_CACHE``, else huggingface_hub's
    default (read at call time, like the endpoint)."""
    return os.environ.get("KERNELS_CACHE") or os.environ.get("HF_HUB_CACHE") or None


def api():  # -> huggingface_hub.HfApi
    """A client bound to the current endpoint and token."""
    from huggingface_hub import HfApi  # noqa: PLC0415 - keep `import kernels` cheap

    return HfApi(endpoint=endpoint())


def version_branches(repo_id: str) -> List[int]:
    """The kernel's major versions: branches named ``v<N>``, sorted."""
    refs = _call(lambda: api().list_repo_refs(repo_id, repo_type=REPO_TYPE), repo_id)
    return sorted(int(m[1]) for b in refs.branches for m in [_VERSION_BRANCH.match(b.name)] if m)


def resolve_revision(repo_id: str, *, version: Optional[int] = None, revision: Optional[str] = None) -> str:
    """``revision`` as given, ``v<version>``, or the highest ``v<N>`` branch (else ``main``)."""
    if revision is not None and version is not None:
        raise HubError("give either version or revision, not both")
    if revision is not None:
        return revision
    versions = version_branches(repo_id)
    if version is not None:
        if version not in versions:
            have = ", ".join(f"v{v}" for v in versions) or "none"
            raise HubError(f"{repo_id} has no version {version} (branch v{version}); versions: {have}")
        return f"v{version}"
    return f"v{versions[-1]}" if versions else "main"


def download_tree(
    repo_id: str, *, version: Optional[int] = None, revision: Optional[str] = None,
    variants: Optional[Sequence[str]] = None,
) -> Path:
    """Download ``build/`` (or only some variants) of a kernel repo into the cache; return
    the snapshot directory (which holds ``build/<variant>/``)."""
    from huggingface_hub import snapshot_download  # noqa: PLC0415

    rev = resolve_revision(repo_id, version=version, revision=revision)
    patterns = [f"build/{v}/*" for v in variants] if variants else ["build/*"]
    path = _call(
        lambda: snapshot_download(
            repo_id, repo_type=REPO_TYPE, revision=rev, allow_patterns=patterns,
            ignore_patterns=["*.pyc", "*/__pycache__/*"], endpoint=endpoint(), cache_dir=cache_dir(),
        ),
        repo_id, rev,
    )
    return Path(path)


def list_files(repo_id: str, revision: str) -> List[str]:
    """All file paths of ``repo_id`` at ``revision`` (empty when the branch does not exist)."""
    from huggingface_hub.errors import RevisionNotFoundError  # noqa: PLC0415

    try:
        return list(api().list_repo_files(repo_id, repo_type=REPO_TYPE, revision=revision))
    except RevisionNotFoundError:
        return []


def ensure_repo(repo_id: str, *, private: bool = False) -> None:
    """Create the kernel repository when it does not exist yet."""
    _call(lambda: api().create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True), repo_id)


def ensure_branch(repo_id: str, branch: str) -> bool:
    """Create ``branch`` from ``main`` when missing; return True when it was created."""
    refs = _call(lambda: api().list_repo_refs(repo_id, repo_type=REPO_TYPE), repo_id)
    if any(b.name == branch for b in refs.branches):
        return False
    _call(lambda: api().create_branch(repo_id, repo_type=REPO_TYPE, branch=branch, exist_ok=True), repo_id)
    return True


def commit(repo_id: str, branch: str, operations: list, message: str) -> str:
    """One commit of ``operations`` on ``branch``; return the commit id."""
    info = _call(
        lambda: api().create_commit(
            repo_id, repo_type=REPO_TYPE, revision=branch, operations=operations, commit_message=message
        ),
        repo_id, branch,
    )
    return info.oid


def add_operation(path_in_repo: str, data):  # -> CommitOperationAdd
    from huggingface_hub import CommitOperationAdd  # noqa: PLC0415

    return CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=data)


def delete_operation(path_in_repo: str):  # -> CommitOperationDelete
    from huggingface_hub import CommitOperationDelete  # noqa: PLC0415

    return CommitOperationDelete(path_in_repo=path_in_repo)


def _call(fn, repo_id: str, revision: Optional[str] = None):
    """Run a client call; turn the client's errors into one clear :class:`HubError`."""
    from huggingface_hub.errors import (  # noqa: PLC0415
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f" at revision {revision!r}" if revision else ""
    try:
        return fn()
    except RepositoryNotFoundError:
        raise HubError(f"kernel repository {repo_id!r} not found on {endpoint() or 'the Hub'} "
                       "(check the name, and HF_TOKEN for private repositories)") from None
    except RevisionNotFoundError:
        raise HubError(f"{repo_id!r} has no revision {revision!r}") from None
    except EntryNotFoundError as exc:
        raise HubError(f"{repo_id}{at}: file not found: {exc}") from None
    except LocalEntryNotFoundError:
        raise HubError(f"{repo_id}{at} is not in the local cache and the Hub cannot be reached "
                       "(offline?); connect once or unset HF_HUB_OFFLINE") from None
    except HfHubHTTPError as exc:
        raise HubError(f"{repo_id}{at}: the Hub answered: {str(exc).splitlines()[0]}") from None
