"""``kernels upload`` and ``kernels check`` against the local Hub server, real client over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kernels.testing.fixtures import DUMMY_TOKEN  # noqa: F401  (sets HF_HUB_DISABLE_XET first)

from huggingface_hub import HfApi  # noqa: E402

from kernels.upload import upload_tree  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

VARIANT = "torch213-cxx11-cpu-x86_64-linux"


def _tree(wheel: Path, root: Path, variant: str = VARIANT) -> Path:
    """A kernel repo holding build.toml, CARD.md and build/<variant>/ from the wheel's package."""
    target = root / "build" / variant
    target.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith("relu/") and not name.endswith("/"):
                (target / name[len("relu/"):]).write_bytes(archive.read(name))
    shutil.copy(Path(__file__).parents[1] / "examples" / "relu" / "build.toml", root / "build.toml")
    (root / "CARD.md").write_text("# {{ name }}\n\nv{{ version }}, {{ license }}\n\n{{ functions }}\n")
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "benchmark.py").write_text("# benchmark\n")
    return root


def _files(api: HfApi, repo: str, revision: str) -> set:
    return set(api.list_repo_files(repo, repo_type="kernel", revision=revision))


def _commits(api: HfApi, repo: str, revision: str) -> int:
    return len(api.list_repo_commits(repo, repo_type="kernel", revision=revision))


def test_upload_creates_repo_branch_card(hub_server, relu_cpu_wheel, tmp_path) -> None:
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    root = _tree(relu_cpu_wheel, tmp_path / "relu")
    result = upload_tree(root)  # repo id from build.toml's [general.hub]
    assert (result.repo_id, result.branch, result.variants) == ("kernels-test/relu", "v1", [VARIANT])
    files = _files(api, "kernels-test/relu", "v1")
    assert {f"build/{VARIANT}/__init__.py", f"build/{VARIANT}/_ops.py", f"build/{VARIANT}/metadata.json",
            "benchmarks/benchmark.py"} <= files
    assert any(f.endswith(".abi3.so") for f in files)
    readme = api.hf_hub_download("kernels-test/relu", "README.md", repo_type="kernel", cache_dir=hub_server.cache_dir)
    assert Path(readme).read_text() == "# relu\n\nv1, apache-2.0\n\n- `relu`\n"
    assert api.repo_info("kernels-test/relu", repo_type="kernel").sha  # the repo exists, type kernel


def test_reupload_replaces_variant_files_in_one_commit(hub_server, relu_cpu_wheel, tmp_path) -> None:
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    root = _tree(relu_cpu_wheel, tmp_path / "relu")
    other = root / "build" / "torch-cpu"  # a second variant that must survive the re-upload
    shutil.copytree(root / "build" / VARIANT, other)
    for so in other.glob("*.so"):
        so.unlink()
    meta = json.loads((other / "metadata.json").read_text())
    meta.pop("digest")
    (other / "metadata.json").write_text(json.dumps(meta))
    (root / "build" / VARIANT / "stale.py").write_text("OLD = True\n")
    upload_tree(root, repo_id="org/relu")
    before = _commits(api, "org/relu", "v1")

    (root / "build" / VARIANT / "stale.py").unlink()
    shutil.rmtree(other)
    result = upload_tree(root, repo_id="org/relu")
    files = _files(api, "org/relu", "v1")
    assert f"build/{VARIANT}/stale.py" not in files and result.deleted == [f"build/{VARIANT}/stale.py"]
    assert "build/torch-cpu/__init__.py" in files  # other variants stay
    assert _commits(api, "org/relu", "v1") == before + 1  # one commit per upload and branch


def test_branch_setting_and_disagreeing_variants(hub_server, relu_cpu_wheel, tmp_path) -> None:
    root = _tree(relu_cpu_wheel, tmp_path / "relu")
    assert upload_tree(root, repo_id="org/relu2", branch="dev").branch == "dev"
    second = root / "build" / "torch-cuda"
    shutil.copytree(root / "build" / VARIANT, second)
    meta = json.loads((second / "metadata.json").read_text())
    meta["version"] = 2
    (second / "metadata.json").write_text(json.dumps(meta))
    from kernels.errors import KernelTreeError

    with pytest.raises(KernelTreeError, match="disagree"):
        upload_tree(root, repo_id="org/relu2")


def _cli(*args: str, env_from) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "HF_ENDPOINT": env_from.url, "HF_TOKEN": env_from.token, "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_CACHE": str(env_from.cache_dir)}
    return subprocess.run([sys.executable, "-m", "kernels.cli", *args], capture_output=True, text=True, env=env)


def test_cli_upload_then_check_remote(hub_server, relu_cpu_wheel, tmp_path) -> None:
    root = _tree(relu_cpu_wheel, tmp_path / "relu")
    up = _cli("upload", str(root), "--repo-id", "org/relu3", env_from=hub_server)
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("org/relu3@v1: ")
    check = _cli("check", "org/relu3", env_from=hub_server)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"OK   {VARIANT}" in check.stdout and "manylinux_2_28" in check.stdout
    missing = _cli("check", "org/does-not-exist", env_from=hub_server)
    assert missing.returncode == 1 and "not found" in missing.stderr and "Traceback" not in missing.stderr


def test_check_flags_tampered_and_noncompliant_trees(relu_cpu_wheel, tmp_path) -> None:
    root = _tree(relu_cpu_wheel, tmp_path / "relu")
    variant = root / "build" / VARIANT
    ok = subprocess.run([sys.executable, "-m", "kernels.cli", "check", str(root)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    strict = subprocess.run([sys.executable, "-m", "kernels.cli", "check", str(root), "--manylinux", "manylinux_2_5"],
                            capture_output=True, text=True)
    assert strict.returncode == 1 and "GLIBCXX_3.4" in strict.stdout
    (variant / "__init__.py").write_text("tampered = True\n")
    (variant / "__pycache__").mkdir()
    (variant / "__pycache__" / "x.pyc").write_bytes(b"\0")
    bad = subprocess.run([sys.executable, "-m", "kernels.cli", "check", str(root)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "digest: changed file: __init__.py" in bad.stdout and "bytecode" in bad.stdout


@pytest.mark.parametrize("where", ["variant", "benchmarks"])
def test_upload_refuses_a_link_out_of_the_tree_before_sending_anything(hub_server, relu_cpu_wheel, tmp_path,
                                                                        where) -> None:
    """A cloned kernel repository cannot make its user publish a private file through a link."""
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY\n")
    root = _tree(relu_cpu_wheel, tmp_path / "relu")
    inside = root / "build" / VARIANT if where == "variant" else root / "benchmarks"
    (inside / "benchmark_key.py").symlink_to(Path("..") / ".." / ".." / "id_rsa" if where == "variant"
                                             else Path("..") / ".." / "id_rsa")
    hub_server.request_log.clear()
    with pytest.raises(Exception, match="benchmark_key.py: is a symbolic link pointing outside"):
        upload_tree(root)
    assert not [r for r in hub_server.request_log if r[0] != "GET"]  # nothing created, nothing sent
    proc = subprocess.run([sys.executable, "-m", "kernels.cli", "upload", str(root)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "pointing outside" in proc.stderr
