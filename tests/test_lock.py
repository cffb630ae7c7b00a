"""Locking: ``kernels lock`` / ``kernels download``, ``kernels.lock`` in a project's installed
metadata, :func:`get_locked_kernel`, :func:`load_kernel`, and a tampered cache being refused.

The kernel is the CPU build of examples/relu made by our backend, uploaded with ``kernels
upload`` to the local Hub server and fetched by the real huggingface_hub client. Loads of the
compiled kernel after the first happen in subprocesses (its ops register once per process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Optional

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

from kernels import get_locked_kernel, load_kernel  # noqa: E402
from kernels.convert import from_wheel  # noqa: E402
from kernels.errors import LockError, UntrustedKernelError  # noqa: E402
from kernels.integrity import local_variant_hash, variant_tree_hash  # noqa: E402
from kernels.lock import dump_lockfile, parse_lockfile, read_dependencies, read_project_lock  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

SRC = Path(__file__).resolve().parents[1] / "src"
ORG = "lock-org"
REPO = f"{ORG}/relu"


def _env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC)
    env.update(extra or {})
    return env


def kernels_cli(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kernels.cli", *args], env=_env(env), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)


def python(code: str, env: Optional[Dict[str, str]] = None, pythonpath: Optional[str] = None) -> subprocess.CompletedProcess:
    full = _env(env)
    if pythonpath:
        full["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)


@pytest.fixture(scope="module")
def relu_tree(relu_cpu_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("relu-tree")
    from_wheel([relu_cpu_wheel], root)
    return root


@pytest.fixture
def relu_on_hub(hub_server, relu_tree: Path) -> str:
    """``lock-org/relu`` uploaded with ``kernels upload``; returns the commit of v1."""
    hub_server.set_trusted_publisher(ORG)
    result = kernels_cli("upload", str(relu_tree), "--repo-id", REPO)
    assert result.returncode == 0, result.stderr
    commit = result.stdout.strip().rsplit(" ", 1)[-1]
    assert len(commit) == 40
    return commit


def make_project(root: Path, deps: str = f'"{REPO}" = 1\n') -> Path:
    """A setuptools project that uses the relu kernel through its lock."""
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "lockuser"
        version = "0.1"

        [tool.setuptools]
        packages = ["lockuser"]

        [tool.kernels.dependencies]
        """) + deps)
    (root / "lockuser").mkdir()
    (root / "lockuser" / "__init__.py").write_text(textwrap.dedent(f"""\
        import kernels

        def locked():
            return kernels.get_locked_kernel("{REPO}", lockfile=None)

        def cached():
            return kernels.load_kernel("{REPO}", lockfile=None)
        """))
    return root


def test_lock_download_and_load(hub_server, relu_on_hub: str, relu_tree: Path, tmp_path: Path) -> None:
    import torch

    project = make_project(tmp_path / "project")
    result = kernels_cli("lock", str(project))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {project / 'kernels.lock'} (1 kernel)"
    assert f"locked {REPO} v1 -> {relu_on_hub}" in result.stderr
    (variant,) = [p.name for p in (relu_tree / "build").iterdir()]
    (entry,) = json.loads((project / "kernels.lock").read_text())
    assert entry["repo_id"] == REPO and entry["sha"] == relu_on_hub
    assert list(entry["variants"]) == [variant]
    assert entry["variants"][variant]["hash_type"] == "git_lfs_concat"

    result = kernels_cli("download", str(project))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == f"{REPO}@{relu_on_hub}"
    variant_dir = Path(result.stdout.strip())
    assert variant_dir.parts[-4:] == ("snapshots", relu_on_hub, "build", variant)
    # the hash from the Hub's listing (lock) equals the hash of the downloaded files
    assert local_variant_hash(variant_dir) == entry["variants"][variant]["hash"]
    result = kernels_cli("download", str(project), "--all-variants")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(variant_dir)]  # this repository has one variant

    hub_server.request_log.clear()
    result = python(f"""
        import torch, kernels
        relu = kernels.load_kernel("{REPO}", lockfile={str(project / 'kernels.lock')!r})
        print(relu.relu(torch.tensor([-1.0, 4.0])).tolist())
    """, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[0.0, 4.0]"
    assert list(hub_server.request_log) == []  # cache only

    relu = get_locked_kernel(REPO, lockfile=project / "kernels.lock")
    assert relu.relu(torch.tensor([-2.0, 2.0])).tolist() == [0.0, 2.0]
    assert load_kernel(REPO, lockfile=project / "kernels.lock") is relu

    result = kernels_cli("lock", str(project), "--format", "0.17")
    assert result.returncode == 0, result.stderr
    assert json.loads((project / "kernels.lock").read_text()) == [
        {"dependency": {"repo-id": REPO, "version": 1}, "lock": {"commit": relu_on_hub}}]
    (old,) = parse_lockfile((project / "kernels.lock").read_text())
    assert (old.repo_id, old.commit, old.version, dict(old.variants)) == (REPO, relu_on_hub, 1, {})


def test_lock_travels_in_installed_metadata(hub_server, relu_on_hub: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    assert kernels_cli("lock", str(project)).returncode == 0
    site = tmp_path / "site"
    # The build finds our egg_info writer through the installed kernels distribution's entry points.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
                    "--target", str(site), str(project)], check=True, env=env, timeout=300)
    (dist_info,) = site.glob("lockuser-0.1*.dist-info")
    assert (dist_info / "kernels.lock").read_text() == (project / "kernels.lock").read_text()

    result = python("""
        import torch, lockuser
        relu = lockuser.locked()
        print(relu.relu(torch.tensor([-1.0, 3.0])).tolist())
        assert lockuser.cached() is relu
    """, pythonpath=f"{site}{os.pathsep}{SRC}")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[0.0, 3.0]"

    result = python(f"""
        import kernels
        try:
            kernels.get_locked_kernel("{REPO}", lockfile=None)
        except ValueError as exc:
            print("ERROR", type(exc).__name__, exc)
    """)
    assert "ERROR LockError" in result.stdout and "pass lockfile=" in result.stdout


def test_tampered_cache_is_refused(hub_server, relu_on_hub: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    assert kernels_cli("lock", str(project)).returncode == 0
    download = kernels_cli("download", str(project))
    assert download.returncode == 0, download.stderr
    variant_dir = Path(download.stdout.strip())
    init = variant_dir / "__init__.py"
    blob = init.resolve()
    blob.chmod(0o644)
    blob.write_text(blob.read_text() + "\nTAMPERED = True\n")
    lockfile = str(project / "kernels.lock")

    for call, env in ((f"kernels.load_kernel({REPO!r}, lockfile={lockfile!r})", {"HF_HUB_OFFLINE": "1"}),
                      (f"kernels.get_locked_kernel({REPO!r}, lockfile={lockfile!r})", {})):
        result = python(f"""
            import sys, kernels
            try:
                {call}
            except RuntimeError as exc:
                print("ERROR", type(exc).__name__, exc)
            print("imported:", any(name.startswith("_relu_") for name in sys.modules))
        """, env=env)
        assert "ERROR KernelIntegrityError" in result.stdout, result.stdout
        assert "the cache was modified" in result.stdout and "kernels download" in result.stdout
        assert "imported: False" in result.stdout

    # Without a lock, get_kernel notices the file no longer matches the Hub's id and fetches it again.
    result = python(f"""
        import logging, torch, kernels
        logging.basicConfig(level=logging.WARNING)
        relu = kernels.get_kernel({REPO!r}, version=1, backend="cpu")
        print(hasattr(relu, "TAMPERED"), relu.relu(torch.tensor([-1.0, 5.0])).tolist())
    """)
    assert result.returncode == 0, result.stdout
    assert "corrupted files in the cache (__init__.py: content hashes to" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "False [0.0, 5.0]"
    result = python(f"""
        import kernels
        print(kernels.load_kernel({REPO!r}, lockfile={lockfile!r}).__name__)
    """, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout


def test_lock_errors(hub_server, relu_on_hub: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "p1")
    with pytest.raises(LockError, match="no such lock file.*kernels lock"):
        get_locked_kernel(REPO, lockfile=project / "kernels.lock")
    (project / "kernels.lock").write_text("{not json")
    with pytest.raises(LockError, match="not valid JSON"):
        load_kernel(REPO, lockfile=project / "kernels.lock")
    (project / "kernels.lock").write_text(dump_lockfile([]))
    with pytest.raises(LockError, match=f"{REPO} is not locked"):
        load_kernel(REPO, lockfile=project / "kernels.lock")
    (project / "kernels.lock").write_text('[{"repo_id": "a/b", "sha": "main", "variants": {}}]')
    with pytest.raises(LockError, match="expected a 40-hex commit id"):
        load_kernel("a/b", lockfile=project / "kernels.lock")

    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "pyproject.toml").write_text('[project]\nname = "x"\n')
    result = kernels_cli("lock", str(bare))
    assert result.returncode == 1
    assert result.stderr.startswith("kernels lock: error:") and "[tool.kernels.dependencies]" in result.stderr
    assert "Traceback" not in result.stderr
    result = kernels_cli("download", str(bare))
    assert result.returncode == 1 and "run `kernels lock" in result.stderr

    bad = make_project(tmp_path / "p2", deps=f'"{REPO}" = "v1"\n')
    with pytest.raises(LockError, match="expected a major version"):
        read_dependencies(bad)

    from kernels.lock import lock_project
    from kernels.upload import upload_tree

    from test_load import fake_kernel

    fake_kernel(tmp_path / "k", name="shady")
    upload_tree(tmp_path / "k", repo_id="nobody/shady")
    with pytest.raises(UntrustedKernelError):
        lock_project(make_project(tmp_path / "p3", deps='"nobody/shady" = 1\n'))
    assert not (tmp_path / "p3" / "kernels.lock").exists()
    # an author locks a kernel of their own organisation by naming it (or any, with --trust-remote-code)
    refused = kernels_cli("lock", str(tmp_path / "p3"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "`kernels lock --trust nobody/shady`" in refused.stderr and "trust_remote_code=" not in refused.stderr
    assert kernels_cli("lock", str(tmp_path / "p3"), "--trust", "other/kernel").returncode == 1
    for opt_in in (["--trust", "nobody/shady"], ["--trust-remote-code"]):
        (tmp_path / "p3" / "kernels.lock").unlink(missing_ok=True)
        locked = kernels_cli("lock", str(tmp_path / "p3"), *opt_in)
        assert locked.returncode == 0, locked.stderr
        assert [lock.repo_id for lock in read_project_lock(tmp_path / "p3")] == ["nobody/shady"]
    with pytest.raises(ValueError, match="no version 7"):
        lock_project(make_project(tmp_path / "p4", deps=f'"{REPO}" = 7\n'))


def test_variant_tree_hash_is_order_independent() -> None:
    a = [("a.py", "00" * 20), ("lib/x.so", "ab" * 32)]
    assert variant_tree_hash(a) == variant_tree_hash(list(reversed(a)))
    assert variant_tree_hash(a) != variant_tree_hash([("a.py", "01" * 20), ("lib/x.so", "ab" * 32)])


def test_local_hash_takes_file_kinds_from_the_listing(tmp_path: Path) -> None:
    """Without cache links the Hub's listing says which files are LFS; the guess (binaries
    and big files) is the last resort."""
    import hashlib

    variant = tmp_path / "variant"
    variant.mkdir()
    (variant / "weights.txt").write_text("text stored with LFS\n")
    (variant / "__init__.py").write_text("x = 1\n")
    blob = lambda data: hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()  # noqa: E731
    sha256 = lambda data: hashlib.sha256(data).hexdigest()  # noqa: E731
    text, init = (variant / "weights.txt").read_bytes(), (variant / "__init__.py").read_bytes()
    guessed = variant_tree_hash([("weights.txt", blob(text)), ("__init__.py", blob(init))])
    listed = variant_tree_hash([("weights.txt", sha256(text)), ("__init__.py", blob(init))])
    assert local_variant_hash(variant) == guessed
    assert local_variant_hash(variant, lfs_files={"weights.txt"}) == listed


def test_our_backend_puts_kernels_lock_into_dist_info(tmp_path: Path) -> None:
    """A kernel that locks the kernels it uses carries kernels.lock in its wheel's metadata."""
    import zipfile

    from conftest import copy_example, only_wheel, pip_wheel

    repo = copy_example("silu-and-mul", tmp_path)
    with open(repo / "pyproject.toml", "a") as fh:
        fh.write(f'\n[tool.kernels.dependencies]\n"{REPO}" = 1\n')
    failed = pip_wheel(repo, tmp_path / "none", check=False)
    assert failed.returncode != 0
    assert "has [tool.kernels.dependencies] but there is no kernels.lock: run `kernels lock" in (failed.stdout or "") + (failed.stderr or "")

    lock_text = dump_lockfile(parse_lockfile(f'[{{"repo_id": "{REPO}", "sha": "{"b" * 40}", "variants": {{}}}}]'))
    (repo / "kernels.lock").write_text(lock_text)
    pip_wheel(repo, tmp_path / "dist")
    with zipfile.ZipFile(only_wheel(tmp_path / "dist")) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/kernels.lock")]
        assert wheel.read(name).decode() == lock_text


def test_a_lock_does_not_make_an_untrusted_kernel_run(hub_server, tmp_path: Path) -> None:
    """A lock (anyone can write one) naming an untrusted publisher's kernel whose files are
    cached: load_kernel refuses it until trust_remote_code names it."""
    from huggingface_hub import snapshot_download

    from kernels.upload import upload_tree
    from test_load import fake_kernel

    fake_kernel(tmp_path / "k", name="shady3")
    commit = upload_tree(tmp_path / "k", repo_id="nobody/shady3").commit
    snapshot_download("nobody/shady3", repo_type="kernel", revision=commit, endpoint=hub_server.url,
                      cache_dir=hub_server.cache_dir)
    lockfile = tmp_path / "kernels.lock"
    lockfile.write_text(json.dumps([{"dependency": {"repo-id": "nobody/shady3", "version": 1},
                                     "lock": {"commit": commit}}]))
    with pytest.raises(UntrustedKernelError, match=r"trust_remote_code=\['nobody/shady3'\]"):
        load_kernel("nobody/shady3", lockfile=lockfile)
    assert load_kernel("nobody/shady3", lockfile=lockfile, trust_remote_code=["nobody/shady3"]).VALUE == 42
