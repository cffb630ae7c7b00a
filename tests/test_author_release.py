"""``kernels release``: build -> convert -> check -> card -> upload against the local Hub server.

A kernel made by ``kernels init`` is released twice: a dry run (everything but the upload;
the Hub stays empty) and a real release, after which ``get_kernel`` loads the kernel from the
local Hub in a fresh process.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kernels.testing.fixtures import DUMMY_TOKEN  # noqa: F401  (sets HF_HUB_DISABLE_XET first)

from huggingface_hub import HfApi  # noqa: E402

from conftest import run  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

KERNELS = [sys.executable, "-m", "kernels.cli"]
REPO = "my-org/my-relu"


def _init(tmp_path: Path) -> Path:
    run([*KERNELS, "init", "--name", REPO, "--backends", "cpu", "cuda", "my-relu"], cwd=tmp_path)
    return tmp_path / "my-relu"


def test_release_without_repository_is_one_line(tmp_path: Path) -> None:
    root = _init(tmp_path)
    text = (root / "build.toml").read_text().replace(f'[general.hub]\nrepo-id = "{REPO}"\n', "")
    (root / "build.toml").write_text(text)
    proc = run([*KERNELS, "release", "--dry-run"], cwd=root, check=False)
    assert proc.returncode == 1 and len(proc.stdout.strip().splitlines()) == 1
    assert "no repository: pass --repo-id ORG/NAME" in proc.stdout


@pytest.mark.slow
def test_dry_run_then_release_then_get_kernel(hub_server, tmp_path: Path) -> None:
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    root = _init(tmp_path)

    dry = run([*KERNELS, "release", "--dry-run"], cwd=root).stdout
    steps = [line.split(":")[0] for line in dry.splitlines() if line.startswith("[")]
    assert steps == ["[1/5] build", "[2/5] convert", "[3/5] check", "[4/5] card", "[5/5] upload"], dry
    assert "dry run, nothing uploaded" in dry and f"to {REPO}@v1:" in dry
    (variant,) = [p.name for p in (root / ".kernels_release" / "tree" / "build").iterdir()]
    assert variant.endswith("-cxx11-cpu-x86_64-linux")
    for listed in (f"build/{variant}/metadata.json", f"build/{variant}/_ops.py", f"build/{variant}/__init__.py",
                   "benchmarks/benchmark.py",
                   f"and in a commit of its own to {REPO}@main: README.md (from .kernels_release/tree/CARD.md)"):
        assert f"      {listed}" in dry.splitlines(), listed
    # the count is of the files listed for the v1 commit (the card goes to main apart)
    count = int(dry.split("would commit ")[1].split(" ")[0])
    block = dry.split(f"to {REPO}@v1:\n")[1].splitlines()
    assert len([line for line in block if line.startswith("      build/") or line.startswith("      benchmarks/")]) == count
    assert "all variants pass" in dry
    assert not api.repo_exists(REPO, repo_type="kernel")
    card = (root / ".kernels_release" / "tree" / "CARD.md").read_text()
    assert "{{" not in card and f'get_kernel("{REPO}", version=1)' in card and "- `relu`" in card

    out = run([*KERNELS, "release"], cwd=root).stdout
    assert f"[5/5] upload: " in out and f"{REPO}@v1: " in out
    files = set(api.list_repo_files(REPO, repo_type="kernel", revision="v1"))
    assert {f"build/{variant}/metadata.json", "benchmarks/benchmark.py"} <= files
    assert any(f.endswith(".abi3.so") for f in files)
    readme = api.hf_hub_download(REPO, "README.md", repo_type="kernel", cache_dir=hub_server.cache_dir)
    assert Path(readme).read_text() == card

    loaded = run([sys.executable, "-c",
                  "import torch; from kernels import get_kernel; "
                  f"k = get_kernel('{REPO}', version=1, trust_remote_code=True); "
                  "print(k.__name__, k.relu(torch.tensor([-1.0, 2.0])).tolist())"], cwd=tmp_path).stdout
    assert "[0.0, 2.0]" in loaded and "_my_relu_cpu_" in loaded
