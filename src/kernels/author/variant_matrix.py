"""The required build variants and how CI builds each of them: data only, in one place.

``REQUIRED_BUILDS`` is the compliance matrix of the contract (upstream's
``build-variants.json``): for torch 2.12 and 2.13, the backends, toolkits and platforms every
compiled kernel is expected to ship. ``REQUIRED_TVM_FFI_BUILDS`` is its counterpart for
kernels bound through Apache TVM FFI (``[tvm-ffi]``): tvm-ffi 0.1 with cpu and CUDA.
``kernels list-variants`` and ``kernels build-matrix`` both read them; change the matrix here
and both follow.

``RUNNERS``, ``IMAGES`` and ``torch_index`` say where a combination is built on GitHub
Actions: Linux variants inside the official manylinux_2_28 images (so the wheels really are
manylinux_2_28), macOS variants on Apple-silicon runners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

Version = Tuple[int, int]

__all__ = [
    "Build",
    "REQUIRED_BUILDS",
    "REQUIRED_TORCH",
    "REQUIRED_TVM_FFI",
    "REQUIRED_TVM_FFI_BUILDS",
    "RUNNERS",
    "IMAGES",
    "PYTHON_IN_IMAGE",
    "torch_index",
    "TVM_FFI_INDEX",
    "tvm_ffi_spec",
]


@dataclass(frozen=True)
class Build:
    """One cell of the matrix: a torch version (or, for a tvm-ffi kernel, an apache-tvm-ffi
    version), a backend with its toolkit, a platform."""

    torch: Optional[Version]  # None for a tvm-ffi build
    backend: str  # cpu, cuda, rocm, xpu, metal
    toolkit: Optional[Version]  # CUDA/ROCm/oneAPI version; None for cpu and metal
    cpu: str  # x86_64 | aarch64
    os: str  # linux | darwin
    tvm_ffi: Optional[Version] = None  # apache-tvm-ffi major.minor of a tvm-ffi build


#: Torch versions whose variants are required.
REQUIRED_TORCH: Tuple[Version, ...] = ((2, 12), (2, 13))

# Per platform and backend, the toolkits built for every required torch; XPU follows the
# oneAPI release that each torch was built with.
_CUDA: Tuple[Version, ...] = ((12, 6), (13, 0), (13, 2))
_ROCM: Tuple[Version, ...] = ((7, 1), (7, 2))
_XPU: Dict[Version, Version] = {(2, 12): (2025, 3), (2, 13): (2026, 0)}


def _builds() -> Tuple[Build, ...]:
    out = []
    for torch in REQUIRED_TORCH:
        out.append(Build(torch, "cpu", None, "x86_64", "linux"))
        out += [Build(torch, "cuda", cu, "x86_64", "linux") for cu in _CUDA]
        out += [Build(torch, "rocm", rocm, "x86_64", "linux") for rocm in _ROCM]
        out.append(Build(torch, "xpu", _XPU[torch], "x86_64", "linux"))
        out.append(Build(torch, "cpu", None, "aarch64", "linux"))
        out += [Build(torch, "cuda", cu, "aarch64", "linux") for cu in _CUDA]
        out.append(Build(torch, "cpu", None, "aarch64", "darwin"))
        out.append(Build(torch, "metal", None, "aarch64", "darwin"))
    return tuple(out)


#: Every required (torch, backend, toolkit, platform) combination.
REQUIRED_BUILDS: Tuple[Build, ...] = _builds()

#: apache-tvm-ffi versions whose variants a tvm-ffi kernel ships (``tvm-ffi01`` = 0.1).
REQUIRED_TVM_FFI: Tuple[Version, ...] = ((0, 1),)


def _tvm_ffi_builds() -> Tuple[Build, ...]:
    """The tvm-ffi cells: cpu and every CUDA toolkit of the torch matrix, on the Linux
    platforms where the torch matrix builds them (upstream builds no other tvm-ffi backend)."""
    out = []
    for version in REQUIRED_TVM_FFI:
        for cpu in ("x86_64", "aarch64"):
            out.append(Build(None, "cpu", None, cpu, "linux", tvm_ffi=version))
            out += [Build(None, "cuda", cu, cpu, "linux", tvm_ffi=version) for cu in _CUDA]
    return tuple(out)


#: Every required (tvm-ffi, backend, toolkit, platform) combination of a ``[tvm-ffi]`` kernel.
REQUIRED_TVM_FFI_BUILDS: Tuple[Build, ...] = _tvm_ffi_builds()

#: GitHub-hosted runner per (cpu, os).
RUNNERS: Dict[Tuple[str, str], str] = {
    ("x86_64", "linux"): "ubuntu-24.04",
    ("aarch64", "linux"): "ubuntu-24.04-arm",
    ("aarch64", "darwin"): "macos-15",
}

#: Container image per (cpu, os); macOS builds run on the runner itself ("").
IMAGES: Dict[Tuple[str, str], str] = {
    ("x86_64", "linux"): "quay.io/pypa/manylinux_2_28_x86_64",
    ("aarch64", "linux"): "quay.io/pypa/manylinux_2_28_aarch64",
    ("aarch64", "darwin"): "",
}

#: The interpreter used inside the manylinux images (any CPython >= 3.9 gives the same
#: cp39-abi3 wheel).
PYTHON_IN_IMAGE = "/opt/python/cp312-cp312/bin/python"


def torch_index(backend: str, toolkit: Optional[Version], os: str = "linux") -> str:
    """The pip index URL serving torch for a backend and toolkit.

    >>> torch_index("cuda", (13, 0))
    'https://download.pytorch.org/whl/cu130'
    >>> torch_index("rocm", (7, 1))
    'https://download.pytorch.org/whl/rocm7.1'
    """
    base = "https://download.pytorch.org/whl"
    if os == "darwin":
        return "https://pypi.org/simple"  # macOS wheels of torch (cpu + MPS) live on PyPI
    if backend == "cuda" and toolkit:
        return f"{base}/cu{toolkit[0]}{toolkit[1]}"
    if backend == "rocm" and toolkit:
        return f"{base}/rocm{toolkit[0]}.{toolkit[1]}"
    if backend == "xpu":
        return f"{base}/xpu"
    return f"{base}/cpu"


#: Where pip finds apache-tvm-ffi (PyPI: one wheel serves every backend).
TVM_FFI_INDEX = "https://pypi.org/simple"


def tvm_ffi_spec(version: Version) -> str:
    """The requirement that installs the apache-tvm-ffi a tvm-ffi variant is built against.

    >>> tvm_ffi_spec((0, 1))
    'apache-tvm-ffi==0.1.*'
    """
    return f"apache-tvm-ffi=={version[0]}.{version[1]}.*"


def toolkit_setup(backend: str, toolkit: Optional[Version], cpu: str) -> str:
    """Shell commands that install a backend's compiler inside the manylinux_2_28 image
    (AlmaLinux 8), run as root before the build; ``""`` when nothing is needed.

    CUDA >= 13 takes nvcc from PyPI (``kernels.cuda-toolchain=pip``, see
    :mod:`kernels_build.cuda_pip`), older CUDA from NVIDIA's RHEL 8 repository; ROCm and
    oneAPI come from AMD's and Intel's RPM repositories.
    """
    if backend == "cuda" and toolkit:
        major, minor = toolkit
        if toolkit >= (13, 0):
            return f'"$PYTHON" -m pip install "nvidia-cuda-nvcc=={major}.{minor}.*" "nvidia-cuda-crt=={major}.{minor}.*" ' \
                   f'"nvidia-nvvm=={major}.{minor}.*" "nvidia-cuda-runtime=={major}.{minor}.*" "nvidia-cuda-cccl=={major}.{minor}.*"'
        repo_arch = "sbsa" if cpu == "aarch64" else "x86_64"
        return (
            f"dnf config-manager --add-repo https://developer.download.nvidia.com/compute/cuda/repos/rhel8/{repo_arch}/cuda-rhel8.repo"
            f" && dnf install -y cuda-nvcc-{major}-{minor} cuda-cudart-devel-{major}-{minor} cuda-cccl-{major}-{minor}"
            f" && echo CUDA_HOME=/usr/local/cuda-{major}.{minor} >> \"$GITHUB_ENV\""
        )
    if backend == "rocm" and toolkit:
        return (
            "printf '[rocm]\\nname=ROCm\\nbaseurl=https://repo.radeon.com/rocm/el8/"
            f"{toolkit[0]}.{toolkit[1]}/main\\nenabled=1\\ngpgcheck=0\\n' > /etc/yum.repos.d/rocm.repo"
            " && dnf install -y rocm-hip-sdk && echo ROCM_PATH=/opt/rocm >> \"$GITHUB_ENV\""
        )
    if backend == "xpu" and toolkit:
        return (
            "printf '[oneAPI]\\nname=oneAPI\\nbaseurl=https://yum.repos.intel.com/oneapi\\nenabled=1\\ngpgcheck=0\\n'"
            f" > /etc/yum.repos.d/oneAPI.repo && dnf install -y intel-oneapi-dpcpp-cpp-{toolkit[0]}.{toolkit[1]}"
            " && echo 'source /opt/intel/oneapi/setvars.sh' >> \"$HOME/.bashrc\""
        )
    return ""
