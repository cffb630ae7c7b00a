"""Standard frontends with build isolation, as a new user runs them (issue 13).

Each test makes a fresh venv holding nothing but the frontend, points it at a wheelhouse with
our ``kernels`` wheel (``--find-links``: a stand-in for the package registry until ``kernels``
is published) and builds ``examples/relu`` with isolation on. The backend asks the frontend for
its build tools and for torch (``get_requires_for_build_wheel``); ``-C kernels.torch-version=2.13``
selects the ``torch213-cxx11-cpu`` variant.

The sources are built in several places (in place, from the sdist, in isolated environments
under random ``/tmp`` paths); the wheels are equal byte for byte because build paths are mapped
out of the binary (``-ffile-prefix-map``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import build_example_wheel, clean_env, copy_example, ninja_log, only_wheel, rebuilt_since

ROOT = Path(__file__).resolve().parents[1]
TORCH_213 = ["-C", "kernels.torch-version=2.13"]

#: The first isolated build and a second one in the same checkout run in every test run (CI
#: included); the other frontends are marked ``slow`` (``nox -s tests_all``).
frontends = pytest.mark.skipif(
    os.environ.get("KERNELS_TEST_FRONTENDS") != "1" and os.environ.get("CI") != "true",
    reason="builds under isolation install torch per build (minutes each): CI=true or KERNELS_TEST_FRONTENDS=1",
)


#: Builds that install the newest torch (CUDA, with its nvidia-* wheels: gigabytes) into the
#: isolated environment and compile CUDA code: only on request, never in CI.
cuda_frontends = pytest.mark.skipif(
    os.environ.get("KERNELS_TEST_FRONTENDS") != "1",
    reason="installs a CUDA torch into each isolated build (gigabytes): KERNELS_TEST_FRONTENDS=1",
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """Our ``kernels`` wheel, built from this checkout."""
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True, env=clean_env(), timeout=600)
    only_wheel(out)
    return out


@pytest.fixture(scope="module")
def frontend_venv(tmp_path_factory) -> Path:
    """A fresh venv with pip, ``build`` and ``uv`` from the package index, and nothing else."""
    venv = tmp_path_factory.mktemp("frontends") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "build", "uv"],
                   check=True, env=clean_env(), timeout=600)
    return venv / "bin"


def _env(wheelhouse: Path, bin_dir: Path) -> Dict[str, str]:
    links = " ".join(filter(None, [os.environ.get("PIP_FIND_LINKS", ""), str(wheelhouse)]))
    return clean_env({
        "PIP_FIND_LINKS": links,            # pip, and the pip that `python -m build` runs
        "UV_FIND_LINKS": links.replace(" ", ","),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(bin_dir.parent),
        # uv's own cache, fresh per session: the user's would serve a wheel of kernels cached from
        # an earlier checkout under the same version number.
        "UV_CACHE_DIR": str(bin_dir.parent / "uv-cache"),
    })


def _run(cmd: List[str], cwd: Path, env: Dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=1800)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-6000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def isolated_pip_wheel(wheelhouse, frontend_venv, tmp_path_factory) -> Path:
    """``pip wheel --no-deps . -C kernels.torch-version=2.13`` with isolation on."""
    work = tmp_path_factory.mktemp("pip-wheel")
    repo = copy_example("relu", work)
    _run([str(frontend_venv / "python"), "-m", "pip", "wheel", "--no-deps", "-w", "dist", ".", *TORCH_213],
         repo, _env(wheelhouse, frontend_venv))
    return only_wheel(repo / "dist")


@frontends
def test_pip_wheel_with_isolation_builds_the_asked_variant_reproducibly(isolated_pip_wheel, relu_cpu_wheel) -> None:
    assert isolated_pip_wheel.name == "relu-1.0.0+torch213cpucxx11-cp39-abi3-manylinux_2_28_x86_64.whl"
    # Built in an isolated env under /tmp/pip-build-env-*, against another copy of torch, from
    # another copy of the sources: the same bytes as the in-place build of the session fixture.
    assert relu_cpu_wheel.name == isolated_pip_wheel.name
    assert _sha256(isolated_pip_wheel) == _sha256(relu_cpu_wheel)


@frontends
def test_a_second_isolated_build_in_the_same_checkout_compiles_nothing(wheelhouse, frontend_venv,
                                                                      isolated_pip_wheel) -> None:
    # A new isolated environment, so torch is somewhere else; the compile commands name the
    # build directory's copy of its headers (kernels_build/header_mirror.py), which kept its files.
    repo = isolated_pip_wheel.parent.parent
    before = ninja_log(repo)
    _run([str(frontend_venv / "python"), "-m", "pip", "wheel", "--no-deps", "-w", "dist-again", ".", *TORCH_213],
         repo, _env(wheelhouse, frontend_venv))
    rebuilt = rebuilt_since(repo, before)
    assert not [o for o in rebuilt if o.endswith(".o")], rebuilt  # at most a relink
    assert _sha256(only_wheel(repo / "dist-again")) == _sha256(isolated_pip_wheel)


@frontends
@pytest.mark.slow
def test_python_m_build_makes_the_sdist_then_the_same_wheel_from_it(wheelhouse, frontend_venv, isolated_pip_wheel,
                                                                   tmp_path) -> None:
    repo = copy_example("relu", tmp_path)
    _run([str(frontend_venv / "python"), "-m", "build", "--outdir", "dist", *TORCH_213, "."], repo,
         _env(wheelhouse, frontend_venv))
    assert sorted(p.name for p in (repo / "dist").iterdir()) == sorted(["relu-1.0.0.tar.gz", isolated_pip_wheel.name])
    assert _sha256(repo / "dist" / isolated_pip_wheel.name) == _sha256(isolated_pip_wheel)


@frontends
@pytest.mark.slow
def test_uv_build_gives_the_same_wheel(wheelhouse, frontend_venv, isolated_pip_wheel, tmp_path) -> None:
    repo = copy_example("relu", tmp_path)
    _run([str(frontend_venv / "uv"), "build", "--wheel", "--out-dir", "dist", *TORCH_213, "."], repo,
         _env(wheelhouse, frontend_venv))
    assert _sha256(only_wheel(repo / "dist")) == _sha256(isolated_pip_wheel)


@frontends
@pytest.mark.slow
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_install_from_the_source_tree_with_isolation(installer, wheelhouse, frontend_venv, tmp_path) -> None:
    """``pip install .`` / ``uv pip install .``: the kernel (and torch 2.13 for it) land in the
    venv, and the installed package is the one the wheel holds."""
    repo = copy_example("relu", tmp_path / "src")
    venv = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = _env(wheelhouse, frontend_venv)
    if installer == "pip":
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", *TORCH_213, "."], repo, env)
    else:
        _run([str(frontend_venv / "uv"), "pip", "install", "--python", str(venv / "bin" / "python"),
              *TORCH_213, "."], repo, env)
    check = ("import importlib.metadata as m, torch, relu; "
             "print(m.version('relu'), torch.__version__.split('+')[0][:4], relu.relu(torch.tensor([-1.0, 2.0])).tolist())")
    out = _run([str(venv / "bin" / "python"), "-c", check], tmp_path, clean_env())
    assert out.strip().splitlines()[-1].split() == ["1.0.0+torch213cpucxx11", "2.13", "[0.0,", "2.0]"], out


@frontends
@pytest.mark.slow
def test_tvm_ffi_kernel_builds_with_isolation_and_without_torch(wheelhouse, frontend_venv, relu_tvm_ffi_cpu_wheel,
                                                               tmp_path) -> None:
    """A [tvm-ffi] kernel asks for apache-tvm-ffi, not torch: the isolated build installs no torch,
    and its wheel is the in-place build's, byte for byte."""
    repo = copy_example("relu-tvm-ffi", tmp_path)
    out = _run([str(frontend_venv / "python"), "-m", "pip", "wheel", "-v", "--no-deps", "-w", "dist", "."], repo,
               _env(wheelhouse, frontend_venv))
    assert "apache-tvm-ffi" in out and "Collecting torch" not in out, out[-3000:]
    wheel = only_wheel(repo / "dist")
    assert wheel.name == relu_tvm_ffi_cpu_wheel.name
    assert _sha256(wheel) == _sha256(relu_tvm_ffi_cpu_wheel)


@pytest.mark.slow
def test_two_in_place_builds_in_two_places_are_equal(relu_cpu_wheel, tmp_path) -> None:
    """Fast form of the reproducibility above, without isolation: another copy, another path."""
    repo = copy_example("relu", tmp_path / "elsewhere" / "deeper")
    wheel = build_example_wheel(repo, tmp_path / "dist")
    assert _sha256(wheel) == _sha256(relu_cpu_wheel)


@cuda_frontends
@pytest.mark.cuda_compile
@pytest.mark.parametrize("toolchain", ["system", "pip"])
def test_without_a_torch_pin_the_newest_torch_selects_the_variant(toolchain, wheelhouse, frontend_venv,
                                                                   tmp_path) -> None:
    """No ``kernels.torch-version``: the frontend installs the newest torch the index serves (a
    CUDA build today), so the CUDA variant is built; with ``kernels.cuda-toolchain=pip`` and no
    nvcc on PATH, nvcc comes from PyPI too."""
    import shutil

    repo = copy_example("relu", tmp_path)
    env = _env(wheelhouse, frontend_venv)
    settings = ["-C", "kernels.cuda-capabilities=9.0"]
    if toolchain == "pip":
        settings += ["-C", "kernels.cuda-toolchain=pip"]
        nvcc = shutil.which("nvcc")
        if nvcc:  # hide the system toolkit: PATH without nvcc's directory, no CUDA_HOME
            env["PATH"] = os.pathsep.join(d for d in env["PATH"].split(os.pathsep)
                                          if Path(d).resolve() != Path(nvcc).resolve().parent)
        for variable in ("CUDA_HOME", "CUDA_PATH", "CUDACXX"):
            env.pop(variable, None)
    _run([str(frontend_venv / "python"), "-m", "pip", "wheel", "--no-deps", "-w", "dist", ".", *settings], repo, env)
    wheel = only_wheel(repo / "dist")
    assert "cu1" in wheel.name.split("+")[1] and wheel.name.endswith("-cp39-abi3-manylinux_2_28_x86_64.whl"), wheel.name
