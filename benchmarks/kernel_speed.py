#!/usr/bin/env python3
"""Kernel-speed benchmark: ops built by kernels_build against the same sources built by
torch.utils.cpp_extension.

Kernels (``--cases``): our examples with CUDA sources (``relu``, ``rmsnorm-silu``) and
``corpus-relu`` (../shared/corpus/relu or $KERNELS_CORPUS/relu, built from a temporary copy given the 3-line pyproject
of accept.sh). Each is built twice, with ``--python``: **ours** by ``pip wheel
--no-build-isolation --no-deps -C kernels.backend=<device> [-C kernels.cuda-capabilities=<caps>]``;
**theirs** by torch.utils.cpp_extension from the same translation units (binding + the backend's
kernel sources in build.toml), through the generated setup.py of benchmarks/baseline.py (what
build_time.py builds: -O3 as our Release build, the same C++ standard, the kernels' own flags),
with ``TORCH_CUDA_ARCH_LIST`` = our archs (9.0 -> 9.0+PTX).

Then one fresh subprocess loads both libraries with ``torch.ops.load_library`` (each in its own
op namespace), checks each op against PyTorch, and times both sides on the same seeded inputs
at several sizes through the same ``torch.ops`` dispatch, side by side: ``--rounds`` rounds per
size, alternating which side goes first, the lowest of each side's per-round medians counting.
On CUDA each measurement is the device time of one call: up to ``--graph-calls`` calls captured
in a CUDA graph (fewer for slow calls: a replay aims at 1 ms), its replay timed with CUDA events
(``torch.cuda.Event(enable_timing=True)``) and divided by the calls, the median of up to
``--iters`` replays (a round of one side at one size aims at 0.1 s). Timing single calls instead measures
the host's dispatch and launch latency too (13-20 us here, jittering by more than a small
kernel takes), which is the same code on both sides; ``--no-graphs`` (or an op that cannot be
captured) times single calls with events. On the CPU: ``perf_counter_ns`` on one thread, the
median of ``--iters`` calls. A speed difference must come from a flag difference, so
the flags of each kernel TU are printed for both sides (ours: ``compile_commands.json`` under
``<copy>/.kernels_build/*/cmake-build/``; theirs: setuptools' ``build.ninja``), with the diff.

Command line::

    python benchmarks/kernel_speed.py [--cases relu,rmsnorm-silu,corpus-relu] [--device cuda|cpu]
        [--cuda-capabilities 9.0] [--python PATH] [--jobs N] [--iters N] [--rounds N] [--build-only]

Output: per size ``<kernel>/<op> <size>: ours=<us> theirs=<us> ratio=<ours/theirs>``, per op
``kernel=<kernel> op=<op> ratio speed=<geometric mean over sizes> largest_size=<ratio at the
largest size, where the kernel itself is timed; small sizes are launch-bound>``, then (last line)::

    ratio speed=<geometric mean over all ops> ops=<n> min=<lowest op ratio> max=<highest>

(ours time / theirs time: 1.0 is equal, below 1.0 ours is faster; target 0.98-1.02).
Without a usable GPU (and without ``--device cpu`` or ``--build-only``) it exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_time import (  # noqa: E402  (also puts src/ on sys.path for kernels_build)
    REPO, BenchError, build_env, copy_kernel, cuda_arch_list, cxx_standard, kernel_sources, log, one_wheel,
    pip_wheel, prepare_baseline, probe_python, run_timed,
)

#: Where corpus-relu comes from. Only the checkout travels to a GPU machine: there, point
#: KERNELS_CORPUS at a carried copy (e.g. an ignored ``.corpus/`` in the checkout).
CORPUS = Path(os.environ.get("KERNELS_CORPUS", REPO.parent / "shared" / "corpus")).absolute()
NO_GPU_EXIT = 2


@dataclass(frozen=True)
class Kernel:
    name: str
    root: Path  # the kernel repo, never modified (built from a temporary copy)
    ops: Tuple[str, ...]  # ops timed, each with inputs in workloads()
    cuda_dtype: str = "bfloat16"  # dtype of the CUDA inputs (float32 on CPU)


KERNELS = {
    "relu": Kernel("relu", REPO / "examples" / "relu", ("relu",)),
    "rmsnorm-silu": Kernel("rmsnorm-silu", REPO / "examples" / "rmsnorm-silu", ("silu_and_mul", "rms_norm")),
    # Its CUDA kernel takes float32 only.
    "corpus-relu": Kernel("corpus-relu", CORPUS / "relu", ("relu",), cuda_dtype="float32"),
}


def cuda_env(root: Path, capabilities: Sequence[str]) -> Dict[str, str]:
    """TORCH_CUDA_ARCH_LIST giving the -gencode flags our build emits under
    ``kernels.cuda-capabilities`` (our newest arch also gets PTX: 9.0 -> 9.0+PTX), and
    CUDA_HOME, so that torch and ours use the same nvcc."""
    from kernels_build.toolchain import find_nvcc

    nvcc = find_nvcc()
    if nvcc is None:
        raise BenchError("no nvcc found (set CUDA_HOME or put nvcc on PATH)")
    return {"TORCH_CUDA_ARCH_LIST": cuda_arch_list(root, capabilities), "CUDA_HOME": str(nvcc.toolkit_root)}


def unpack(wheel: Path, dest: Path) -> List[str]:
    """Extract a wheel; return its extension libraries (what the timing subprocess loads)."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)
    libs = sorted(str(p) for p in dest.rglob("*.so"))
    if not libs:
        raise BenchError(f"{wheel.name} holds no shared library")
    return libs


#: Flags left out of the comparison: paths and per-build names, not code generation.
_PATH_OPTS = ("-I", "-isystem", "-o", "-MF", "-MT", "-MQ", "--dependency-output")


def _normalize(args: Sequence[str], source: str) -> List[str]:
    flags, skip = [], False
    for arg in args[1:]:  # [0] is the compiler
        if skip:
            skip = False
        elif arg in _PATH_OPTS:
            skip = True
        elif (arg.startswith(("-I", "-DTORCH_EXTENSION_NAME=")) or "prefix-map=" in arg
              or arg.endswith(source) or arg in ("-c", "-MD", "-MMD", "$in", "$out")):
            continue
        else:
            flags.append(arg)
    return flags


def ours_flags(copy: Path, source: str) -> Optional[List[str]]:
    dbs = copy.glob(".kernels_build/*/cmake-build/compile_commands.json")
    entries = [e for db in dbs for e in json.loads(db.read_text())]
    entry = next((e for e in entries if e["file"].endswith(source)), None)
    return None if entry is None else _normalize(entry.get("arguments") or shlex.split(entry["command"]), source)


def theirs_flags(copy: Path, source: str) -> Optional[List[str]]:
    """The flags setuptools' ninja file gives ``source`` (cflags/cuda_cflags + post flags)."""
    path = next(copy.glob("build/temp*/build.ninja"), None)
    if path is None:
        return None
    values = dict(line.split(" = ", 1) for line in path.read_text().splitlines() if " = " in line
                  and not line.startswith(" "))
    pre, post = ("cuda_cflags", "cuda_post_cflags") if source.endswith(".cu") else ("cflags", "post_cflags")
    return _normalize(["cc"] + shlex.split(values.get(pre, "")) + shlex.split(values.get(post, "")), source)


def print_flags(kernel: str, source: str, ours: Optional[List[str]], theirs: Optional[List[str]]) -> None:
    lines = {"ours": ours, "theirs": theirs}
    if ours is not None and theirs is not None:
        lines["only ours"] = [f for f in ours if f not in theirs]
        lines["only theirs"] = [f for f in theirs if f not in ours]
    for what, flags in lines.items():
        print(f"flags {kernel} {source} {what}: {'(not found)' if flags is None else ' '.join(flags) or '-'}")


Workload = Tuple[str, Callable[[], object], Callable[[], float]]  # label, call, max |error|


def workloads(ops: object, op: str, device: str, dtype: object) -> List[Workload]:
    """The op's inputs at several sizes (seeded: both subprocesses see the same data), its call
    (the same ``torch.ops`` dispatch on both sides) and its error against PyTorch."""
    import torch
    import torch.nn.functional as F

    cuda, hidden = device == "cuda", 4096 if device == "cuda" else 1024
    sizes = ((1 << 14, 1 << 18, 1 << 22, 1 << 26) if cuda else (1 << 10, 1 << 14, 1 << 18)) if op == "relu" \
        else ((1, 64, 1024, 16384) if cuda else (1, 16, 128))  # elements, or tokens of `hidden`
    result: List[Workload] = []
    for size in sizes:
        torch.manual_seed(0)
        if op == "relu":
            x = torch.randn(size, device=device, dtype=dtype)
            out, label, ref = torch.empty_like(x), f"n={size}", (lambda x=x: torch.relu(x))
            args: tuple = (out, x)
        elif op == "silu_and_mul":
            x = torch.randn(size, 2 * hidden, device=device, dtype=dtype)
            out, label = x.new_empty(size, hidden), f"tokens={size}x{hidden}"
            ref, args = (lambda x=x: F.silu(x[:, :hidden].float()) * x[:, hidden:].float()), (out, x)
        elif op == "rms_norm":
            x = torch.randn(size, hidden, device=device, dtype=dtype)
            w = torch.randn(hidden, device=device, dtype=dtype)
            out, label = torch.empty_like(x), f"tokens={size}x{hidden}"
            ref = (lambda x=x, w=w: F.rms_norm(x.float(), (hidden,), w.float(), 1e-6))
            args = (out, x, w, 1e-6)
        else:
            raise BenchError(f"no workload for op {op!r}")
        fn = getattr(ops, op)
        result.append((label, lambda fn=fn, args=args: fn(*args),
                       lambda out=out, ref=ref: float((out.float() - ref().float()).abs().max())))
    return result


def median_us(call: Callable[[], object], device: str, iters: int, warmup: int) -> float:
    import torch

    for _ in range(warmup):
        call()
    if device == "cuda":
        torch.cuda.synchronize()
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(iters)]
        for start, end in events:
            start.record()
            call()
            end.record()
        torch.cuda.synchronize()
        return statistics.median(s.elapsed_time(e) for s, e in events) * 1e3  # ms -> us
    times = []
    for _ in range(iters):
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3  # ns -> us


#: Device time one graph replay aims at, and one round of one side at one size (microseconds):
#: slow calls get fewer calls per graph and fewer replays, so every size takes about as long.
REPLAY_US, ROUND_US = 1_000.0, 100_000.0


def graph_timer(call: Callable[[], object], calls: int, iters: int) -> Callable[[], float]:
    """A timer of ``call``'s device time in microseconds: up to ``calls`` calls captured in one
    CUDA graph (fewer when a call is slow: a replay aims at :data:`REPLAY_US`), the median over
    up to ``iters`` replays (a round aims at :data:`ROUND_US`), divided by the calls.
    Raises RuntimeError (torch's) when the call cannot be captured."""
    import torch

    single = median_us(call, "cuda", iters=5, warmup=2)
    calls = max(1, min(calls, round(REPLAY_US / max(single, 1e-3))))
    iters = max(3, min(iters, int(ROUND_US / max(single * calls, 1e-3))))

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up off the capture stream, as capture requires
        for _ in range(3):
            call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            call()

    def timer() -> float:
        graph.replay()
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(iters)]
        for start, end in events:
            start.record()
            graph.replay()
            end.record()
        torch.cuda.synchronize()
        return statistics.median(s.elapsed_time(e) for s, e in events) * 1e3 / calls  # ms -> us
    return timer


def _load_namespace(torch: object, libs: Sequence[str], ops: Sequence[str]) -> object:
    """Load one side's libraries; return the ``torch.ops`` namespace that holds ``ops``."""
    before = set(torch._C._dispatch_get_all_op_names())  # type: ignore[attr-defined]
    for lib in libs:
        torch.ops.load_library(lib)  # type: ignore[attr-defined]
    new = set(torch._C._dispatch_get_all_op_names()) - before  # type: ignore[attr-defined]
    spaces = {name.split("::")[0] for name in new if name.split("::")[-1].split(".")[0] in ops}
    if len(spaces) != 1:
        raise BenchError(f"expected the ops {list(ops)} in one new namespace, found {sorted(spaces)}")
    return getattr(torch.ops, spaces.pop())  # type: ignore[attr-defined]


def child(spec: Dict) -> Dict:
    """Runs in the timing subprocess: load both sides' libraries, then time every op at every
    size, the sides side by side in alternating rounds."""
    import torch

    device = spec["device"]
    if device == "cpu":
        torch.set_num_threads(1)  # steadier on a shared machine; both sides alike
    sides = ("ours", "theirs")
    namespaces = {side: _load_namespace(torch, spec["libs"][side], spec["ops"]) for side in sides}
    dtype = getattr(torch, spec["dtype"])
    results: Dict[str, Dict[str, Dict[str, List[float]]]] = {side: {op: {} for op in spec["ops"]} for side in sides}
    methods = set()
    for op in spec["ops"]:
        loads = {side: workloads(namespaces[side], op, device, dtype) for side in sides}
        for index, (label, _, _) in enumerate(loads["ours"]):
            timers, errors = {}, {}
            for side in sides:
                _, call, check = loads[side][index]
                call()  # first, then check: the error is of this library's output
                errors[side] = check()
                timers[side], method = _timer(call, device, spec)
                methods.add(method)
            best: Dict[str, float] = {}
            for n in range(spec["rounds"]):  # alternate who goes first: clocks drift
                for side in sides[:: 1 if n % 2 == 0 else -1]:
                    best[side] = min(best.get(side, math.inf), timers[side]())
            for side in sides:
                results[side][op][label] = [best[side], errors[side]]
    return {"results": results, "methods": sorted(methods)}


def _timer(call: Callable[[], object], device: str, spec: Dict) -> Tuple[Callable[[], float], str]:
    """The timer of one call, and how it measures."""
    if device == "cuda" and spec["graph_calls"] > 0:
        try:
            return graph_timer(call, spec["graph_calls"], spec["iters"]), \
                f"CUDA graphs of up to {spec['graph_calls']} calls, replays timed with CUDA events (device time)"
        except RuntimeError:  # not capturable (e.g. a launch on the legacy default stream)
            pass
    what = "each call timed with CUDA events" if device == "cuda" else "perf_counter_ns per call, one thread"
    return (lambda: median_us(call, device, spec["iters"], spec["warmup"])), what


def time_both(python: Path, spec: Dict, work: Path) -> Dict:
    (work / "timing.json").write_text(json.dumps(spec))
    proc = subprocess.run([str(python), __file__, "--child", str(work / "timing.json")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"timing failed (exit status {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class NoDevice(BenchError):
    """The device to time on is not there."""


def probe_device(python: Path, device: str, build_only: bool) -> Dict[str, Optional[str]]:
    """torch's facts in ``python``; NoDevice (exit status 2) when the device is missing."""
    info = probe_python(python)
    if device == "cuda":
        if not info.get("cuda"):
            raise NoDevice(f"no CUDA: {python} has torch {info['torch']}, a build without CUDA; pass "
                           "--python with a CUDA torch, or --device cpu for a CPU smoke run")
        if not build_only:
            code = "import torch; print(torch.cuda.is_available() and torch.cuda.get_device_name())"
            name = subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()
            if not name or name == "False":
                raise NoDevice(f"no CUDA GPU visible to {python} (torch {info['torch']}); run on a GPU "
                               "machine, or pass --device cpu for a CPU smoke run or --build-only")
            info["gpu"] = name.splitlines()[-1]
    return info


def run_kernel(kernel: Kernel, args: argparse.Namespace, info: Dict, tmp: Path) -> List[float]:
    """Build both sides, print their flags and timings; return the per-op ratios."""
    device, python, cuda = args.device, Path(args.python), args.device == "cuda"
    if not kernel.root.is_dir():
        raise BenchError(f"{kernel.name}: {kernel.root} not found")
    sources = kernel_sources(kernel.root, device)
    extra = cuda_env(kernel.root, args.cuda_capabilities.split(";")) if cuda else {}
    ours_config = [f"kernels.backend={device}"]
    ours_config += [f"kernels.cuda-capabilities={args.cuda_capabilities}"] if cuda else []
    env = build_env(python, args.jobs, extra)
    work = tmp / kernel.name
    log(f"{kernel.name}: sources {', '.join(sources)}"
        + (f", TORCH_CUDA_ARCH_LIST={extra['TORCH_CUDA_ARCH_LIST']}" if cuda else ""))

    ours = copy_kernel(kernel.root, work / "ours" / kernel.root.name)  # adds accept.sh's pyproject
    seconds = run_timed(pip_wheel(python, ours, work / "ours-wheel", ours_config), cwd=work, env=env,
                        log_path=work / "ours.log", what=f"{kernel.name}: ours build")
    log(f"{kernel.name}: ours built in {seconds:.0f}s; building theirs (torch.utils.cpp_extension)")
    theirs = prepare_baseline(kernel.root, work / "theirs" / kernel.root.name, device,
                              cxx_standard(info["torch"] or "0.0"), sources)
    seconds = run_timed(pip_wheel(python, theirs, work / "theirs-wheel"), cwd=work, env=env,
                        log_path=work / "theirs.log", what=f"{kernel.name}: theirs build")
    log(f"{kernel.name}: theirs built in {seconds:.0f}s")  # build times: see build_time.py
    for source in sources[1:]:  # the kernel's own TUs; the binding only registers the ops
        print_flags(kernel.name, source, ours_flags(ours, source), theirs_flags(theirs, source))
    libs = {side: unpack(one_wheel(work / f"{side}-wheel", side), work / f"{side}-unpacked")
            for side in ("ours", "theirs")}
    if args.build_only:
        print(f"kernel={kernel.name} built: ours={libs['ours']} theirs={libs['theirs']}")
        return []

    spec = {"device": device, "ops": list(kernel.ops), "iters": args.iters, "rounds": args.rounds,
            "warmup": max(10, args.iters // 10), "dtype": kernel.cuda_dtype if cuda else "float32",
            "graph_calls": 0 if args.no_graphs else args.graph_calls, "libs": libs}
    timing = time_both(python, spec, work)
    runs = timing["results"]
    log(f"{kernel.name}: timing: {'; '.join(timing['methods'])}; both sides in one process, "
        f"{args.rounds} alternating rounds, the lowest counts")

    ratios = []
    for op in kernel.ops:
        per_size = []
        for label in runs["ours"][op]:
            (t_ours, e_ours), (t_theirs, e_theirs) = runs["ours"][op][label], runs["theirs"][op][label]
            per_size.append(t_ours / t_theirs)
            print(f"{kernel.name}/{op} {label}: ours={t_ours:.2f}us theirs={t_theirs:.2f}us ratio={per_size[-1]:.3f}"
                  f" (max|err| ours={e_ours:.3g} theirs={e_theirs:.3g}, {spec['dtype']})")
        ratios.append(geomean(per_size))
        # The largest size is where the kernel's own time dominates; small ones are launch-bound.
        print(f"kernel={kernel.name} op={op} ratio speed={ratios[-1]:.3f} largest_size={per_size[-1]:.3f}",
              flush=True)
    return ratios


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--cases", default=",".join(KERNELS), help=f"comma-separated: {', '.join(KERNELS)} (default: all)")
    add("--device", choices=("cuda", "cpu"), default="cuda",
        help="cuda (default; needs a GPU unless --build-only) or cpu (smoke run of the CPU sources)")
    add("--cuda-capabilities", default="9.0",
        help="-C kernels.cuda-capabilities (ours); theirs gets the TORCH_CUDA_ARCH_LIST of the same archs")
    add("--python", default=sys.executable,
        help="interpreter with torch (a CUDA one for cuda) and kernels, to build and time (default: this)")
    add("--jobs", type=int, default=os.cpu_count() or 1, help="parallel compile jobs (default: all cores)")
    add("--iters", type=int, default=50,
        help="timed graph replays (or single calls) per size and round; the median counts (default: 50)")
    add("--graph-calls", type=int, default=100, help="calls captured in one CUDA graph (default: 100)")
    add("--no-graphs", action="store_true", help="time single calls with CUDA events (host latency included)")
    add("--rounds", type=int, default=5, help="alternating rounds per size, both sides in one process (default: 5)")
    add("--build-only", action="store_true", help="build both sides, print their flags, time nothing")
    add("--keep", action="store_true", help="keep the temporary directory")
    add("--child", help=argparse.SUPPRESS)  # internal: the timing subprocess
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    # Absolute (builds run in other directories), not resolved (a venv's python is a link); a bare
    # name such as python3 comes from PATH.
    args.python = str(Path(shutil.which(args.python) or args.python).absolute())
    if args.child:
        print(json.dumps(child(json.loads(Path(args.child).read_text()))))
        return 0
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    tmp: Optional[Path] = None
    try:
        if not names or set(names) - set(KERNELS):  # status 1: 2 means "no GPU"
            raise BenchError(f"--cases {args.cases!r}: choose among {', '.join(KERNELS)}")
        info = probe_device(Path(args.python), args.device, args.build_only)
        log(f"{args.python}: torch {info['torch']}, device {args.device} {info.get('gpu') or ''}".rstrip())
        tmp = Path(tempfile.mkdtemp(prefix="kernel-speed-"))
        ratios = [r for name in names for r in run_kernel(KERNELS[name], args, info, tmp)]
        if ratios:
            print(f"ratio speed={geomean(ratios):.3f} ops={len(ratios)} min={min(ratios):.3f} "
                  f"max={max(ratios):.3f}", flush=True)
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return NO_GPU_EXIT if isinstance(exc, NoDevice) else 1
    finally:
        if tmp is not None and args.keep:
            log(f"kept {tmp}")
        elif tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
