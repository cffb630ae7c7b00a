"""The README's "Writing a kernel" guide works as written.

The ``bash`` block after ``<!-- guide -->`` is run verbatim, line by line under ``set -e``, in
an empty directory, in a fresh venv made as the README says (``pip install torch==2.13.*``,
then ``pip install '.[build]' pytest`` from this checkout; its ``pip``, ``python`` and
``kernels`` first on PATH), with the local Hub server standing in for huggingface.co
(``HF_ENDPOINT``, ``HF_TOKEN`` from the ``hub_server`` fixture).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from kernels.testing.fixtures import DUMMY_TOKEN  # noqa: F401  (sets HF_HUB_DISABLE_XET first)

from huggingface_hub import HfApi  # noqa: E402

from conftest import REPO_ROOT, clean_env, run  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]


def guide_commands() -> list:
    """The command lines of the README's guide block (comments and blank lines dropped)."""
    readme = (REPO_ROOT / "README.md").read_text()
    m = re.search(r"<!-- guide -->\n```bash\n(.*?)\n```", readme, re.S)
    assert m, "README.md has no ```bash block after <!-- guide -->"
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in m[1].splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_guide_block_covers_the_whole_workflow() -> None:
    commands = guide_commands()
    starts = [c.split()[0] if not c.startswith("LOCAL_KERNELS") else "LOCAL_KERNELS" for c in commands]
    assert commands[0].startswith("kernels init ") and "pip" in starts and "python" in starts
    for needed in ("kernels from-wheel", "kernels check", "kernels release --dry-run", "kernels release",
                   "get_kernel('my-org/my-relu', version=1"):
        assert any(needed in c for c in commands), needed


def _readme_venv(path: Path) -> Path:
    """The venv the guide's introduction describes; returns its ``bin`` directory."""
    run([sys.executable, "-m", "venv", str(path)], cwd=path.parent)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    run([*pip, "torch==2.13.*"], cwd=path.parent, env=clean_env())
    run([*pip, ".[build]", "pytest"], cwd=REPO_ROOT, env=clean_env(), timeout=1200)
    return path / "bin"


def test_readme_names_the_install_the_guide_runs_in() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "`pip install torch==2.13.*`" in readme and "`pip install '.[build]' pytest`" in readme


@pytest.mark.slow
def test_readme_guide_runs_as_written(hub_server, tmp_path: Path) -> None:
    commands = guide_commands()
    script = "set -euxo pipefail\n" + "\n".join(commands) + "\n"
    bindir = str(_readme_venv(tmp_path / "venv"))
    work = tmp_path / "work"
    work.mkdir()
    result = run(["bash", "-c", script], cwd=work, env={"PATH": bindir + os.pathsep + os.environ["PATH"],
                                                       "VIRTUAL_ENV": str(Path(bindir).parent)})
    out = result.stdout
    assert "5 passed" in out  # the kernel's own tests
    assert "[5/5] upload: dry run" in out and "MyReluBenchmark.base" in out
    assert re.search(r"tensor\(\[[^\]]*\]\)", out)  # get_kernel from the (local) Hub ran the kernel
    assert '"include":[' in out  # build-matrix
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    files = api.list_repo_files("my-org/my-relu", repo_type="kernel", revision="v1")
    assert any(f.startswith("build/torch") and f.endswith(".abi3.so") for f in files)
