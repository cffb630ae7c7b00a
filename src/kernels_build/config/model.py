"""The in-memory model of a kernel repository's ``build.toml``.

The parser (:mod:`kernels_build.config.parse`) validates the file and produces these frozen
dataclasses; everything downstream (variant planning, CMake generation, metadata) reads only
these objects, never the raw TOML. Field names follow the TOML keys with ``-`` -> ``_``.

Edition-less (edition 4) files are upgraded in memory, so :attr:`General.edition` is always 5;
:attr:`BuildConfig.source_edition` records what the file itself said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple, Union

__all__ = [
    "Version",
    "KernelDependency",
    "BackendDepends",
    "Hub",
    "General",
    "Torch",
    "TorchNoarch",
    "TvmFfi",
    "Framework",
    "Kernel",
    "BuildConfig",
    "DEFAULT_PYEXT",
]

#: A version as dotted integers with trailing zeros dropped: ``"12.8"`` -> ``(12, 8)``.
Version = Tuple[int, ...]

#: Extensions of the files shipped from the Python package directory unless ``pyext`` says otherwise.
DEFAULT_PYEXT: Tuple[str, ...] = ("py", "pyi")


@dataclass(frozen=True)
class KernelDependency:
    """Another Hub kernel this kernel loads at runtime (``kernel-depends`` entry).

    Exactly one of ``version`` (a ``v<N>`` branch) and ``revision`` (a git ref) is set.
    """

    repo_id: str
    version: Optional[int] = None
    revision: Optional[str] = None


@dataclass(frozen=True)
class BackendDepends:
    """One of ``[general.cuda]``, ``[general.xpu]``, ``[general.neuron]``, ``[general.tpu]``.

    ``minver``/``maxver`` (inclusive toolkit bounds) exist only for CUDA.
    """

    python_depends: Tuple[str, ...] = ()
    kernel_depends: Tuple[KernelDependency, ...] = ()
    minver: Optional[Version] = None
    maxver: Optional[Version] = None


@dataclass(frozen=True)
class Hub:
    """``[general.hub]``: where ``upload`` pushes the kernel."""

    repo_id: Optional[str] = None
    branch: Optional[str] = None


@dataclass(frozen=True)
class General:
    """``[general]``."""

    name: str
    version: int
    license: str
    backends: Tuple[str, ...]
    edition: int = 5  # always 5: older editions are upgraded in memory or refused
    upstream: Optional[str] = None
    source: Optional[str] = None
    python_depends: Tuple[str, ...] = ()
    kernel_depends: Tuple[KernelDependency, ...] = ()
    hub: Hub = Hub()
    # Keys only for the backend tables present in the file. Excluded from the hash so that
    # the frozen dataclass stays hashable despite holding a dict.
    backend_depends: Mapping[str, BackendDepends] = field(default_factory=dict, hash=False)

    @property
    def module_name(self) -> str:
        """The Python module name: ``my-relu`` -> ``my_relu``."""
        return self.name.replace("-", "_")

    def python_depends_for(self, backend: str) -> Tuple[str, ...]:
        """General Python dependencies followed by those of ``backend`` (duplicates dropped)."""
        extra = self.backend_depends.get(backend, BackendDepends()).python_depends
        return _unique(self.python_depends + extra)

    def kernel_depends_for(self, backend: str) -> Tuple[KernelDependency, ...]:
        """General kernel dependencies followed by those of ``backend`` (duplicates dropped)."""
        extra = self.backend_depends.get(backend, BackendDepends()).kernel_depends
        return _unique(self.kernel_depends + extra)


@dataclass(frozen=True)
class Torch:
    """``[torch]``: a Torch extension with compiled code."""

    src: Tuple[str, ...] = ()
    include: Tuple[str, ...] = ()
    pyext: Tuple[str, ...] = DEFAULT_PYEXT
    minver: Optional[Version] = None
    maxver: Optional[Version] = None
    cxx_flags: Tuple[str, ...] = ()
    # backend -> minimum Torch version of the stable ABI; only backends of general.backends.
    stable_abi: Mapping[str, Version] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class TorchNoarch:
    """``[torch-noarch]``: a Python-only kernel (variants ``torch-<backend>``)."""

    pyext: Tuple[str, ...] = DEFAULT_PYEXT
    cuda_capabilities: Tuple[str, ...] = ()  # copied into metadata backend.archs for cuda
    rocm_archs: Tuple[str, ...] = ()  # copied into metadata backend.archs for rocm


@dataclass(frozen=True)
class TvmFfi:
    """``[tvm-ffi]``: an extension bound through Apache TVM FFI instead of Torch."""

    src: Tuple[str, ...]
    include: Tuple[str, ...] = ()
    pyext: Tuple[str, ...] = DEFAULT_PYEXT
    cxx_flags: Tuple[str, ...] = ()


Framework = Union[Torch, TorchNoarch, TvmFfi]


@dataclass(frozen=True)
class Kernel:
    """``[kernel.<name>]``: one compiled component for one backend."""

    name: str
    backend: str
    depends: Tuple[str, ...]
    src: Tuple[str, ...]
    include: Tuple[str, ...] = ()
    cxx_flags: Tuple[str, ...] = ()
    cuda_capabilities: Optional[Tuple[str, ...]] = None  # None: the builder's default list
    cuda_flags: Tuple[str, ...] = ()
    cuda_minver: Optional[Version] = None  # skipped on older CUDA toolkits
    rocm_archs: Optional[Tuple[str, ...]] = None  # None: every supported architecture
    hip_flags: Tuple[str, ...] = ()
    sycl_flags: Tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildConfig:
    """A validated ``build.toml`` together with where it lives."""

    path: Path  # absolute path of build.toml
    root: Path  # the kernel repository root (build.toml's directory)
    source_edition: Optional[int]  # 5, or None for edition-less (edition 4) files
    general: General
    framework: Framework
    kernels: Tuple[Kernel, ...] = ()

    def kernels_for(self, backend: str) -> Tuple[Kernel, ...]:
        """The kernels of ``backend``, in file order."""
        return tuple(k for k in self.kernels if k.backend == backend)

    @property
    def python_dir(self) -> Path:
        """The kernel's Python package: ``torch-ext/<module>`` (``tvm-ffi-ext/<module>``)."""
        ext = "tvm-ffi-ext" if isinstance(self.framework, TvmFfi) else "torch-ext"
        return self.root / ext / self.general.module_name

    @property
    def is_noarch(self) -> bool:
        """True for Python-only kernels (``[torch-noarch]``)."""
        return isinstance(self.framework, TorchNoarch)

    @property
    def is_tvm_ffi(self) -> bool:
        """True for kernels bound through TVM FFI (``[tvm-ffi]``) instead of torch."""
        return isinstance(self.framework, TvmFfi)


def _unique(items: tuple) -> tuple:
    """Drop later duplicates, keeping order (a dependency listed twice is still one)."""
    return tuple(dict.fromkeys(items))
