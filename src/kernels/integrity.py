"""Integrity of downloaded kernels: is what lies in the cache what the Hub served?

Two checks, both local (no request):

- :func:`verify_cached_variant`: every file of a cached variant against the object id the Hub
  gave it. The Hugging Face cache stores each file once under ``blobs/<etag>`` and links it
  from ``snapshots/<commit>/``; the etag of an LFS file is the sha256 of its content, that of a
  regular file its git blob sha1. Re-hashing the content and comparing it with that name finds
  truncated, overwritten or swapped files. A file that passed is remembered by its
  ``(size, mtime, inode)`` (a stamp under ``<cache>/.kernels/verified/``), so a warm load of an
  untouched variant stats its files instead of hashing them again.
- :func:`variant_tree_hash` / :func:`local_variant_hash`: the per-variant hash a lock file
  records (``hash_type`` ``git_lfs_concat``): sha256 over the variant's files sorted by relative
  path, feeding for each the path (UTF-8) and the raw bytes of its object id (LFS sha256, else
  git blob sha1). Computed from the Hub's file listing when locking and from the files on disk
  when loading a locked kernel, always by hashing the content (no stamps: a lock is a promise
  about content).

Bytecode (``*.pyc``, ``__pycache__/``) is never part of a variant: downloads skip it and Python
writes it next to the sources after the download.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

from .atomic_files import remember
from .errors import KernelIntegrityError

__all__ = [
    "HASH_TYPE",
    "git_blob_sha1",
    "local_variant_hash",
    "variant_files",
    "variant_tree_hash",
    "verify_cached_variant",
]

#: The only ``hash_type`` lock files use.
HASH_TYPE = "git_lfs_concat"

_SHA1_HEX = re.compile(r"^[0-9a-f]{40}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
#: Files the Hub stores as LFS when we cannot tell from the cache: binaries and big files.
_LFS_SIZE = 10 * 1024 * 1024


def git_blob_sha1(path: Path) -> str:
    """The git blob id of a file: sha1 over ``b"blob <size>\\0"`` and the content."""
    digest = hashlib.sha1(b"blob %d\x00" % path.stat().st_size)
    _feed(digest, path)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    _feed(digest, path)
    return digest.hexdigest()


def _feed(digest, path: Path) -> None:  # type: ignore[no-untyped-def]
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)


def variant_files(variant_dir: Path) -> List[str]:
    """Relative POSIX paths of the files of a variant directory, sorted, without bytecode.

    Raises:
        KernelIntegrityError: an entry is a FIFO, device or socket (or links to one), which
            a reader could block on forever; judged from ``stat`` without opening it.
    """
    found = []
    for root, dirs, files in os.walk(variant_dir):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".pyc"):
                continue
            try:
                mode = os.stat(Path(root) / name).st_mode
            except FileNotFoundError:
                mode = stat.S_IFREG  # a broken cache link: callers report it as missing
            if not stat.S_ISREG(mode):
                raise KernelIntegrityError(f"{Path(root) / name} is not a regular file (a FIFO, device or "
                                           "socket?); refusing to read it. Delete it, or the kernel's "
                                           "cache folder, and download again.")
            found.append((Path(root) / name).relative_to(variant_dir).as_posix())
    return sorted(found)


def variant_tree_hash(files: Iterable[Tuple[str, str]]) -> str:
    """The lock hash of a variant from ``(relative path, object id hex)`` pairs.

    >>> variant_tree_hash([("b.py", "00" * 20), ("a.so", "ff" * 32)])[:15]
    'sha256-0592e13e'
    """
    digest = hashlib.sha256()
    for path_bytes, oid in sorted((p.encode("utf-8"), o) for p, o in files):
        digest.update(path_bytes)
        digest.update(bytes.fromhex(oid))
    return f"sha256-{digest.hexdigest()}"


def _etag(path: Path) -> Optional[str]:
    """The object id the cache filed ``path`` under (the name of the blob it links to)."""
    if not path.is_symlink():
        return None
    name = Path(os.readlink(path)).name
    return name if _SHA1_HEX.match(name) or _SHA256_HEX.match(name) else None


def _object_id(path: Path, etag: Optional[str], is_lfs: Optional[bool] = None) -> str:
    """The content's object id, of the kind ``etag`` says, else ``is_lfs`` says, else the
    kind the Hub would most likely have chosen: LFS for binaries and big files."""
    if etag is not None:
        is_lfs = len(etag) == 64
    if is_lfs is None:
        with open(path, "rb") as fh:
            is_lfs = b"\x00" in fh.read(8192) or path.stat().st_size > _LFS_SIZE
    return _sha256(path) if is_lfs else git_blob_sha1(path)


def local_variant_hash(variant_dir: Path, lfs_files: Optional[Set[str]] = None) -> str:
    """The lock hash of the variant as it lies on disk (every file hashed).

    Whether a file is LFS (sha256) or a regular git file (blob sha1) is read from the blob
    its cache link points to; else from ``lfs_files`` (relative paths of the variant's LFS
    files, from the Hub's listing of the commit, :func:`kernels.hub.cached_tree`); else
    guessed: LFS for binaries and big files.
    """
    pairs = []
    for rel in variant_files(variant_dir):
        path = variant_dir / rel
        pairs.append((rel, _object_id(path, _etag(path), None if lfs_files is None else rel in lfs_files)))
    return variant_tree_hash(pairs)


# --------------------------------------------------------------------------- cache check


def _stamp_path(cache_root: Path, variant_dir: Path) -> Path:
    key = hashlib.sha256(str(variant_dir.resolve(strict=False)).encode()).hexdigest()[:32]
    return cache_root / ".kernels" / "verified" / f"{key}.json"


def _fingerprint(path: Path) -> List[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def verify_cached_variant(variant_dir: Path, cache_root: Path) -> Dict[str, str]:
    """Check the cached files of a variant against their object ids; return the problems
    (relative path -> what is wrong; empty: intact).

    Files not stored as links to named blobs (caches without symlinks) cannot be checked this
    way and are skipped. Results are remembered per file fingerprint (see the module docstring).
    """
    stamp_file = _stamp_path(cache_root, variant_dir)
    try:
        stamps: Dict[str, list] = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        stamps = {}
    problems: Dict[str, str] = {}
    fresh: Dict[str, list] = {}
    for rel in variant_files(variant_dir):
        path = variant_dir / rel
        etag = _etag(path)
        if etag is None:
            continue
        if _outside_blobs(path, variant_dir):
            problems[rel] = f"links outside the kernel's cache folder (to {os.readlink(path)})"
            continue
        try:
            fingerprint = _fingerprint(path)
        except FileNotFoundError:
            problems[rel] = f"missing (its cached blob {etag} is gone)"
            continue
        if stamps.get(rel) == fingerprint + [etag]:
            fresh[rel] = stamps[rel]
            continue
        actual = _object_id(path, etag)
        if actual != etag:
            problems[rel] = f"content hashes to {actual}, the Hub's id for it is {etag}"
        else:
            fresh[rel] = fingerprint + [etag]
    if not problems and fresh != stamps:
        _write_atomically(stamp_file, json.dumps(fresh, sort_keys=True))
    return problems


def forget_verification(variant_dir: Path, cache_root: Path) -> None:
    """Drop the stamps of a variant (after repairing it)."""
    try:
        _stamp_path(cache_root, variant_dir).unlink()
    except FileNotFoundError:
        pass


def remove_cached_files(variant_dir: Path, rels: Iterable[str]) -> None:
    """Delete cached files and the blobs they link to, so the next download fetches them
    again (huggingface_hub trusts any existing blob)."""
    for rel in rels:
        path = variant_dir / rel
        if path.is_symlink():
            # A tampered link may point at any file of the user's: only a blob of this
            # kernel's cache folder is ever deleted.
            victims = [path] if _outside_blobs(path, variant_dir) else [path.resolve(strict=False), path]
            for victim in victims:
                try:
                    victim.unlink()
                except FileNotFoundError:
                    pass


def _outside_blobs(path: Path, variant_dir: Path) -> bool:
    """Whether the cache link ``path`` resolves outside ``<repo folder>/blobs/`` (the only place
    huggingface_hub points snapshot links at). Unknown layouts (no ``snapshots/``) pass."""
    parents = variant_dir.resolve(strict=False).parents
    if len(parents) < 4 or parents[2].name != "snapshots":  # <repo>/snapshots/<commit>/build/<variant>
        return False
    blobs = parents[3] / "blobs"
    return blobs not in path.resolve(strict=False).parents


def _write_atomically(path: Path, text: str) -> None:
    """Readers see the old or the new file, never half of one (concurrent loads); a read-only
    cache just means hashing again next time."""
    remember(path, text)
