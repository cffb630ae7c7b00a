"""Shared helpers and fixtures of the build backend's end-to-end tests.

Compiling the relu example takes about half a minute on a small machine, so the tests share
built wheels through session-scoped fixtures and build as few times as possible. Builds never
run inside ``examples/``: every test works on a copy in a temporary directory, so the
repository stays clean and each build starts from a clean state (no ``.kernels_build/``).

Helpers (import them with ``from conftest import ...``):

- :func:`copy_example` copies ``examples/<name>`` into a temporary directory;
- :func:`run` runs a command, captures its output and shows it when the command fails;
- :func:`pip_wheel` builds one kernel repository with ``pip wheel --no-build-isolation``;
- :data:`GPU_MARKS` (a test module's ``pytestmark``) and :func:`run_on_gpu_host`, for the
  tests that run on the GPU machine.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"

#: What a copy of an example leaves out: build state and bytecode of earlier runs.
_COPY_IGNORE = shutil.ignore_patterns(".kernels_build", "__pycache__", "*.pyc", "build", "dist")

#: Generous per-command limit: a build with build isolation installs torch first.
DEFAULT_TIMEOUT = 1800

StrPath = Union[str, "os.PathLike[str]"]


def copy_example(name: str, tmp_path: Path) -> Path:
    """Copy ``examples/<name>`` to ``tmp_path/<name>`` (without build state); return the copy."""
    destination = Path(tmp_path) / name
    shutil.copytree(EXAMPLES / name, destination, ignore=_COPY_IGNORE)
    return destination


def clean_env(overrides: Optional[Mapping[str, str]] = None) -> dict:
    """This process's environment without ``PYTHONPATH``, plus ``overrides``."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.update(overrides or {})
    return env


def _show(cmd: Sequence[StrPath]) -> str:
    return " ".join(str(c) for c in cmd)


def run(
    cmd: Sequence[StrPath],
    cwd: StrPath,
    env: Optional[Mapping[str, str]] = None,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess:
    """Run ``cmd`` in ``cwd``; return the CompletedProcess.

    stdout and stderr are captured together, in order, in ``result.stdout`` (``stderr`` is
    None). ``env`` holds overrides on top of this process's environment (``PYTHONPATH`` is
    dropped unless ``env`` sets it). With ``check`` a non-zero exit fails the test with the
    command's output in the assertion message.
    """
    result = subprocess.run(
        [str(c) for c in cmd],
        cwd=str(cwd),
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if check:
        assert result.returncode == 0, (
            f"command failed with exit status {result.returncode}: {_show(cmd)}\n"
            f"(in {cwd})\n--- output (last 15000 characters) ---\n{result.stdout[-15000:]}"
        )
    return result


def cuda_available() -> bool:
    """An NVIDIA GPU, a CUDA torch and nvcc: what the ``gpu`` tests need."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available() and shutil.which("nvcc") is not None


#: ``pytestmark`` of the GPU test modules: marked ``gpu``, skipped without a GPU.
GPU_MARKS = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cuda_available(), reason="needs an NVIDIA GPU, nvcc and a CUDA torch"),
]


def run_on_gpu_host(
    cmd: Sequence[StrPath],
    cwd: Optional[StrPath] = None,
    env: Optional[Mapping[str, str]] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess:
    """Like :func:`run`, but the environment is inherited whole (``env`` adds overrides):
    on the GPU machine ``PYTHONPATH`` carries the test dependencies. stdout and stderr are
    kept apart."""
    proc = subprocess.run([str(c) for c in cmd], cwd=None if cwd is None else str(cwd), capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)
    assert proc.returncode == 0, f"{_show(cmd)} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-8000:]}"
    return proc


def pip_wheel(
    repo: Path,
    out: Path,
    settings: Iterable[str] = (),
    check: bool = True,
    env: Optional[Mapping[str, str]] = None,
) -> subprocess.CompletedProcess:
    """``pip wheel --no-build-isolation --no-deps -w out repo`` with ``-C`` ``settings``."""
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
           "-w", str(out)]
    for setting in settings:
        cmd += ["-C", setting]
    cmd.append(str(repo))
    return run(cmd, cwd=repo.parent, env=env, check=check)


def only_wheel(directory: Path) -> Path:
    """The single ``*.whl`` in ``directory``."""
    wheels = sorted(Path(directory).glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {directory}, found {[w.name for w in wheels]}"
    return wheels[0]


def ninja_log(repo: Path) -> Dict[str, Tuple[str, str]]:
    """Output -> (mtime, command hash) from ninja's log, the newest entry of each output.

    Compared before and after a build, the outputs whose entry changed are those ninja built.
    (Line positions would not do: CMake recompacts the log when it regenerates build.ninja.)
    """
    (log,) = list((repo / ".kernels_build").glob("*/cmake-build/.ninja_log"))
    entries: Dict[str, Tuple[str, str]] = {}
    for line in log.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 5 and not line.startswith("#"):
            entries[fields[3]] = (fields[2], fields[4])
    return entries


def rebuilt_since(repo: Path, before: Dict[str, Tuple[str, str]]) -> List[str]:
    """Outputs ninja (re)built since the log held ``before``."""
    return sorted(o for o, entry in ninja_log(repo).items() if before.get(o) != entry)


def build_example_wheel(repo: Path, out: Path, settings: Iterable[str] = ()) -> Path:
    """Build ``repo`` with pip (no build isolation) into ``out``; return the wheel."""
    pip_wheel(repo, out, settings)
    return only_wheel(out)


def install_target(wheel: Path, target: Path) -> Path:
    """``pip install --no-deps --target target wheel``; return ``target``."""
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target),
         str(wheel)], cwd=target.parent)
    return target


def extract_wheel(wheel: Path, destination: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(destination)
    return destination


def host_arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def torch_major_minor() -> str:
    """``"213"`` for torch 2.13.x: the digits of the variant label."""
    from importlib.metadata import version

    major, minor = version("torch").split("+")[0].split(".")[:2]
    return f"{major}{minor}"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def cpu_only_environment(monkeypatch: pytest.MonkeyPatch):
    """Judge variants as on a CPU-only machine with this environment's torch (and tvm_ffi),
    whatever the host has; ``LOCAL_KERNELS`` unset. Returns the :class:`kernels.selection.Environment`."""
    import dataclasses

    from kernels import load as load_module
    from kernels.selection import Environment

    env = dataclasses.replace(Environment.detect(), backend="cpu", backend_version=None)
    monkeypatch.setattr(load_module, "_environment", lambda: env)
    monkeypatch.delenv("LOCAL_KERNELS", raising=False)
    return env


@pytest.fixture(scope="session")
def torch_label() -> str:
    """``"213"`` for the build environment's torch 2.13."""
    return torch_major_minor()


@pytest.fixture(scope="session")
def relu_cpu_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CPU wheel of examples/relu, built once per session with ``pip wheel
    --no-build-isolation`` from a copy of the example (the copy stays next to the wheel)."""
    base = tmp_path_factory.mktemp("relu-cpu-build")
    repo = copy_example("relu", base)
    return build_example_wheel(repo, base / "wheelhouse")


@pytest.fixture(scope="session")
def relu_cpu_target(relu_cpu_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install --no-deps --target`` of :func:`relu_cpu_wheel`, once per session."""
    base = tmp_path_factory.mktemp("relu-cpu-target")
    return install_target(relu_cpu_wheel, base / "target")


@pytest.fixture(scope="session")
def silu_noarch_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The noarch (``py3-none-any``) wheel of examples/silu-and-mul, built once per session
    like :func:`relu_cpu_wheel`."""
    base = tmp_path_factory.mktemp("silu-noarch-build")
    repo = copy_example("silu-and-mul", base)
    return build_example_wheel(repo, base / "wheelhouse")


@pytest.fixture(scope="session")
def relu_tvm_ffi_cpu_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cpu wheel of examples/relu-tvm-ffi (``tvm-ffi<M><m>-cpu-<arch>-linux``, linked
    against apache-tvm-ffi, not torch), built once per session like :func:`relu_cpu_wheel`."""
    pytest.importorskip("tvm_ffi", reason="apache-tvm-ffi is not installed")
    base = tmp_path_factory.mktemp("relu-tvm-ffi-cpu-build")
    repo = copy_example("relu-tvm-ffi", base)
    return build_example_wheel(repo, base / "wheelhouse", ["kernels.backend=cpu"])


#: The released runtime that interop and compatibility tests compare against.
RELEASED_KERNELS = "kernels==0.17.2"


@pytest.fixture(scope="session")
def released_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a venv with the released kernels 0.17.2 and this environment's torch
    version, made once per session (``tests/test_interop.py``, ``tests/test_compat_0172.py``)."""
    import torch

    venv = tmp_path_factory.mktemp("kernels-0.17.2") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", RELEASED_KERNELS, f"torch=={torch.__version__}"],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"could not install {RELEASED_KERNELS}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return python
