"""GPU tests: build the examples for CUDA on a machine with an NVIDIA GPU and run their tests.

Run them on the GPU machine with ``nox -s gpu`` (or ``python -m pytest -m gpu``). That
machine's toolchain is newer than manylinux_2_28 allows, so the compliance gate is
downgraded to a warning there (``KERNELS_BUILD_COMPLIANCE=warn``) and the wheels are tagged
with the policy they really meet.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import GPU_MARKS, run_on_gpu_host

ROOT = Path(__file__).resolve().parents[1]
pytestmark = GPU_MARKS


def _build_and_test(example: str, tmp_path: Path, *extra: str) -> str:
    src = tmp_path / example
    shutil.copytree(ROOT / "examples" / example, src, ignore=shutil.ignore_patterns(".kernels_build", "__pycache__"))
    env = {**os.environ, "KERNELS_BUILD_COMPLIANCE": os.environ.get("KERNELS_BUILD_COMPLIANCE", "warn")}
    build = run_on_gpu_host(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", str(tmp_path / "dist"),
         str(src), *extra],
        env=env,
    )
    (wheel,) = list((tmp_path / "dist").glob("*.whl"))
    run_on_gpu_host([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(tmp_path / "site"), str(wheel)])
    pythonpath = os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])
    result = run_on_gpu_host(
        [sys.executable, "-m", "pytest", str(src / "tests"), "-m", "kernels_ci", "-p", "no:cacheprovider", "-v", "-rs"],
        env={**os.environ, "PYTHONPATH": pythonpath},
        cwd=tmp_path,
    )
    print(build.stderr[-3000:])
    print(result.stdout[-5000:])
    return wheel.name + "\n" + result.stdout


def test_relu_cuda_build_runs_on_gpu(tmp_path: Path) -> None:
    out = _build_and_test("relu", tmp_path)
    assert "+torch" in out and "cu1" in out.splitlines()[0], out.splitlines()[0]
    # The CUDA cases really ran (not skipped) and passed.
    assert "test_relu_matches_torch[dtype0-cuda] PASSED" in out, out


def test_noarch_kernel_on_gpu(tmp_path: Path) -> None:
    out = _build_and_test("silu-and-mul", tmp_path, "-C", "kernels.backend=cuda")
    assert out.splitlines()[0] == "silu_and_mul-1.0.0+torchcuda-py3-none-any.whl"
    assert "cuda" in out and " PASSED" in out and " FAILED" not in out, out
