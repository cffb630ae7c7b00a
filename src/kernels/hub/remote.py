"""Reading kernel repositories on the Hub: versions, variants, files, downloads.

Kernel repositories have repo type ``kernel``; builds live on version branches ``v<N>``
under ``build/<variant>/``. Every call goes through :func:`~kernels.hub.failures.hub_call`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..atomic_files import remember
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
    return sorted(version_refs(repo_id))


def refs(repo_id: str, *, user_agent_extra=None) -> Dict[str, Dict[str, str]]:
    """``{"branches": {name: commit}, "tags": {name: commit}}`` of ``repo_id`` (one request,
    ``GET /api/kernels/<repo>/refs``, read as ``HfApi.list_repo_refs`` reads it)."""
    from .light import api_get  # noqa: PLC0415

    data = api_get(f"{REPO_TYPE}s/{repo_id}/refs", repo_id, action="list its versions",
                   user_agent_extra=user_agent_extra)
    found: Dict[str, Dict[str, str]] = {"branches": {}, "tags": {}}
    for kind in found:
        for item in (data.get(kind) or []) if isinstance(data, dict) else []:
            if (isinstance(item, dict) and isinstance(item.get("name"), str)
                    and is_commit_hash(item.get("targetCommit"))):
                found[kind][item["name"]] = item["targetCommit"]
    return found


def version_refs(repo_id: str, *, user_agent_extra=None) -> Dict[int, str]:
    """``{major version: commit of branch v<N>}`` (one request)."""
    return {int(m[1]): commit for name, commit in refs(repo_id, user_agent_extra=user_agent_extra)["branches"].items()
            for m in [_VERSION_BRANCH.match(name)] if m}


def list_tree(repo_id: str, commit: str, *, user_agent_extra=None) -> Dict[str, dict]:
    """Every file of ``repo_id`` at ``commit`` (a full commit id): path -> ``size``, ``blob_id``
    and, for LFS files, ``lfs_sha256``/``lfs_size`` (one request per 1000 files, as
    ``snapshot_download`` lists a repository).

    Nothing is written: :func:`record_tree` records the listing when files are downloaded.
    """
    from .light import api_pages  # noqa: PLC0415

    if not is_commit_hash(commit):
        raise ValueError(f"list_tree needs a full commit id, got {commit!r}")
    entries = api_pages(f"{REPO_TYPE}s/{repo_id}/tree/{commit}", repo_id, commit, action="list its files",
                        params={"recursive": True, "expand": False}, user_agent_extra=user_agent_extra)
    files: Dict[str, dict] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("type") != "file" or not isinstance(entry.get("path"), str):
            continue
        info: dict = {"size": entry.get("size"), "blob_id": entry.get("oid")}
        lfs = entry.get("lfs")
        if isinstance(lfs, dict) and lfs.get("oid"):
            info["lfs_sha256"] = lfs["oid"]
            info["lfs_size"] = lfs.get("size")
        if entry.get("xetHash"):
            info["xet_hash"] = entry["xetHash"]
        files[entry["path"]] = info
    return files


def record_tree(repo_id: str, commit: str, files: Dict[str, dict]) -> None:
    """Record the listing of ``commit`` (from :func:`list_tree`) where ``snapshot_download``
    records it, ``trees/<commit>.json`` of the repository's cache folder (through
    huggingface_hub's writer where it has one; the same format 1 otherwise), so the cache can
    later tell, without a request, which variants the commit has and whether one is cached
    completely (:func:`kernels.hub.cache.cached_tree`). Never fails a load."""
    import json  # noqa: PLC0415

    from .cache import cache_root  # noqa: PLC0415

    storage = cache_root() / f"{REPO_TYPE}s--{repo_id.replace('/', '--')}"
    try:
        from huggingface_hub._tree_cache import TreeCacheEntry, write_tree_cache  # noqa: PLC0415
    except ImportError:
        remember(storage / "trees" / f"{commit}.json",
                 json.dumps({"format_version": 1, "files": dict(sorted(files.items()))}, indent=1))
        return
    try:
        entries = {p: TreeCacheEntry.from_json(info) for p, info in files.items()}
    except (KeyError, TypeError):
        return
    write_tree_cache(str(storage), commit, entries)


def record_ref(repo_id: str, revision: str, commit: str) -> None:
    """``refs/<revision>`` of the repository's cache folder := ``commit`` (what
    ``snapshot_download`` and ``hf_hub_download`` record for a branch or tag), atomically."""
    from .cache import cache_root  # noqa: PLC0415

    if is_commit_hash(revision):
        return
    path = cache_root() / f"{REPO_TYPE}s--{repo_id.replace('/', '--')}" / "refs" / revision
    try:
        if path.is_file() and path.read_text() == commit:
            return
    except OSError:
        pass
    remember(path, commit)  # a read-only cache: the next load resolves the revision again


def download_files(repo_id: str, commit: str, paths: Sequence[str], *, listing: Optional[Dict[str, dict]] = None,
                   user_agent_extra=None, max_workers: int = 4) -> Path:
    """Download ``paths`` of ``repo_id`` at ``commit`` into the cache, a few at a time; return the
    snapshot directory.

    A file whose object id and size ``listing`` (from :func:`list_tree`) gives is fetched with
    one ``GET`` (:func:`_download_listed`); others go through ``hf_hub_download``, which asks
    the Hub for them first (a ``HEAD``). Either way a file appears in the cache only complete
    (temporary file, atomic move), under huggingface_hub's lock of its blob.

    Raises the first failure, translated (:class:`~kernels.errors.HubError` subclasses).
    """
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from .cache import cache_root  # noqa: PLC0415

    storage = cache_root() / f"{REPO_TYPE}s--{repo_id.replace('/', '--')}"
    snapshot = storage / "snapshots" / commit

    def one(path: str) -> None:
        info = (listing or {}).get(path)
        hub_call(lambda: _download_listed(repo_id, commit, path, info, storage, user_agent_extra), repo_id, commit,
                 action=f"download {path}")

    if not paths:
        raise ValueError("no files to download")
    if len(paths) == 1 or max_workers <= 1:
        for path in paths:
            one(path)
    else:
        with ThreadPoolExecutor(max_workers=min(max_workers, len(paths)),
                                thread_name_prefix="kernels-download") as pool:
            list(pool.map(one, paths))
    return snapshot


_OBJECT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def _download_listed(repo_id: str, commit: str, path: str, info: Optional[dict], storage: Path,
                     user_agent_extra) -> None:
    """Put ``path`` at ``commit`` into the cache as ``hf_hub_download`` does (blob named by its
    object id, snapshot link to it), skipping its ``HEAD`` when ``info`` (the listing's entry)
    already says what the ``HEAD`` would: the object id (the ETag: LFS sha256, else git blob
    id) and the size. The content goes through huggingface_hub's ``http_get`` (its session,
    headers, retries and size check) into a temporary file in ``blobs/`` that is moved into
    place when complete. Files stored with Xet, entries without usable ids, and caches without
    symbolic links are left to ``hf_hub_download``."""
    from huggingface_hub import hf_hub_download  # noqa: PLC0415

    def by_client() -> None:
        hf_hub_download(repo_id, path, repo_type=REPO_TYPE, revision=commit, endpoint=endpoint(),
                        cache_dir=cache_dir(), user_agent=user_agent(user_agent_extra))

    pointer = storage / "snapshots" / commit / path
    if pointer.exists():
        return
    lfs = isinstance(info, dict) and bool(info.get("lfs_sha256"))
    etag = (info.get("lfs_sha256") if lfs else info.get("blob_id")) if isinstance(info, dict) else None
    size = (info.get("lfs_size") if lfs else info.get("size")) if isinstance(info, dict) else None
    if (not isinstance(etag, str) or not _OBJECT_ID.match(etag) or not isinstance(size, int) or info.get("xet_hash")
            or ".." in Path(path).parts or Path(path).is_absolute()):
        return by_client()
    import os  # noqa: PLC0415
    import uuid  # noqa: PLC0415

    from huggingface_hub import hf_hub_url  # noqa: PLC0415
    from huggingface_hub.file_download import http_get  # noqa: PLC0415
    from huggingface_hub.utils import WeakFileLock, build_hf_headers  # noqa: PLC0415

    blob = storage / "blobs" / etag
    lock = storage.parent / ".locks" / storage.name / f"{etag}.lock"  # where hf_hub_download locks the blob
    lock.parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(str(lock)):
        if not blob.exists():
            tmp = blob.with_name(f"{etag}.{uuid.uuid4().hex[:8]}.incomplete")
            try:
                with open(tmp, "wb") as fh:
                    http_get(hf_hub_url(repo_id, path, repo_type=REPO_TYPE, revision=commit, endpoint=endpoint()),
                             fh, headers=build_hf_headers(user_agent=user_agent(user_agent_extra)),
                             expected_size=size)
                os.replace(tmp, blob)
            finally:
                tmp.unlink(missing_ok=True)
        if pointer.exists() or pointer.is_symlink():
            return
        try:
            os.symlink(os.path.relpath(blob, pointer.parent), pointer)
        except FileExistsError:
            pass  # another process linked it meanwhile (to the same blob: the name is the object id)
        except OSError:
            return by_client()  # no symbolic links here: huggingface_hub knows what to do instead


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
