"""One copy per content of the header directories a build reads from site-packages.

Why: an isolated build (``pip wheel .``, ``python -m build``, ``uv build``) installs torch
into a new temporary environment every time. Compile commands that named those headers where
they lie would differ in every build, and ninja would recompile every file, as it would after
a build from another venv; a shared compiler cache would miss across runners whose venvs lie
elsewhere. Compile commands name a copy instead, kept in the per-user cache under a name made
from the headers' bytes (``~/.cache/kernels_build/headers/<digest>/site-packages/torch/include``,
the layout of site-packages kept): the same torch gives the same path wherever it is installed,
in every checkout, and another torch another path.

A copy is written whole into a temporary directory, then renamed into place, and never changed
afterwards, so a stopped build leaves no half-written copy and builds running at once share it.
Hashing the headers' bytes (about 60 MB for torch) is skipped while they have not moved: the
build directory's stamp records each directory's listing (names, sizes, modification times)
and the digest it gave.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from kernels.atomic_files import write_text_atomically

#: The directory of each copy holding the site-packages layout (what the prefix map names).
SITE_DIR = "site-packages"


def default_headers_cache() -> Path:
    """``$XDG_CACHE_HOME/kernels_build/headers``, else ``~/.cache/kernels_build/headers``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kernels_build" / "headers"


def mirrored_path(path: Path, site_packages: Path, copy: Optional[Path]) -> Path:
    """Where the build reads ``path`` from: its place in ``copy`` (a root made by
    :func:`shared_copy`) when ``path`` lies in ``site_packages``, else ``path`` itself.

    >>> str(mirrored_path(Path("/env/sp/torch/include"), Path("/env/sp"), Path("/c/0a1b")))
    '/c/0a1b/site-packages/torch/include'
    >>> str(mirrored_path(Path("/usr/include"), Path("/env/sp"), Path("/c/0a1b")))
    '/usr/include'
    """
    if copy is None:
        return path
    try:
        return copy / SITE_DIR / path.relative_to(site_packages)
    except ValueError:
        return path


def shared_copy(directories: Sequence[Path], site_packages: Path, cache: Path, stamp: Path) -> Optional[Path]:
    """The root of the copy of ``directories`` (those under ``site_packages``; one inside
    another is copied with it) in ``cache``, made if missing; None when none lies there.

    ``stamp`` (a file of the build directory) remembers the listing and digest of the last
    build's directories. Raises ``OSError`` when a file cannot be read or written (the caller
    names the place and the way out).
    """
    tops = _outermost([d for d in directories if site_packages in d.parents and d.is_dir()])
    if not tops:
        return None
    listing = {str(d.relative_to(site_packages)): _listing(d) for d in tops}
    remembered = _read_json(stamp)
    digest = remembered.get("digest") if remembered.get("listing") == _listing_digest(listing, site_packages) else None
    if not isinstance(digest, str) or not (cache / digest / SITE_DIR).is_dir():
        digest = _content_digest(listing, site_packages)
        root = cache / digest
        if not root.is_dir():
            _write_copy(listing, site_packages, root)
        remembered = {"listing": _listing_digest(listing, site_packages), "digest": digest}
        write_text_atomically(stamp, json.dumps(remembered))
    return cache / digest


def _outermost(directories: Sequence[Path]) -> List[Path]:
    unique = sorted(set(directories))
    return [d for d in unique if not any(other in d.parents for other in unique)]


def _listing(source: Path) -> Dict[str, Tuple[int, int]]:
    """``relative path -> (size, modification time in ns)`` of every file under ``source``."""
    out: Dict[str, Tuple[int, int]] = {}
    for top, dirs, files in os.walk(source, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(top, name)
            info = os.stat(full)
            out[os.path.relpath(full, source)] = (info.st_size, info.st_mtime_ns)
    return out


def _listing_digest(listing: Dict[str, Dict[str, Tuple[int, int]]], site_packages: Path) -> str:
    """Where the directories lie and what their listings say: unchanged means the same bytes."""
    h = hashlib.sha256(f"{site_packages}\n".encode())
    for relative, files in sorted(listing.items()):
        h.update(f"{relative}\n".encode())
        for name, (size, mtime) in files.items():
            h.update(f"{name}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()


def _content_digest(listing: Dict[str, Dict[str, Tuple[int, int]]], site_packages: Path) -> str:
    """A digest of the directories' names and bytes: the name of their copy."""
    h = hashlib.sha256()
    for relative, files in sorted(listing.items()):
        for name in files:
            data = (site_packages / relative / name).read_bytes()
            h.update(f"{relative}/{name}\0{len(data)}\n".encode())
            h.update(data)
    return h.hexdigest()[:24]


def _write_copy(listing: Dict[str, Dict[str, Tuple[int, int]]], site_packages: Path, root: Path) -> None:
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}-"))
    try:
        for relative, files in listing.items():
            for name in files:
                target = partial / SITE_DIR / relative / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(site_packages / relative / name, target)
        try:
            os.rename(partial, root)
        except OSError:
            if not root.is_dir():  # not another build's copy of the same bytes, made meanwhile
                raise
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
