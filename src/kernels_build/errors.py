"""User-facing errors of the build backend.

Every error a kernel author can cause (a malformed build.toml, a missing source, a toolchain
that does not fit, a wheel that breaks the compliance rules) is one of these. The PEP 517
hooks turn them into one clear message on stderr and a non-zero exit, without a traceback.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Optional, Union


class KernelBuildError(Exception):
    """Base class: ``str(error)`` is the complete message shown to the user."""


class ConfigError(KernelBuildError):
    """build.toml (or pyproject.toml) is malformed or asks for something unsupported.

    The message names the file, the key (dotted path, e.g. ``kernel.relu_cuda.cuda-capabilities``)
    and what is allowed.
    """

    def __init__(self, file: Union[str, Path], key: Optional[str], message: str) -> None:
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(where + message)


class SourceError(KernelBuildError):
    """The kernel repository's files do not match what build.toml describes."""


class ToolchainError(KernelBuildError):
    """The build environment (torch, nvcc, compilers) cannot build the requested variant."""


class OpNamespaceError(KernelBuildError):
    """Kernel Python code registers ops under a literal namespace instead of the unique one."""


class ComplianceError(KernelBuildError):
    """A built extension breaks the ABI3 or manylinux rules; the message lists the symbols."""


class BuildFailedError(KernelBuildError):
    """CMake or the compiler failed; the compiler's (or CMake's) messages have been shown and the
    message names the full build log (``.kernels_build/<variant>/build.log``)."""


class DependencyError(KernelBuildError):
    """A library named in ``depends`` cannot be provided; the message names the kernel, the
    library and every way to provide it."""


class FileSystemError(KernelBuildError):
    """A file the build needs cannot be written (or reached): the place is read-only or not
    ours (``kind`` ``"read-only"``), or its file system is full, over quota or past a file size
    limit (``kind`` ``"no-space"``). The message names the file or directory and the way out."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind

    @classmethod
    def from_os_error(cls, exc: OSError, doing: Optional[str] = None,
                      target: Optional[Union[str, Path]] = None) -> Optional["FileSystemError"]:
        """``<doing> <file>: <why>`` (``cannot write ...: no space left on device; free some
        space on its file system``) for an ``OSError`` of one of those kinds, else None: any
        other ``OSError`` is a bug, to be shown in full. ``target`` (default: the error's file
        name; a failed ``write`` has none) names the file or directory."""
        what = target if target is not None else (exc.filename if isinstance(exc.filename, str) else "a file")
        if exc.errno in _NO_SPACE:
            return cls(f"{doing or 'cannot write'} {what}: {_NO_SPACE[exc.errno]}; free some space on its "
                       "file system", "no-space")
        if exc.errno in _NOT_WRITABLE:
            default = "cannot write" if exc.errno == errno.EROFS else "cannot access"
            return cls(f"{doing or default} {what}: {_NOT_WRITABLE[exc.errno]}", "read-only")
        return None


#: ``errno`` of a write that failed for lack of room, as the user should read it.
_NO_SPACE = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (past the file size limit, ulimit -f, or the file system's largest file)",
}
#: ``errno`` of a place that may not be written (or read).
_NOT_WRITABLE = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
NO_SPACE_ERRNOS = frozenset(_NO_SPACE)
#: How tools (compilers, linkers, CMake, ninja) word the :data:`_NO_SPACE` errors: ``strerror``.
NO_SPACE_MESSAGES = ("No space left on device", "Disk quota exceeded", "File too large")
