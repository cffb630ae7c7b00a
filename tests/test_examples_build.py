"""End-to-end builds of the example kernels in examples/: pip wheel -> install -> their tests.

Each example is copied to a temporary directory (builds write ``.kernels_build/`` into the
kernel repo), built with ``pip wheel --no-build-isolation`` against the torch of this
environment, installed with ``pip install --target``, and its own ``kernels_ci`` tests are
run in a fresh interpreter that sees only that target directory (plus this environment's
torch).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import List

import pytest

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")
from kernels.variants import host_cpu  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(cmd: List[str], cwd: Path, env: dict = None, timeout: int = 1200) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed with exit status {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
    )
    return proc


def _clean_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _copy_example(name: str, tmp_path: Path) -> Path:
    copy = tmp_path / name
    shutil.copytree(
        EXAMPLES / name, copy,
        ignore=shutil.ignore_patterns(".kernels_build", "__pycache__", "*.pyc", "build", "dist"),
    )
    return copy


def _build_wheel(repo: Path, out: Path) -> Path:
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
         "-w", str(out), "."],
        cwd=repo, env=_clean_env(),
    )
    wheels = sorted(out.glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {out}, found {[w.name for w in wheels]}"
    return wheels[0]


def _install_and_test(wheel: Path, repo: Path, tmp_path: Path) -> str:
    target = tmp_path / "site"
    _run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target),
         str(wheel)],
        cwd=tmp_path, env=_clean_env(),
    )
    env = _clean_env()
    env["PYTHONPATH"] = str(target)
    proc = _run(
        [sys.executable, "-m", "pytest", str(repo / "tests"), "-m", "kernels_ci",
         "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path, env=env,
    )
    assert " passed" in proc.stdout, proc.stdout[-3000:]
    return proc.stdout


def _variant_of(archive: zipfile.ZipFile) -> str:
    (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/kernels-variant.txt")]
    return archive.read(name).decode().strip()


def test_silu_and_mul_builds_noarch_wheel_and_passes_its_tests(tmp_path):
    repo = _copy_example("silu-and-mul", tmp_path)
    wheel = _build_wheel(repo, tmp_path / "wheels")
    assert wheel.name == "silu_and_mul-1.0.0+torchcpu-py3-none-any.whl"

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for required in ("silu_and_mul/__init__.py", "silu_and_mul/layers.py",
                         "silu_and_mul/_ops.py", "silu_and_mul/metadata.json"):
            assert required in names, sorted(names)
        assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib"))], sorted(names)
        assert _variant_of(archive) == "torch-cpu"
        metadata = json.loads(archive.read("silu_and_mul/metadata.json"))
        ops_py = archive.read("silu_and_mul/_ops.py").decode()

    assert metadata["name"] == "silu-and-mul"
    assert metadata["version"] == 1
    assert metadata["backend"] == {"type": "cpu"}
    assert metadata["id"].startswith("_silu_and_mul_cpu_")
    assert set(metadata["digest"]["files"]) == {"__init__.py", "_ops.py", "layers.py"}
    # A noarch _ops.py names the backend found at import; on this CPU torch that gives
    # metadata.json's id.
    uid = metadata["id"].rsplit("_", 1)[1]
    assert f'_OPS_NAME = "_silu_and_mul_" + _backend() + "_{uid}"' in ops_py
    assert "ops = getattr(torch.ops, _OPS_NAME)" in ops_py

    _install_and_test(wheel, repo, tmp_path)


@pytest.mark.skipif(
    tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) < (2, 10),
    reason="the stable-ABI example targets torch 2.10",
)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux wheel names are Linux-only")
def test_relu_stable_abi_builds_abi3_wheel_and_passes_its_tests(tmp_path):
    repo = _copy_example("relu-stable-abi", tmp_path)
    wheel = _build_wheel(repo, tmp_path / "wheels")
    arch = host_cpu()
    assert wheel.name == (
        f"relu_stable_abi-1.0.0+torchstableabi210cpu-cp39-abi3-manylinux_2_28_{arch}.whl"
    )

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert _variant_of(archive) == f"torch-stable-abi210-cpu-{arch}-linux"
        metadata = json.loads(archive.read("relu_stable_abi/metadata.json"))
        (extension,) = [n for n in names if n.endswith(".so")]
        requires = [
            line for line in archive.read(
                next(n for n in names if n.endswith(".dist-info/METADATA"))
            ).decode().splitlines() if line.startswith("Requires-Dist:")
        ]

    assert metadata["backend"] == {"type": "cpu"}
    assert extension == f"relu_stable_abi/{metadata['id']}.abi3.so"
    assert "relu_stable_abi/_ops.py" in names
    # A stable-ABI build works with any torch from the targeted release on.
    assert requires == ["Requires-Dist: torch>=2.10"]

    _install_and_test(wheel, repo, tmp_path)
