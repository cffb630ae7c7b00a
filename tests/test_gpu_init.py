"""GPU test of ``kernels init``: the generated cuda kernel builds and passes its own tests on a GPU.

Run on the GPU machine (nvcc, a CUDA torch, an NVIDIA GPU)::

    PYTHONPATH=$PWD/src python3 -m pytest tests/test_gpu_init.py -m gpu -v -rs

The kernel is built for the GPU's own capability only (``kernels.cuda-capabilities``), with the
compliance gate as a warning (that machine's glibc is newer than manylinux_2_28 allows; see
tests/test_gpu.py), converted with ``kernels from-wheel`` and tested through
``get_kernel`` + ``LOCAL_KERNELS``, as its README says; then its benchmark runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import GPU_MARKS, run_on_gpu_host

REPO = "my-org/my-relu"
pytestmark = GPU_MARKS


def test_generated_cuda_kernel_builds_and_passes_its_tests_on_the_gpu(tmp_path: Path) -> None:
    import torch

    kernels = [sys.executable, "-m", "kernels.cli"]
    run_on_gpu_host([*kernels, "init", "--name", REPO, "--backends", "cpu", "cuda", "--no-git", "my-relu"], cwd=tmp_path)
    repo = tmp_path / "my-relu"
    major, minor = torch.cuda.get_device_capability()
    run_on_gpu_host([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", "dist",
                     "-C", f"kernels.cuda-capabilities={major}.{minor}", "."],
                    cwd=repo, env={"KERNELS_BUILD_COMPLIANCE": os.environ.get("KERNELS_BUILD_COMPLIANCE", "warn")})
    (wheel,) = list((repo / "dist").glob("*.whl"))
    assert "cu1" in wheel.name, wheel.name
    run_on_gpu_host([*kernels, "from-wheel", wheel, "-o", "."], cwd=repo)
    local = {"LOCAL_KERNELS": f"{REPO}={repo}"}
    result = run_on_gpu_host([sys.executable, "-m", "pytest", "tests", "-m", "kernels_ci", "-p", "no:cacheprovider", "-v"],
                             cwd=repo, env=local)
    print(result.stdout[-4000:])
    assert "5 passed" in result.stdout
    device = run_on_gpu_host([sys.executable, "-c",
                              f"from kernels import get_kernel; print(get_kernel('{REPO}', version=1).__name__)"],
                             cwd=repo, env=local).stdout
    assert "_my_relu_cuda_" in device  # the CUDA build was loaded, so the tests ran on the GPU
    bench = run_on_gpu_host([*kernels, "benchmark", ".", "--iterations", "5", "--warmup", "2"], cwd=repo, env=local)
    print(bench.stdout[-2000:])
    assert "MyReluBenchmark.base" in bench.stdout
