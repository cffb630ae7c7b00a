"""CUDA compile tests of kernels that use CUTLASS through ``depends``, and of the nvcc flags.

No GPU is needed: kernels are compiled with nvcc against a CUDA build of torch
(``KERNELS_TEST_CUDA_PYTHON``), then their wheels, compile commands and extensions are read.
CUTLASS comes the three ways a build finds it: NVIDIA's ``nvidia-cutlass`` wheels
(``KERNELS_TEST_CUTLASS_WHEELS``) installed next to torch (3.8), a shallow git fetch from a
local repository standing in for github.com/NVIDIA/cutlass (3.6, two builds at once), and an
explicit tree (4.2). On the GPU machine ``tests/test_gpu.py`` runs examples/cutlass-gemm's tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from conftest import copy_example
from test_deps import git, unpack_cutlass_wheel

CUDA_PYTHON = os.environ.get("KERNELS_TEST_CUDA_PYTHON")
CUTLASS_WHEELS = os.environ.get("KERNELS_TEST_CUTLASS_WHEELS")

pytestmark = [
    pytest.mark.cuda_compile,
    pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed"),
    pytest.mark.skipif(not CUDA_PYTHON, reason="KERNELS_TEST_CUDA_PYTHON (a CUDA torch) is not set"),
    pytest.mark.skipif(not CUTLASS_WHEELS, reason="KERNELS_TEST_CUTLASS_WHEELS is not set"),
]

SRC = Path(__file__).resolve().parents[1] / "src"
#: Archs narrowed to one, to keep the compile short.
SM90 = ("-C", "kernels.cuda-capabilities=9.0")


def _env(pythonpath: Optional[Path] = None, **extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CUTLASS_SRC_DIR")}
    env.update({"CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    env.update(extra)
    return env


def _pip_wheel(repo: Path, out: Path, *settings: str, env: Dict[str, str]) -> subprocess.Popen:
    cmd = [CUDA_PYTHON, "-m", "pip", "wheel", "-v", "--no-build-isolation", "--no-deps", "--no-index",
           "-w", str(out), str(repo), *settings]
    return subprocess.Popen(cmd, cwd=repo.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 1800) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-12000:]
    return out


def _cutlass_site(tmp: Path, version: str) -> Path:
    """A site directory with NVIDIA's nvidia-cutlass ``version`` wheel installed (no dependencies)."""
    site = tmp / f"cutlass-site-{version}"
    (wheel,) = Path(CUTLASS_WHEELS).glob(f"nvidia_cutlass-{version}*.whl")  # type: ignore[arg-type]
    subprocess.run([CUDA_PYTHON, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    return site


def _compile_commands(repo: Path) -> Dict[str, str]:
    """``file name -> command`` of the build's compile_commands.json."""
    (path,) = repo.glob(".kernels_build/*/cmake-build/compile_commands.json")
    return {Path(e["file"]).name: e["command"] for e in json.loads(path.read_text())}


def _call_ops(wheel: Path, target: Path, module: str, calls: List[str]) -> List[str]:
    """Install ``wheel`` into ``target``, import ``module`` and print each expression in ``calls``."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    code = f"import torch, {module}\n" + "".join(f"print({c})\n" for c in calls)
    proc = subprocess.run([CUDA_PYTHON, "-c", code], cwd=target, env=_env(target), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split()


# --------------------------------------------------------------------------- examples/cutlass-gemm


@pytest.fixture(scope="module")
def gemm_build(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("cutlass-gemm")
    repo = copy_example("cutlass-gemm", work)
    site = _cutlass_site(work, "3.8.0")
    log = _finish(_pip_wheel(repo, work / "dist", *SM90, env=_env(site)))
    (wheel,) = (work / "dist").glob("*.whl")
    return repo, wheel, log


def test_gemm_example_gets_cutlass_from_pypi(gemm_build) -> None:
    repo, wheel, log = gemm_build
    site = repo.parent / "cutlass-site-3.8.0"
    assert "dependency cutlass_3_8: CUTLASS 3.8.0 from PyPI nvidia-cutlass 3.8.0.0" in log
    with zipfile.ZipFile(wheel) as archive:
        metadata = json.loads(archive.read("cutlass_gemm/metadata.json"))
    assert metadata["provenance"]["dependencies"] == {
        "cutlass_3_8": {"version": "3.8.0", "source": "PyPI nvidia-cutlass 3.8.0.0"}
    }
    assert metadata["backend"] == {"type": "cuda", "archs": ["9.0+PTX"]}
    commands = _compile_commands(repo)
    headers = (site / "cutlass_library" / "source").resolve()
    # CUTLASS's include and tools/util/include reach the kernel that declares it, and only it.
    assert f"-I{headers / 'include'}" in commands["gemm.cu"]
    assert f"-I{headers / 'tools' / 'util' / 'include'}" in commands["gemm.cu"]
    assert "cutlass_library" not in commands["torch_binding.cpp"]
    # Compiled against those headers: the op says so (no GPU needed to ask).
    assert _call_ops(wheel, repo.parent / "site", "cutlass_gemm", ["cutlass_gemm.cutlass_version()"]) == ["3.8.0"]


#: The flags every .cu file gets without cuda-flags of its own, as the existing builder gives
#: them (torch's CMake config, cpp_extension.COMMON_NVCC_FLAGS with the builder's adjustments).
EXPECTED_CUDA_FLAGS = (
    "--expt-extended-lambda", "--expt-relaxed-constexpr", "-DENABLE_FP8", "-DONNX_NAMESPACE=onnx_c2",
    "-Xcudafe --diag_suppress=cc_clobber_ignored,--diag_suppress=field_without_dll_interface,"
    "--diag_suppress=base_class_has_different_dll_interface,--diag_suppress=dll_interface_conflict_none_assumed,"
    "--diag_suppress=dll_interface_conflict_dllexport_assumed,--diag_suppress=bad_friend_decl",
    "-DUSE_CUDA=1", "-DCUDA_KERNEL", "-D_GLIBCXX_USE_CXX11_ABI=1", "-DUSE_DISTRIBUTED", "-DUSE_C10D_NCCL",
    "-DPy_LIMITED_API=0x03090000", "-O3", "-DNDEBUG", "-std=c++20",
    "-gencode=arch=compute_90,code=sm_90", "-gencode=arch=compute_90,code=compute_90",
)
EXPECTED_CXX_FLAGS = (
    "-DUSE_CUDA=1", "-DCUDA_KERNEL", "-D_GLIBCXX_USE_CXX11_ABI=1", "-DUSE_DISTRIBUTED", "-DUSE_C10D_NCCL",
    "-DPy_LIMITED_API=0x03090000", "-O3", "-DNDEBUG", "-std=c++20", "-fPIC", "-fno-gnu-unique",
)
NOT_EXPECTED = ("-D__CUDA_NO_HALF_OPERATORS__", "-D__CUDA_NO_HALF_CONVERSIONS__",
                "-D__CUDA_NO_BFLOAT16_CONVERSIONS__", "-D__CUDA_NO_HALF2_OPERATORS__")


def test_compile_flags_read_back_from_the_build(gemm_build) -> None:
    repo, _, _ = gemm_build
    commands = _compile_commands(repo)
    cu = commands["gemm.cu"]
    for flag in EXPECTED_CUDA_FLAGS:
        assert f" {flag} " in f" {cu} ", (flag, cu)
    for flag in NOT_EXPECTED:
        assert flag not in cu
    for name in ("torch_binding.cpp", "kernels_extension_init.cpp"):
        for flag in EXPECTED_CXX_FLAGS:
            assert f" {flag} " in f" {commands[name]} ", (name, flag, commands[name])
    # gemm.cu launches a __device__ lambda: it built without cuda-flags of its own.
    assert "cuda-flags" not in (repo / "build.toml").read_text()
    assert "[=] __device__" in (repo / "cutlass_gemm" / "gemm.cu").read_text()


# --------------------------------------------------------------------------- three ways at once


VERSIONS_BUILD_TOML = """\
[general]
name = "cutlass-versions"
version = 1
edition = 5
license = "MIT"
backends = ["cuda"]

[torch]
src = ["torch-ext/torch_binding.cpp"]

[kernel.v36]
backend = "cuda"
depends = ["torch", "cutlass_3_6"]
cuda-capabilities = ["9.0"]
src = ["v36/version.cu"]

[kernel.v38]
backend = "cuda"
depends = ["torch", "cutlass_3_8"]
cuda-capabilities = ["9.0"]
src = ["v38/version.cu"]
"""

VERSION_CU = """\
#include <cstdint>
#include <cutlass/numeric_types.h>
#include <cutlass/version.h>
int64_t cutlass_version_{name}() {{ return CUTLASS_MAJOR * 10000 + CUTLASS_MINOR * 100 + CUTLASS_PATCH; }}
"""

BINDING = """\
#include <cstdint>
#include <torch/library.h>
#include "registration.h"
int64_t cutlass_version_v36();
int64_t cutlass_version_v38();
TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  ops.def("v36() -> int", &cutlass_version_v36);
  ops.def("v38() -> int", &cutlass_version_v38);
}
REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
"""


def _versions_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "build.toml").write_text(VERSIONS_BUILD_TOML)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["kernels"]\nbuild-backend = "kernels_build"\n')
    for name in ("v36", "v38"):
        (root / name).mkdir()
        (root / name / "version.cu").write_text(VERSION_CU.format(name=name))
    (root / "torch-ext" / "cutlass_versions").mkdir(parents=True)
    (root / "torch-ext" / "cutlass_versions" / "__init__.py").write_text("from ._ops import ops\n")
    (root / "torch-ext" / "torch_binding.cpp").write_text(BINDING)
    return root


def _local_upstream(tmp: Path, version: str) -> Path:
    """A git repository with tag v<version> holding NVIDIA's CUTLASS <version> headers."""
    repo = tmp / f"cutlass-{version}.git"
    shutil.copytree(unpack_cutlass_wheel(version, tmp / f"unpacked-{version}"), repo)
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", f"CUTLASS {version}", cwd=repo)
    git("tag", f"v{version}", cwd=repo)
    return repo


def _versions(wheel: Path, target: Path) -> List[str]:
    return _call_ops(wheel, target, "cutlass_versions",
                     ["cutlass_versions.ops.v36()", "cutlass_versions.ops.v38()"])


def test_pypi_fetch_and_explicit_tree_each_reach_their_kernel(tmp_path: Path) -> None:
    upstream = _local_upstream(tmp_path, "3.6.0")
    site = _cutlass_site(tmp_path, "3.8.0")
    cache = tmp_path / "deps-cache"
    repos = [_versions_repo(tmp_path / f"build{i}" / "cutlass-versions") for i in (1, 2)]
    settings = ("-C", f"kernels.cutlass-url={upstream}", "-C", f"kernels.deps-cache={cache}")
    # Two builds at once share one cache: one fetches tag v3.6.0, the other waits and reuses it.
    procs = [_pip_wheel(repo, repo.parent / "dist", *settings, env=_env(site)) for repo in repos]
    logs = [_finish(p) for p in procs]
    assert sum(log.count("fetching CUTLASS v3.6.0") for log in logs) == 1, logs
    for repo, log in zip(repos, logs):
        assert "dependency cutlass_3_8: CUTLASS 3.8.0 from PyPI nvidia-cutlass 3.8.0.0" in log
        assert f"dependency cutlass_3_6: CUTLASS 3.6.0 from git {upstream} tag v3.6.0 (cache)" in log
        (wheel,) = (repo.parent / "dist").glob("*.whl")
        # Each component compiled against its own CUTLASS.
        assert _versions(wheel, repo.parent / "site") == ["30600", "30800"]
    assert sorted(p.name for p in cache.iterdir()) == ["cutlass-3.6.0", "cutlass-3.6.0.lock"]

    # An explicit tree (NVIDIA's 4.2 headers) replaces every CUTLASS version, with a warning.
    explicit = unpack_cutlass_wheel("4.2.0", tmp_path / "cutlass-4.2")
    repo = repos[0]
    log = _finish(_pip_wheel(repo, repo.parent / "dist42", "-C", f"kernels.cutlass-dir={explicit}", env=_env(site)))
    assert "warning: kernels.cutlass-dir holds CUTLASS 4.2.0, but kernel.v36 declares cutlass_3_6 (3.6.0)" in log
    (wheel,) = (repo.parent / "dist42").glob("*.whl")
    assert _versions(wheel, repo.parent / "site42") == ["40200", "40200"]


def test_missing_library_stops_before_cmake(tmp_path: Path) -> None:
    repo = _versions_repo(tmp_path / "cutlass-versions")
    nowhere = tmp_path / "no-such-mirror"
    proc = _pip_wheel(repo, tmp_path / "dist", "-C", f"kernels.cutlass-url={nowhere}",
                      "-C", f"kernels.deps-cache={tmp_path / 'cache'}", env=_env())
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode != 0
    assert "kernels_build error: kernel.v36 depends on cutlass_3_6 (CUTLASS 3.6.0), which could not be provided" in out
    assert "Traceback" not in out
    assert not list(repo.glob(".kernels_build/*/project/CMakeLists.txt"))
