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
from build_phases import phases  # noqa: E402
from build_steps import (  # noqa: E402,F401  (re-exported for kernel_speed.py and pch_cache.py)
    BenchError, Compiled, build_env, compiled_tus, cxx_standard, edit_one_line, log, ninja_entries, ninja_span,
    one_wheel, pip_wheel, probe_python, run_timed,
)
from kernels_build.config import load_build_config  # noqa: E402

EXAMPLE = REPO / "examples" / "relu"


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



def copy_example(dest: Path, kernel: Path = EXAMPLE) -> Path:
    return copy_kernel(kernel, dest)



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
            phases(cpu.python, built, tmp, args.jobs, cpu.kernel)
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
