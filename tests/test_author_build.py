"""``kernels check-config`` and ``kernels build``: the builder's everyday commands (issue 13).

Every test runs the real command line (``python -m kernels.cli``). check-config validates
copies of the examples and of broken ones without building; build's failures (missing build
tools, a bad ``-C`` setting) stop at pip before compiling. One slow test builds a copy of
examples/relu for real, then rebuilds it (the backend's incremental build makes the second
build take seconds): the variant directory is replaced, another variant is left alone, and a
build of another kernel version is refused with build/ unchanged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from conftest import clean_env, copy_example

from kernels.author.build import _swap_in

KERNELS = [sys.executable, "-m", "kernels.cli"]


def _kernels(*args: str, cwd: Path, env: Optional[dict] = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """stdout and stderr kept apart."""
    return subprocess.run([*KERNELS, *args], cwd=str(cwd), env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout)


def _one_error(proc: subprocess.CompletedProcess, command: str) -> str:
    """The command failed with exit status 1 and one error message (no traceback); return it."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    prefix = f"kernels {command}: error: "
    assert proc.stderr.startswith(prefix) and proc.stderr.count(prefix) == 1, proc.stderr
    return proc.stderr[len(prefix):]


# --------------------------------------------------------------------------- check-config


def test_check_config_accepts_the_examples_without_torch(tmp_path: Path) -> None:
    relu = copy_example("relu", tmp_path)
    silu = copy_example("silu-and-mul", tmp_path)
    proc = _kernels("check-config", "relu", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout == ("relu/build.toml: ok (relu v1; backends cpu, cuda; kernels relu_cpu (cpu), "
                           "relu_cuda (cuda); hub kernels-test/relu)\n")
    proc = _kernels("check-config", cwd=silu)  # DIR defaults to .
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("build.toml: ok (silu-and-mul v1; backends cpu, cuda; [torch-noarch], no compiled code; "
                           "hub kernels-test/silu-and-mul)\n")
    stable = copy_example("relu-stable-abi", tmp_path)
    proc = _kernels("check-config", str(stable), cwd=tmp_path)
    assert proc.returncode == 0 and "stable ABI torch 2.10 (cpu)" in proc.stdout, proc.stdout + proc.stderr

    code = ("import sys; from kernels.cli import main; rc = main(['check-config', sys.argv[1]]); "
            "print(rc, 'torch' in sys.modules, 'huggingface_hub' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(relu)], capture_output=True, text=True, env=clean_env())
    assert proc.stdout.splitlines()[-1] == "0 False False", proc.stdout + proc.stderr
    assert not (relu / ".kernels_build").exists() and not (relu / "build").exists()


def _break_toml(root: Path) -> None:
    (root / "build.toml").write_text((root / "build.toml").read_text() + "\n[[[\n")


def _unknown_backend(root: Path) -> None:
    text = (root / "build.toml").read_text()
    (root / "build.toml").write_text(text.replace('backends = ["cpu", "cuda"]', 'backends = ["cpu", "quantum"]'))


def _missing_source(root: Path) -> None:
    (root / "relu_cpu" / "relu_cpu.cpp").unlink()


def _literal_namespace(root: Path) -> None:
    init = root / "torch-ext" / "relu" / "__init__.py"
    init.write_text(init.read_text() + '\n\n@torch.library.custom_op("mylib::twice", mutates_args=())\n'
                    'def twice(x: torch.Tensor) -> torch.Tensor:\n    return x * 2\n')


@pytest.mark.parametrize("breakage,expected", [
    (_break_toml, "relu/build.toml: invalid TOML"),
    (_unknown_backend, 'general.backends: unknown backend "quantum"'),
    (_missing_source, 'kernel.relu_cpu.src: "relu_cpu/relu_cpu.cpp" does not exist'),
    (_literal_namespace, "use a literal op namespace"),
])
def test_check_config_reports_one_error(tmp_path: Path, breakage, expected: str) -> None:
    root = copy_example("relu", tmp_path)
    assert "import torch" in (root / "torch-ext" / "relu" / "__init__.py").read_text()
    breakage(root)
    proc = _kernels("check-config", "relu", cwd=tmp_path)
    message = _one_error(proc, "check-config")
    assert expected in message and proc.stdout == "", message


def test_check_config_without_a_kernel_repository(tmp_path: Path) -> None:
    message = _one_error(_kernels("check-config", "missing", cwd=tmp_path), "check-config")
    assert message == "missing: no such directory\n"
    (tmp_path / "empty").mkdir()
    message = _one_error(_kernels("check-config", "empty", cwd=tmp_path), "check-config")
    assert message.startswith("empty: no build.toml here")
    (tmp_path / "file.toml").write_text("")
    message = _one_error(_kernels("check-config", "file.toml", cwd=tmp_path), "check-config")
    assert message.startswith("file.toml: not a directory")


# --------------------------------------------------------------------------- build


def test_build_without_the_build_tools_names_the_extra(tmp_path: Path) -> None:
    """The backend's one line reaches the user, through pip and again as our error; nothing
    is compiled and build/ is not made."""
    hide = tmp_path / "hide"
    hide.mkdir()
    # importlib.util.find_spec answers None for a module that sys.modules maps to None: in
    # every process of the build (pip, the backend's hook) the tools look uninstalled.
    (hide / "sitecustomize.py").write_text(
        "import sys\nfor name in ('scikit_build_core', 'auditwheel', 'abi3audit'):\n    sys.modules[name] = None\n")
    root = copy_example("relu", tmp_path)
    proc = _kernels("build", "relu", cwd=tmp_path, env={"PYTHONPATH": str(hide)})
    message = _one_error(proc, "build")
    assert message.startswith("the build failed (pip wheel exit status 1): missing build tools: scikit-build-core")
    assert "pip install 'kernels[build]'" in message and message.rstrip().endswith("the build's output is above")
    assert ".;" not in message  # the backend's sentence ends where ours goes on
    assert "kernels_build error: missing build tools" in proc.stdout  # pip's output, streamed
    assert "Traceback" not in proc.stdout
    assert not (root / "build").exists()


def test_build_passes_config_settings_to_the_backend(tmp_path: Path) -> None:
    root = copy_example("silu-and-mul", tmp_path)
    proc = _kernels("build", "-C", "kernels.bogus=1", cwd=root)
    message = _one_error(proc, "build")
    assert "kernels.bogus" in message and "unknown setting" in message, message
    assert not (root / "build").exists()


def test_build_refuses_what_is_no_kernel_repository(tmp_path: Path) -> None:
    assert _one_error(_kernels("build", "missing", cwd=tmp_path), "build") == "missing: no such directory\n"
    root = copy_example("silu-and-mul", tmp_path)
    (root / "build").write_text("not a directory")
    message = _one_error(_kernels("build", cwd=root), "build")
    assert message.startswith("build: exists but is not a directory")


def test_swap_in_replaces_and_restores(tmp_path: Path, monkeypatch) -> None:
    build = tmp_path / "build"
    (build / "v").mkdir(parents=True)
    (build / "v" / "old").write_text("old")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "file").write_text("new")
    _swap_in(tmp_path / "new", build / "v")
    assert sorted(p.name for p in (build / "v").iterdir()) == ["file"] and sorted(build.iterdir()) == [build / "v"]

    (tmp_path / "newer").mkdir()
    real_rename = __import__("os").rename

    def failing(src, dst):
        if Path(src) == tmp_path / "newer":
            raise OSError("disk on fire")
        return real_rename(src, dst)

    monkeypatch.setattr("kernels.author.build.os.rename", failing)
    with pytest.raises(OSError, match="disk on fire"):
        _swap_in(tmp_path / "newer", build / "v")
    assert sorted(p.name for p in (build / "v").iterdir()) == ["file"] and sorted(build.iterdir()) == [build / "v"]


@pytest.mark.slow
def test_build_writes_the_variant_and_a_rebuild_replaces_only_it(tmp_path: Path) -> None:
    root = copy_example("relu", tmp_path)
    proc = _kernels("build", "relu", cwd=tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("relu/build/torch") and last.endswith("-cxx11-cpu-x86_64-linux"), proc.stdout[-2000:]
    assert "kernels_build: building relu variant" in proc.stdout  # the backend's progress, streamed
    variant = tmp_path / last
    assert sorted(p.name for p in (root / "build").iterdir()) == [variant.name]  # no staging left
    metadata = json.loads((variant / "metadata.json").read_text())
    assert metadata["name"] == "relu" and metadata["version"] == 1
    (so,) = variant.glob("_relu_cpu_*.abi3.so")
    assert "__pycache__" not in {p.name for p in variant.iterdir()}

    # Another variant (a copy, named for another torch) and a stray file in ours.
    other = root / "build" / "torch212-cxx11-cpu-x86_64-linux"
    shutil.copytree(variant, other)
    (other / "marker").write_text("keep me")
    (variant / "stray").write_text("from an earlier build")
    old_inode = so.stat().st_ino

    proc = _kernels("build", str(root), "-C", "kernels.compliance=warn", cwd=tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(variant)
    assert not (variant / "stray").exists() and so.stat().st_ino != old_inode
    assert sorted(p.name for p in variant.iterdir()) == ["__init__.py", "_ops.py", so.name, "metadata.json"]
    assert (other / "marker").read_text() == "keep me"
    assert sorted(p.name for p in (root / "build").iterdir()) == sorted([variant.name, other.name])

    # A variant of another version in build/: refused after the build, build/ unchanged.
    meta = json.loads((other / "metadata.json").read_text())
    (other / "metadata.json").write_text(json.dumps({**meta, "version": 2}))
    before = {p: p.stat().st_ino for p in (root / "build").rglob("*")}
    message = _one_error(_kernels("build", cwd=root, timeout=1800), "build")
    assert f"already holds {other.name} of kernel 'relu' version 2" in message, message
    assert {p: p.stat().st_ino for p in (root / "build").rglob("*")} == before
