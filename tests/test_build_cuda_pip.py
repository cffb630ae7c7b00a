"""Hermetic CUDA toolchain: build examples/relu for cuda with nvcc and headers from PyPI.

The machine's CUDA toolkit is hidden (PATH without /usr/local/bin and /usr/local/cuda*/bin,
no CUDA_HOME/CUDA_PATH/CUDACXX) and ``-C kernels.cuda-toolchain=pip`` forces the PyPI
toolchain even where a toolkit is installed (CI machines have one).

The build environment has the layout build isolation gives it: torch (with its nvidia-*
dependencies) in one site-packages directory, and the packages the backend asks for in
``get_requires_for_build_wheel`` in another. It is a fresh venv layered on top of the CUDA
test environment (``KERNELS_TEST_CUDA_PYTHON``, holding torch 2.14 + cu130), into which the
backend's own requirements are installed from the package registry: the torch wheels (a few
GB) are not downloaded again, everything else is what pip's build isolation does. The
README shows the same build under real build isolation in a fresh venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import copy_example

CUDA_PYTHON = os.environ.get("KERNELS_TEST_CUDA_PYTHON")

pytestmark = [
    pytest.mark.cuda_compile,
    pytest.mark.slow,
    pytest.mark.skipif(not CUDA_PYTHON, reason="KERNELS_TEST_CUDA_PYTHON (a CUDA torch) is not set"),
]

HIDDEN_VARS = ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDACXX", "CUDAToolkit_ROOT", "PYTHONPATH",
               "CMAKE_ARGS", "CMAKE_CUDA_COMPILER_LAUNCHER")


def _without_toolkit(path: str) -> str:
    """PATH minus /usr/local/bin (nvcc wrappers live there), CUDA toolkits, any nvcc."""
    keep = []
    for entry in path.split(os.pathsep):
        if not entry or entry == "/usr/local/bin" or re.match(r"/usr/local/cuda[^/]*/", entry + "/"):
            continue
        if (Path(entry) / "nvcc").exists():
            continue
        keep.append(entry)
    return os.pathsep.join(keep)


def _env(extra_path: List[str]) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN_VARS and not k.startswith("KERNELS_BUILD_")}
    env["PATH"] = os.pathsep.join([*extra_path, _without_toolkit(env.get("PATH", "/usr/bin:/bin"))])
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["MAX_JOBS"] = str(os.cpu_count() or 2)
    return env


def _run(cmd: List[str], cwd: Path, env: Dict[str, str]) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=3600)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-15000:]}"
    return proc.stdout


def _layered_venv(path: Path) -> Path:
    """A venv without pip whose interpreter also sees the CUDA test environment's packages."""
    subprocess.run([CUDA_PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    code = "import json, sysconfig; p = sysconfig.get_paths(); print(json.dumps([p['purelib'], p['platlib']]))"
    outer = json.loads(subprocess.run([CUDA_PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout)
    inner = json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(set(outer)))
    (Path(inner[0]) / "zz_cuda_test_env.pth").write_text(lines)
    return python


@pytest.fixture(scope="module")
def hermetic_build(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("relu-cuda-pip")
    repo = copy_example("relu", work)
    python = _layered_venv(work / "buildenv")
    env = _env([str(python.parent)])
    assert shutil.which("nvcc", path=env["PATH"]) is None, "the system nvcc is still on PATH"

    # 1. What the backend asks pip for under build isolation (torch already in the env).
    hook = ("import json; from kernels_build.backend import get_requires_for_build_wheel as g; "
            "print(json.dumps(g({'kernels.cuda-toolchain': 'pip'})))")
    requires = json.loads(_run([python, "-c", hook], repo, env).strip().splitlines()[-1])
    nvidia = [r for r in requires if r.startswith("nvidia-")]

    # 2. pip installs them into the build environment's own site-packages.
    _run([CUDA_PYTHON, "-m", "pip", "--python", python, "install", "-q", *nvidia], work, env)

    # 3. The build, with the toolkit hidden and the pip toolchain forced.
    output = _run([python, "-m", "pip", "wheel", "-v", "--no-build-isolation", "--no-deps",
                   "-w", work / "dist", "-C", "kernels.cuda-toolchain=pip", "-C", "build.verbose=true",
                   repo], work, env)
    (wheel,) = list((work / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(work / "extract")
    (so,) = list((work / "extract" / "relu").glob("*.abi3.so"))
    (build_dir,) = list((repo / ".kernels_build").glob("torch*-cu*/cmake-build"))
    cuda = _run([python, "-c", "import torch; print(torch.version.cuda)"], work, env).strip().splitlines()[-1]
    return {"requires": requires, "output": output, "wheel": wheel, "so": so, "repo": repo,
            "build_dir": build_dir, "cuda": cuda}


def test_requirements_pin_the_toolchain_to_torchs_cuda(hermetic_build) -> None:
    cuda = hermetic_build["cuda"]
    nvidia = sorted(r for r in hermetic_build["requires"] if r.startswith("nvidia-"))
    assert nvidia == sorted(f"{name}=={cuda}.*" for name in (
        "nvidia-cuda-nvcc", "nvidia-cuda-crt", "nvidia-nvvm", "nvidia-cuda-runtime", "nvidia-cuda-cccl"))


def test_nvcc_came_from_pypi(hermetic_build) -> None:
    repo: Path = hermetic_build["repo"]
    cuda = hermetic_build["cuda"]
    view = repo / ".kernels_build" / f"cuda-pip-{cuda}"
    output: str = hermetic_build["output"]
    assert f"kernels_build: CUDA compiler: nvcc {cuda} at {view}/bin/nvcc" in output
    major = cuda.split(".")[0]
    assert (view / "bin" / "nvcc").resolve().parts[-4:] == ("nvidia", f"cu{major}", "bin", "nvcc")
    build_dir: Path = hermetic_build["build_dir"]
    # What CMake's compiler detection and FindCUDAToolkit settled on: the view, nothing else.
    (detected,) = list(build_dir.glob("CMakeFiles/*/CMakeCUDACompiler.cmake"))
    compiler = detected.read_text()
    assert f'set(CMAKE_CUDA_COMPILER "{view}/bin/nvcc")' in compiler
    assert f'set(CMAKE_CUDA_COMPILER_TOOLKIT_ROOT "{view}")' in compiler
    cache = (build_dir / "CMakeCache.txt").read_text()
    assert f"CUDA_cudart_LIBRARY:FILEPATH={view}/lib/libcudart.so" in cache
    found = next(line for line in cache.splitlines() if line.startswith("FIND_PACKAGE_MESSAGE_DETAILS_CUDAToolkit"))
    assert f"[{view}/bin]" in found, found
    rules = (build_dir / "CMakeFiles" / "rules.ninja").read_text()
    assert f"{view}/bin/nvcc" in rules
    for text in (compiler, cache, rules, (build_dir / "build.ninja").read_text(), output):
        assert "/usr/local/cuda" not in text


def test_wheel_has_sass_and_ptx(hermetic_build) -> None:
    wheel: Path = hermetic_build["wheel"]
    cu = "cu" + hermetic_build["cuda"].replace(".", "")
    assert re.fullmatch(rf"relu-1\.0\.0\+torch\d+{cu}cxx11-cp39-abi3-manylinux_2_28_x86_64\.whl", wheel.name)
    site = subprocess.run([CUDA_PYTHON, "-c", "import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    tools = list(Path(site).glob("nvidia/*/bin/cuobjdump"))
    if not tools:
        pytest.skip("cuobjdump not installed (pip install nvidia-cuda-cuobjdump into the CUDA env)")
    so = str(hermetic_build["so"])
    elf = subprocess.run([tools[0], "--list-elf", so], capture_output=True, text=True, check=True).stdout
    ptx = subprocess.run([tools[0], "--list-ptx", so], capture_output=True, text=True, check=True).stdout
    assert set(re.findall(r"sm_(\d+)", elf)) == {"80", "90"}, elf
    assert set(re.findall(r"sm_(\d+)", ptx)) == {"90"}, ptx
