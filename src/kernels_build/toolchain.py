"""What the build environment offers: the torch to build against and the CUDA compiler.

The backend takes torch from the build environment (under build isolation it asks pip for
it through ``get_requires_for_build_wheel``). Everything the CMake project needs to know about
torch is read here, in Python, and handed to CMake as plain paths: that avoids torch's own
CMake package and its FindCUDA pitfalls (see shared/NOTES.md).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Tuple

from .errors import ToolchainError

Version = Tuple[int, ...]


@dataclass(frozen=True)
class TorchInfo:
    """The torch installation a kernel is compiled against."""

    version: str  # full version string, e.g. "2.14.1+cu130"
    major_minor: Tuple[int, int]
    cxx11_abi: bool
    cuda: Optional[Tuple[int, int]]  # torch.version.cuda, e.g. (13, 0)
    hip: Optional[Tuple[int, int]]
    xpu: Optional[Tuple[int, int]]
    package_dir: Path  # .../site-packages/torch

    @property
    def include_dirs(self) -> Tuple[Path, ...]:
        inc = self.package_dir / "include"
        return (inc, inc / "torch" / "csrc" / "api" / "include")

    @property
    def library_dir(self) -> Path:
        return self.package_dir / "lib"

    @property
    def site_packages(self) -> Path:
        return self.package_dir.parent

    def cuda_wheel_include_dirs(self) -> Tuple[Path, ...]:
        """Headers of torch's ``nvidia-*`` pip dependencies (cuBLAS, cuSPARSE, ...).

        ATen's CUDA headers include them; a CUDA toolkit that holds only nvcc lacks them.
        """
        nvidia = self.site_packages / "nvidia"
        if not nvidia.is_dir():
            return ()
        return tuple(sorted(p for p in nvidia.glob("*/include") if p.is_dir()))

    def cuda_wheel_library(self, stem: str) -> Optional[Path]:
        """A CUDA runtime library shipped by torch's pip dependencies, e.g. ``libcudart.so.13``."""
        nvidia = self.site_packages / "nvidia"
        for lib in sorted(nvidia.glob(f"*/lib/{stem}.so*")) if nvidia.is_dir() else ():
            return lib
        return None


def _major_minor(text: Optional[str]) -> Optional[Tuple[int, int]]:
    if not text:
        return None
    m = re.match(r"(\d+)\.(\d+)", text)
    return (int(m[1]), int(m[2])) if m else None


@lru_cache(maxsize=None)
def inspect_torch() -> TorchInfo:
    """Describe the build environment's torch, without importing it when possible.

    Importing torch takes seconds, a large share of a no-change rebuild. Everything needed
    is in ``torch/version.py`` (a tiny generated file), except the C++ ABI flag: torch
    builds for Linux use the C++11 ABI since 2.7, so only older torch is imported to ask.
    Raises :class:`ToolchainError` with the fix when torch is not installed.
    """
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise ToolchainError(
            "torch is not installed in the build environment "
            f"({sys.executable}). Install the torch you build for (pip install 'kernels[build]' "
            "brings torch and the build tools), or build with build isolation so the backend can "
            "request it (choose the version with -C kernels.torch-version=2.13)."
        )
    package_dir = Path(spec.origin).resolve().parent
    facts: dict = {}
    try:
        exec(compile((package_dir / "version.py").read_text(), "torch/version.py", "exec"), facts)
    except (OSError, SyntaxError, ImportError) as exc:
        raise ToolchainError(f"cannot read {package_dir / 'version.py'}: {exc}; reinstall torch") from None
    full = str(facts.get("__version__", ""))
    major_minor = _major_minor(full)
    if major_minor is None:
        raise ToolchainError(f"unrecognised torch version {full!r} in {package_dir}")
    xpu = facts.get("xpu")
    return TorchInfo(
        version=full,
        major_minor=major_minor,
        cxx11_abi=_cxx11_abi(major_minor),
        cuda=_major_minor(facts.get("cuda")),
        hip=_major_minor(facts.get("hip")),
        # torch.version.xpu looks like "20250300" (YYYY + minor + patch).
        xpu=(int(xpu[:4]), int(xpu[4:6])) if isinstance(xpu, str) and len(xpu) >= 6 and xpu.isdigit() else None,
        package_dir=package_dir,
    )


def _cxx11_abi(major_minor: Tuple[int, int]) -> bool:
    if major_minor >= (2, 7) or not sys.platform.startswith("linux"):
        return True
    import torch  # noqa: PLC0415 - old torch: only torch itself knows its ABI

    return bool(torch.compiled_with_cxx11_abi())


@dataclass(frozen=True)
class Nvcc:
    """A CUDA compiler and what it can target."""

    path: Path
    version: Tuple[int, int]
    supported_archs: Tuple[str, ...]  # "7.5", "8.0", ... from `nvcc --list-gpu-arch`

    @property
    def toolkit_root(self) -> Path:
        """``bin/..`` of nvcc, as nvcc itself sees it (a pip toolkit view is made of links)."""
        return self.path.parent.parent


def _nvcc_candidates() -> list:
    found = []
    if os.environ.get("CUDACXX"):
        found.append(os.environ["CUDACXX"])
    for var in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"):
        if os.environ.get(var):
            found.append(os.path.join(os.environ[var], "bin", "nvcc"))
    on_path = shutil.which("nvcc")
    if on_path:
        found.append(on_path)
    found.append("/usr/local/cuda/bin/nvcc")
    return found


def _real_nvcc(path: Path) -> Path:
    """Follow wrapper scripts such as ``exec /usr/local/cuda-13.0/bin/nvcc "$@"``.

    CMake derives the toolkit root from the compiler's location, so it must see the real one.
    """
    resolved = path.resolve()
    try:
        head = resolved.read_bytes()[:512]
    except OSError:
        return resolved
    if head.startswith(b"#!"):
        m = re.search(rb"exec\s+(\S+/nvcc)\b", head)
        if m and Path(m[1].decode()).is_file():
            return Path(m[1].decode()).resolve()
    return resolved


@lru_cache(maxsize=None)
def find_nvcc() -> Optional[Nvcc]:
    """The first usable nvcc (``CUDACXX``, ``CUDA_HOME``, ``PATH``, /usr/local/cuda), or None."""
    for candidate in _nvcc_candidates():
        path = Path(candidate)
        if not path.is_file():
            continue
        found = probe_nvcc(_real_nvcc(path))
        if found is not None:
            return found
    return None


def probe_nvcc(path: Path) -> Optional[Nvcc]:
    """Ask the nvcc at ``path`` (used as given, links not resolved) for its version and archs."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True).stdout
        archs = subprocess.run(
            [str(path), "--list-gpu-arch"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    m = re.search(r"release (\d+)\.(\d+)", out)
    if not m:
        return None
    supported = tuple(
        f"{int(a[:-1])}.{a[-1]}" for a in re.findall(r"compute_(\d+)", archs)
    )
    return Nvcc(path=path, version=(int(m[1]), int(m[2])), supported_archs=supported)
