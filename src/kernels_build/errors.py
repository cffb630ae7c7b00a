"""User-facing errors of the build backend.

Every error a kernel author can cause (a malformed build.toml, a missing source, a toolchain
that does not fit, a wheel that breaks the compliance rules) is one of these. The PEP 517
hooks turn them into one clear message on stderr and a non-zero exit, without a traceback.
"""

from __future__ import annotations

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
