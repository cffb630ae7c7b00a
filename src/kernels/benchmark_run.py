"""Running kernel benchmarks: discover ``benchmarks/benchmark*.py``, time each workload,
summarise, and report as a table or the contract's JSON (§11).

>>> summarize([1.0, 2.0, 3.0, 4.0, 100.0]).outliers
1
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import os
import platform
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .benchmark import Benchmark
from .errors import KernelsError

__all__ = [
    "BenchmarkError",
    "BenchmarkReport",
    "Timing",
    "WorkloadResult",
    "discover",
    "find_scripts",
    "format_table",
    "load_target",
    "run_benchmarks",
    "summarize",
]

PREFIX = "benchmark_"


class BenchmarkError(KernelsError, ValueError):
    """No benchmark scripts, a script that fails to import, or a workload that fails."""


@dataclass(frozen=True)
class Timing:
    """Statistics of one workload's iteration times, in milliseconds (4 decimals)."""

    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    q1_ms: float
    q3_ms: float
    iqr_ms: float
    outliers: int
    iterations: int

    def to_json(self) -> Dict[str, Any]:
        return dict(vars(self))


@dataclass
class WorkloadResult:
    """One workload: ``"<Class>.<workload>"``, its timing, raw times, and the verification."""

    workload: str
    timing: Timing
    times_ms: List[float] = field(repr=False)
    verified: Optional[bool] = None
    reference_ms: Optional[float] = None

    def to_json(self) -> Dict[str, Any]:
        entry: Dict[str, Any] = {"workload": self.workload, "timingResults": self.timing.to_json()}
        if self.verified is not None:
            entry["verified"] = self.verified
        return entry


@dataclass
class BenchmarkReport:
    """Everything ``kernels benchmark`` prints: results, machine, kernel and scripts."""

    results: List[WorkloadResult]
    machine: Dict[str, Any]
    kernel_sha: str
    script_sha: str
    scripts: List[Path]

    @property
    def all_verified(self) -> bool:
        return all(r.verified is not False for r in self.results)

    def to_json(self) -> Dict[str, Any]:
        return {
            "results": [r.to_json() for r in self.results],
            "machineInfo": self.machine,
            "kernelCommitSha": self.kernel_sha,
            "benchmarkScriptPath": "benchmarks",
            "benchmarkScriptSha": self.script_sha,
        }


# --------------------------------------------------------------------------- statistics


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(times_ms: Sequence[float]) -> Timing:
    """Mean, population std, min, max, quartiles, IQR and the count of outliers (outside
    ``Q1 - 1.5 IQR .. Q3 + 1.5 IQR``) of ``times_ms``."""
    if not times_ms:
        raise BenchmarkError("no iterations were timed (--iterations must be at least 1)")
    ordered = sorted(times_ms)
    n = len(ordered)
    mean = sum(ordered) / n
    std = math.sqrt(sum((t - mean) ** 2 for t in ordered) / n)
    q1, q3 = _quantile(ordered, 0.25), _quantile(ordered, 0.75)
    iqr = q3 - q1
    outliers = sum(1 for t in ordered if t < q1 - 1.5 * iqr or t > q3 + 1.5 * iqr)
    r = lambda v: round(v, 4)  # noqa: E731
    return Timing(r(mean), r(std), r(ordered[0]), r(ordered[-1]), r(q1), r(q3), r(iqr), outliers, n)


# --------------------------------------------------------------------------- discovery


def find_scripts(directory: Path) -> List[Path]:
    """``directory/benchmark*.py``, sorted by name."""
    return sorted(p for p in Path(directory).glob("benchmark*.py") if p.is_file())


def _import_script(path: Path) -> ModuleType:
    name = f"_kernels_benchmark_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise BenchmarkError(f"{path}: cannot import the benchmark script: {type(exc).__name__}: {exc}") from exc
    return module


def discover(scripts: Sequence[Path]) -> List[Tuple[type, str]]:
    """``(Benchmark subclass, workload)`` for every ``benchmark_<workload>`` method of every
    subclass defined in ``scripts``, in file, class and method name order."""
    found: List[Tuple[type, str]] = []
    for script in scripts:
        module = _import_script(script)
        classes = sorted(
            (obj for obj in vars(module).values()
             if isinstance(obj, type) and issubclass(obj, Benchmark) and obj is not Benchmark
             and obj.__module__ == module.__name__),
            key=lambda c: c.__name__)
        for cls in classes:
            for name, member in sorted(inspect.getmembers(cls, callable)):
                if name.startswith(PREFIX) and len(name) > len(PREFIX):
                    found.append((cls, name[len(PREFIX):]))
    return found


# --------------------------------------------------------------------------- loading


def load_target(target: str, *, version: Optional[int] = None, revision: Optional[str] = None,
                trust_remote_code: bool = False) -> Tuple[ModuleType, Path]:
    """Load the kernel named by ``target`` and find its benchmark scripts' directory.

    ``target`` is a local directory (a kernel repository with ``build/`` and ``benchmarks/``,
    its ``build/`` or a variant directory) or a Hub repo id, optionally ``org/name@v<N>`` or
    ``org/name@<branch>``. Hub targets default to the highest ``v<N>`` branch. A Hub kernel
    (and so its benchmark scripts) runs only when its publisher is trusted or
    ``trust_remote_code`` is true, as for :func:`kernels.get_kernel`.
    """
    path = Path(target).expanduser()
    if path.exists():
        from .load import get_local_kernel  # noqa: PLC0415

        try:
            kernel = get_local_kernel(path)
        except FileNotFoundError as exc:
            if isinstance(exc, KernelsError):
                raise
            raise BenchmarkError(f"{target}: no kernel here ({exc})") from exc
        for candidate in (path, path.parent, path.parent.parent):
            if (candidate / "benchmarks").is_dir():
                return kernel, candidate / "benchmarks"
        raise BenchmarkError(f"{target}: no benchmarks/ directory next to the kernel")
    repo_id, _, ref = target.partition("@")
    if ref:
        if version is not None or revision is not None:
            raise BenchmarkError(f"{target}: give the version or branch either after '@' or as an option, not both")
        if ref.startswith("v") and ref[1:].isdigit():
            version = int(ref[1:])
        else:
            revision = ref
    from . import hub  # noqa: PLC0415
    from .load import get_kernel  # noqa: PLC0415

    hub.check_local_or_repo_id(repo_id)
    rev = hub.resolve_revision(repo_id, version=version, revision=revision)
    kernel = get_kernel(repo_id, revision=rev, trust_remote_code=trust_remote_code)
    return kernel, hub.download_benchmarks(repo_id, rev)


def kernel_sha(kernel: ModuleType) -> str:
    """The part of the kernel module's name (its op namespace) after the last ``_``."""
    return kernel.__name__.rsplit("_", 1)[-1]


def script_sha(scripts: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for script in sorted(scripts, key=lambda p: p.name):
        digest.update(script.read_bytes())
    return digest.hexdigest()


def machine_info(device: str) -> Dict[str, Any]:
    import torch  # noqa: PLC0415

    info: Dict[str, Any] = {
        "gpu": "none",
        "backend": device,
        "pytorchVersion": torch.__version__,
        "os": f"{platform.system()} {platform.release()}",
        "cpu": platform.processor() or platform.machine(),
    }
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        info["gpu"] = props.name
        info["gpuCores"] = props.multi_processor_count
        info["backend"] = "rocm" if getattr(torch.version, "hip", None) else "cuda"
    return info


# --------------------------------------------------------------------------- timing


def _seed(seed: Optional[int]) -> None:
    if seed is None:
        return
    import torch  # noqa: PLC0415

    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _synchronize(device: str) -> None:
    import torch  # noqa: PLC0415

    kind = device.split(":", 1)[0]
    module = getattr(torch, kind, None)
    if kind != "cpu" and module is not None and hasattr(module, "synchronize"):
        module.synchronize()


def _time_call(call: Callable[[], Any], device: str) -> float:
    """Milliseconds one ``call()`` takes on ``device``: CUDA events on CUDA, wall clock
    around the call plus a device synchronisation elsewhere."""
    import torch  # noqa: PLC0415

    if device.split(":", 1)[0] == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end))
    begin = time.perf_counter()
    call()
    _synchronize(device)
    return (time.perf_counter() - begin) * 1000.0


def _run_workload(cls: type, workload: str, kernel: ModuleType, *, warmup: int, iterations: int,
                  device: Optional[str]) -> WorkloadResult:
    import torch  # noqa: PLC0415

    label = f"{cls.__name__}.{workload}"
    bench = cls(kernel)
    bench.kernel = kernel
    if device is not None:
        bench.device = device
    _seed(bench.seed)
    try:
        getattr(bench, f"setup_{workload}", bench.setup)()
        method = getattr(bench, PREFIX + workload)

        def call() -> None:
            result = method()
            if result is not None:
                bench.out = result

        for _ in range(warmup):
            call()
        _synchronize(bench.device)
        times = [_time_call(call, bench.device) for _ in range(iterations)]
    except BenchmarkError:
        raise
    except Exception as exc:
        raise BenchmarkError(f"{label}: {type(exc).__name__}: {exc}") from exc
    result = WorkloadResult(label, summarize(times), times)
    verify = getattr(bench, f"verify_{workload}", None)
    if verify is not None:
        try:
            begin = time.perf_counter()
            reference = verify()
            _synchronize(bench.device)
            result.reference_ms = round((time.perf_counter() - begin) * 1000.0, 4)
            out = bench.out
            result.verified = bool(
                isinstance(out, torch.Tensor) and isinstance(reference, torch.Tensor)
                and out.shape == reference.shape
                and torch.allclose(out.to(reference.dtype), reference, atol=1e-2))
        except Exception as exc:
            raise BenchmarkError(f"{label}: verify_{workload} failed: {type(exc).__name__}: {exc}") from exc
    return result


def run_benchmarks(kernel: ModuleType, bench_dir: Path, *, warmup: int = 10, iterations: int = 100,
                   device: Optional[str] = None,
                   progress: Optional[Callable[[str], None]] = None) -> BenchmarkReport:
    """Run every workload of the scripts in ``bench_dir`` against ``kernel``.

    Example::

        >>> from kernels import get_local_kernel
        >>> kernel = get_local_kernel("my-kernel/build")                         # doctest: +SKIP
        >>> report = run_benchmarks(kernel, Path("my-kernel/benchmarks"), iterations=20)  # doctest: +SKIP
        >>> print(format_table(report))                                          # doctest: +SKIP
    """
    if warmup < 0 or iterations < 1:
        raise BenchmarkError("--warmup must be >= 0 and --iterations >= 1")
    scripts = find_scripts(bench_dir)
    if not scripts:
        raise BenchmarkError(f"{bench_dir}: no benchmark*.py scripts")
    workloads = discover(scripts)
    if not workloads:
        raise BenchmarkError(f"{bench_dir}: no Benchmark subclass with a benchmark_<name> method")
    results = []
    used_device = device
    for cls, workload in workloads:
        if progress is not None:
            progress(f"{cls.__name__}.{workload}")
        result = _run_workload(cls, workload, kernel, warmup=warmup, iterations=iterations, device=device)
        results.append(result)
        used_device = used_device or getattr(cls, "device", "cpu")
    return BenchmarkReport(results, machine_info((used_device or "cpu").split(":", 1)[0]), kernel_sha(kernel),
                           script_sha(scripts), scripts)


def format_table(report: BenchmarkReport) -> str:
    """The results as an aligned text table (times in ms)."""
    headers = ["workload", "mean", "std", "min", "max", "q1", "q3", "outliers", "iters", "verified"]
    rows = []
    for r in report.results:
        t = r.timing
        verified = "-" if r.verified is None else ("yes" if r.verified else "NO")
        rows.append([r.workload, *(f"{v:.4f}" for v in (t.mean_ms, t.std_ms, t.min_ms, t.max_ms, t.q1_ms, t.q3_ms)),
                     str(t.outliers), str(t.iterations), verified])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    m = report.machine
    out.append(f"(times in ms; kernel {report.kernel_sha}; torch {m['pytorchVersion']}; "
               f"{m['backend']}{'; ' + m['gpu'] if m.get('gpu') not in (None, 'none') else ''})")
    return "\n".join(out)
