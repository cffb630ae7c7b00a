"""Bounds on what the project reads from other people, checked before the work they would cost.

Each bound has a default that real kernels stay far below, and an environment variable that
moves it (read at the moment of the check, so a process can change it):

============================  =================================  =========================
bound                         environment variable               default
============================  =================================  =========================
members of one archive        KERNELS_MAX_ARCHIVE_MEMBERS        10000
bytes of one member           KERNELS_MAX_MEMBER_BYTES           4 GiB (uncompressed)
bytes of one archive          KERNELS_MAX_ARCHIVE_BYTES          8 GiB (uncompressed)
compression ratio of a member KERNELS_MAX_COMPRESSION_RATIO      250 (members over 1 MiB)
bytes of a .dist-info file    KERNELS_MAX_TEXT_MEMBER_BYTES      16 MiB (read into memory)
bytes of a metadata.json      KERNELS_MAX_METADATA_BYTES         1 MiB
bytes of a kernels.lock       KERNELS_MAX_LOCKFILE_BYTES         16 MiB
============================  =================================  =========================

Archive bounds are judged from the zip headers before anything is inflated; members are then
inflated in chunks and stopped at the size their header declared, so a lying header cannot
make a member bigger (zipfile also checks each member's CRC). Members are hashed and copied a
chunk at a time (:mod:`kernels.package_files`): memory stays flat whatever the archive; only a
wheel's small ``.dist-info`` files and ``metadata.json`` are read whole.
"""

from __future__ import annotations

import os
from typing import Dict, Tuple

#: name -> (environment variable, default)
_BOUNDS: Dict[str, Tuple[str, int]] = {
    "archive_members": ("KERNELS_MAX_ARCHIVE_MEMBERS", 10_000),
    "member_bytes": ("KERNELS_MAX_MEMBER_BYTES", 4 << 30),
    "archive_bytes": ("KERNELS_MAX_ARCHIVE_BYTES", 8 << 30),
    "compression_ratio": ("KERNELS_MAX_COMPRESSION_RATIO", 250),
    "text_member_bytes": ("KERNELS_MAX_TEXT_MEMBER_BYTES", 16 << 20),
    "metadata_bytes": ("KERNELS_MAX_METADATA_BYTES", 1 << 20),
    "lockfile_bytes": ("KERNELS_MAX_LOCKFILE_BYTES", 16 << 20),
}

#: Members up to this size may compress better than the ratio bound (tiny text files do).
RATIO_EXEMPT_BYTES = 1 << 20


def bound(name: str) -> int:
    """The bound ``name`` (see the table above); a malformed environment value is ignored."""
    variable, default = _BOUNDS[name]
    raw = os.environ.get(variable, "")
    return int(raw) if raw.strip().isdigit() and int(raw) > 0 else default


def describe(name: str) -> str:
    """``"1048576 bytes (KERNELS_MAX_METADATA_BYTES)"``: a bound and how to move it, for errors."""
    variable, _ = _BOUNDS[name]
    return f"{bound(name)} ({variable})"


def regular_file_stat(path: "os.PathLike[str] | str") -> os.stat_result:
    """``os.stat(path)`` of a regular file (after links), judged without opening it: reading a
    FIFO or a device could block forever.

    Raises:
        ValueError: ``path`` is not a regular file.
        OSError: it cannot be stat'ed (``FileNotFoundError`` when it does not exist).
    """
    import stat  # noqa: PLC0415

    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{os.fspath(path)} is not a regular file (a FIFO, device or socket?); refusing to read it")
    return info


def read_regular_file(path: "os.PathLike[str] | str", name: str) -> bytes:
    """The bytes of the file at ``path``, which must be a regular file (after links) of at most
    the bound ``name``. Judged with ``stat`` before the file is opened, so a FIFO or device
    never blocks the reader and an oversized file is never read.

    Raises:
        ValueError: not a regular file, or larger than the bound (the message says which).
        OSError: the file cannot be read (``FileNotFoundError`` when it does not exist).
    """
    info = regular_file_stat(path)
    limit = bound(name)
    if info.st_size > limit:
        raise ValueError(f"{os.fspath(path)} is {info.st_size} bytes, more than {describe(name)}")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise ValueError(f"{os.fspath(path)} is more than {describe(name)}")
    return data
