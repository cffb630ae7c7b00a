"""``build_time.py --phases``: where a no-change rebuild of the cpu case spends its time --
interpreter start-up, imports, each stage of the backend, each CMake/ninja command."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from build_steps import BenchError, build_env, pip_wheel, run_timed
from baseline import copy_kernel

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


def phases(python: Path, copy: Optional[Path], tmp: Path, jobs: int, kernel: Path) -> None:
    """Where does a no-change rebuild of the cpu case (built by ``python``) spend its time?

    Uses ``copy`` (a kernel copy already built) or builds a fresh copy of ``kernel`` first."""
    env = build_env(python, jobs)
    work = tmp / "phases"
    work.mkdir()
    out = work / "wheels"
    if copy is None:
        copy = copy_kernel(kernel, work / kernel.name)
        cmd = pip_wheel(python, copy, out, ["kernels.backend=cpu"])
        run_timed(cmd, cwd=work, env=env, log_path=work / "cold.log", what="phases: cold build")
    cmd = pip_wheel(python, copy, out, ["kernels.backend=cpu"])
    print("phases: no-change rebuild of the cpu case, broken down")

    def wall(argv: Sequence[str], what: str, repeat: int = 3) -> float:
        best = min(run_timed(argv, cwd=work, env=env, log_path=work / "probe.log", what=what)
                   for _ in range(repeat))
        print(f"{best:8.3f}s  {what} (best of {repeat})")
        return best

    py = str(python)
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
