"""The whole publishing path, as a user runs it, against the local Hub server:

build examples/relu (cpu) -> kernels from-wheel -> kernels upload -> kernels to-wheel from the
server -> pip install -> run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernels.testing.fixtures import DUMMY_TOKEN  # noqa: F401  (sets HF_HUB_DISABLE_XET first)

pytestmark = pytest.mark.slow
pytest_plugins = ["kernels.testing.fixtures"]


def _kernels(*args: str, env) -> str:
    proc = subprocess.run([sys.executable, "-m", "kernels.cli", *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"kernels {' '.join(args)}:\n{proc.stdout}\n{proc.stderr[-5000:]}"
    return proc.stdout


def test_build_convert_upload_download_install_run(hub_server, relu_cpu_wheel, tmp_path: Path) -> None:
    env = {**os.environ, "HF_ENDPOINT": hub_server.url, "HF_TOKEN": hub_server.token,
           "HF_HUB_CACHE": str(tmp_path / "cache"), "HF_HUB_DISABLE_XET": "1"}
    tree = tmp_path / "tree"
    _kernels("from-wheel", str(relu_cpu_wheel), "-o", str(tree), env=env)
    _kernels("check", str(tree), env=env)
    _kernels("upload", str(tree), "--repo-id", "kernels-test/relu", env=env)
    _kernels("to-wheel", "kernels-test/relu", "1", "-o", str(tmp_path / "wheels"), env=env)

    (wheel,) = list((tmp_path / "wheels").glob("*.whl"))
    assert wheel.name == relu_cpu_wheel.name
    assert wheel.read_bytes() == relu_cpu_wheel.read_bytes()  # the very same wheel came back

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    code = "import torch, relu; x = torch.randn(1000); assert torch.equal(relu.relu(x), torch.relu(x)); print('ok')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(target)}, cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]
