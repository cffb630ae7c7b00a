"""CUDA compile test: build examples/relu for cuda with nvcc against a CUDA build of torch.

No GPU is needed: the test checks the wheel, the architectures embedded in the extension
(``cuobjdump``) and the compliance gate. It needs a Python interpreter whose torch is a CUDA
build, given by ``KERNELS_TEST_CUDA_PYTHON`` (``nox -s tests`` prepares one when nvcc exists).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from kernels_build.compliance import check_extension

ROOT = Path(__file__).resolve().parents[1]
CUDA_PYTHON = os.environ.get("KERNELS_TEST_CUDA_PYTHON")

pytestmark = [
    pytest.mark.cuda_compile,
    pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed"),
    pytest.mark.skipif(not CUDA_PYTHON, reason="KERNELS_TEST_CUDA_PYTHON (a CUDA torch) is not set"),
]


def _python(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([CUDA_PYTHON, *args], capture_output=True, text=True, **kwargs)


def _cuobjdump() -> str:
    """cuobjdump from the toolkit, or from the nvidia-cuda-cuobjdump wheel of the CUDA venv."""
    found = shutil.which("cuobjdump")
    if found:
        return found
    out = _python("-c", "import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))").stdout.strip()
    for candidate in Path(out).glob("nvidia/*/bin/cuobjdump"):
        return str(candidate)
    pytest.fail("cuobjdump not found: install nvidia-cuda-cuobjdump into the CUDA test environment")


@pytest.fixture(scope="module")
def cuda_build(tmp_path_factory) -> tuple:
    work = tmp_path_factory.mktemp("relu-cuda")
    src = work / "relu"
    shutil.copytree(ROOT / "examples" / "relu", src, ignore=shutil.ignore_patterns(".kernels_build", "__pycache__"))
    info = json.loads(_python("-c", "import json, torch; print(json.dumps([torch.__version__, torch.version.cuda]))").stdout)
    proc = _python(
        "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", str(work / "dist"), str(src),
        env={**os.environ, "MAX_JOBS": str(os.cpu_count() or 2)},
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    wheels = list((work / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as archive:
        archive.extractall(work / "extract")
    (so,) = list((work / "extract" / "relu").glob("*.abi3.so"))
    return wheels[0], info, so


def test_wheel_name_and_variant(cuda_build) -> None:
    wheel, (torch_version, cuda), _ = cuda_build
    mm = "".join(torch_version.split(".")[:2])
    cu = "cu" + cuda.replace(".", "")
    assert wheel.name == f"relu-1.0.0+torch{mm}{cu}cxx11-cp39-abi3-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel) as archive:
        variant = archive.read("relu-1.0.0+torch%s%scxx11.dist-info/kernels-variant.txt" % (mm, cu)).decode().strip()
        metadata = json.loads(archive.read("relu/metadata.json"))
    assert variant == f"torch{mm}-cxx11-{cu}-x86_64-linux"
    assert metadata["backend"] == {"type": "cuda", "archs": ["8.0", "9.0+PTX"]}
    assert metadata["id"].startswith("_relu_cuda_")


def test_sass_for_every_arch_and_ptx_for_newest(cuda_build) -> None:
    _, _, so = cuda_build
    tool = _cuobjdump()
    elf = subprocess.run([tool, "--list-elf", str(so)], capture_output=True, text=True, check=True).stdout
    ptx = subprocess.run([tool, "--list-ptx", str(so)], capture_output=True, text=True, check=True).stdout
    assert set(re.findall(r"sm_(\d+)", elf)) == {"80", "90"}, elf
    assert set(re.findall(r"sm_(\d+)", ptx)) == {"90"}, ptx


def test_nvcc_compiles_archs_and_optimizations_in_parallel(cuda_build) -> None:
    """relu.cu (sm_80, sm_90 and its PTX) gets one nvcc thread per arch and split optimizations,
    as kernels_build.parallelism sizes them for this machine (CMake passes them through)."""
    _, _, so = cuda_build
    (ninja,) = (so.parents[2] / "relu" / ".kernels_build").glob("*/cmake-build/build.ninja")
    (line,) = [x for x in ninja.read_text().splitlines() if "FLAGS" in x and "compute_90" in x]
    if (os.cpu_count() or 1) >= 2:
        assert "--threads=2" in line and re.search(r"--split-compile=[2-4]\b", line), line


def test_cuda_extension_passes_the_gate(cuda_build) -> None:
    _, _, so = cuda_build
    report = check_extension(so)
    assert report.ok, report.describe()


RUN_ON_GPU = """
import sys, torch
sys.path.insert(0, sys.argv[1])
import relu
x = torch.randn(1000, device="cuda")
torch.testing.assert_close(relu.relu(x), torch.relu(x), rtol=0, atol=0)
print("ran", relu._ops.add_op_namespace_prefix("relu"))
"""


def test_impl_registered_in_a_cu_file(tmp_path: Path) -> None:
    """TORCH_LIBRARY_IMPL_EXPAND in a .cu file (nvcc) with the op namespace read at load time:
    the .cu file is not compiled with TORCH_EXTENSION_NAME. Where the CUDA interpreter sees a
    GPU (the GPU machine), the op also runs."""
    src = tmp_path / "relu"
    shutil.copytree(ROOT / "examples" / "relu", src, ignore=shutil.ignore_patterns(".kernels_build", "__pycache__"))
    cu = src / "relu_cuda" / "relu.cu"
    cu.write_text(cu.read_text().replace('#include "torch_binding.h"', '#include "registration.h"\n#include "torch_binding.h"')
                  + "\nTORCH_LIBRARY_IMPL_EXPAND(TORCH_EXTENSION_NAME, CUDA, ops) { ops.impl(\"relu\", &relu); }\n")
    binding = src / "torch-ext" / "torch_binding.cpp"
    text = binding.read_text()
    start, end = text.index("#if defined(CPU_KERNEL)"), text.index("#endif") + len("#endif")
    binding.write_text(text[:start] + "// implementations: relu_cuda/relu.cu" + text[end:])
    proc = _python(
        "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", str(tmp_path / "dist"), str(src),
        "-C", "kernels.cuda-capabilities=9.0",
        env={**os.environ, "MAX_JOBS": str(os.cpu_count() or 2)},
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    cmake = next((src / ".kernels_build").glob("*/project/CMakeLists.txt")).read_text()
    assert "kernel_add_extension(OPS_NAME_AT_LOAD" in cmake and "kernel_use_ops_name" not in cmake
    ninja = next((src / ".kernels_build").glob("*/cmake-build/build.ninja")).read_text()
    assert ninja.count("TORCH_EXTENSION_NAME=") == 1  # the generated glue TU only
    if _python("-c", "import torch; assert torch.cuda.is_available()").returncode == 0:
        (wheel,) = list((tmp_path / "dist").glob("*.whl"))
        site = tmp_path / "site"
        install = _python("-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel))
        assert install.returncode == 0, install.stdout + install.stderr
        ran = _python("-c", RUN_ON_GPU, str(site), cwd=tmp_path)
        assert ran.returncode == 0 and "ran _relu_cuda_" in ran.stdout, ran.stdout + ran.stderr
