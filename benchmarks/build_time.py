#!/usr/bin/env python3
"""Build-time benchmark: kernels_build against torch.utils.cpp_extension, on examples/relu.

For each case -- ``cpu``, built with the interpreter running this script, and ``cuda`` (where
nvcc and an interpreter with a CUDA torch, ``--python-cuda``, are available), built with
``-C kernels.backend=cuda`` -- the script times, wall clock:

1. **ours cold** -- ``python -m pip wheel --no-build-isolation --no-deps -w OUT <copy>`` on a
   fresh copy of examples/relu (no ``.kernels_build/``), i.e. our PEP 517 backend through
   scikit-build-core, CMake and ninja;
2. **theirs cold** -- the same translation units (the torch binding plus the backend's
   kernel sources from build.toml) built by ``torch.utils.cpp_extension``
   (``CppExtension``/``CUDAExtension``, ``BuildExtension`` with ninja, ``py_limited_api``)
   through a generated setup.py, with the same ``pip wheel`` command, in a fresh directory;
3. **ours rebuild** -- the command of 1. again on the same copy, nothing changed (our backend
   keeps its CMake build directory in ``<copy>/.kernels_build/<variant>/cmake-build``);
4. **ours one-line change** -- a comment line appended to the kernel source (the first
   translation unit after the binding), then the command of 1. again. The op namespace (a hash
   of the sources) changes, but only the generated ``kernels_extension_init.cpp`` (Python.h
   only) is compiled with it, so ninja recompiles the changed file and that glue TU, then links.

For 1 and 4 the translation units ninja compiled, and their compile times added up, are read
from its log (``.ninja_log`` in the build directory) and printed next to the wall time; the
kernel's own sources are counted apart from our generated glue (``kernels_extension_init.cpp``,
``kernels_glibc_compat.c``). On a machine with fewer cores than translation units the wall time of a cold build is
several TUs; with as many cores (relu: two big TUs, two cores) it is one TU, like a rebuild.

Both sides get the same flags where they matter for compile time: ``-O3``, the C++ standard
our backend picks (C++20 for torch >= 2.12), ``TORCH_EXTENSION_NAME``, ``CPU_KERNEL`` /
``CUDA_KERNEL``, ``Py_LIMITED_API=0x03090000``, include dirs (the repo root, ``torch-ext/``
and a directory holding ``registration.h``), the same CUDA archs, and the same number of
parallel jobs (``MAX_JOBS`` for setuptools, ``CMAKE_BUILD_PARALLEL_LEVEL`` for CMake).
``-g0`` is appended to the setuptools C++ flags to cancel the ``-g`` that Python's sysconfig
CFLAGS inject (our CMake Release build has no debug info). No compiler cache is used
(``KERNELS_BUILD_COMPILER_CACHE=off``, ``CCACHE_DISABLE=1``).

Output: one line per case, then (last line)::

    ratio cold=<ours_cold/theirs_cold> rebuild=<ours_rebuild/ours_cold> edit=<ours_edit/ours_cold> edit_source_tus=<kernel sources compiled>/<kernel sources of the cold build>

The project targets cold <= 1.0 and rebuild <= 0.1; this script only reports them.
``--phases`` adds a breakdown of where the rebuild time goes (interpreter start-up, imports,
each pipeline stage, each CMake/ninja command) for the cpu case.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "relu"
sys.path.insert(0, str(REPO / "src"))  # the benchmark reads build.toml with our own parser

from kernels_build.config import Torch, load_build_config  # noqa: E402
from kernels_build.registration import REGISTRATION_H  # noqa: E402

HEADER_SUFFIXES = {".h", ".hh", ".hpp", ".hxx", ".cuh", ".inc", ".inl"}
#: Environment that could hide compile work behind a cache or change the toolchain.
SCRUB_ENV = (
    "CMAKE_C_COMPILER_LAUNCHER", "CMAKE_CXX_COMPILER_LAUNCHER", "CMAKE_CUDA_COMPILER_LAUNCHER",
    "CMAKE_ARGS", "SKBUILD_CMAKE_ARGS", "RUSTC_WRAPPER", "SCCACHE_DIR", "CCACHE_DIR",
    "CMAKE_BUILD_PARALLEL_LEVEL", "MAX_JOBS", "TORCH_CUDA_ARCH_LIST", "PIP_CONFIG_FILE",
)


#: Our settings that pass to both runs: the compliance gate (a GPU machine's glibc may need it
#: as a warning) and nvcc's threads (``KERNELS_BUILD_NVCC_THREADS=1`` measures without them).
KEPT_SETTINGS = ("KERNELS_BUILD_COMPLIANCE", "KERNELS_BUILD_NVCC_THREADS")


class BenchError(Exception):
    """A build failed or the environment cannot run a case; the message says which."""


@dataclass
class Case:
    name: str  # cpu | cuda
    python: Path  # interpreter of the venv that builds this case
    sources: List[str]  # translation units, relative to the kernel root (binding first)
    arch_list: Optional[str] = None  # TORCH_CUDA_ARCH_LIST equivalent of our -gencode flags


@dataclass
class Result:
    case: str
    ours_cold: float
    theirs_cold: float
    ours_rebuild: float
    copy: Optional[Path] = None  # our kernel copy, built twice
    ours_compile: Optional[float] = None  # ninja's part of the cold builds
    theirs_compile: Optional[float] = None
    cold: Optional["Compiled"] = None  # what ninja compiled in our cold build
    ours_edit: float = 0.0  # rebuild after a one-line change to one kernel source
    edit: Optional["Compiled"] = None
    edited: str = ""  # the source that was changed

    def line(self) -> str:
        cold, edit = self.cold or Compiled(), self.edit or Compiled()
        text = (f"case={self.case} ours_cold={self.ours_cold:.1f}s theirs_cold={self.theirs_cold:.1f}s "
                f"ours_rebuild={self.ours_rebuild:.1f}s ours_edit={self.ours_edit:.1f}s "
                f"edited={self.edited} compiled_after_edit={','.join(edit.names) or '-'} "
                f"source_tus(cold/edit)={len(cold.sources)}/{len(edit.sources)} "
                f"glue_tus(cold/edit)={len(cold.glue)}/{len(edit.glue)} "
                f"tu_seconds(cold/edit)={cold.seconds:.1f}/{edit.seconds:.1f}")
        if self.ours_compile is not None and self.theirs_compile is not None:
            text += (f" (ninja compile+link: ours={self.ours_compile:.1f}s theirs={self.theirs_compile:.1f}s;"
                     f" overhead: ours={self.ours_cold - self.ours_compile:.1f}s"
                     f" theirs={self.theirs_cold - self.theirs_compile:.1f}s)")
        return text


# ------------------------------------------------------------------------------ helpers


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def build_env(python: Path, jobs: int, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment both sides build in: the venv's bin first on PATH (cmake, ninja), the
    same job count, no compiler cache, no pip version check. Of our KERNELS_BUILD_* settings
    only :data:`KEPT_SETTINGS` pass."""
    env = {k: v for k, v in os.environ.items()
           if k not in SCRUB_ENV and (not k.startswith("KERNELS_BUILD_") or k in KEPT_SETTINGS)}
    venv_bin = str(python.parent)  # not resolved: the venv's bin, not the base interpreter's
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["MAX_JOBS"] = str(jobs)
    env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(jobs)
    env["CCACHE_DISABLE"] = "1"
    env["KERNELS_BUILD_COMPILER_CACHE"] = "off"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def run_timed(cmd: Sequence[str], *, cwd: Path, env: Dict[str, str], log_path: Path, what: str) -> float:
    """Run ``cmd``, its output to ``log_path``; return the wall time. On failure show the output."""
    with open(log_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.run(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        text = log_path.read_text(errors="replace")
        text += "" if text.endswith("\n") or not text else "\n"
        raise BenchError(
            f"{what} failed (exit status {proc.returncode}) after {elapsed:.1f}s\n"
            f"command: {' '.join(cmd)}\ncwd: {cwd}\n"
            f"----- output ({log_path}) -----\n{text}----- end of output -----"
        )
    return elapsed


def pip_wheel(python: Path, project: Path, out: Path, config: Sequence[str] = ()) -> List[str]:
    cmd = [str(python), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", str(out)]
    for setting in config:
        cmd += ["-C", setting]
    return cmd + [str(project)]


def one_wheel(out: Path, what: str) -> Path:
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise BenchError(f"{what}: expected one wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def ninja_span(logs: Sequence[Path]) -> Optional[float]:
    """Seconds from the first start to the last end in ninja's log: the compile-and-link part
    of a build, to tell compiler time (noisy on a loaded machine) from build-system overhead."""
    starts, ends = [], []
    for log_file in logs:
        for line in log_file.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 4 and fields[0].isdigit() and fields[1].isdigit():
                starts.append(int(fields[0]))
                ends.append(int(fields[1]))
    return (max(ends) - min(starts)) / 1000 if starts else None


Entries = Dict[str, Tuple[str, str, float]]


def ninja_entries(project: Path) -> Entries:
    """Output -> (mtime, command hash, seconds), the newest entry of each output in our build's
    ninja log. Outputs whose entry changes across a build are the ones ninja built (positions
    in the log would not do: CMake recompacts it when it regenerates build.ninja)."""
    entries: Entries = {}
    for log_file in sorted(project.glob(".kernels_build/*/cmake-build/.ninja_log")):
        for line in log_file.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) == 5 and fields[0].isdigit():
                entries[fields[3]] = (fields[2], fields[4], (int(fields[1]) - int(fields[0])) / 1000)
    return entries


#: Object files of our generated glue, as opposed to the kernel's own sources.
GLUE_OBJECTS = ("kernels_extension_init.cpp.o", "kernels_glibc_compat.c.o")


@dataclass
class Compiled:
    """The translation units (object files) ninja compiled between two logs."""

    sources: List[str] = field(default_factory=list)  # the kernel's own sources
    glue: List[str] = field(default_factory=list)  # our generated TUs
    seconds: float = 0.0  # compile seconds added up (CPU-bound work, whatever the parallelism)

    @property
    def names(self) -> List[str]:
        return [Path(o).name[: -len(".o")] for o in self.sources + self.glue]


def compiled_tus(before: Entries, after: Entries) -> Compiled:
    """What ninja compiled between the two logs ``before`` and ``after``."""
    result = Compiled()
    for out, entry in sorted(after.items()):
        if out.endswith(".o") and before.get(out) != entry:
            (result.glue if out.endswith(GLUE_OBJECTS) else result.sources).append(out)
            result.seconds += entry[2]
    return result


def edit_one_line(path: Path, n: int) -> None:
    """The one-line change: a comment appended to a source (new bytes, same code)."""
    with open(path, "a") as handle:
        handle.write(f"// one-line change {n} (benchmarks/build_time.py)\n")


def copy_example(dest: Path) -> Path:
    shutil.copytree(
        EXAMPLE, dest,
        ignore=shutil.ignore_patterns(".kernels_build", "__pycache__", "*.pyc", "build", "dist", "*.egg-info"),
    )
    return dest


def probe_python(python: Path) -> Dict[str, Optional[str]]:
    """torch's version and CUDA version, as the case's interpreter sees them."""
    code = "import json, torch; print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"{python} cannot import torch:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cxx_standard(torch_version: str) -> str:
    major, minor = (int(x) for x in torch_version.split("+")[0].split(".")[:2])
    return "c++20" if (major, minor) >= (2, 12) else "c++17"


# ------------------------------------------------------------------------------ the cases


def kernel_sources(backend: str) -> List[str]:
    """The translation units our backend compiles for ``backend``: binding, then kernels."""
    config = load_build_config(EXAMPLE)
    assert isinstance(config.framework, Torch)
    files = list(config.framework.src) + [s for k in config.kernels_for(backend) for s in k.src]
    return [s for s in files if Path(s).suffix.lower() not in HEADER_SUFFIXES]


def cuda_arch_list() -> str:
    """TORCH_CUDA_ARCH_LIST that gives the -gencode flags our backend emits (8.0;9.0+PTX)."""
    from kernels_build.cuda_archs import effective_capabilities
    from kernels_build.toolchain import find_nvcc

    nvcc = find_nvcc()
    assert nvcc is not None
    config = load_build_config(EXAMPLE)
    caps = set()
    for kernel in config.kernels_for("cuda"):
        caps.update(effective_capabilities(kernel.cuda_capabilities, nvcc.version, nvcc.supported_archs))
    return ";".join(f"{c.base}{c.suffix}{'+PTX' if c.ptx else ''}" for c in sorted(caps))


def make_cases(names: Sequence[str], cuda_python: Optional[str]) -> List[Case]:
    cases = []
    for name in names:
        if name == "cpu":
            cases.append(Case("cpu", Path(sys.executable), kernel_sources("cpu")))
        elif name == "cuda":
            if not cuda_python:
                print("note: cuda case skipped: no interpreter with a CUDA torch "
                      "(pass --python-cuda or set KERNELS_BENCH_CUDA_PYTHON)", flush=True)
                continue
            from kernels_build.toolchain import find_nvcc

            if find_nvcc() is None:
                print("note: cuda case skipped: no nvcc found", flush=True)
                continue
            python = Path(cuda_python)
            info = probe_python(python)
            if not info.get("cuda"):
                print(f"note: cuda case skipped: {python} has torch {info['torch']}, not a CUDA build",
                      flush=True)
                continue
            cases.append(Case("cuda", python, kernel_sources("cuda"), cuda_arch_list()))
        else:
            raise BenchError(f"unknown case {name!r}; known: cpu, cuda")
    return cases


# ------------------------------------------------------------------------------ baseline


SETUP_PY = '''\
# Generated by benchmarks/build_time.py: the torch.utils.cpp_extension baseline.
import glob
import os
import sys

import torch.utils.cpp_extension as cpp_extension
from setuptools import setup

# Ours defines Py_LIMITED_API=0x03090000; BuildExtension takes the value from here.
cpp_extension.min_supported_cpython = "0x03090000"

ROOT = os.path.dirname(os.path.abspath(__file__))
CUDA = {cuda!r}
STD = {std!r}
NVIDIA_INCLUDES = sorted(glob.glob(os.path.join(sys.prefix, "lib", "python*", "site-packages", "nvidia", "*", "include")))

include_dirs = [ROOT, os.path.join(ROOT, "torch-ext"), os.path.join(ROOT, "_generated")]
cxx = ["-O3", "-g0", "-std=" + STD, "-DCUDA_KERNEL" if CUDA else "-DCPU_KERNEL"]
if CUDA:
    include_dirs += NVIDIA_INCLUDES  # as ours: cuBLAS & co. headers come from torch's wheels
    cxx.append("-DUSE_CUDA=1")
    nvcc = ["-O3", "-std=" + STD, "-DCUDA_KERNEL", "-DUSE_CUDA=1"]
    extension = cpp_extension.CUDAExtension
    extra = {{"cxx": cxx, "nvcc": nvcc}}
else:
    extension = cpp_extension.CppExtension
    extra = {{"cxx": cxx}}


class BuildExtension(cpp_extension.BuildExtension):
    """BuildExtension minus -DTORCH_API_INCLUDE_EXTENSION_H: with it, <torch/torch.h> pulls in
    torch/extension.h and pybind11, which do not compile under Py_LIMITED_API (and which our
    backend does not define either)."""

    def _add_compile_flag(self, extension, flag):
        if flag != "-DTORCH_API_INCLUDE_EXTENSION_H":
            super()._add_compile_flag(extension, flag)


setup(
    name="relu-baseline",
    version="1.0.0",
    packages=["relu"],
    package_dir={{"relu": "torch-ext/relu"}},
    ext_modules=[
        extension(
            name="relu.{ext_name}",
            sources={sources!r},
            include_dirs=include_dirs,
            extra_compile_args=extra,
            py_limited_api=True,
        )
    ],
    cmdclass={{"build_ext": BuildExtension.with_options(use_ninja=True)}},
    options={{"bdist_wheel": {{"py_limited_api": "cp39"}}}},
)
'''

BASELINE_PYPROJECT = """\
[build-system]
requires = ["setuptools", "wheel", "torch"]
build-backend = "setuptools.build_meta"
"""


def prepare_baseline(case: Case, dest: Path, std: str) -> Path:
    """A fresh copy of the example turned into a setuptools project for the same sources."""
    root = copy_example(dest)
    (root / "pyproject.toml").write_text(BASELINE_PYPROJECT)
    (root / "_generated").mkdir()
    (root / "_generated" / "registration.h").write_text(REGISTRATION_H)
    (root / "setup.py").write_text(SETUP_PY.format(
        cuda=case.name == "cuda", std=std, sources=case.sources, ext_name=f"_relu_{case.name}_baseline",
    ))
    return root


# ------------------------------------------------------------------------------ running


def run_case(case: Case, tmp: Path, jobs: int, verbose: bool) -> Result:
    info = probe_python(case.python)
    std = cxx_standard(info["torch"] or "0.0")
    extra_env: Dict[str, str] = {}
    if case.name == "cuda":
        from kernels_build.toolchain import find_nvcc

        nvcc = find_nvcc()
        assert nvcc is not None
        extra_env["CUDA_HOME"] = str(nvcc.toolkit_root)  # torch and ours find the same nvcc
        extra_env["TORCH_CUDA_ARCH_LIST"] = case.arch_list or ""  # read by the baseline only
    env = build_env(case.python, jobs, extra_env)
    log(f"case {case.name}: {case.python} (torch {info['torch']}), sources {', '.join(case.sources)}, "
        f"-std={std}, jobs {jobs}" + (f", archs {case.arch_list}" if case.arch_list else ""))

    work = tmp / case.name
    work.mkdir(parents=True)
    ours = copy_example(work / "ours" / "relu")
    out_ours = work / "ours-wheels"
    cmd = pip_wheel(case.python, ours, out_ours, [f"kernels.backend={case.name}"])
    if verbose:
        cmd.insert(4, "-v")

    log(f"case {case.name}: ours, cold")
    ours_cold = run_timed(cmd, cwd=work, env=env, log_path=work / "ours-cold.log", what="ours (cold)")
    one_wheel(out_ours, "ours (cold)")
    ours_compile = ninja_span(sorted(ours.glob(".kernels_build/*/cmake-build/.ninja_log")))

    log(f"case {case.name}: theirs (torch.utils.cpp_extension), cold")
    theirs = prepare_baseline(case, work / "theirs" / "relu", std)
    out_theirs = work / "theirs-wheels"
    cmd_theirs = pip_wheel(case.python, theirs, out_theirs)
    if verbose:
        cmd_theirs.insert(4, "-v")
    theirs_cold = run_timed(cmd_theirs, cwd=work, env=env, log_path=work / "theirs-cold.log",
                            what="theirs (cold)")
    one_wheel(out_theirs, "theirs (cold)")
    theirs_compile = ninja_span(sorted(theirs.glob("build/temp*/.ninja_log")))

    log(f"case {case.name}: ours, rebuild without changes")
    ours_rebuild = run_timed(cmd, cwd=work, env=env, log_path=work / "ours-rebuild.log",
                             what="ours (rebuild)")
    one_wheel(out_ours, "ours (rebuild)")
    cold = compiled_tus({}, ninja_entries(ours))

    edited = case.sources[1] if len(case.sources) > 1 else case.sources[0]  # a kernel source
    log(f"case {case.name}: ours, rebuild after a one-line change to {edited}")
    before = ninja_entries(ours)
    edit_one_line(ours / edited, 1)
    ours_edit = run_timed(cmd, cwd=work, env=env, log_path=work / "ours-edit.log", what="ours (one-line change)")
    one_wheel(out_ours, "ours (one-line change)")
    edit = compiled_tus(before, ninja_entries(ours))
    if verbose:
        for name in ("ours-cold", "theirs-cold", "ours-rebuild", "ours-edit"):
            print(f"----- {case.name} {name} -----\n{(work / (name + '.log')).read_text(errors='replace')}")
    return Result(case.name, ours_cold, theirs_cold, ours_rebuild, ours, ours_compile, theirs_compile,
                  cold=cold, ours_edit=ours_edit, edit=edit, edited=edited)


# ------------------------------------------------------------------------------ --phases

PHASES_PY = r'''
import os, subprocess, sys, time
T0 = time.perf_counter()
marks = []
def mark(name, start):
    marks.append((name, time.perf_counter() - start))

_orig_run = subprocess.run
def _name(args):
    args = args if isinstance(args, (list, tuple)) else [args]
    return " ".join(os.path.basename(str(a)) if i == 0 else str(a) for i, a in enumerate(args[:3]))[:60]
def run(*a, **k):  # every tool the backend or scikit-build-core runs, with its wall time
    start = time.perf_counter()
    try:
        return _orig_run(*a, **k)
    finally:
        mark("    subprocess: " + _name(a[0] if a else k.get("args")), start)
subprocess.run = run

s = time.perf_counter(); import kernels_build; mark("import kernels_build", s)
import tempfile
from pathlib import Path
s = time.perf_counter()
from kernels_build.config import check_layout, load_build_config
from kernels_build.ophook import check_op_namespaces
from kernels_build.plan import make_plan
from kernels_build.project import generate_project
from kernels_build.driver import build_with_scikit_build
from kernels_build.assemble import finalize_wheel
from kernels_build.settings import BuildSettings
mark("import the pipeline modules (kernels, auditwheel, abi3audit...)", s)
root = Path(sys.argv[1]); out = Path(sys.argv[2]); os.chdir(root)
s = time.perf_counter(); settings = BuildSettings.from_config_settings({"kernels.backend": "cpu"})
config = load_build_config(root); check_layout(config); mark("settings + build.toml + layout", s)
s = time.perf_counter(); check_op_namespaces(config.python_dir, root=root); mark("op namespace check", s)
s = time.perf_counter(); plan = make_plan(config, settings); mark("make_plan (torch facts, nvcc, source hash)", s)
s = time.perf_counter(); project = generate_project(plan); mark("generate_project", s)
s = time.perf_counter(); import scikit_build_core.build.wheel; mark("import scikit_build_core.build.wheel", s)
s = time.perf_counter(); import cmake; mark("import cmake (the PyPI package scikit-build-core asks)", s)
with tempfile.TemporaryDirectory() as tmp:
    s = time.perf_counter(); raw = build_with_scikit_build(project, Path(tmp), {}); mark("scikit-build-core build_wheel (rest)", s)
    s = time.perf_counter(); finalize_wheel(raw, plan, out); mark("finalize_wheel (compliance, metadata, repack)", s)
mark("TOTAL in-process (after interpreter start)", T0)
for name, sec in marks:
    print(f"{sec:8.3f}s  {name}")
print(f"torch imported by the backend: {'yes' if 'torch' in sys.modules else 'no'}")
'''


#: Lines of ``pip wheel -v`` output that mark the phases of a build, in order.
MILESTONES = (
    "Preparing metadata (pyproject.toml): started",
    "kernels_build: building",
    "*** scikit-build-core",
    "*** Configuring CMake",
    "*** Building project",
    "*** Installing project",
    "*** Making wheel",
    "*** Created",
    "kernels_build: wrote",
    "Preparing metadata (pyproject.toml): finished",
    "Building wheel for",
    "Created wheel for",
    "Successfully built",
)


def stamped_run(cmd: Sequence[str], *, cwd: Path, env: Dict[str, str]) -> List[tuple]:
    """Run ``cmd``; return (seconds since start, line) for the milestone lines, then the end."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    stamps, lines = [], []
    for line in proc.stdout:
        lines.append(line)
        text = line.strip()
        if any(text.startswith(m) for m in MILESTONES):
            stamps.append((time.perf_counter() - start, text[:90]))
    rc = proc.wait()
    stamps.append((time.perf_counter() - start, f"(pip exited, status {rc})"))
    if rc != 0:
        raise BenchError("stamped run failed:\n" + "".join(lines))
    return stamps


def phases(case: Case, copy: Optional[Path], tmp: Path, jobs: int) -> None:
    """Where does a no-change rebuild of the cpu case spend its time?

    Uses ``copy`` (a kernel copy already built) or builds a fresh one first."""
    env = build_env(case.python, jobs)
    work = tmp / "phases"
    work.mkdir()
    out = work / "wheels"
    if copy is None:
        copy = copy_example(work / "relu")
        cmd = pip_wheel(case.python, copy, out, ["kernels.backend=cpu"])
        run_timed(cmd, cwd=work, env=env, log_path=work / "cold.log", what="phases: cold build")
    cmd = pip_wheel(case.python, copy, out, ["kernels.backend=cpu"])
    print("phases: no-change rebuild of the cpu case, broken down")

    def wall(argv: Sequence[str], what: str, repeat: int = 3) -> float:
        best = min(run_timed(argv, cwd=work, env=env, log_path=work / "probe.log", what=what)
                   for _ in range(repeat))
        print(f"{best:8.3f}s  {what} (best of {repeat})")
        return best

    py = str(case.python)
    print("reference costs:")
    wall([py, "-c", "pass"], "python start-up")
    wall([py, "-c", "import torch"], "python + import torch (+ interpreter exit)")
    wall([py, "-c", "import kernels_build"], "python + import kernels_build (what each pip hook process pays)")
    wall([py, "-m", "pip", "--version"], "python -m pip --version (pip start-up)")
    wall(cmd, "full pip wheel rebuild")

    print("pip wheel -v timeline (seconds since start; hook 1 = prepare_metadata, which our backend "
          "lacks, so pip's fallback builds the wheel there; hook 2 = build_wheel reuses it):")
    previous = 0.0
    for at, text in stamped_run(cmd[:4] + ["-v"] + cmd[4:], cwd=work, env=env):
        print(f"{at:8.3f}s (+{at - previous:6.3f})  {text}")
        previous = at

    (work / "phases.py").write_text(PHASES_PY)
    proc = subprocess.run([py, str(work / "phases.py"), str(copy), str(work / "wheels-inproc")],
                          cwd=work, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"phases: in-process rebuild failed:\n{proc.stdout}\n{proc.stderr}")
    print("in-process rebuild (one interpreter, the backend's stages called in turn):")
    for line in proc.stdout.splitlines():
        if line.startswith(" ") and line.strip()[:1].isdigit() or line.startswith("torch imported"):
            print(line)


# ------------------------------------------------------------------------------ main


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=textwrap.dedent(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            The last line is `ratio cold=<ours/theirs> rebuild=<rebuild/cold>
            edit=<one-line change/cold> edit_source_tus=<kernel sources compiled after the
            change>/<kernel sources compiled cold>` (3 decimals).
            It uses the cpu case's numbers; when several cases ran, it uses the SUM over the
            cases that ran (sum of ours_cold / sum of theirs_cold, sum of ours_rebuild / sum
            of ours_cold, ...). Project targets: cold <= 1.0, rebuild <= 0.1 (reported, not asserted).
            """),
    )
    parser.add_argument("--cases", default="cpu,cuda",
                        help="comma-separated cases among cpu,cuda (default: cpu,cuda; cuda is "
                             "skipped with a note without nvcc or a CUDA interpreter)")
    parser.add_argument("--python-cuda", default=os.environ.get("KERNELS_BENCH_CUDA_PYTHON"),
                        metavar="PATH",
                        help="interpreter of a venv with a CUDA torch and kernels installed, used "
                             "for the cuda case (default: $KERNELS_BENCH_CUDA_PYTHON)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel compile jobs for both sides (MAX_JOBS, "
                             "CMAKE_BUILD_PARALLEL_LEVEL; default: os.cpu_count())")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="run pip with -v and print every build's output")
    parser.add_argument("--phases", action="store_true",
                        help="afterwards, break a no-change cpu rebuild down into its phases")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="kernels-build-bench-"))
    try:
        cases = make_cases(names, args.python_cuda)
        if not cases:
            raise BenchError("no case can run")
        results = []
        for case in cases:
            r = run_case(case, tmp, args.jobs, args.verbose)
            results.append(r)
            print(r.line(), flush=True)
        if args.phases:
            cpu = next((c for c in cases if c.name == "cpu"), None) or make_cases(["cpu"], None)[0]
            built = next((r.copy for r in results if r.case == "cpu"), None)
            phases(cpu, built, tmp, args.jobs)
        ours = sum(r.ours_cold for r in results)
        theirs = sum(r.theirs_cold for r in results)
        rebuild = sum(r.ours_rebuild for r in results)
        edit = sum(r.ours_edit for r in results)
        cold_sources = sum(len(r.cold.sources) for r in results if r.cold)
        edit_sources = sum(len(r.edit.sources) for r in results if r.edit)
        print(f"ratio cold={ours / theirs:.3f} rebuild={rebuild / ours:.3f} edit={edit / ours:.3f} "
              f"edit_source_tus={edit_sources}/{cold_sources}", flush=True)
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        if not args.keep and any(tmp.iterdir()):
            print("(temporary files removed; rerun with --keep to inspect them)", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
