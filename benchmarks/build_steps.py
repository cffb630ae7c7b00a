"""The steps the build benchmarks share: the environment both sides build in, running a
timed ``pip wheel``, reading ninja's log (what was compiled, and for how long), the one-line
change. Used by build_time.py, kernel_speed.py and pch_cache.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

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
GLUE_OBJECTS = ("kernels_extension_init.cpp.o", "kernels_glibc_compat.c.o",
                "kernels_libstdcxx_compat.cpp.o")


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
