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

Then, in a fresh subprocess per implementation (``--rounds`` times, alternating which side
goes first; the lowest median per size counts), it loads the extension's library with
``torch.ops.load_library``, checks each op against PyTorch, and times it on the same seeded
inputs at several sizes through the same ``torch.ops`` dispatch: warm-up, then the median of
``--iters`` calls, each timed with CUDA events (``torch.cuda.Event(enable_timing=True)``), or
``perf_counter_ns`` on one CPU thread. A speed difference must come from a flag difference, so
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


def child(spec: Dict) -> Dict:
    """Runs in the timing subprocess: load the libraries, time every op at every size."""
    import torch

    device = spec["device"]
    if device == "cpu":
        torch.set_num_threads(1)  # steadier on a shared machine; both sides alike
    before = set(torch._C._dispatch_get_all_op_names())
    for lib in spec["libs"]:
        torch.ops.load_library(lib)
    new = set(torch._C._dispatch_get_all_op_names()) - before
    spaces = {name.split("::")[0] for name in new if name.split("::")[-1].split(".")[0] in spec["ops"]}
    if len(spaces) != 1:
        raise BenchError(f"expected the ops {spec['ops']} in one new namespace, found {sorted(spaces)}")
    ops = getattr(torch.ops, spaces.pop())
    dtype = getattr(torch, spec["dtype"])
    results: Dict[str, Dict[str, List[float]]] = {op: {} for op in spec["ops"]}
    for op in spec["ops"]:
        for label, call, check in workloads(ops, op, device, dtype):
            call()  # first, then check: the error is of this library's output
            results[op][label] = [median_us(call, device, spec["iters"], spec["warmup"]), check()]
    return results


def time_side(python: Path, spec: Dict, work: Path, what: str) -> Dict:
    (work / f"{what}.json").write_text(json.dumps(spec))
    proc = subprocess.run([str(python), __file__, "--child", str(work / f"{what}.json")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"timing {what} failed (exit status {proc.returncode}):\n{proc.stdout}{proc.stderr}")
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

    spec = {"device": device, "ops": list(kernel.ops), "iters": args.iters,
            "warmup": max(10, args.iters // 10), "dtype": kernel.cuda_dtype if cuda else "float32"}
    runs: Dict[str, List[Dict]] = {"ours": [], "theirs": []}
    for n in range(args.rounds):  # alternate who goes first: clocks and machine load drift
        for side in ("ours", "theirs")[:: 1 if n % 2 == 0 else -1]:
            runs[side].append(time_side(python, {**spec, "libs": libs[side]}, work, side))

    def best(side: str, op: str, label: str) -> Tuple[float, float]:
        return min(r[op][label][0] for r in runs[side]), max(r[op][label][1] for r in runs[side])

    ratios = []
    for op in kernel.ops:
        per_size = []
        for label in runs["ours"][0][op]:
            (t_ours, e_ours), (t_theirs, e_theirs) = best("ours", op, label), best("theirs", op, label)
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
    add("--iters", type=int, default=200, help="timed calls per size (default: 200)")
    add("--rounds", type=int, default=2, help="timing subprocesses per side, order alternating (default: 2)")
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
