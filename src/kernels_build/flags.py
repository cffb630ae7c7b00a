"""The compile flags a kernel gets from torch, as the existing builder gives them.

The existing builder compiles kernels in a CMake project that calls ``find_package(Torch)``
and links the ``torch`` target; its flags come from three places, which are read here from
the torch being built against (never from a torch import, which takes seconds):

- the ``torch`` target's interface: ``-D_GLIBCXX_USE_CXX11_ABI=<0|1>`` (TORCH_CXX_FLAGS) and
  the INTERFACE_COMPILE_DEFINITIONS of ``torch_cpu`` and of the backend's library
  (``torch_cuda``, ...), read from ``share/cmake/Caffe2/Caffe2Targets.cmake``, for example
  ``USE_DISTRIBUTED USE_C10D_GLOO USE_RPC USE_TENSORPIPE`` and ``USE_NVSHMEM USE_C10D_NCCL``;
- for CUDA, what torch's CMake config appends to CMAKE_CUDA_FLAGS
  (``share/cmake/Caffe2/public/cuda.cmake``): ``-DONNX_NAMESPACE=onnx_c2``, ``-Xcudafe
  --diag_suppress=...``, ``--expt-relaxed-constexpr`` and ``--expt-extended-lambda`` (the
  ``-gencode`` flags it also appends are replaced by each component's own);
- for CUDA, ``torch.utils.cpp_extension.COMMON_NVCC_FLAGS`` with the builder's adjustments:
  the ``-D__CUDA_NO_HALF*`` and ``-D__CUDA_NO_BFLOAT16*`` switches removed, ``-DENABLE_FP8``
  added (CUDA >= 11.8). ``COMMON_NVCC_FLAGS`` is read from ``utils/cpp_extension.py``'s source.

The backend defines (``USE_CUDA=1 CUDA_KERNEL``, ``CPU_KERNEL``, ...), the C++ standard and
``-fno-gnu-unique`` are in the backend's CMake modules (``cmake/``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from .toolchain import TorchInfo

#: torch's COMMON_NVCC_FLAGS as of torch 2.x, used when cpp_extension.py cannot be read.
_COMMON_NVCC_FLAGS_FALLBACK = (
    "-D__CUDA_NO_HALF_OPERATORS__",
    "-D__CUDA_NO_HALF_CONVERSIONS__",
    "-D__CUDA_NO_BFLOAT16_CONVERSIONS__",
    "-D__CUDA_NO_HALF2_OPERATORS__",
    "--expt-relaxed-constexpr",
)

#: What the existing builder removes from COMMON_NVCC_FLAGS: kernels use half/bfloat16 operators.
_REMOVED_NVCC_FLAGS = frozenset({
    "-D__CUDA_NO_HALF_OPERATORS__",
    "-D__CUDA_NO_HALF_CONVERSIONS__",
    "-D__CUDA_NO_BFLOAT16_CONVERSIONS__",
    "-D__CUDA_NO_HALF2_OPERATORS__",
})

#: The nvcc diagnostics torch's CMake config suppresses (public/cuda.cmake).
_SUPPRESSED_DIAGNOSTICS = (
    "cc_clobber_ignored",
    "field_without_dll_interface",
    "base_class_has_different_dll_interface",
    "dll_interface_conflict_none_assumed",
    "dll_interface_conflict_dllexport_assumed",
    "bad_friend_decl",
)

#: The flags torch's CMake config appends to CMAKE_CUDA_FLAGS (besides -gencode). An entry
#: with a space is one option with its value (``-Xcudafe`` passes a comma-separated list).
TORCH_CMAKE_CUDA_FLAGS = (
    "-DONNX_NAMESPACE=onnx_c2",
    "-Xcudafe " + ",".join(f"--diag_suppress={d}" for d in _SUPPRESSED_DIAGNOSTICS),
    "--expt-relaxed-constexpr",
    "--expt-extended-lambda",
)

#: torch's library target with the backend's interface definitions, by backend.
_BACKEND_TARGET = {"cuda": "torch_cuda", "rocm": "torch_hip", "xpu": "torch_xpu"}


@dataclass(frozen=True)
class TorchFlags:
    """Flags from torch for one build: definitions for every language, extra nvcc flags."""

    definitions: Tuple[str, ...]  # without -D: "_GLIBCXX_USE_CXX11_ABI=1", "USE_DISTRIBUTED", ...
    cuda: Tuple[str, ...] = ()  # nvcc options for .cu files; "-Xcudafe <value>" is one entry


def torch_flags(torch: TorchInfo, backend: str, cuda_version: Optional[Tuple[int, int]] = None) -> TorchFlags:
    """The flags the existing builder's CMake project gets from ``torch`` for ``backend``.

    ``cuda_version`` is nvcc's ``(major, minor)`` for CUDA builds (``-DENABLE_FP8`` from 11.8).
    """
    definitions = [f"_GLIBCXX_USE_CXX11_ABI={1 if torch.cxx11_abi else 0}"]
    targets = ["torch_cpu"] + ([_BACKEND_TARGET[backend]] if backend in _BACKEND_TARGET else [])
    for name in interface_definitions(torch.package_dir / "share" / "cmake" / "Caffe2" / "Caffe2Targets.cmake", targets):
        if name not in definitions:
            definitions.append(name)
    if backend != "cuda":
        return TorchFlags(tuple(definitions))
    return TorchFlags(tuple(definitions), cuda=tuple(_cuda_flags(torch, cuda_version)))


def _cuda_flags(torch: TorchInfo, cuda_version: Optional[Tuple[int, int]]) -> List[str]:
    flags: List[str] = []
    for flag in (*TORCH_CMAKE_CUDA_FLAGS, *common_nvcc_flags(torch)):
        if flag in _REMOVED_NVCC_FLAGS or flag in flags:
            continue
        flags.append(flag)
    if cuda_version is None or cuda_version >= (11, 8):
        flags.append("-DENABLE_FP8")
    return flags


def common_nvcc_flags(torch: TorchInfo) -> Tuple[str, ...]:
    """``torch.utils.cpp_extension.COMMON_NVCC_FLAGS`` of ``torch``, read from its source."""
    path = torch.package_dir / "utils" / "cpp_extension.py"
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return _COMMON_NVCC_FLAGS_FALLBACK
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "COMMON_NVCC_FLAGS"):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                break
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
    return _COMMON_NVCC_FLAGS_FALLBACK


def interface_definitions(targets_file: Path, targets: List[str]) -> List[str]:
    """The literal INTERFACE_COMPILE_DEFINITIONS of ``targets`` in a CMake export file, in order."""
    try:
        text = targets_file.read_text()
    except OSError:
        return []
    found: List[str] = []
    for target in targets:
        block = re.search(rf"set_target_properties\({re.escape(target)} PROPERTIES\n(.*?)\n\)", text, re.S)
        if block is None:
            continue
        value = re.search(r'INTERFACE_COMPILE_DEFINITIONS "([^"]*)"', block.group(1))
        if value is None:
            continue
        found += [d for d in value.group(1).split(";") if d and "$" not in d and d not in found]
    return found
