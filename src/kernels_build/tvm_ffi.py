"""The TVM FFI framework (``[tvm-ffi]``): what the build needs of ``apache-tvm-ffi``.

A ``[tvm-ffi]`` kernel is bound through Apache TVM FFI instead of torch: its sources include
``<tvm/ffi/...>``, export functions with ``TVM_FFI_DLL_EXPORT_TYPED_FUNC``, and the library
``<ops name>.so`` links ``libtvm_ffi.so`` (shipped in the ``apache-tvm-ffi`` wheel) and nothing
of torch or Python. At run time the generated ``_ops.py`` loads it with
``tvm_ffi.load_module``; its functions take any DLPack tensor (torch, JAX, NumPy...).

The installation is read from the package's files (``tvm_ffi/include``, ``tvm_ffi/lib``) and
metadata, without importing ``tvm_ffi`` (which would import torch when present).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Tuple

from .errors import SourceError, ToolchainError

__all__ = ["DISTRIBUTION", "TvmFfiInfo", "inspect_tvm_ffi", "render_ops_py", "torch_includes"]

#: The PyPI distribution of TVM FFI (import name ``tvm_ffi``).
DISTRIBUTION = "apache-tvm-ffi"

#: Backends a tvm-ffi kernel can be built for here. (TVM FFI itself knows more devices; the
#: builder compiles cpu and cuda tvm-ffi kernels, the backends it can test.)
TVM_FFI_BACKENDS = ("cpu", "cuda")


@dataclass(frozen=True)
class TvmFfiInfo:
    """The ``apache-tvm-ffi`` installation a tvm-ffi kernel is compiled against."""

    version: str  # "0.1.15.post2"
    package_dir: Path  # .../site-packages/tvm_ffi

    @property
    def major_minor(self) -> Tuple[int, int]:
        """``(0, 1)`` for 0.1.15.post2: the part of the version a variant name carries."""
        numbers = re.match(r"(\d+)\.(\d+)", self.version)
        assert numbers is not None  # checked by inspect_tvm_ffi
        return int(numbers.group(1)), int(numbers.group(2))

    @property
    def include_dirs(self) -> Tuple[Path, ...]:
        """TVM FFI's headers (``tvm/ffi/...``) and DLPack's (``dlpack/dlpack.h``) are in one place."""
        return (self.package_dir / "include",)

    @property
    def library(self) -> Path:
        return self.package_dir / "lib" / "libtvm_ffi.so"

    @property
    def site_packages(self) -> Path:
        return self.package_dir.parent

    @property
    def requirement(self) -> str:
        """``Requires-Dist`` of a wheel built against this TVM FFI: the same major.minor."""
        major, minor = self.major_minor
        return f"{DISTRIBUTION}=={major}.{minor}.*"


def inspect_tvm_ffi() -> TvmFfiInfo:
    """The ``apache-tvm-ffi`` of the build environment.

    Raises:
        ToolchainError: it is not installed, or its headers or ``libtvm_ffi.so`` are missing.
    """
    spec = importlib.util.find_spec("tvm_ffi")
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError(
            f"building a [tvm-ffi] kernel needs {DISTRIBUTION} in the build environment, and it is not "
            f"installed: pip install {DISTRIBUTION} (a build with isolation installs it by itself)"
        )
    package_dir = Path(list(spec.submodule_search_locations)[0])
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = ""
    if not re.match(r"\d+\.\d+", version):
        raise ToolchainError(
            f"tvm_ffi at {package_dir} has no {DISTRIBUTION} distribution metadata (version "
            f"{version or 'unknown'}); install it with pip install {DISTRIBUTION}"
        )
    info = TvmFfiInfo(version=version, package_dir=package_dir)
    missing = [p for p in (info.include_dirs[0] / "tvm" / "ffi", info.library) if not p.exists()]
    if missing:
        raise ToolchainError(
            f"{DISTRIBUTION} {version} at {package_dir} lacks {', '.join(map(str, missing))}; "
            f"reinstall it: pip install --force-reinstall {DISTRIBUTION}"
        )
    return info


#: An include of torch, ATen or c10 (the headers of a torch extension).
_TORCH_INCLUDE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*[<"](torch|ATen|c10)/[^>"]*[>"]', re.MULTILINE)


def torch_includes(root: Path, sources: Iterable[str]) -> List[str]:
    """``file:line: #include <torch/...>`` for each torch, ATen or c10 include in ``sources``
    (paths relative to ``root``); unreadable files are left to CMake to report."""
    found = []
    for source in sources:
        try:
            text = (root / source).read_bytes()
        except OSError:
            continue
        for match in _TORCH_INCLUDE.finditer(text):
            line = text.count(b"\n", 0, match.start()) + 1
            found.append(f"{source}:{line}: {match.group(0).decode(errors='replace').strip()}")
    return found


def check_no_torch_includes(root: Path, sources: Iterable[str], build_toml: Path) -> None:
    """A tvm-ffi kernel is compiled without torch: an include of torch's headers would fail deep in
    the compiler, so it is refused here, naming every such line.

    Raises:
        SourceError: a source includes torch, ATen or c10 headers.
    """
    found = torch_includes(root, sources)
    if found:
        raise SourceError(
            f"{build_toml}: a [tvm-ffi] kernel is compiled against TVM FFI, without torch, but these "
            "sources include torch headers:\n" + "\n".join(f"  - {line}" for line in found) + "\n"
            "Take tensors as tvm::ffi::TensorView (<tvm/ffi/tvm_ffi.h>) instead, or build the kernel "
            "with a [torch] table."
        )


def render_ops_py(ops_name: str) -> str:
    """The generated ``_ops.py`` of a tvm-ffi build (the contract's names): ``ops`` is the library
    loaded with ``tvm_ffi.load_module``; the helpers qualify a name with the op namespace for
    torch (``<ops>::<name>``) and for JAX FFI targets (``<ops>.<name>``)."""
    return _OPS_PY.format(ops_name=ops_name)


_OPS_PY = '''\
# Generated by kernels_build: loads this build's library through TVM FFI.
import importlib.util
import sys
from pathlib import Path

import tvm_ffi

#: The library's name, unique to this build of the kernel (its op namespace).
OPS_NAME = "{ops_name}"

_SUFFIX = ".dylib" if sys.platform == "darwin" else ".dll" if sys.platform == "win32" else ".so"
ops = tvm_ffi.load_module(str(Path(__file__).with_name(OPS_NAME + _SUFFIX)))

#: Whether JAX FFI targets can be registered (jax and jax_tvm_ffi are installed).
has_jax = all(importlib.util.find_spec(name) is not None for name in ("jax", "jax_tvm_ffi"))


def torch_add_op_namespace_prefix(op_name: str) -> str:
    """Qualify ``op_name`` with this kernel's op namespace, for torch.library."""
    return f"{{OPS_NAME}}::{{op_name}}"


def jax_add_ffi_target_name_prefix(name: str) -> str:
    """Qualify a JAX FFI target ``name`` with this kernel's op namespace."""
    return f"{{OPS_NAME}}.{{name}}"
'''
