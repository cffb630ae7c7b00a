#!/usr/bin/env python3
"""Build-time benchmark: kernels_build against torch.utils.cpp_extension, on one kernel.

The kernel is examples/relu unless ``--kernel DIR`` names another repository (a corpus kernel
gets the 3-line pyproject.toml of ../shared/corpus/accept.sh); it is copied, never changed.
The baseline (benchmarks/baseline.py) builds the same translation units with the kernels'
flags merged, as cpp_extension has one set of flags per extension.

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

Long builds (a heavy kernel on a machine where one command may run 10 minutes) run step by
step: ``--work DIR --phase ours-cold``, then ``--phase rebuild,edit`` (and ``theirs-cold``) with
the same ``--work``; the figures gather in ``DIR/<case>/state.json`` and each run prints what
exists so far. A cold build stopped from outside (``timeout 570 ...``) continues when
``--phase ours-cold`` runs again: ninja resumes, and the stopped run's time (until its log was
last written) is added. ``--setting KEY=VALUE`` passes a ``-C`` setting to our builds; ``--also
KEY=VALUE`` adds one more cold build of ours with that setting, printed with its per-TU compile
seconds next to the first (e.g. precompiled headers on and off, side by side)::

    python benchmarks/build_time.py --kernel ../shared/corpus/rotary --cases cpu \\
        --setting kernels.precompiled-headers=on --also kernels.precompiled-headers=off
``--default-archs`` builds a copy of the kernel whose components declare no
``cuda-capabilities``, so both sides compile every CUDA file for the builder's default arch
list of the nvcc in use (10 archs for CUDA 13), the case nvcc's threads are for::

    python benchmarks/build_time.py --cases cuda --python-cuda "$(command -v python3)" --default-archs

``--phases`` adds a breakdown of where the rebuild time goes (interpreter start-up, imports,
each pipeline stage, each CMake/ninja command) for the cpu case.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import (  # noqa: E402,F401  (re-exported for kernel_speed.py; puts src/ on sys.path)
    BASELINE_PYPROJECT, HEADER_SUFFIXES, REPO, SETUP_PY, copy_kernel, kernel_sources, prepare_baseline,
)
from kernels_build.config import load_build_config  # noqa: E402

EXAMPLE = REPO / "examples" / "relu"
#: Environment that could hide compile work behind a cache or change the toolchain.
SCRUB_ENV = (
    "CMAKE_C_COMPILER_LAUNCHER", "CMAKE_CXX_COMPILER_LAUNCHER", "CMAKE_CUDA_COMPILER_LAUNCHER",
    "CMAKE_ARGS", "SKBUILD_CMAKE_ARGS", "RUSTC_WRAPPER", "SCCACHE_DIR", "CCACHE_DIR",
    "CMAKE_BUILD_PARALLEL_LEVEL", "MAX_JOBS", "TORCH_CUDA_ARCH_LIST", "PIP_CONFIG_FILE",
)


#: Our settings that pass to both runs: the compliance gate (a GPU machine's glibc may need it
#: as a warning) and nvcc's threads (``KERNELS_BUILD_NVCC_THREADS=1`` and
#: ``KERNELS_BUILD_NVCC_SPLIT_COMPILE=1`` measure without them).
KEPT_SETTINGS = ("KERNELS_BUILD_COMPLIANCE", "KERNELS_BUILD_NVCC_THREADS", "KERNELS_BUILD_NVCC_SPLIT_COMPILE")


class BenchError(Exception):
    """A build failed or the environment cannot run a case; the message says which."""


@dataclass
class Case:
    name: str  # cpu | cuda
    python: Path  # interpreter of the venv that builds this case
    sources: List[str]  # translation units, relative to the kernel root (binding first)
    arch_list: Optional[str] = None  # TORCH_CUDA_ARCH_LIST equivalent of our -gencode flags
    kernel: Path = EXAMPLE  # the kernel repository built (copied first, never changed)
    settings: Tuple[str, ...] = ()  # our -C settings (kernels.backend=<name> comes first)


def _seconds(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}s"


@dataclass
class Result:
    """The figures of one case; None where that step has not run (see ``--phase``)."""

    case: str
    ours_cold: Optional[float]
    theirs_cold: Optional[float]
    ours_rebuild: Optional[float]
    copy: Optional[Path] = None  # our kernel copy, built twice
    ours_compile: Optional[float] = None  # ninja's part of the cold builds
    theirs_compile: Optional[float] = None
    cold: Optional["Compiled"] = None  # what ninja compiled in our cold build
    ours_edit: Optional[float] = None  # rebuild after a one-line change to one kernel source
    edit: Optional["Compiled"] = None
    edited: str = ""  # the source that was changed
    tu_seconds: Dict[str, float] = field(default_factory=dict)  # each TU of our cold build
    also: Dict[str, Dict] = field(default_factory=dict)  # -C setting -> cold, tu_seconds

    def line(self) -> str:
        cold, edit = self.cold or Compiled(), self.edit or Compiled()
        text = (f"case={self.case} ours_cold={_seconds(self.ours_cold)} theirs_cold={_seconds(self.theirs_cold)} "
                f"ours_rebuild={_seconds(self.ours_rebuild)} ours_edit={_seconds(self.ours_edit)} "
                f"edited={self.edited or '-'} compiled_after_edit={','.join(edit.names) or '-'} "
                f"source_tus(cold/edit)={len(cold.sources)}/{len(edit.sources)} "
                f"glue_tus(cold/edit)={len(cold.glue)}/{len(edit.glue)} "
                f"tu_seconds(cold/edit)={cold.seconds:.1f}/{edit.seconds:.1f}")
        if None not in (self.ours_compile, self.theirs_compile, self.ours_cold, self.theirs_cold):
            text += (f" (ninja compile+link: ours={self.ours_compile:.1f}s theirs={self.theirs_compile:.1f}s;"
                     f" overhead: ours={self.ours_cold - self.ours_compile:.1f}s"
                     f" theirs={self.theirs_cold - self.theirs_compile:.1f}s)")
        return text

    def detail_lines(self) -> List[str]:
        """Each TU's compile seconds in our cold build, and the cold builds with ``--also``."""
        out = []
        if self.tu_seconds:
            out.append(f"case={self.case} ours cold, seconds per TU: "
                       + " ".join(f"{k}={v:.1f}" for k, v in sorted(self.tu_seconds.items())))
        for setting, figures in self.also.items():
            ratio = f" (x{figures['cold'] / self.ours_cold:.3f} ours cold)" if self.ours_cold else ""
            out.append(f"case={self.case} ours cold with -C {setting}: {figures['cold']:.1f}s{ratio}, seconds per TU: "
                       + " ".join(f"{k}={v:.1f}" for k, v in sorted(figures["tu_seconds"].items())))
        return out


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


def copy_example(dest: Path, kernel: Path = EXAMPLE) -> Path:
    return copy_kernel(kernel, dest)


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


def cuda_arch_list(kernel: Path, narrow_to: Optional[Sequence[str]] = None) -> str:
    """TORCH_CUDA_ARCH_LIST that gives the -gencode flags our backend emits for ``kernel``
    (e.g. 8.0;9.0+PTX), narrowed as ``kernels.cuda-capabilities`` narrows ours."""
    from kernels_build.cuda_archs import effective_capabilities
    from kernels_build.toolchain import find_nvcc

    nvcc = find_nvcc()
    assert nvcc is not None
    caps = set()
    for spec in load_build_config(kernel).kernels_for("cuda"):
        caps.update(effective_capabilities(spec.cuda_capabilities, nvcc.version, nvcc.supported_archs,
                                           narrow_to=list(narrow_to) if narrow_to else None))
    return ";".join(f"{c.base}{c.suffix}{'+PTX' if c.ptx else ''}" for c in sorted(caps))


_CUDA_CAPABILITIES_KEY = re.compile(r"^[ \t]*cuda-capabilities[ \t]*=[ \t]*\[[^\]]*\][^\n]*\n?", re.M)


def without_cuda_capabilities(kernel: Path, dest: Path) -> Path:
    """A copy of ``kernel`` (at ``dest``, reused when there) whose components declare no
    ``cuda-capabilities``: each is built for the builder's default list of the nvcc in use."""
    if not dest.exists():
        copy_kernel(kernel, dest)
        toml = dest / "build.toml"
        toml.write_text(_CUDA_CAPABILITIES_KEY.sub("", toml.read_text()))
        left = [k.name for k in load_build_config(dest).kernels if k.cuda_capabilities]
        if left:
            raise BenchError(f"--default-archs: could not remove cuda-capabilities of {', '.join(left)} "
                             f"in {toml}")
    return dest


def make_cases(names: Sequence[str], cuda_python: Optional[str], kernel: Path = EXAMPLE,
               settings: Sequence[str] = (), cuda_capabilities: Optional[str] = None) -> List[Case]:
    cases = []
    for name in names:
        ours = (f"kernels.backend={name}", *settings)
        if name == "cpu":
            cases.append(Case("cpu", Path(sys.executable), kernel_sources(kernel, "cpu"), kernel=kernel,
                              settings=ours))
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
            narrow = cuda_capabilities.replace(",", ";").split(";") if cuda_capabilities else None
            if cuda_capabilities:
                ours += (f"kernels.cuda-capabilities={cuda_capabilities}",)
            cases.append(Case("cuda", python, kernel_sources(kernel, "cuda"), cuda_arch_list(kernel, narrow),
                              kernel=kernel, settings=ours))
        else:
            raise BenchError(f"unknown case {name!r}; known: cpu, cuda")
    return cases


# ------------------------------------------------------------------------------ running


#: The steps of a case, in order; ``--phase`` runs some of them (state kept under ``--work``).
STEPS = ("ours-cold", "theirs-cold", "rebuild", "edit")


def tu_seconds(copy: Path) -> Dict[str, float]:
    """Compile seconds of each TU of the newest build (source name -> seconds), from ninja's log."""
    return {Path(out).name.replace(".hxx.gch", ".gch").removesuffix(".o"): entry[2]
            for out, entry in ninja_entries(copy).items() if out.endswith((".o", ".gch"))}


def run_case(case: Case, work_root: Path, jobs: int, verbose: bool, steps: Sequence[str] = STEPS,
             also: Sequence[str] = ()) -> Result:
    """Run ``steps`` of ``case`` in ``work_root/<case>``; figures of earlier runs with the same
    work directory are kept in its ``state.json`` (so each step can be its own command)."""
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
    name = load_build_config(case.kernel).general.name
    log(f"case {case.name}: {name} ({case.kernel}), {case.python} (torch {info['torch']}), "
        f"sources {', '.join(case.sources)}, -std={std}, jobs {jobs}"
        + (f", archs {case.arch_list}" if case.arch_list else "") + f", ours -C {' -C '.join(case.settings)}")

    work = work_root / case.name
    work.mkdir(parents=True, exist_ok=True)
    state_path = work / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    ours = work / "ours" / name
    out_ours = work / "ours-wheels"

    def ours_build(copy: Path, out: Path, what: str, settings: Sequence[str] = case.settings) -> float:
        cmd = pip_wheel(case.python, copy, out, settings)
        if verbose:
            cmd.insert(4, "-v")
        shutil.rmtree(out, ignore_errors=True)
        seconds = run_timed(cmd, cwd=work, env=env, log_path=work / f"{what}.log", what=f"ours ({what})")
        one_wheel(out, f"ours ({what})")
        return seconds

    def need_built() -> None:
        if not ours.is_dir() or "ours_cold" not in state:
            raise BenchError(f"case {case.name}: no cold build of ours to start from: run --phase ours-cold "
                             "first, with --work DIR (the same DIR in every run)")

    if "ours-cold" in steps:
        # A cold build stopped from outside (a command's time limit) continues where ninja left
        # off; the time it ran until its log was last written counts towards the cold time.
        earlier = 0.0
        cold_log = work / "ours-cold.log"
        if "ours_cold" not in state and "ours_cold_started" in state and ours.is_dir() and cold_log.exists():
            earlier = cold_log.stat().st_mtime - state["ours_cold_started"]
            cold_log.rename(work / "ours-cold-stopped.log")
            log(f"case {case.name}: ours, cold, continuing a build stopped after {earlier:.0f}s")
        else:
            log(f"case {case.name}: ours, cold")
            shutil.rmtree(work / "ours", ignore_errors=True)
            copy_example(ours, case.kernel)
            state = {"ours_cold_started": time.time()}
            state_path.write_text(json.dumps(state))
        state = {"ours_cold": earlier + ours_build(ours, out_ours, "ours-cold"),
                 "ours_compile": ninja_span(sorted(ours.glob(".kernels_build/*/cmake-build/.ninja_log"))),
                 "cold": compiled_tus({}, ninja_entries(ours)).__dict__, "tu_seconds": tu_seconds(ours)}
        if earlier:
            state["ours_cold_continued"] = earlier
    if "theirs-cold" in steps:
        log(f"case {case.name}: theirs (torch.utils.cpp_extension), cold")
        shutil.rmtree(work / "theirs", ignore_errors=True)
        theirs = prepare_baseline(case.kernel, work / "theirs" / name, case.name, std, case.sources)
        out_theirs = work / "theirs-wheels"
        cmd_theirs = pip_wheel(case.python, theirs, out_theirs)
        if verbose:
            cmd_theirs.insert(4, "-v")
        state["theirs_cold"] = run_timed(cmd_theirs, cwd=work, env=env, log_path=work / "theirs-cold.log",
                                         what="theirs (cold)")
        one_wheel(out_theirs, "theirs (cold)")
        state["theirs_compile"] = ninja_span(sorted(theirs.glob("build/temp*/.ninja_log")))
    if "rebuild" in steps:
        need_built()
        log(f"case {case.name}: ours, rebuild without changes")
        state["ours_rebuild"] = ours_build(ours, out_ours, "ours-rebuild")
    if "edit" in steps:
        need_built()
        edited = case.sources[1] if len(case.sources) > 1 else case.sources[0]  # a kernel source
        log(f"case {case.name}: ours, rebuild after a one-line change to {edited}")
        before = ninja_entries(ours)
        state["edits"] = state.get("edits", 0) + 1
        edit_one_line(ours / edited, state["edits"])
        state["ours_edit"] = ours_build(ours, out_ours, "ours-edit")
        state["edit"] = compiled_tus(before, ninja_entries(ours)).__dict__
        state["edited"] = edited
    for setting in also:
        log(f"case {case.name}: ours, cold, with -C {setting}")
        copy = work / "also" / name
        shutil.rmtree(copy.parent, ignore_errors=True)
        copy_example(copy, case.kernel)
        seconds = ours_build(copy, work / "also-wheels", "ours-also", [*case.settings, setting])
        state.setdefault("also", {})[setting] = {"cold": seconds, "tu_seconds": tu_seconds(copy)}
    state_path.write_text(json.dumps(state, indent=1))
    if verbose:
        for log_name in ("ours-cold", "theirs-cold", "ours-rebuild", "ours-edit"):
            if (work / f"{log_name}.log").exists():
                print(f"----- {case.name} {log_name} -----\n{(work / (log_name + '.log')).read_text(errors='replace')}")
    return Result(case.name, state.get("ours_cold"), state.get("theirs_cold"), state.get("ours_rebuild"),
                  ours, state.get("ours_compile"), state.get("theirs_compile"),
                  cold=Compiled(**state["cold"]) if "cold" in state else None,
                  ours_edit=state.get("ours_edit"), edit=Compiled(**state["edit"]) if "edit" in state else None,
                  edited=state.get("edited", ""), tu_seconds=state.get("tu_seconds", {}),
                  also=state.get("also", {}))


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
    parser.add_argument("--kernel", type=Path, default=EXAMPLE, metavar="DIR",
                        help="the kernel repository to build (default: examples/relu); it is copied "
                             "first, and given our 3-line pyproject.toml when it has none")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                        help="a -C setting for our builds (repeatable), e.g. kernels.precompiled-headers=on")
    parser.add_argument("--also", action="append", default=[], metavar="KEY=VALUE",
                        help="one more cold build of ours with this -C setting added, printed next to "
                             "the first (e.g. kernels.precompiled-headers=off); repeatable")
    parser.add_argument("--cuda-capabilities", metavar="LIST",
                        help="kernels.cuda-capabilities for ours (e.g. 9.0), the same archs for theirs")
    parser.add_argument("--default-archs", action="store_true",
                        help="build every CUDA component for the builder's default arch list of this nvcc "
                             "(the copy's cuda-capabilities keys removed), both sides")
    parser.add_argument("--phase", default="all", metavar="STEPS",
                        help=f"comma-separated steps among {','.join(STEPS)} (default: all); with --work, "
                             "each can be its own command, later ones reusing the earlier builds")
    parser.add_argument("--work", type=Path, metavar="DIR",
                        help="keep builds and figures in DIR (default: a temporary directory, removed)")
    return parser.parse_args(argv)


def ratio_line(results: Sequence[Result]) -> str:
    """The last line: sums over the cases, for the figures that exist."""
    def total(attr: str) -> Optional[float]:
        values = [getattr(r, attr) for r in results]
        return None if any(v is None for v in values) else sum(values)

    ours, theirs, rebuild, edit = total("ours_cold"), total("theirs_cold"), total("ours_rebuild"), total("ours_edit")
    parts = [f"cold={ours / theirs:.3f}" if ours and theirs else "cold=-",
             f"rebuild={rebuild / ours:.3f}" if ours and rebuild is not None else "rebuild=-",
             f"edit={edit / ours:.3f}" if ours and edit is not None else "edit=-"]
    cold_sources = sum(len(r.cold.sources) for r in results if r.cold)
    edit_sources = sum(len(r.edit.sources) for r in results if r.edit)
    parts.append(f"edit_source_tus={edit_sources}/{cold_sources}")
    return "ratio " + " ".join(parts)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    steps = STEPS if args.phase == "all" else tuple(x.strip() for x in args.phase.split(",") if x.strip())
    unknown = [x for x in steps if x not in STEPS]
    if unknown:
        print(f"error: unknown --phase step(s) {', '.join(unknown)}; known: {', '.join(STEPS)}", file=sys.stderr)
        return 2
    if not (args.kernel / "build.toml").is_file():
        print(f"error: --kernel {args.kernel}: no build.toml there", file=sys.stderr)
        return 2
    keep = args.keep or args.work is not None
    tmp = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="kernels-build-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        kernel = args.kernel.resolve()
        if args.default_archs:
            kernel = without_cuda_capabilities(kernel, tmp / "kernel-default-archs")
        cases = make_cases(names, args.python_cuda, kernel, args.setting, args.cuda_capabilities)
        if not cases:
            raise BenchError("no case can run")
        results = []
        for case in cases:
            r = run_case(case, tmp, args.jobs, args.verbose, steps, args.also)
            results.append(r)
            print(r.line(), flush=True)
            for line in r.detail_lines():
                print(line, flush=True)
        if args.phases:
            cpu = next((c for c in cases if c.name == "cpu"), None) or make_cases(["cpu"], None)[0]
            built = next((r.copy for r in results if r.case == "cpu"), None)
            phases(cpu, built, tmp, args.jobs)
        print(ratio_line(results), flush=True)
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        if not keep and any(tmp.iterdir()):
            print("(temporary files removed; rerun with --keep to inspect them)", file=sys.stderr)
        return 1
    finally:
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
