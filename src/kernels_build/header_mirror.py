"""Copies, kept in the build directory, of the header directories a build reads from site-packages.

Why: an isolated build (``pip wheel .``, ``python -m build``, ``uv build``) installs torch
into a new temporary environment every time. Compile commands that named those headers where
they lie would differ in every build, and ninja would recompile every file, as it would after a
build from another venv. Compile commands name the copies instead
(``<build dir>/site-packages/torch/include``, the layout of site-packages kept), which stay at
one path. A copy is brought up to date before each build: files whose bytes are unchanged keep
their modification time, so ninja recompiles only what includes a header that really changed
(another torch), and nothing when the same torch sits somewhere else.

A directory's copy is trusted only through its stamp (``<mirror>/.stamps/<name>.json``: the
source directory and a digest of its listing, names, sizes and modification times), written
after the copy is complete and removed before it is touched; a stopped copy is redone.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

#: Where the copies go, inside a variant's build directory.
MIRROR_DIR = "site-packages"


def mirrored_path(path: Path, site_packages: Path, mirror: Path) -> Path:
    """Where the build reads ``path`` from: its copy under ``mirror`` when ``path`` lies in
    ``site_packages``, else ``path`` itself.

    >>> str(mirrored_path(Path("/env/sp/torch/include"), Path("/env/sp"), Path("/b/site-packages")))
    '/b/site-packages/torch/include'
    >>> str(mirrored_path(Path("/usr/include"), Path("/env/sp"), Path("/b/site-packages")))
    '/usr/include'
    """
    try:
        return mirror / path.relative_to(site_packages)
    except ValueError:
        return path


def sync_mirror(directories: Iterable[Path], site_packages: Path, mirror: Path) -> List[Path]:
    """Bring the copies of ``directories`` (those under ``site_packages``; a directory inside
    another one is copied with it) up to date under ``mirror``; return the directories copied.

    Raises ``OSError`` when a file cannot be read or written (the caller names the build
    directory); a directory that does not exist is left to the compiler to report.
    """
    tops = _outermost([d for d in directories if d != mirrored_path(d, site_packages, mirror) and d.is_dir()])
    for source in tops:
        _sync_one(source, mirror / source.relative_to(site_packages), mirror / ".stamps")
    return tops


def _outermost(directories: Sequence[Path]) -> List[Path]:
    unique = sorted(set(directories))
    return [d for d in unique if not any(other in d.parents for other in unique)]


def _sync_one(source: Path, copy: Path, stamps: Path) -> None:
    listing = _listing(source)
    stamp = stamps / (str(copy.relative_to(stamps.parent)).replace(os.sep, "__") + ".json")
    wanted = {"source": str(source), "listing": _digest(listing)}
    if copy.is_dir() and _read_stamp(stamp) == wanted:
        return
    stamp.unlink(missing_ok=True)
    for relative, (size, _) in listing.items():
        _copy_if_different(source / relative, copy / relative, size)
    _remove_extra(copy, set(listing))
    stamps.mkdir(parents=True, exist_ok=True)
    _write_atomically(stamp, json.dumps(wanted, sort_keys=True).encode())


def _listing(source: Path) -> Dict[str, Tuple[int, int]]:
    """``relative path -> (size, modification time in ns)`` of every file under ``source``,
    links followed."""
    out: Dict[str, Tuple[int, int]] = {}
    for top, dirs, files in os.walk(source, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(top, name)
            info = os.stat(full)
            out[os.path.relpath(full, source)] = (info.st_size, info.st_mtime_ns)
    return out


def _digest(listing: Dict[str, Tuple[int, int]]) -> str:
    h = hashlib.sha256()
    for relative, (size, mtime) in listing.items():
        h.update(f"{relative}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()


def _read_stamp(stamp: Path) -> Optional[Dict[str, str]]:
    try:
        value = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _copy_if_different(source: Path, copy: Path, size: int) -> None:
    data = source.read_bytes()
    try:
        if copy.stat().st_size == size and copy.read_bytes() == data:
            return  # the same bytes: keep the copy's modification time, and ninja's verdict
    except FileNotFoundError:
        pass
    copy.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(copy, data)


def _remove_extra(copy: Path, keep: Set[str]) -> None:
    if not copy.is_dir():
        return
    for top, dirs, files in os.walk(copy, topdown=False):
        for name in files:
            full = os.path.join(top, name)
            if os.path.relpath(full, copy) not in keep:
                os.unlink(full)
        if top != str(copy) and not os.listdir(top):
            os.rmdir(top)


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            # name the file being written, not its temporary name
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
