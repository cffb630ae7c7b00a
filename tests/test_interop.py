"""Interop: trees made by ``kernels from-wheel`` load and run with the released kernels 0.17.2.

The released package is installed from the package registry into its own virtual environment
(with the local CPU torch); it loads our tree with ``get_local_kernel`` and, against the local
Hub server, with ``get_kernel`` after ``kernels upload``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kernels.testing.fixtures import DUMMY_TOKEN  # noqa: F401  (sets HF_HUB_DISABLE_XET first)

from kernels.convert import from_wheel  # noqa: E402
from kernels.upload import upload_tree  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.interop]

CHECK = """
import sys, torch, kernels
from pathlib import Path
k = {load}
x = torch.randn(257)
assert torch.equal(k.relu(x), torch.relu(x)), "wrong result"
print("loaded", k.__name__)
"""


def _run(python: Path, code: str, env=None) -> str:
    full_env = {**os.environ, **(env or {})}
    # kernels 0.17.2 with HF_HUB_DISABLE_TELEMETRY set builds a user agent ending in "; ",
    # which current HTTP clients reject as an illegal header value (its bug, not ours).
    full_env.pop("HF_HUB_DISABLE_TELEMETRY", None)
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=full_env, cwd="/")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


def test_released_get_local_kernel_loads_our_tree(released_python, relu_cpu_wheel, tmp_path) -> None:
    (variant,) = from_wheel([relu_cpu_wheel], tmp_path / "relu")
    out = _run(released_python, CHECK.format(load=f"kernels.get_local_kernel(Path({str(tmp_path / 'relu')!r}))"))
    assert "loaded _relu_cpu_" in out
    assert variant.name.startswith("torch")


def test_released_get_kernel_from_local_hub(released_python, relu_cpu_wheel, hub_server, tmp_path) -> None:
    from_wheel([relu_cpu_wheel], tmp_path / "relu")
    upload_tree(tmp_path / "relu", repo_id="kernels-test/relu")
    hub_server.set_trusted_publisher("kernels-test", True)
    env = {"HF_ENDPOINT": hub_server.url, "HF_TOKEN": hub_server.token, "HF_HUB_CACHE": str(tmp_path / "cache"),
           "HF_HOME": str(tmp_path / "home"), "HF_HUB_DISABLE_XET": "1"}
    out = _run(released_python, CHECK.format(load="kernels.get_kernel('kernels-test/relu', version=1)"), env)
    assert "loaded _relu_cpu_" in out


pytest_plugins = ["kernels.testing.fixtures"]


def test_released_get_locked_kernel_reads_our_017_lock(released_python, relu_cpu_wheel, hub_server, tmp_path) -> None:
    """`kernels lock --format 0.17` writes a lock that the released runtime loads from."""
    from kernels.lock import lock_project

    from_wheel([relu_cpu_wheel], tmp_path / "relu")
    upload_tree(tmp_path / "relu", repo_id="kernels-test/relu")
    hub_server.set_trusted_publisher("kernels-test", True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.kernels.dependencies]\n"kernels-test/relu" = 1\n')
    path, _ = lock_project(project, fmt="0.17")
    env = {"HF_ENDPOINT": hub_server.url, "HF_TOKEN": hub_server.token, "HF_HUB_CACHE": str(tmp_path / "cache"),
           "HF_HOME": str(tmp_path / "home"), "HF_HUB_DISABLE_XET": "1"}
    load = f"kernels.get_locked_kernel('kernels-test/relu', lockfile=Path({str(path)!r}))"
    out = _run(released_python, CHECK.format(load=load), env)
    assert "loaded _relu_cpu_" in out


def test_released_kernels_ignores_our_dependencies_provenance(released_python, relu_cpu_wheel, tmp_path) -> None:
    """Kernels built with libraries of depends record them in provenance.dependencies."""
    import json

    (variant,) = from_wheel([relu_cpu_wheel], tmp_path / "relu")
    path = variant / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["provenance"]["dependencies"] = {"cutlass_3_8": {"version": "3.8.0", "source": "PyPI nvidia-cutlass 3.8.0.0"}}
    path.write_text(json.dumps(metadata, indent=2) + "\n")
    out = _run(released_python, CHECK.format(load=f"kernels.get_local_kernel(Path({str(tmp_path / 'relu')!r}))"))
    assert "loaded _relu_cpu_" in out
