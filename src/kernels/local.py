"""Importing one kernel build variant from a directory, and the checks that come before.

A variant directory (``build/<variant>/``) holds ``metadata.json`` and the kernel's Python
package, either flat (``<variant>/__init__.py``, the current layout) or, in older builds, one
level down (``<variant>/<module>/__init__.py``). The package is imported from its path, *not*
through ``sys.path``, under the build's unique name: the metadata ``id``
(``_relu_cpu_188d93a061``), which is also the op namespace of its compiled code. Two different
builds of the same kernel therefore load side by side, and loading a build again (from the
same directory or another copy of it) gives back the same module::

    >>> from kernels.local import import_variant, read_metadata
    >>> variant = Path("relu/build/torch213-cxx11-cpu-x86_64-linux")        # doctest: +SKIP
    >>> relu = import_variant(variant, read_metadata(variant))              # doctest: +SKIP
    >>> relu.__name__                                                       # doctest: +SKIP
    '_relu_cpu_188d93a061'

Most users want :func:`kernels.get_local_kernel` or :func:`kernels.get_kernel` instead, which
pick the variant and run the checks. Nothing here imports torch at module level.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import IncompatibleKernelError, KernelTreeError, MetadataError, MissingPythonDependencyError
from .metadata import METADATA_FILENAME, Metadata
from .python_depends import PYTHON_DEPENDS_PIP

__all__ = [
    "LoadedKernel",
    "RepoInfo",
    "check_arch",
    "check_kernels_minver",
    "check_python_depends",
    "get_kernel_dep",
    "get_loaded_kernels",
    "import_variant",
    "loaded_module",
    "package_init",
    "read_metadata",
    "variant_dirs",
]

logger = logging.getLogger("kernels")

#: Module to look for, per ``python-depends`` name; None: nothing importable to check.
PYTHON_DEPENDS_IMPORT: Mapping[str, Optional[str]] = {
    "einops": "einops",
    "helion": "helion",
    "tvm-ffi": "tvm_ffi",
    "nvidia-cutlass-dsl": "cutlass",
    "nki": "nki",
    "onednn": None,
}


@dataclass(frozen=True)
class RepoInfo:
    """Where a kernel loaded from the Hub came from: its repository and the commit it was
    loaded at.

    Example::

        >>> RepoInfo("kernels-community/relu", "0123456789abcdef0123456789abcdef01234567").repo_id
        'kernels-community/relu'
    """

    repo_id: str
    revision: str


@dataclass(frozen=True)
class LoadedKernel:
    """One loaded variant: its metadata, its module, and (for Hub loads) :class:`RepoInfo`;
    ``path`` is the variant directory it was loaded from.

    The dataclass fields are those of kernels 0.17.2 (``metadata``, ``module``,
    ``repo_info``); ``path`` is a read-only property, not a field, so ``dataclasses.fields``,
    ``asdict``, equality and ``repr`` are what 0.17.2 gives.

    Example::

        >>> [k.metadata.name for k in get_loaded_kernels()]                     # doctest: +SKIP
        ['relu']
    """

    metadata: Metadata
    module: ModuleType
    repo_info: Optional[RepoInfo] = None

    def __init__(self, metadata: Metadata, module: ModuleType, repo_info: Optional[RepoInfo] = None,
                 path: Optional[Path] = None) -> None:
        object.__setattr__(self, "metadata", metadata)
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "repo_info", repo_info)
        object.__setattr__(self, "_path", path)

    @property
    def path(self) -> Optional[Path]:
        """The variant directory the kernel was loaded from."""
        return self.__dict__.get("_path")


_LOCK = threading.RLock()
_LOADED: Dict[Path, LoadedKernel] = {}


class _ImportFrame:
    """The kernel being imported and its resolved ``kernel-depends`` (for get_kernel_dep)."""

    def __init__(self, metadata: Metadata, dependencies: Mapping[str, ModuleType]) -> None:
        self.metadata = metadata
        self.dependencies = dict(dependencies)


_FRAMES = threading.local()


def _frames() -> List[_ImportFrame]:
    if not hasattr(_FRAMES, "stack"):
        _FRAMES.stack = []
    return _FRAMES.stack


# --------------------------------------------------------------------------- finding variants


def read_metadata(variant_dir: Path) -> Metadata:
    """The ``metadata.json`` of a variant directory (``MetadataError`` names the file).

    Example::

        >>> read_metadata(Path("build/torch-cpu")).id                         # doctest: +SKIP
        '_silu_and_mul_cpu_415a93d459'
    """
    return Metadata.read_from_file(Path(variant_dir) / METADATA_FILENAME)


def variant_dirs(path: Path) -> Tuple[Path, List[Path]]:
    """``(build dir, its subdirectories)`` of a repo root or its ``build/``; hidden entries and
    ``__pycache__`` are left out.

    Example::

        >>> variant_dirs(Path("relu"))                                        # doctest: +SKIP
        (PosixPath('relu/build'), [PosixPath('relu/build/torch213-cxx11-cpu-x86_64-linux')])
    """
    path = Path(path)
    build = path / "build" if (path / "build").is_dir() else path
    dirs = sorted(
        p for p in build.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name != "__pycache__"
    )
    return build, dirs


def package_init(variant_dir: Path, metadata: Metadata) -> Path:
    """The ``__init__.py`` to import: ``<variant>/__init__.py``, else the older layout
    ``<variant>/<module>/__init__.py``; ``ImportError`` when there is neither.

    Example::

        >>> package_init(Path("build/torch-cpu"), metadata)                   # doctest: +SKIP
        PosixPath('build/torch-cpu/__init__.py')
    """
    flat = Path(variant_dir) / "__init__.py"
    if flat.is_file():
        return flat
    nested = Path(variant_dir) / metadata.python_name / "__init__.py"
    if nested.is_file():
        return nested
    raise ImportError(
        f"{variant_dir}: kernel {metadata.name!r} has no Python package (expected {flat.name} in the "
        f"variant directory, or {metadata.python_name}/__init__.py in older builds)",
        name=metadata.id, path=str(variant_dir),
    )


# --------------------------------------------------------------------------- checks


def check_python_depends(metadata: Metadata, source: Optional[str] = None) -> None:
    """Every ``python-depends`` name must be known and its package importable.

    Raises :class:`~kernels.errors.MetadataError` (a ``ValueError``) for an unknown name and
    :class:`~kernels.errors.MissingPythonDependencyError` (an ``ImportError`` naming the pip
    package) for a package that is not installed.

    Example::

        >>> check_python_depends(Metadata.from_bytes(b'{"name": "k", "id": "_k_cpu_1",
        ...     "version": 1, "license": "MIT", "python-depends": ["einops"],
        ...     "backend": {"type": "cpu"}}'))                                   # doctest: +SKIP
        Traceback (most recent call last):
        kernels.errors.MissingPythonDependencyError: kernel 'k' needs the Python package 'einops' ...
    """
    for dep in metadata.python_depends:
        if dep not in PYTHON_DEPENDS_PIP:
            raise MetadataError(
                f"unknown Python dependency {dep!r} (known: {', '.join(sorted(PYTHON_DEPENDS_PIP))}); "
                "this kernel may need a newer kernels release",
                source=source, key="python-depends",
            )
        module = PYTHON_DEPENDS_IMPORT.get(dep, dep.replace("-", "_"))
        if module is None:
            continue
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            pip_name = PYTHON_DEPENDS_PIP[dep]
            raise MissingPythonDependencyError(
                f"kernel {metadata.name!r} needs the Python package {pip_name!r} (python-depends: "
                f"{dep}), which is not installed; install it with: pip install {pip_name}",
                name=module,
            )


def check_kernels_minver(metadata: Metadata) -> None:
    """``kernels-minver``: this ``kernels`` release must be at least that version (a dev build
    counts as its release). Raises :class:`~kernels.errors.IncompatibleKernelError`.

    Example::

        >>> check_kernels_minver(dataclasses.replace(metadata, kernels_minver="99.0"))  # doctest: +SKIP
        Traceback (most recent call last):
        kernels.errors.IncompatibleKernelError: kernel 'relu' needs kernels >= 99.0, this is ...
    """
    if not metadata.kernels_minver:
        return
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    from . import __version__  # noqa: PLC0415

    try:
        needed = Version(metadata.kernels_minver)
    except InvalidVersion:
        raise MetadataError(f"expected a version such as \"0.17.0\", got {metadata.kernels_minver!r}",
                            key="kernels-minver") from None
    if Version(Version(__version__).base_version) < needed:
        raise IncompatibleKernelError(
            f"kernel {metadata.name!r} needs kernels >= {metadata.kernels_minver}, this is kernels "
            f"{__version__}; upgrade with: pip install -U kernels"
        )


def warn_if_dirty(metadata: Metadata) -> None:
    """Log a warning when the kernel was built from a source tree with uncommitted changes."""
    kernel = (metadata.provenance or {}).get("kernel") or {}
    if kernel.get("dirty"):
        logger.warning("kernel %r (%s) was built from a source tree with uncommitted changes "
                       "(commit %s)", metadata.name, metadata.id, kernel.get("commit", "unknown"))


_CUDA_ARCH_RE = re.compile(r"^(\d+)\.(\d+)([af]?)(\+PTX)?$")


def cuda_arch_fits(archs: Sequence[str], capability: Tuple[int, int]) -> bool:
    """Whether code for ``archs`` runs on a GPU of compute ``capability``.

    ``X.Y`` and ``X.Yf`` fit the same major with a minor at least ``Y``; ``X.Ya`` only exactly
    ``X.Y``; ``+PTX`` any capability at least ``X.Y``. Archs that do not parse are ignored,
    and when none parses the answer is yes.

    Example::

        >>> cuda_arch_fits(["8.0", "9.0a"], (8, 6)), cuda_arch_fits(["9.0a"], (10, 0))
        (True, False)
        >>> cuda_arch_fits(["8.0+PTX"], (12, 0))
        True
    """
    parsed = [m for m in (_CUDA_ARCH_RE.match(a.strip()) for a in archs) if m]
    if not parsed:
        return True
    for m in parsed:
        built = (int(m[1]), int(m[2]))
        if m[4] and capability >= built:
            return True
        if m[3] == "a":
            if capability == built:
                return True
        elif capability[0] == built[0] and capability[1] >= built[1]:
            return True
    return False


def check_arch(metadata: Metadata) -> None:
    """The GPU must be one the variant was compiled for (``backend.archs``).

    CUDA: see :func:`cuda_arch_fits`; ROCm: the device's ``gcnArchName`` (before ``:``) must
    be listed. Skipped without archs or without a GPU. Raises
    :class:`~kernels.errors.IncompatibleKernelError` (a ``RuntimeError``).

    Example::

        >>> check_arch(metadata)   # no GPU, or a GPU the kernel supports: nothing happens  # doctest: +SKIP
    """
    archs = metadata.backend.archs
    kind = metadata.backend.type
    if not archs or kind not in ("cuda", "rocm"):
        return
    try:
        import torch  # noqa: PLC0415 - only when a GPU kernel is loaded
    except ImportError:  # tvm-ffi kernels run without torch: ask the CUDA runtime itself
        capability = _cuda_capability_without_torch() if kind == "cuda" else None
        if capability is not None and not cuda_arch_fits(archs, capability):
            raise IncompatibleKernelError(
                f"kernel {metadata.name!r} was compiled for CUDA archs {', '.join(archs)}; this "
                f"GPU has compute capability {capability[0]}.{capability[1]}"
            ) from None
        return
    try:
        if not torch.cuda.is_available():
            return
        hip = getattr(torch.version, "hip", None)
        device = torch.cuda.current_device()
        if kind == "cuda" and not hip:
            capability = tuple(torch.cuda.get_device_capability(device))
            if not cuda_arch_fits(archs, capability):  # type: ignore[arg-type]
                raise IncompatibleKernelError(
                    f"kernel {metadata.name!r} was compiled for CUDA archs {', '.join(archs)}; this "
                    f"GPU has compute capability {capability[0]}.{capability[1]}"
                )
        elif kind == "rocm" and hip:
            name = str(torch.cuda.get_device_properties(device).gcnArchName).split(":")[0]
            if name not in archs:
                raise IncompatibleKernelError(
                    f"kernel {metadata.name!r} was compiled for ROCm archs {', '.join(archs)}; "
                    f"this GPU is {name}"
                )
    except IncompatibleKernelError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken device query cannot prove a mismatch
        logger.debug("skipping the GPU arch check of %s: %s", metadata.name, exc)


def _cuda_capability_without_torch() -> Optional[Tuple[int, int]]:
    """The compute capability of the current CUDA device, asked of ``libcudart`` through
    ctypes (for kernels loaded without torch); None without libcudart or a device.

    Example::

        >>> _cuda_capability_without_torch()          # on an H200                # doctest: +SKIP
        (9, 0)
    """
    import ctypes  # noqa: PLC0415
    import ctypes.util  # noqa: PLC0415

    name = ctypes.util.find_library("cudart")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        count, device = ctypes.c_int(0), ctypes.c_int(0)
        if lib.cudaGetDeviceCount(ctypes.byref(count)) != 0 or count.value < 1:
            return None
        if lib.cudaGetDevice(ctypes.byref(device)) != 0:
            return None
        major, minor = ctypes.c_int(0), ctypes.c_int(0)
        # cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrComputeCapabilityMinor = 76
        if (lib.cudaDeviceGetAttribute(ctypes.byref(major), 75, device) != 0
                or lib.cudaDeviceGetAttribute(ctypes.byref(minor), 76, device) != 0):
            return None
    except (OSError, AttributeError):
        return None
    return major.value, minor.value


# --------------------------------------------------------------------------- importing


def loaded_module(variant_dir: Path) -> Optional[ModuleType]:
    """The module already loaded from ``variant_dir``, if any."""
    loaded = _LOADED.get(Path(variant_dir).resolve())
    return loaded.module if loaded is not None else None


def import_variant(
    variant_dir: Path,
    metadata: Metadata,
    *,
    repo_info: Optional[RepoInfo] = None,
    dependencies: Optional[Mapping[str, ModuleType]] = None,
) -> ModuleType:
    """Import the kernel package of ``variant_dir`` as ``sys.modules[metadata.id]``.

    The package is loaded from its path (``sys.path`` is not touched) with its directory as
    ``__path__``, so relative imports inside it work. A failed import leaves nothing behind in
    ``sys.modules``. The same directory, or another one holding the same build (same ``id``),
    gives the same module object. ``dependencies`` (repo id -> module) are what
    :func:`get_kernel_dep` answers while the package runs.

    Example::

        >>> mod = import_variant(Path("build/torch-cpu"), read_metadata(Path("build/torch-cpu")))  # doctest: +SKIP
        >>> mod is sys.modules[mod.__name__]                                   # doctest: +SKIP
        True
    """
    key = Path(variant_dir).resolve()
    with _LOCK:
        loaded = _LOADED.get(key)
        if loaded is not None:
            return loaded.module
        module = sys.modules.get(metadata.id)
        if module is not None and not any(k.module is module for k in _LOADED.values()):
            raise KernelTreeError(
                str(variant_dir), f"metadata.json's id {metadata.id!r} names a module that is already "
                "imported and was not loaded by kernels; refusing to hand it out or replace it")
        if module is None:
            if importlib.util.find_spec(metadata.id) is not None:
                raise KernelTreeError(
                    str(variant_dir), f"metadata.json's id {metadata.id!r} names a module that Python can "
                    "import from elsewhere; a kernel's id must be its own op namespace (_<name>_<backend>_<hash>)")
            module = _exec_package(Path(variant_dir), metadata, dependencies or {})
        else:
            logger.debug("kernel build %s is already loaded; reusing it for %s", metadata.id, variant_dir)
        _LOADED[key] = LoadedKernel(metadata, module, repo_info, key)
        return module


def _exec_package(variant_dir: Path, metadata: Metadata, dependencies: Mapping[str, ModuleType]) -> ModuleType:
    init = package_init(variant_dir, metadata)
    name = metadata.id
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    if spec is None or spec.loader is None:  # pragma: no cover - only for exotic file systems
        raise ImportError(f"cannot import {init}", name=name, path=str(init))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _frames().append(_ImportFrame(metadata, dependencies))
    # Kernel trees and cache snapshots stay free of __pycache__ (they are checked and shipped).
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for registered in [m for m in list(sys.modules) if m == name or m.startswith(name + ".")]:
            del sys.modules[registered]
        raise
    finally:
        sys.dont_write_bytecode = dont_write
        _frames().pop()
    return module


def get_loaded_kernels() -> List[LoadedKernel]:
    """Every variant loaded in this process, one entry per variant directory, in load order.

    ``repo_info`` is set for kernels that came from the Hub and None for local ones.

    Example::

        >>> import kernels
        >>> relu = kernels.get_kernel("kernels-community/relu", version=1)      # doctest: +SKIP
        >>> [(k.metadata.name, k.repo_info.repo_id) for k in kernels.get_loaded_kernels()]  # doctest: +SKIP
        [('relu', 'kernels-community/relu')]
    """
    with _LOCK:
        return list(_LOADED.values())


def get_kernel_dep(repo_id: str) -> ModuleType:
    """The module of a kernel dependency, for use by a kernel's own code *while it is being
    imported*: ``repo_id`` must be listed in its metadata's ``kernel-depends``.

    Raises ``RuntimeError`` outside a kernel import or for an undeclared dependency.

    Example (inside a kernel's ``__init__.py``)::

        from kernels import get_kernel_dep
        activation = get_kernel_dep("kernels-community/activation")
    """
    stack = _frames()
    if not stack:
        raise RuntimeError("get_kernel_dep() can only be called while a kernel is being imported "
                           "(from the kernel's own code)")
    frame = stack[-1]
    if repo_id not in frame.dependencies:
        declared = ", ".join(frame.dependencies) or "none"
        raise RuntimeError(
            f"kernel {frame.metadata.name!r} does not declare {repo_id!r} in its kernel-depends "
            f"(declared: {declared})"
        )
    return frame.dependencies[repo_id]
