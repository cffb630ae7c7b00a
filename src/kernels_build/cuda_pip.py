"""A CUDA toolchain from PyPI packages, for machines without a matching CUDA toolkit.

NVIDIA publishes nvcc and the CUDA headers as wheels. For CUDA 13 they install into one
directory tree, ``site-packages/nvidia/cu13/``::

    bin/nvcc, bin/nvcc.profile, bin/ptxas, ...   nvidia-cuda-nvcc
    include/crt/...                              nvidia-cuda-crt (nvcc's own headers)
    nvvm/bin/cicc, nvvm/libdevice/...            nvidia-nvvm
    include/cuda_runtime.h, lib/libcudart.so.13  nvidia-cuda-runtime (also a torch dependency)
    include/cccl/{cub,thrust,cuda,nv}/...        nvidia-cuda-cccl

Under build isolation these land in more than one site-packages directory (pip installs the
``[build-system] requires`` and the backend's own requirements into separate prefixes), and
nvcc finds its tools and headers relative to its own location (``nvcc.profile``:
``TOP = bin/..``). So the backend assembles a *toolkit view*: a directory of symbolic links
that merges every ``nvidia/cu<major>`` tree on ``sys.path`` into the layout of a regular
toolkit (plus the unversioned ``lib/libcudart.so`` that CMake's FindCUDAToolkit looks for),
and hands its ``bin/nvcc`` to CMake as ``CMAKE_CUDA_COMPILER`` and its root as
``CUDAToolkit_ROOT``.

``kernels.cuda-toolchain`` chooses:

- ``auto`` (default): an installed nvcc whose version equals torch's CUDA ``major.minor``;
  otherwise the PyPI packages (requested under build isolation, used when installed);
  otherwise an installed nvcc of the same major version;
- ``system``: an installed nvcc only (``CUDACXX``, ``CUDA_HOME``, ``PATH``, /usr/local/cuda);
- ``pip``: the PyPI packages only, even when a toolkit is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import ToolchainError
from .toolchain import Nvcc, TorchInfo, find_nvcc, probe_nvcc

#: The values of ``kernels.cuda-toolchain``.
TOOLCHAINS = ("auto", "system", "pip")

#: The PyPI packages of a CUDA >= 13 toolchain, all pinned to torch's CUDA ``major.minor``
#: (nvidia-cuda-nvcc's own dependencies on crt, nvvm and runtime are unpinned).
PACKAGES = ("nvidia-cuda-nvcc", "nvidia-cuda-crt", "nvidia-nvvm", "nvidia-cuda-runtime", "nvidia-cuda-cccl")

#: NVIDIA's metapackage with nvcc (and crt, nvvm, the runtime) and CCCL, left unpinned so that
#: the pin of torch's own ``cuda-toolkit`` requirement decides its version.
TOOLKIT_METAPACKAGE = "cuda-toolkit[nvcc,cccl]"

#: The oldest CUDA with a whole compiler on PyPI: the CUDA 12 wheels (nvidia-cuda-nvcc-cu12,
#: checked up to 12.9) hold ptxas, libnvvm and nvcc's headers, but no nvcc and no cicc.
MIN_CUDA = (13, 0)


def requirements(cuda: Tuple[int, int]) -> List[str]:
    """The pip requirements of the toolchain for CUDA ``cuda`` (torch's ``major.minor``)."""
    if cuda < MIN_CUDA:
        raise ToolchainError(
            f"the pip CUDA toolchain supports CUDA {MIN_CUDA[0]}.{MIN_CUDA[1]} and newer (the "
            f"nvidia/cu<major> wheel layout; PyPI's CUDA 12 packages ship no nvcc), but torch uses "
            f"CUDA {cuda[0]}.{cuda[1]}; install a CUDA {cuda[0]}.{cuda[1]} toolkit and use "
            f"-C kernels.cuda-toolchain=system."
        )
    return [f"{name}=={cuda[0]}.{cuda[1]}.*" for name in PACKAGES]


def build_requirements(mode: str, torch: Optional[TorchInfo]) -> List[str]:
    """What ``get_requires_for_build_wheel`` adds for a CUDA build in toolchain ``mode``.

    ``torch`` is the build environment's torch when already installed there (under build
    isolation: when ``[build-system] requires`` names it), else None. Nothing is added for a
    torch without CUDA, or when an installed nvcc matches torch's CUDA ``major.minor``
    (``auto``).

    ``pip`` before torch is installed (build isolation: torch comes in the same install as
    these requirements) cannot pin the CUDA version, so it asks for NVIDIA's ``cuda-toolkit``
    metapackage with its compiler extras, unpinned: torch's CUDA wheels on PyPI pin
    ``cuda-toolkit`` themselves (torch 2.14.1: ``cuda-toolkit[...]==13.0.3``), so the resolver
    picks the toolkit release of the torch it picks. The build then checks nvcc's version
    against torch's CUDA version as always.
    """
    if mode == "system":
        return []
    if torch is None:
        return [TOOLKIT_METAPACKAGE] if mode == "pip" else []
    if torch.cuda is None:
        return []
    if mode == "auto":
        system = find_nvcc()
        if system is not None and system.version == torch.cuda:
            return []
        if torch.cuda < MIN_CUDA:
            return []  # no pip toolchain for it; the build reports the missing toolkit
    return requirements(torch.cuda)


@dataclass(frozen=True)
class PipToolkit:
    """The ``nvidia/cu<major>`` trees found on the search path, nvcc among them."""

    major: int
    roots: Tuple[Path, ...]  # every site-packages/nvidia/cu<major>, in search-path order

    def view_layout(self) -> Dict[str, str]:
        """Relative path in the toolkit view -> the file or directory it links to."""
        layout: Dict[str, str] = {}
        for sub in ("bin", "include", "lib", "nvvm"):
            _merge([r / sub for r in self.roots if (r / sub).is_dir()], Path(sub), layout)
        libs = sorted(p for p in layout if p.startswith("lib/libcudart.so."))
        if libs and "lib/libcudart.so" not in layout:
            layout["lib/libcudart.so"] = layout[libs[0]]  # what find_library(cudart) looks for
        return layout

    def materialize(self, view: Path) -> Path:
        """Create (or refresh) the toolkit view in ``view``; return its root."""
        layout = self.view_layout()
        manifest = view / ".kernels-toolkit-view.json"
        text = json.dumps(layout, indent=1, sort_keys=True)
        if manifest.is_file() and manifest.read_text() == text and all(
            (view / rel).is_symlink() for rel in layout
        ):
            return view  # unchanged: keep the links (and their mtimes) as they are
        staging = view.with_name(view.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        for rel, target in layout.items():
            link = staging / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, link)
        (staging / "lib").mkdir(parents=True, exist_ok=True)
        if not (staging / "lib64").exists():
            os.symlink("lib", staging / "lib64")
        (staging / manifest.name).write_text(text)
        shutil.rmtree(view, ignore_errors=True)
        staging.rename(view)
        return view


def _merge(sources: Sequence[Path], rel: Path, layout: Dict[str, str]) -> None:
    """Map ``rel/<name>`` to the first source holding ``name``; merge directories that
    several sources hold (e.g. ``include/`` of the nvcc, runtime and cccl packages)."""
    names: Dict[str, List[Path]] = {}
    for source in sources:
        for entry in sorted(source.iterdir()):
            names.setdefault(entry.name, []).append(entry)
    for name, entries in names.items():
        dirs = [e for e in entries if e.is_dir() and not e.is_symlink()]
        if len(dirs) > 1 and len(dirs) == len(entries):
            _merge(dirs, rel / name, layout)
        else:
            layout[(rel / name).as_posix()] = str(entries[0])


def find_pip_toolkit(
    major: int, search_path: Optional[Sequence[str]] = None, first: Optional[Path] = None
) -> Optional[PipToolkit]:
    """The pip-installed toolkit of CUDA ``major`` on ``search_path`` (default ``sys.path``),
    or None when no ``nvidia/cu<major>/bin/nvcc`` is there.

    ``first`` (torch's site-packages) goes first: its CUDA runtime headers and libcudart are
    the ones torch runs with. Under build isolation pip may also put a newer
    nvidia-cuda-runtime into the other prefix (nvidia-cuda-nvcc depends on it unpinned).
    """
    roots: List[Path] = []
    entries = list(sys.path if search_path is None else search_path)
    for entry in ([str(first)] if first is not None else []) + entries:
        root = Path(entry or ".") / "nvidia" / f"cu{major}"
        if root.is_dir() and root.resolve() not in {r.resolve() for r in roots}:
            roots.append(root)
    if not any((r / "bin" / "nvcc").is_file() for r in roots):
        return None
    return PipToolkit(major, tuple(roots))


def runtime_headers_version(include: Path) -> Optional[Tuple[int, int]]:
    """``CUDART_VERSION`` of ``include/cuda_runtime_api.h`` as (major, minor), if readable."""
    try:
        text = (include / "cuda_runtime_api.h").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r"#define\s+CUDART_VERSION\s+(\d+)", text)
    return (int(m[1]) // 1000, int(m[1]) % 1000 // 10) if m else None


def select_nvcc(
    mode: str, cuda: Tuple[int, int], view: Path, torch_site: Optional[Path] = None,
    setting: str = "kernels.cuda-toolchain",
) -> Tuple[Optional[Nvcc], str]:
    """The nvcc to build with for torch's CUDA ``cuda`` in toolchain ``mode``, and where it
    comes from (``"system"`` or ``"pip"``). ``view`` is where a pip toolkit view is made;
    ``torch_site`` is torch's site-packages (its CUDA runtime wins, see find_pip_toolkit).
    ``setting`` names the toolchain setting in errors, as the user gave it.

    Returns ``(None, "system")`` when nothing is installed; the caller explains what to do.
    """
    if mode == "system":
        return find_nvcc(), "system"
    if mode == "auto":
        system = find_nvcc()
        if system is not None and system.version == cuda:
            return system, "system"
        if find_pip_toolkit(cuda[0]) is None:
            return system, "system"
    kit = find_pip_toolkit(cuda[0], first=torch_site)
    wanted = " ".join(requirements(cuda))
    if kit is None:
        raise ToolchainError(
            f"{setting}=pip: no nvcc from PyPI in the build environment ({sys.executable}); "
            f"build with build isolation (the backend then requests it when torch is in "
            f"[build-system] requires) or run: pip install {wanted}"
        )
    root = kit.materialize(view)
    nvcc = probe_nvcc(root / "bin" / "nvcc")
    if nvcc is None:
        raise ToolchainError(
            f"the pip CUDA toolchain in {', '.join(map(str, kit.roots))} is incomplete (nvcc does "
            f"not run); reinstall it: pip install --force-reinstall {wanted}"
        )
    if nvcc.version != cuda:
        raise ToolchainError(
            f"nvcc {nvcc.version[0]}.{nvcc.version[1]} from PyPI ({kit.roots[0]}) does not match "
            f"torch's CUDA {cuda[0]}.{cuda[1]}; install the matching packages: pip install {wanted}"
        )
    runtime = runtime_headers_version(root / "include")
    if runtime != cuda:
        found = f"CUDA {runtime[0]}.{runtime[1]}" if runtime else "no CUDA version"
        raise ToolchainError(
            f"the CUDA runtime headers in the build environment ({root / 'include'}) are for "
            f"{found}, but torch uses CUDA {cuda[0]}.{cuda[1]}; install the matching packages: "
            f"pip install {wanted}"
        )
    return nvcc, "pip"
