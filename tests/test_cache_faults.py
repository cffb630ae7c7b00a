"""Faults around the download cache: eight processes loading one kernel at once, a download
killed half way, corrupted cached files; and the ``kernels versions`` / ``kernels info``
commands. Every client is a separate process talking to the local Hub server over HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

from kernels.convert import from_wheel  # noqa: E402
from kernels.integrity import verify_cached_variant  # noqa: E402
from kernels.upload import upload_tree  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

SRC = Path(__file__).resolve().parents[1] / "src"
ORG = "fault-org"


def _env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC)
    env.update(extra or {})
    return env


def _script(code: str) -> List[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _snapshot_files(cache: Path) -> List[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file() or p.is_symlink())


@pytest.fixture(scope="module")
def relu_tree(relu_cpu_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("relu-tree")
    from_wheel([relu_cpu_wheel], root)
    return root


def test_eight_processes_one_cache_copy(hub_server, relu_tree: Path, tmp_path: Path) -> None:
    hub_server.set_trusted_publisher(ORG)
    upload_tree(relu_tree, repo_id=f"{ORG}/relu")
    go = tmp_path / "go"
    code = f"""
        import os, time, torch, kernels
        while not os.path.exists({str(go)!r}):
            time.sleep(0.01)
        relu = kernels.get_kernel("{ORG}/relu", version=1, backend="cpu")
        print("OK", relu.__name__, relu.relu(torch.tensor([-1.0, 6.0])).tolist())
    """
    procs = [subprocess.Popen(_script(code), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(8)]
    time.sleep(3)  # let all eight import torch and wait at the barrier
    go.touch()
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, "\n---\n".join(outputs)
    names = {line.split()[1] for out in outputs for line in out.splitlines() if line.startswith("OK")}
    assert len(names) == 1
    assert all(out.strip().endswith("[0.0, 6.0]") for out in outputs)

    cache = hub_server.cache_dir / f"kernels--{ORG}--relu"
    (snapshot,) = (cache / "snapshots").iterdir()
    (variant_dir,) = (snapshot / "build").iterdir()
    assert verify_cached_variant(variant_dir, hub_server.cache_dir) == {}
    blobs = list((cache / "blobs").iterdir())
    assert not [b for b in blobs if b.name.endswith(".incomplete")]
    linked = {p.resolve() for p in variant_dir.rglob("*") if p.is_symlink()}
    assert linked == {b.resolve() for b in blobs}  # one copy of every file, nothing else


def test_killed_download_then_next_call_succeeds(hub_server, tmp_path: Path) -> None:
    from test_load import fake_kernel

    hub_server.set_trusted_publisher(ORG)
    tree = tmp_path / "big"
    variant = fake_kernel(tree, name="big", files={"__init__.py": "VALUE = 42\n"})
    # Binary, so an LFS file; larger than huggingface_hub's write chunk (10 MiB), so a partial
    # download shows on disk.
    (variant / "weights.bin").write_bytes(os.urandom(24 * 1024 * 1024))
    upload_tree(tree, repo_id=f"{ORG}/big")
    cache = hub_server.cache_dir / f"kernels--{ORG}--big"

    hub_server.download_rate = 3 * 1024 * 1024  # ~8 s for the big file
    code = f"""
        import kernels
        print(kernels.get_kernel("{ORG}/big", version=1, backend="cpu").VALUE)
    """
    victim = subprocess.Popen(_script(code), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    partial: List[Path] = []
    while time.time() < deadline and not partial:
        partial = [p for p in cache.rglob("*.incomplete") if p.stat().st_size > 0]
        time.sleep(0.05)
    assert partial, "the download never started"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    # Every partial file the killed process left (it downloads files in parallel threads, so
    # more than the one seen growing above may have been started).
    left_by_victim = {p.name for p in cache.rglob("*.incomplete")}
    assert not (cache / "snapshots").exists() or not list((cache / "snapshots").rglob("weights.bin"))
    hub_server.download_rate = None

    result = subprocess.run(_script(code), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "42"
    (variant_dir,) = cache.glob("snapshots/*/build/torch-cpu")
    assert (variant_dir / "weights.bin").read_bytes() == (variant / "weights.bin").read_bytes()
    assert verify_cached_variant(variant_dir, hub_server.cache_dir) == {}
    # huggingface_hub names partial files per process; the killed one's stays behind, unused.
    assert {p.name for p in cache.rglob("*.incomplete")} <= left_by_victim


def _published_and_loaded(hub_server, tmp_path: Path, name: str):
    """Publish a one-file kernel ``ORG/name`` (``VALUE = 42``), load it once in a subprocess;
    return ``run(**env)`` (load again, output ``VALUE ...`` or ``ERROR <type> ...``) and the
    cached ``__init__.py`` link."""
    from test_load import fake_kernel

    hub_server.set_trusted_publisher(ORG)
    fake_kernel(tmp_path / "k", name=name, files={"__init__.py": "VALUE = 42\n"})
    upload_tree(tmp_path / "k", repo_id=f"{ORG}/{name}")
    code = f"""
        import logging, kernels
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        try:
            print("VALUE", kernels.get_kernel("{ORG}/{name}", version=1, backend="cpu").VALUE)
        except RuntimeError as exc:
            print("ERROR", type(exc).__name__, exc)
    """

    def run(**env: str) -> str:
        return subprocess.run(_script(code), env=_env(env), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120).stdout

    assert "VALUE 42" in run()
    (init,) = (hub_server.cache_dir / f"kernels--{ORG}--{name}").glob("snapshots/*/build/torch-cpu/__init__.py")
    return run, init


def test_corrupted_cached_file_is_detected(hub_server, tmp_path: Path) -> None:
    run, init = _published_and_loaded(hub_server, tmp_path, "fragile")
    blob = init.resolve()
    time.sleep(0.01)  # a new mtime, so the remembered verification does not apply
    blob.write_text("VALUE = 666\n")

    offline = run(HF_HUB_OFFLINE="1")
    assert "ERROR KernelIntegrityError" in offline and "VALUE 666" not in offline
    assert "__init__.py: content hashes to" in offline and "unset HF_HUB_OFFLINE" in offline

    online = run()
    assert "WARNING" in online and "corrupted files in the cache" in online
    assert "VALUE 42" in online
    assert init.read_text() == "VALUE = 42\n"


def test_a_cache_link_to_a_file_outside_the_cache_is_refused_and_the_file_is_never_deleted(
        hub_server, tmp_path: Path) -> None:
    """A snapshot link repointed at a user's file (named like the blob, with the same content,
    so hashing alone would pass) is refused offline; online the repair re-fetches the file and
    deletes only the link, never the file it pointed at."""
    run, init = _published_and_loaded(hub_server, tmp_path, "relinked")
    elsewhere = tmp_path / "users-files" / init.resolve().name
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(init.read_bytes())
    init.unlink()
    init.symlink_to(os.path.relpath(elsewhere, init.parent))

    offline = run(HF_HUB_OFFLINE="1")
    assert "ERROR KernelIntegrityError" in offline and "links outside the kernel's cache folder" in offline
    online = run()
    assert "corrupted files in the cache" in online and "VALUE 42" in online
    assert elsewhere.read_bytes() == b"VALUE = 42\n"  # the user's file is still there
    assert init.resolve().parent.name == "blobs"


# --------------------------------------------------------------------------- versions / info


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kernels.cli", *args], env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)


def test_versions_and_info(hub_server, relu_tree: Path, tmp_path: Path) -> None:
    from test_load import fake_kernel

    hub_server.set_trusted_publisher(ORG)
    upload_tree(relu_tree, repo_id=f"{ORG}/relu")
    fake_kernel(tmp_path / "v2", "torch-cuda", name="relu", version=2, backend="cuda")
    upload_tree(tmp_path / "v2", repo_id=f"{ORG}/relu")
    (variant,) = [p.name for p in (relu_tree / "build").iterdir()]

    result = _cli("versions", f"{ORG}/relu", "--backend", "cpu")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Version 1 (branch v1):"
    assert lines[1] == f"  ✅ {variant}: compatible, preferred"
    assert lines[2] == "Version 2 (branch v2):"
    assert lines[3].startswith("  ❌ torch-cuda: ") and "cpu" in lines[3]

    result = _cli("info", f"{ORG}/relu", "--version", "1", "--backend", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["revision"] == "v1" and len(info["commit"]) == 40
    assert info["selected"] == variant and info["name"] == "relu" and info["repo_id"] == f"{ORG}/relu"
    assert info["backends"] == ["cpu"]
    result = _cli("info", f"{ORG}/relu", "--backend", "cpu")  # default: highest version
    assert result.returncode == 0, result.stderr
    assert "revision:  v2" in result.stdout and "backends:  cuda" in result.stdout
    assert "❌ torch-cuda" in result.stdout

    result = _cli("info", str(relu_tree))
    assert result.returncode == 0, result.stderr
    assert "name:      relu" in result.stdout and f"selected:  {variant}" in result.stdout

    result = _cli("info", f"{ORG}/nothing")
    assert result.returncode == 1 and result.stderr.startswith("kernels info: error:")
    assert "not found" in result.stderr and "Traceback" not in result.stderr


def test_warm_calls_in_new_processes(hub_server, tmp_path: Path) -> None:
    """A new process with a warm cache: pinned to a commit, no request at all (the trusted
    publisher answer is remembered on disk too); on a branch, one HEAD request, and a branch
    that moved is followed."""
    from test_load import fake_kernel

    hub_server.set_trusted_publisher(ORG)
    fake_kernel(tmp_path / "one", name="moving", files={"__init__.py": "VALUE = 1\n"})
    first = upload_tree(tmp_path / "one", repo_id=f"{ORG}/moving")
    code = """
        import sys, kernels
        kw = {"revision": sys.argv[1]} if len(sys.argv[1]) == 40 else {"version": int(sys.argv[1])}
        print("VALUE", kernels.get_kernel("%s/moving", backend="cpu", **kw).VALUE)
    """ % ORG

    def load(arg: str) -> str:
        hub_server.request_log.clear()
        out = subprocess.run(_script(code) + [arg], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=120).stdout
        return out.strip().splitlines()[-1]

    assert load("1") == "VALUE 1"
    assert load(first.commit) == "VALUE 1" and list(hub_server.request_log) == []
    assert load("1") == "VALUE 1"
    assert [method for method, _ in hub_server.request_log] == ["HEAD"]

    fake_kernel(tmp_path / "two", name="moving", files={"__init__.py": "VALUE = 2\n"})
    upload_tree(tmp_path / "two", repo_id=f"{ORG}/moving")
    assert load("1") == "VALUE 2"
    assert load(first.commit) == "VALUE 1"  # the old commit stays loadable from the cache
