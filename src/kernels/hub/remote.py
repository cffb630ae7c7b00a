"""Reading kernel repositories on the Hub: versions, variants, files, downloads.

Kernel repositories have repo type ``kernel``; builds live on version branches ``v<N>``
under ``build/<variant>/``. Every call goes through :func:`~kernels.hub.failures.hub_call`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

from ..errors import HubError, KernelVersionNotFoundError
from .cache import _VERSION_BRANCH, is_commit_hash
from .client import REPO_TYPE, api, cache_dir, endpoint, user_agent
from .failures import hub_call

_NO_BYTECODE = ["*.pyc", "*/__pycache__/*"]


def version_branches(repo_id: str) -> List[int]:
    """The kernel's major versions: branches named ``v<N>``, sorted (one request).

    Raises :class:`~kernels.errors.HubError` subclasses (see :mod:`kernels.errors`).

    Example::

        >>> version_branches("kernels-community/relu")                          # doctest: +SKIP
        [1, 2]
    """
    refs = hub_call(lambda: api().list_repo_refs(repo_id, repo_type=REPO_TYPE), repo_id,
                    action="list its versions")
    return sorted(int(m[1]) for b in refs.branches for m in [_VERSION_BRANCH.match(b.name)] if m)


def check_version(repo_id: str, version: int, versions: Sequence[int]) -> str:
    """The branch of ``version`` (``v<version>``) when ``versions`` has it, else
    :class:`~kernels.errors.KernelVersionNotFoundError` listing the versions."""
    if version not in versions:
        have = ", ".join(f"v{v}" for v in versions) or "none"
        raise KernelVersionNotFoundError(
            f"{repo_id} has no version {version} (branch v{version}); versions: {have}")
    return f"v{version}"


def resolve_revision(repo_id: str, *, version: Optional[int] = None, revision: Optional[str] = None) -> str:
    """``revision`` as given, ``v<version>``, or the highest ``v<N>`` branch (else ``main``)."""
    if revision is not None and version is not None:
        raise HubError("give either version or revision, not both")
    if revision is not None:
        return revision
    versions = version_branches(repo_id)
    if version is not None:
        return check_version(repo_id, version, versions)
    return f"v{versions[-1]}" if versions else "main"


def download_tree(
    repo_id: str, *, version: Optional[int] = None, revision: Optional[str] = None,
    variants: Optional[Sequence[str]] = None,
) -> Path:
    """Download ``build/`` (or only some variants) of a kernel repo into the cache; return
    the snapshot directory (which holds ``build/<variant>/`` unless the revision has none).
    A ``kernel-status.toml`` redirect of ``repo_id`` is followed."""
    from huggingface_hub import snapshot_download  # noqa: PLC0415

    from .client import offline  # noqa: PLC0415
    from .redirect import follow  # noqa: PLC0415

    target = follow(repo_id, revision, version, offline=offline())
    repo_id, revision, version = target.repo_id, target.revision, target.version
    rev = resolve_revision(repo_id, version=version, revision=revision)
    patterns = [f"build/{v}/*" for v in variants] if variants else ["build/*"]
    path = hub_call(
        lambda: snapshot_download(
            repo_id, repo_type=REPO_TYPE, revision=rev, allow_patterns=patterns,
            ignore_patterns=_NO_BYTECODE, endpoint=endpoint(), cache_dir=cache_dir(),
        ),
        repo_id, rev, action="download its build/ tree",
    )
    return Path(path)


def list_files(repo_id: str, revision: str) -> List[str]:
    """All file paths of ``repo_id`` at ``revision`` (empty when the branch does not exist)."""
    from huggingface_hub.errors import RevisionNotFoundError  # noqa: PLC0415

    def listing() -> List[str]:
        try:
            return list(api().list_repo_files(repo_id, repo_type=REPO_TYPE, revision=revision))
        except RevisionNotFoundError:
            return []

    return hub_call(listing, repo_id, revision, action="list its files")


def list_variants(repo_id: str, revision: str, *, user_agent_extra=None) -> List[str]:
    """Names of the folders under ``build/`` of ``repo_id`` at ``revision`` (one request).

    Empty when the revision has no ``build/`` folder. Raises :class:`~kernels.errors.HubError`
    subclasses for a missing repository or revision, no access or no network.

    Example::

        >>> list_variants("kernels-community/relu", "v1")        # doctest: +SKIP
        ['torch-cpu', 'torch213-cxx11-cpu-x86_64-linux', 'torch213-cxx11-cu130-x86_64-linux']
    """
    from huggingface_hub import HfApi  # noqa: PLC0415
    from huggingface_hub.errors import EntryNotFoundError  # noqa: PLC0415
    from huggingface_hub.hf_api import RepoFolder  # noqa: PLC0415

    client = HfApi(endpoint=endpoint(), user_agent=user_agent(user_agent_extra))

    def listing() -> List[str]:
        try:
            entries = list(client.list_repo_tree(repo_id, "build", revision=revision, repo_type=REPO_TYPE))
        except EntryNotFoundError:
            return []
        return sorted(e.path.rsplit("/", 1)[-1] for e in entries if isinstance(e, RepoFolder))

    return hub_call(listing, repo_id, revision, action="list its build variants")


def download_variant_file(repo_id: str, revision: str, variant: str, filename: str = "metadata.json",
                          *, user_agent_extra=None) -> Path:
    """Download one file of ``build/<variant>/`` into the cache; return its path.

    The path lies in ``snapshots/<commit>/``, so it also tells which commit ``revision`` is.

    Example::

        >>> download_variant_file("kernels-community/relu", "v1", "torch-cpu")   # doctest: +SKIP
        PosixPath('.../kernels--kernels-community--relu/snapshots/<sha>/build/torch-cpu/metadata.json')
    """
    from huggingface_hub import hf_hub_download  # noqa: PLC0415

    _check_variant_name(variant)
    path = hub_call(
        lambda: hf_hub_download(
            repo_id, f"build/{variant}/{filename}", repo_type=REPO_TYPE, revision=revision,
            endpoint=endpoint(), cache_dir=cache_dir(), user_agent=user_agent(user_agent_extra),
        ),
        repo_id, revision, action=f"download build/{variant}/{filename}",
    )
    return Path(path)


def download_variant(repo_id: str, revision: str, variant: str, *, local_files_only: bool = False,
                     user_agent_extra=None) -> Path:
    """Download only ``build/<variant>/*`` (no bytecode) into the cache; return the variant dir.

    With ``local_files_only`` nothing is requested: the cached snapshot must be complete for
    that variant (huggingface_hub checks its cached file listing), else
    :class:`~kernels.errors.KernelNotCachedError`.

    Example::

        >>> download_variant("kernels-community/relu", "v1", "torch-cpu")       # doctest: +SKIP
        PosixPath('.../snapshots/<sha>/build/torch-cpu')
    """
    from huggingface_hub import snapshot_download  # noqa: PLC0415

    _check_variant_name(variant)
    path = hub_call(
        lambda: snapshot_download(
            repo_id, repo_type=REPO_TYPE, revision=revision, allow_patterns=[f"build/{variant}/*"],
            ignore_patterns=_NO_BYTECODE, endpoint=endpoint(), cache_dir=cache_dir(),
            local_files_only=local_files_only, user_agent=user_agent(user_agent_extra),
        ),
        repo_id, revision, action=f"download variant {variant}",
    )
    return Path(path) / "build" / variant


def _check_variant_name(variant: str) -> None:
    """Variant names become paths in the cache: only real variant names pass (``ValueError``)."""
    from ..variants import parse_variant  # noqa: PLC0415

    parse_variant(variant)


def commit_of(repo_id: str, revision: str) -> str:
    """The commit id ``revision`` (a branch, tag or commit) points to now (one request)."""
    if is_commit_hash(revision):
        return revision
    info = hub_call(lambda: api().repo_info(repo_id, repo_type=REPO_TYPE, revision=revision), repo_id, revision,
                    action="find the commit of the revision")
    if not info.sha:
        raise HubError(f"{repo_id}: the Hub did not say which commit {revision!r} is")
    return info.sha


def variant_object_ids(repo_id: str, commit: str) -> dict:
    """``{variant: [(path inside the variant, object id), ...]}`` for every file under
    ``build/`` at ``commit``: the LFS sha256 for LFS files, else the git blob id. Bytecode is
    left out (downloads skip it too)."""
    from huggingface_hub.hf_api import RepoFile  # noqa: PLC0415

    def listing() -> list:
        return list(api().list_repo_tree(repo_id, "build", revision=commit, repo_type=REPO_TYPE, recursive=True))

    files: dict = {}
    for entry in hub_call(listing, repo_id, commit, action="list the files of build/"):
        if not isinstance(entry, RepoFile):
            continue
        parts = entry.path.split("/")
        if len(parts) < 3 or entry.path.endswith(".pyc") or "__pycache__" in parts:
            continue
        lfs = entry.lfs
        oid = (lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)) if lfs else None
        files.setdefault(parts[1], []).append(("/".join(parts[2:]), oid or entry.blob_id))
    return files


def download_benchmarks(repo_id: str, revision: str) -> Path:
    """Download ``benchmarks/benchmark*.py`` of ``repo_id`` at ``revision`` into the cache;
    return the snapshot's ``benchmarks`` directory (which may be missing: no scripts)."""
    from huggingface_hub import snapshot_download  # noqa: PLC0415

    path = hub_call(
        lambda: snapshot_download(
            repo_id, repo_type=REPO_TYPE, revision=revision, allow_patterns=["benchmarks/benchmark*.py"],
            endpoint=endpoint(), cache_dir=cache_dir(),
        ),
        repo_id, revision, action="download its benchmarks",
    )
    return Path(path) / "benchmarks"
