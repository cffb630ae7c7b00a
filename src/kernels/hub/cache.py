"""What the download cache holds, read without any request (huggingface_hub's cache layout:
``<kind>s--<org>--<name>/{refs,snapshots,blobs}``, plus ``trees/<commit>.json`` listings)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List, Optional, Set

from .client import cache_dir

_VERSION_BRANCH = re.compile(r"^v(\d+)$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def is_commit_hash(revision: Optional[str]) -> bool:
    """Whether ``revision`` is a full 40-hex commit id (immutable, so the cache can answer).

    Example::

        >>> is_commit_hash("0123456789abcdef0123456789abcdef01234567"), is_commit_hash("v1")
        (True, False)
    """
    return bool(revision) and bool(_COMMIT_RE.match(revision))


def cache_root() -> Path:
    """The hub cache directory actually used (``KERNELS_CACHE``, ``HF_HUB_CACHE`` or the default)."""
    configured = cache_dir()
    if configured:
        return Path(configured)
    from huggingface_hub import constants  # noqa: PLC0415

    return Path(constants.HF_HUB_CACHE)


def cached_snapshot(repo_id: str, revision: str) -> Optional[Path]:
    """The cached snapshot of ``repo_id`` at ``revision`` (a commit id, or a branch or tag the
    cache has a ref for), without any request; None when the cache does not have it.

    Looks in ``kernels--<org>--<name>`` and, for caches written by older runtimes,
    ``models--<org>--<name>``.

    Example::

        >>> cached_snapshot("kernels-community/relu", "v1")                      # doctest: +SKIP
        PosixPath('.../kernels--kernels-community--relu/snapshots/<sha>')
    """
    org_name = repo_id.replace("/", "--")
    for prefix in ("kernels", "models"):
        storage = cache_root() / f"{prefix}--{org_name}"
        if not storage.is_dir():
            continue
        commit_id: Optional[str] = revision if is_commit_hash(revision) else None
        if commit_id is None:
            ref = storage / "refs" / revision
            if ref.is_file():
                commit_id = ref.read_text().strip()
        if commit_id and (storage / "snapshots" / commit_id).is_dir():
            return storage / "snapshots" / commit_id
    return None


def cached_versions(repo_id: str) -> List[int]:
    """Major versions (``refs/v<N>``) the cache knows for ``repo_id``, sorted."""
    org_name = repo_id.replace("/", "--")
    found = set()
    for prefix in ("kernels", "models"):
        refs = cache_root() / f"{prefix}--{org_name}" / "refs"
        if refs.is_dir():
            found.update(int(m[1]) for p in refs.iterdir() for m in [_VERSION_BRANCH.match(p.name)] if m)
    return sorted(found)


def cached_tree(snapshot: Path) -> Optional[dict]:
    """The file listing of a cached snapshot's commit, as huggingface_hub records it next to
    the snapshots (``trees/<commit>.json``, written by ``snapshot_download``): path -> info with
    ``size``, ``blob_id`` and, for LFS files, ``lfs_sha256``. None when there is none (or its
    format is unknown). Read directly: importing huggingface_hub's reader costs more than the
    whole warm load."""
    try:
        data = json.loads((snapshot.parent.parent / "trees" / f"{snapshot.name}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format_version") != 1 or not isinstance(data.get("files"), dict):
        return None
    return data["files"]


def cached_variant_listing(snapshot: Path) -> Optional[List[str]]:
    """The variant folders under ``build/`` of a cached snapshot's commit (from
    :func:`cached_tree`); None when the cache has no listing (then only the variants on disk
    are known).

    Example::

        >>> cached_variant_listing(cached_snapshot("kernels-community/relu", "v1"))   # doctest: +SKIP
        ['torch-cpu', 'torch213-cxx11-cpu-x86_64-linux']
    """
    files = cached_tree(snapshot)
    if files is None:
        return None
    return sorted({p.split("/")[1] for p in files if p.startswith("build/") and p.count("/") >= 2})


def cached_variant_complete(snapshot: Path, variant: str) -> bool:
    """Whether every file of ``build/<variant>/`` (bytecode aside) is in the cached snapshot,
    without any request. (Whether their contents are right is :mod:`kernels.integrity`'s job.)"""
    files = cached_tree(snapshot)
    if files is None:
        return False
    prefix = f"build/{variant}/"
    wanted = {p: info for p, info in files.items()
              if p.startswith(prefix) and not p.endswith(".pyc") and "/__pycache__/" not in p}
    if not wanted:
        return False
    return all((snapshot / path).is_file() for path in wanted)


def cached_variant_lfs_files(snapshot: Path, variant: str) -> Optional[Set[str]]:
    """The LFS files of ``build/<variant>/`` (paths inside the variant) by the cached listing of
    the snapshot's commit, without any request; None where the cache holds no listing."""
    files = cached_tree(snapshot)
    if files is None:
        return None
    prefix = f"build/{variant}/"
    return {path[len(prefix):] for path, info in files.items()
            if path.startswith(prefix) and isinstance(info, dict) and info.get("lfs_sha256")}
