"""``kernels init``: the generated repository is valid, builds with pip and passes its own tests.

Fast tests check names, refusals and the generated build.toml for every backend (through the
backend's own parser and layout check). The slow test builds the generated cpu kernel with
``pip wheel --no-build-isolation``, converts it with ``kernels from-wheel`` and runs the
kernel's own tests (``-m kernels_ci``) through ``get_kernel`` + ``LOCAL_KERNELS``. The CUDA
compile test builds the generated cuda kernel with the CUDA venv (``KERNELS_TEST_CUDA_PYTHON``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import only_wheel, pip_wheel, run

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

from kernels.author.scaffold import init_kernel, parse_name
from kernels.errors import AuthoringError
from kernels_build.config import check_layout, load_build_config

pytest_plugins = ["kernels.testing.fixtures"]

KERNELS = [sys.executable, "-m", "kernels.cli"]
CUDA_PYTHON = os.environ.get("KERNELS_TEST_CUDA_PYTHON")


def _kernels(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([*KERNELS, *args], cwd=cwd, check=check)


def test_names_are_derived_and_validated() -> None:
    name = parse_name("my-org/My_Relu")
    assert (name.repo_id, name.name, name.module, name.class_name) == ("my-org/my-relu", "my-relu", "my_relu", "MyRelu")
    for bad in ("relu", "org/1relu", "org/relu-", "org/re lu", "/relu", "org/a/b", "org/re--lu"):
        with pytest.raises(AuthoringError):
            parse_name(bad)


@pytest.mark.parametrize("backends", [["cpu"], ["cuda"], ["cpu", "cuda", "rocm"], ["xpu"], ["all"]])
def test_generated_build_toml_is_valid_for_every_backend(tmp_path: Path, backends) -> None:
    root = tmp_path / "k"
    files = init_kernel("org/my-kernel", backends, target=root, git=False)
    config = load_build_config(root)
    if backends != ["all"] and "xpu" not in backends:
        check_layout(config)  # every listed source exists, the package is laid out correctly
    assert config.source_edition == 5 and config.general.version == 1
    assert config.general.hub.repo_id == "org/my-kernel"
    expected = set(config.general.backends)
    assert expected == (set(backends) if backends != ["all"] else
                        {"cann", "cpu", "cuda", "metal", "neuron", "rocm", "tpu", "xpu"})
    rel = {p.relative_to(root).as_posix() for p in files}
    assert {"pyproject.toml", "build.toml", "CARD.md", ".gitignore", "example.py", "benchmarks/benchmark.py",
            "tests/__init__.py", "tests/test_my_kernel.py", "torch-ext/torch_binding.cpp",
            "torch-ext/torch_binding.h", "torch-ext/my_kernel/__init__.py"} <= rel
    assert ("my_kernel_cpu/my_kernel_cpu.cpp" in rel) == ("cpu" in expected)
    assert ("my_kernel_cuda/my_kernel.cu" in rel) == bool({"cuda", "rocm"} & expected)
    assert ("my_kernel_xpu/my_kernel.cpp" in rel) == ("xpu" in expected)
    assert ("my_kernel_metal/my_kernel.mm" in rel) == ("metal" in expected)
    for path in files:  # every placeholder is filled; CARD.md keeps its {{ }} for upload
        assert "@@" not in path.read_text() and "__module__" not in str(path)
        if path.suffix == ".py":
            compile(path.read_text(), str(path), "exec")
    assert "{{ repo_id }}" in (root / "CARD.md").read_text()
    pyproject = (root / "pyproject.toml").read_text()
    assert 'build-backend = "kernels_build"' in pyproject and "kernels_ci" in pyproject
    tests = (root / "tests" / "test_my_kernel.py").read_text()
    assert 'get_kernel(REPO_ID, version=VERSION)' in tests and "@pytest.mark.kernels_ci" in tests


def test_cli_refuses_non_empty_target_and_bad_names(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    proc = _kernels("init", "--name", "org/relu", "busy", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines() == [
        f"kernels init: error: busy: already exists and is not an empty directory; choose a new directory"]
    assert (tmp_path / "busy").iterdir().__next__().name == "file.txt"
    proc = _kernels("init", "--name", "org/9relu", "fresh", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and len(proc.stdout.strip().splitlines()) == 1
    assert "invalid kernel name from --name 'org/9relu'" in proc.stdout and not (tmp_path / "fresh").exists()
    # no --name: the directory's name is the kernel's, and the error says so (before asking the Hub)
    proc = _kernels("init", "--no-git", "z", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and len(proc.stdout.strip().splitlines()) == 1, proc.stdout
    assert "the directory name 'z' (no --name given)" in proc.stdout and "at least 2 characters" in proc.stdout
    assert not (tmp_path / "z").exists()
    proc = _kernels("init", "--name", "org/relu", "fresh", "--backends", "cuda", "gpu", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "unknown backend(s) gpu" in proc.stdout and not (tmp_path / "fresh").exists()
    proc = _kernels("init", "--name", "org/relu", "--backends", "gpu", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "unknown backend(s) gpu" in proc.stdout


def test_cli_default_directory_and_backends_before_dir(tmp_path: Path) -> None:
    _kernels("init", "--name", "org/My_Relu", "--no-git", cwd=tmp_path)
    config = load_build_config(tmp_path / "my-relu")
    assert config.general.backends == (("metal",) if sys.platform == "darwin" else ("cuda",))
    _kernels("init", "--name", "org/relu", "--backends", "cpu", "cuda", "somewhere", "--license", "MIT", cwd=tmp_path)
    config = load_build_config(tmp_path / "somewhere")
    assert config.general.backends == ("cpu", "cuda") and config.general.license == "MIT"
    if shutil.which("git"):
        assert (tmp_path / "somewhere" / ".git").is_dir()


def test_owner_comes_from_the_hub_account_when_omitted(hub_server, tmp_path: Path) -> None:
    """``--name NAME`` or only ``DIR``: the owner is the token's Hub user (whoami, answered by
    the local Hub server); without a usable token, one clear error and nothing written."""
    _kernels("init", "--name", "My_Relu", "--backends", "cpu", "--no-git", cwd=tmp_path)
    assert load_build_config(tmp_path / "my-relu").general.hub.repo_id == f"{hub_server.user}/my-relu"
    _kernels("init", "--backends", "cpu", "--no-git", "fast-gelu", cwd=tmp_path)
    assert load_build_config(tmp_path / "fast-gelu").general.hub.repo_id == f"{hub_server.user}/fast-gelu"

    no_token = {"HF_TOKEN": "", "HF_HOME": str(tmp_path / "empty-hf-home")}
    proc = run([*KERNELS, "init", "--name", "other", "--no-git"], cwd=tmp_path, env=no_token, check=False)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stdout
    assert lines[0].startswith("kernels init: error: --name 'other' has no owner and the Hub could not say who you are")
    assert lines[0].endswith("pass --name ORG/other, or log in with `hf auth login`")
    assert not (tmp_path / "other").exists()
    # the Hub unreachable: said so, without the advice for loading kernels offline
    down = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_some_token"}
    proc = run([*KERNELS, "init", "--no-git", "other"], cwd=tmp_path, env=down, check=False)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stdout
    assert "the directory name 'other' (no --name given) has no owner" in lines[0]
    assert "cannot reach the Hub at http://127.0.0.1:9" in lines[0] and "HF_HUB_OFFLINE" not in lines[0]


@pytest.mark.slow
def test_generated_cpu_kernel_builds_and_passes_its_tests(tmp_path: Path) -> None:
    _kernels("init", "--name", "my-org/my-relu", "--backends", "cpu", "cuda", "my-relu", cwd=tmp_path)
    repo = tmp_path / "my-relu"
    pip_wheel(repo, repo / "dist")
    wheel = only_wheel(repo / "dist")
    assert wheel.name.startswith("my_relu-1.0.0+torch") and "cpu" in wheel.name and "abi3-manylinux_2_28" in wheel.name
    _kernels("from-wheel", str(wheel), "-o", ".", cwd=repo)
    _kernels("check", ".", cwd=repo)
    result = run([sys.executable, "-m", "pytest", "tests", "-m", "kernels_ci", "-p", "no:cacheprovider", "-v"],
                 cwd=repo, env={"LOCAL_KERNELS": f"my-org/my-relu={repo}"})
    assert "5 passed" in result.stdout, result.stdout
    run([sys.executable, "example.py"], cwd=repo, env={"LOCAL_KERNELS": f"my-org/my-relu={repo}"})
    _kernels("fill-card", cwd=repo)
    card = (repo / "build" / "CARD.md").read_text()
    assert "{{" not in card and "- `relu`" in card and 'get_kernel("my-org/my-relu", version=1)' in card
    bench = run([*KERNELS, "benchmark", ".", "--iterations", "3", "--warmup", "1"], cwd=repo)
    assert "MyReluBenchmark.base" in bench.stdout and "yes" in bench.stdout  # verified against torch.relu


@pytest.mark.cuda_compile
@pytest.mark.skipif(not CUDA_PYTHON, reason="KERNELS_TEST_CUDA_PYTHON (a CUDA torch) is not set")
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_generated_cuda_kernel_builds(tmp_path: Path) -> None:
    _kernels("init", "--name", "my-org/my-relu", "--backends", "cpu", "cuda", "my-relu", cwd=tmp_path)
    repo = tmp_path / "my-relu"
    # One arch keeps the compile short; the default list is every arch nvcc supports.
    run([CUDA_PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", "dist",
         "-C", "kernels.cuda-capabilities=8.0", "."], cwd=repo, env={"MAX_JOBS": str(os.cpu_count() or 2)})
    wheel = only_wheel(repo / "dist")
    assert "cu1" in wheel.name and wheel.name.startswith("my_relu-1.0.0+torch")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(n.startswith("my_relu/_my_relu_cuda_") and n.endswith(".abi3.so") for n in names)
    _kernels("from-wheel", str(wheel), "-o", ".", cwd=repo)
    _kernels("check", ".", cwd=repo)


def test_fill_card_needs_a_built_variant(tmp_path: Path) -> None:
    init_kernel("org/my-relu", ["cpu"], target=tmp_path / "k", git=False)
    proc = _kernels("fill-card", cwd=tmp_path / "k", check=False)
    assert proc.returncode == 1 and len(proc.stdout.strip().splitlines()) == 1
    assert "no built variant in build/" in proc.stdout
