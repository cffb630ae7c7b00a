"""The build backend's fault matrix: each fault gives one ``kernels_build error:`` line and no wheel.

Each case breaks one thing about a real build of a copy of examples/relu (CPU variant, or the
CUDA variant with the CUDA test interpreter ``KERNELS_TEST_CUDA_PYTHON``):

- no C++ compiler: ``CXX`` names a missing one or one that does not work, or PATH holds none;
- an nvcc whose CUDA major version differs from torch's (a fake nvcc through ``CUDACXX``);
- a dependency that cannot be found: unknown to build.toml, or a CUTLASS fetch that fails;
- a source file that does not compile;
- a read-only kernel repository (the build directory defaults to ``.kernels_build`` inside it);
- a full disk: the build directory, or the wheel's output directory (a small tmpfs).

The build runs with ``python -m build --wheel --no-isolation --skip-dependency-check``: that
frontend hands the backend its output directory as is (pip would give it a temporary one), so
a partial wheel left by the backend would show there. Every case checks: a non-zero exit,
exactly one line starting ``kernels_build error:`` that says what is wrong and what to do, no
Python traceback, nothing left in the output directory (no ``*.whl``, no temporary wheel) and
nothing left in the build's ``TMPDIR``.

Root ignores file permissions, so as root a read-only tree is a read-only bind mount; a full
disk is a size-limited tmpfs. Both are mounted in a private mount namespace (``unshare
--mount``, or for other users ``unshare --user --map-root-user --mount``); where the machine
allows neither, those cases are skipped. Most cases fail before anything is compiled; the
compile error and the build directory filling up during compilation compile one source
(ninja -j1; about 20 s each on two cores), and the full wheel directory rebuilds the session's
CPU build of relu (``relu_cpu_wheel`` of conftest.py, shared with other tests: nothing left to
compile). The whole file takes about 1.5 minutes alone, so it is not marked ``slow``.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import pytest

from conftest import clean_env, copy_example

TRACEBACK = "Traceback (most recent call last)"
ERROR = "kernels_build error:"
CUDA_PYTHON = os.environ.get("KERNELS_TEST_CUDA_PYTHON")
needs_cuda_python = pytest.mark.skipif(not CUDA_PYTHON, reason="KERNELS_TEST_CUDA_PYTHON (a CUDA torch) is not set")


@dataclass
class Build:
    """One build of ``repo`` into ``out``, as a case sets it up."""

    tmp: Path
    repo: Path
    out: Path
    request: pytest.FixtureRequest
    python: str = sys.executable
    env: Dict[str, Optional[str]] = field(default_factory=dict)  # None: unset
    settings: List[str] = field(default_factory=list)
    #: shell commands run in a private mount namespace before the build (``mount ...``)
    mounts: List[str] = field(default_factory=list)

    def run(self) -> "tuple[subprocess.CompletedProcess, List[str]]":
        """Run the build; its result and what the output directory holds afterwards."""
        tmpdir = self.tmp / "tmpdir"
        tmpdir.mkdir()
        env = clean_env({"CMAKE_BUILD_PARALLEL_LEVEL": "2", "TMPDIR": str(tmpdir)})
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        command = [self.python, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check",
                   "-o", str(self.out)]
        for setting in self.settings:
            command += ["-C", setting]
        command.append(str(self.repo))
        listing = self.tmp / "listing.txt"
        if self.mounts:
            # The mounts vanish with the namespace: list the output directory inside it.
            script = " && ".join(self.mounts) + (
                f' && {{ "$@"; status=$?; ls -A {shlex.quote(str(self.out))} > {shlex.quote(str(listing))}; '
                'exit $status; }')
            command = [*mount_namespace(), "sh", "-c", script, "sh", *command]
        result = subprocess.run(command, cwd=self.tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, timeout=1200)
        if self.mounts:
            left = listing.read_text().split() if listing.exists() else ["(the listing was not written)"]
        else:
            left = sorted(p.name for p in self.out.iterdir()) if self.out.exists() else []
        left_in_tmp = sorted(p.name for p in tmpdir.iterdir())
        assert not left_in_tmp, f"the build left temporary files behind: {left_in_tmp}\n{result.stdout[-6000:]}"
        return result, left


@functools.lru_cache(maxsize=None)
def _mount_namespace() -> Optional[List[str]]:
    """``unshare`` flags that give a private mount namespace where tmpfs and bind mounts work
    (as root: ``--mount``; otherwise a user namespace), or None when the machine allows none."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    candidates = [["--mount"]] if os.geteuid() == 0 else []
    candidates.append(["--user", "--map-root-user", "--mount"])
    with tempfile.TemporaryDirectory() as probe:
        for flags in candidates:
            try:
                done = subprocess.run([unshare, *flags, "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', probe],
                                      capture_output=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0:
                return [unshare, *flags]
    return None


def mount_namespace() -> List[str]:
    prefix = _mount_namespace()
    if prefix is None:
        pytest.skip("no private mount namespace here (unshare --mount needs root, or user namespaces)")
    return prefix


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} does not contain {old!r}"
    path.write_text(text.replace(old, new, 1))


def _fake_nvcc(directory: Path, release: str) -> Path:
    """An ``nvcc`` that states CUDA ``release`` and its archs, and compiles nothing."""
    nvcc = directory / "fake-cuda" / "bin" / "nvcc"
    nvcc.parent.mkdir(parents=True)
    major, minor = release.split(".")
    nvcc.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        f'  --version) echo "Cuda compilation tools, release {release}, V{major}.{minor}.0";;\n'
        '  --list-gpu-arch) for a in 75 80 86 89 90; do echo "compute_$a"; done;;\n'
        '  *) echo "fake nvcc: compiles nothing" >&2; exit 1;;\n'
        "esac\n"
    )
    nvcc.chmod(0o755)
    return nvcc


@functools.lru_cache(maxsize=None)
def _cuda_of_cuda_python() -> str:
    """torch.version.cuda of the CUDA test interpreter (read from torch/version.py, fast)."""
    code = ("import importlib.util, os; spec = importlib.util.find_spec('torch'); "
            "ns = {}; exec(open(os.path.join(os.path.dirname(spec.origin), 'version.py')).read(), ns); "
            "print(ns['cuda'])")
    return subprocess.run([CUDA_PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


# --------------------------------------------------------------------------- the faults


def _cxx_missing(build: Build) -> None:
    build.env["CXX"] = "/nonexistent/bin/g++"


def _cxx_broken(build: Build) -> None:
    build.env["CXX"] = shutil.which("false") or "/bin/false"  # runs, but compiles nothing


def _no_compiler_on_path(build: Build) -> None:
    # scikit-build-core names Python's own compilers (sysconfig CC/CXX) when CC/CXX are unset.
    bindir = os.path.dirname(sys.executable)
    for var in ("CC", "CXX"):
        named = (sysconfig.get_config_var(var) or "").split()[:1]
        if named and os.path.isabs(named[0]):
            pytest.skip(f"Python's sysconfig names {var} by its full path ({named[0]})")
    if any(shutil.which(c, path=bindir) for c in ("cc", "c++", "gcc", "g++", "clang", "clang++")):
        pytest.skip(f"{bindir} holds a C/C++ compiler")
    build.env.update({"PATH": bindir, "CC": None, "CXX": None})


def _nvcc_mismatch(build: Build) -> None:
    # No torch is built for CUDA 9: whatever the CUDA torch's version, the majors differ.
    build.python = CUDA_PYTHON
    build.env["CUDACXX"] = str(_fake_nvcc(build.tmp, "9.2"))
    build.settings.append("kernels.cuda-toolchain=system")


def _unknown_dependency(build: Build) -> None:
    _edit(build.repo / "build.toml", 'backend = "cpu"\ndepends = ["torch"]', 'backend = "cpu"\ndepends = ["torch", "libfoo"]')


def _dependency_fetch_fails(build: Build) -> None:
    # CUTLASS 4.5 has no PyPI package: with no source tree given, the build fetches it, from a
    # mirror that does not exist. The fake nvcc matches torch, so the plan gets that far.
    build.python = CUDA_PYTHON
    _edit(build.repo / "build.toml", 'backend = "cuda"\ndepends = ["torch"]', 'backend = "cuda"\ndepends = ["torch", "cutlass_4_5"]')
    build.env.update({"CUDACXX": str(_fake_nvcc(build.tmp, _cuda_of_cuda_python())),
                      "CUTLASS_SRC_DIR": None, "KERNELS_BUILD_CUTLASS_DIR": None})
    build.settings += ["kernels.cuda-toolchain=system", f"kernels.cutlass-url={build.tmp / 'no-such-mirror'}",
                       f"kernels.deps-cache={build.tmp / 'deps-cache'}"]


def _compile_error(build: Build) -> None:
    source = build.repo / "relu_cpu" / "relu_cpu.cpp"
    source.write_text(source.read_text() + "\nstatic int syntax_error = ;\n")
    build.env["CMAKE_BUILD_PARALLEL_LEVEL"] = "1"  # ninja stops at the first failure: one compile


def _read_only_source(build: Build) -> None:
    if os.geteuid() != 0:
        for path in [build.repo, *build.repo.rglob("*")]:
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return
    repo = shlex.quote(str(build.repo))  # root writes anywhere, but not into a read-only mount
    build.mounts += [f"mount --bind {repo} {repo}", f"mount -o remount,bind,ro {repo}"]


def _full_build_dir(size: str) -> Callable[[Build], None]:
    """CMake's first files fill 64 kB; 512 kB fill up while the first source compiles."""
    def setup(build: Build) -> None:
        build_dir = build.repo / ".kernels_build"
        build_dir.mkdir()
        build.mounts.append(f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(build_dir))}")
        build.env["CMAKE_BUILD_PARALLEL_LEVEL"] = "1"
    return setup


def _full_wheel_dir(build: Build) -> None:
    # The session's CPU build of relu (conftest.relu_cpu_wheel) is rebuilt: nothing to compile,
    # and the wheel (about 16 kB) does not fit into the 8 kB output directory.
    wheel = build.request.getfixturevalue("relu_cpu_wheel")
    build.repo = wheel.parent.parent / "relu"
    build.out.mkdir()
    build.mounts.append(f"mount -t tmpfs -o size=8k tmpfs {shlex.quote(str(build.out))}")


@dataclass(frozen=True)
class Fault:
    setup: Callable[[Build], None]
    #: what the error message must say (the ``kernels_build error:`` line and its indented lines)
    says: Sequence[str]
    #: regular expressions that the rest of the output must match (the compiler's messages)
    shows: Sequence[str] = ()


FAULTS: Dict[str, Fault] = {
    "cxx-missing": Fault(_cxx_missing, ["no C++ compiler", "/nonexistent/bin/g++", "$CXX", "install one",
                                        "set CXX", "build.log"]),
    "cxx-broken": Fault(_cxx_broken, ["the C++ compiler", "/false does not work", "set CXX", "build.log"],
                        shows=[r"is not able to compile a simple test program"]),
    "no-compiler-on-path": Fault(_no_compiler_on_path, ["no C and C++ compilers", "install one",
                                                        "set CC and CXX"]),
    "nvcc-mismatch": Fault(_nvcc_mismatch, ["nvcc 9.2", "fake-cuda/bin/nvcc", "does not match torch's CUDA",
                                            "Point CUDACXX at"]),
    "unknown-dependency": Fault(_unknown_dependency, ["build.toml", "kernel.relu_cpu.depends",
                                                      'unknown dependency "libfoo"', "allowed: torch"]),
    "dependency-fetch-fails": Fault(_dependency_fetch_fails, [
        "kernel.relu_cuda depends on cutlass_4_5 (CUTLASS 4.5.2), which could not be provided",
        "kernels.cutlass-dir=DIR", "no-such-mirror", "does not appear to be a git repository"]),
    "compile-error": Fault(_compile_error, ["compiling relu_cpu/relu_cpu.cpp failed", "full build log: ",
                                            "/build.log"],
                           shows=[r"relu_cpu\.cpp:\d+:\d+: error: ", r"FAILED: relu_cpu/relu_cpu\.cpp"]),
    "read-only-source": Fault(_read_only_source, ["cannot write the build directory", "/.kernels_build/",
                                                  "make the repository writable", "kernels.build-dir=DIR"]),
    "build-dir-full-at-configure": Fault(_full_build_dir("64k"), ["ran out of disk space",
                                                                  "No space left on device", "kernels.build-dir"]),
    "build-dir-full-at-compile": Fault(_full_build_dir("512k"), ["ran out of disk space",
                                                                 "No space left on device", "kernels.build-dir"]),
    "wheel-dir-full": Fault(_full_wheel_dir, ["cannot write", ".whl: no space left on device",
                                              "free some space"]),
}
CUDA_FAULTS = {"nvcc-mismatch", "dependency-fetch-fails"}
#: The cases that compile (about half a minute each on two cores).
COMPILING = {"compile-error", "build-dir-full-at-compile", "wheel-dir-full"}


def _error_message(output: str) -> str:
    """The ``kernels_build error:`` line and the indented lines that continue it."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(ERROR))
    end = start + 1
    while end < len(lines) and lines[end].startswith("  ") and not lines[end].lstrip().startswith(ERROR):
        end += 1
    return "\n".join(lines[start:end])


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[needs_cuda_python] if name in CUDA_FAULTS else [])
    for name in FAULTS
])
def test_fault(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    fault = FAULTS[name]
    build = Build(tmp=tmp_path, repo=copy_example("relu", tmp_path / "src"), out=tmp_path / "dist", request=request)
    try:
        fault.setup(build)
        result, left = build.run()
    finally:  # a read-only copy must become writable again for tmp_path's cleanup
        for path in [build.repo, *build.repo.rglob("*")] if os.geteuid() != 0 else []:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
    output = result.stdout
    context = f"\n--- output (last 8000 characters) ---\n{output[-8000:]}"
    assert result.returncode != 0, "the build succeeded although it should not have" + context
    errors = [line for line in output.splitlines() if line.lstrip().startswith(ERROR)]
    assert len(errors) == 1, f"expected one {ERROR!r} line, found {len(errors)}" + context
    message = _error_message(output)
    for words in fault.says:
        assert words in message, f"{words!r} is missing from the error message:\n{message}" + context
    for pattern in fault.shows:
        assert re.search(pattern, output, re.MULTILINE), f"{pattern!r} is not in the output" + context
    assert TRACEBACK not in output, "a traceback leaked into the output" + context
    assert left == [], f"the failed build left files in its output directory: {left}" + context


def test_build_dir_setting(tmp_path: Path) -> None:
    """The way out that the read-only and full-disk errors name: ``kernels.build-dir`` moves the
    build directories (relative to the kernel repository); by default they are inside it."""
    from kernels_build.config import load_build_config
    from kernels_build.plan import build_root
    from kernels_build.settings import BuildSettings

    repo = copy_example("relu", tmp_path / "src")
    config = load_build_config(repo)
    assert build_root(config, BuildSettings.from_config_settings({})) == repo / ".kernels_build"
    moved = BuildSettings.from_config_settings({"kernels.build-dir": str(tmp_path / "elsewhere")})
    assert build_root(config, moved) == tmp_path / "elsewhere"
    relative = BuildSettings.from_config_settings({"kernels.build-dir": "../kb"})
    assert build_root(config, relative) == (repo / ".." / "kb").resolve()
