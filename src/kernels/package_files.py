"""The files of a kernel package, wherever their bytes live: in memory, on disk, in a wheel.

Wheels and variant directories can hold extensions of hundreds of megabytes, and a hostile
wheel can hold a member that inflates to gigabytes. So the converter never holds package files
in memory: it passes :class:`PackageFile` objects around, hashes them in chunks, and copies
them from one place to another in chunks. Memory stays at one chunk (:data:`CHUNK_BYTES`)
whatever the size of the files.

- :class:`MemoryFile`: bytes made by us (generated ``metadata.json``, tests).
- :class:`DiskFile`: a regular file in a directory (a build's package, a variant directory).
- :class:`ArchiveMember`: a member of a zip archive, inflated on demand and never past the size
  its header declares (zipfile checks the CRC at the end).

Two package files are equal when their contents are (same size and SHA-256), so mappings of
them compare like mappings of bytes.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import Dict, Iterator, Mapping, Union

from .limits import regular_file_stat

__all__ = [
    "CHUNK_BYTES", "ArchiveMember", "DiskFile", "MemoryFile", "PackageFile", "as_package_file", "as_package_files",
]

#: Bytes read or written at a time.
CHUNK_BYTES = 1 << 20


class PackageFile:
    """Content of one package file, read in chunks. Subclasses implement :meth:`chunks` and
    set :attr:`size` (bytes)."""

    size: int

    def __init__(self) -> None:
        self._digests: Dict[str, bytes] = {}

    def chunks(self) -> Iterator[bytes]:
        """The content, :data:`CHUNK_BYTES` at most at a time."""
        raise NotImplementedError

    def digest(self, algorithm: str) -> bytes:
        """The raw ``hashlib`` digest of the content (computed once per algorithm)."""
        if algorithm not in self._digests:
            hasher = hashlib.new(algorithm)
            for chunk in self.chunks():
                hasher.update(chunk)
            self._digests[algorithm] = hasher.digest()
        return self._digests[algorithm]

    def digests(self, algorithms: "tuple[str, ...]") -> Dict[str, bytes]:
        """Several digests from one pass over the content."""
        missing = [a for a in dict.fromkeys(algorithms) if a not in self._digests]
        if missing:
            hashers = {a: hashlib.new(a) for a in missing}
            for chunk in self.chunks():
                for hasher in hashers.values():
                    hasher.update(chunk)
            self._digests.update({a: h.digest() for a, h in hashers.items()})
        return {a: self._digests[a] for a in algorithms}

    def read(self) -> bytes:
        """The whole content in memory: for small files only (``metadata.json``, sources)."""
        return b"".join(self.chunks())

    def copy_to(self, path: Path) -> None:
        """Write the content to ``path`` (created or truncated), a chunk at a time."""
        with open(path, "wb") as out:
            for chunk in self.chunks():
                out.write(chunk)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackageFile):
            return NotImplemented
        return self.size == other.size and self.digest("sha256") == other.digest("sha256")

    __hash__ = None  # type: ignore[assignment]  # equality is by content, which can change


class MemoryFile(PackageFile):
    """Bytes held in memory."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = bytes(data)
        self.size = len(self.data)

    def chunks(self) -> Iterator[bytes]:
        for start in range(0, self.size, CHUNK_BYTES):
            yield self.data[start:start + CHUNK_BYTES]

    def read(self) -> bytes:
        return self.data

    def __repr__(self) -> str:
        return f"MemoryFile({self.size} bytes)"


class DiskFile(PackageFile):
    """A regular file on disk. Refused from ``stat`` (before opening) when it is a FIFO, device
    or socket, which could block a reader forever.

    Raises:
        ValueError: ``path`` is not a regular file.
        OSError: it cannot be stat'ed.
    """

    def __init__(self, path: "os.PathLike[str] | str") -> None:
        super().__init__()
        self.path = Path(path)
        self.size = regular_file_stat(self.path).st_size

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as stream:
            while True:
                chunk = stream.read(CHUNK_BYTES)
                if not chunk:
                    return
                yield chunk

    def __repr__(self) -> str:
        return f"DiskFile({str(self.path)!r})"


class ArchiveMember(PackageFile):
    """A member of an open zip archive, inflated on demand. Reading stops at the size the
    member's header declares (a lying header cannot make it bigger) and fails with
    :class:`zipfile.BadZipFile` when the member holds more or less, or when its CRC is wrong.

    The archive stays open while members refer to it, so what is read later is what was
    validated earlier even if the file's path is replaced meanwhile.
    """

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        super().__init__()
        self.archive = archive
        self.info = info
        self.size = info.file_size

    def chunks(self) -> Iterator[bytes]:
        name = self.info.filename
        with self.archive.open(self.info) as stream:
            left = self.size
            while left > 0:
                chunk = stream.read(min(CHUNK_BYTES, left))
                if not chunk:
                    raise zipfile.BadZipFile(f"member {name!r} is shorter than its header declares")
                left -= len(chunk)
                yield chunk
            if stream.read(1):
                raise zipfile.BadZipFile(f"member {name!r} holds more data than its header declares")

    def __repr__(self) -> str:
        return f"ArchiveMember({self.archive.filename!r}, {self.info.filename!r})"


def as_package_file(value: Union[bytes, bytearray, PackageFile]) -> PackageFile:
    """``value`` as a :class:`PackageFile` (bytes become a :class:`MemoryFile`)."""
    return value if isinstance(value, PackageFile) else MemoryFile(bytes(value))


def as_package_files(files: Mapping[str, Union[bytes, PackageFile]]) -> Dict[str, PackageFile]:
    """Every value of ``files`` as a :class:`PackageFile`."""
    return {path: as_package_file(value) for path, value in files.items()}
