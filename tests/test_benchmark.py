"""The benchmark runner without a compiled kernel: statistics, discovery, the per-workload
protocol (fresh instance, seeding, setup_<w>, warm-up count, verify), JSON and SVG output.
The runner against the compiled example kernel is in tests/test_kernelize_example.py."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import kernels.testing.fixtures  # noqa: E402,F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

pytest_plugins = ["kernels.testing.fixtures"]

from kernels.benchmark_plot import render_svg  # noqa: E402
from kernels.benchmark_run import (  # noqa: E402
    BenchmarkError,
    discover,
    find_scripts,
    format_table,
    run_benchmarks,
    summarize,
)

SRC = Path(__file__).resolve().parents[1] / "src"

SCRIPT = """
import torch
from kernels.benchmark import Benchmark

LOG = []


class Scale(Benchmark):
    seed = 3

    def setup(self):
        fresh = not hasattr(self, "x")
        self.x = torch.randn(16)
        LOG.append(("setup", fresh, float(self.x.sum())))

    def benchmark_double(self):
        LOG.append(("double",))
        self.out = self.kernel.double(self.x)

    def verify_double(self):
        return self.x * 2

    def setup_triple(self):
        LOG.append(("setup_triple", not hasattr(self, "x")))
        self.x = torch.ones(4)

    def benchmark_triple(self):
        return self.kernel.double(self.x) * 1.5

    def verify_triple(self):
        return torch.zeros(4)


class NotABenchmark:
    def benchmark_nothing(self):
        pass
"""


def _kernel() -> types.ModuleType:
    module = types.ModuleType("_toy_cpu_abc1234")
    module.double = lambda x: x * 2  # type: ignore[attr-defined]
    return module


def test_summarize_statistics() -> None:
    t = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (t.min_ms, t.max_ms, t.iterations) == (1.0, 100.0, 5)
    assert t.mean_ms == 22.0
    assert t.std_ms == round(math.sqrt(sum((v - 22.0) ** 2 for v in [1, 2, 3, 4, 100]) / 5), 4)  # population
    assert (t.q1_ms, t.q3_ms, t.iqr_ms) == (2.0, 4.0, 2.0)
    assert t.outliers == 1
    assert summarize([0.123456789]).mean_ms == 0.1235
    with pytest.raises(BenchmarkError, match="at least 1"):
        summarize([])


def test_runner_protocol(tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "benchmark_scale.py").write_text(textwrap.dedent(SCRIPT))
    (bench / "helper.py").write_text("raise RuntimeError('not a benchmark script')\n")
    assert [p.name for p in find_scripts(bench)] == ["benchmark_scale.py"]
    assert [(cls.__name__, w) for cls, w in discover(find_scripts(bench))] == [("Scale", "double"), ("Scale", "triple")]

    report = run_benchmarks(_kernel(), bench, warmup=2, iterations=3)
    (double, triple) = report.results
    assert double.workload == "Scale.double" and double.verified is True and double.timing.iterations == 3
    assert triple.verified is False  # returned value (1.5 * 2 = 3) is not the zero reference
    assert not report.all_verified
    data = report.to_json()
    assert data["kernelCommitSha"] == "abc1234" and data["benchmarkScriptPath"] == "benchmarks"
    assert data["results"][0]["timingResults"]["iterations"] == 3
    assert data["machineInfo"]["backend"] == "cpu"
    json.dumps(data)
    table = format_table(report)
    assert table.splitlines()[2].startswith("Scale.double") and table.splitlines()[3].rstrip().endswith("NO")
    root = ET.fromstring(render_svg(report.results).split("\n", 1)[1])
    assert root.tag.endswith("svg")


def test_each_workload_gets_a_fresh_seeded_instance(tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "benchmark.py").write_text(textwrap.dedent(SCRIPT))
    import kernels.benchmark_run as runner

    scripts = find_scripts(bench)
    workloads = discover(scripts)
    module = sys.modules[workloads[0][0].__module__]
    module.LOG.clear()
    runner.run_benchmarks(_kernel(), bench, warmup=2, iterations=3)
    # discover() imported the script again; read the log of the copy that ran.
    ran = [m for name, m in sys.modules.items() if name.startswith("_kernels_benchmark_benchmark_") and m.LOG]
    log = ran[-1].LOG
    assert [entry[0] for entry in log] == ["setup"] + ["double"] * 5 + ["setup_triple"]
    assert log[0][1] is True and log[-1][1] is True  # a new instance for each workload
    torch.manual_seed(3)
    assert log[0][2] == float(torch.randn(16).sum())  # seeded with the class's seed


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kernels.cli", "benchmark", *args], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})


def test_cli_errors(tmp_path: Path) -> None:
    proc = _cli(str(tmp_path), "--iterations", "0")
    assert proc.returncode == 1 and "--iterations >= 1" in proc.stderr, proc.stderr
    proc = _cli(str(tmp_path))
    assert proc.returncode == 1 and "kernels benchmark: error:" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_import_kernels_stays_free_of_torch() -> None:
    code = ("import sys, kernels; kernels.Mode; kernels.LayerRepository; kernels.kernelize; kernels.Benchmark; "
            "kernels.use_kernel_forward_from_hub; assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr


def test_hub_kernel_of_an_untrusted_publisher_needs_the_opt_in(hub_server, tmp_path: Path) -> None:
    """Benchmark scripts from the Hub are code: they run under the kernel's trust rule, and
    ``--trust-remote-code`` is the command's opt-in."""
    from test_load import fake_kernel

    from kernels.upload import upload_tree

    root = tmp_path / "toy"
    fake_kernel(root, name="toy", files={"__init__.py": "def double(x):\n    return x * 2\n"})
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "benchmark_scale.py").write_text(textwrap.dedent(SCRIPT))
    hub_server.set_trusted_publisher("bench-untrusted", False)
    upload_tree(root, repo_id="bench-untrusted/toy")
    cmd = [sys.executable, "-m", "kernels.cli", "benchmark", "bench-untrusted/toy@v1", "--iterations", "2",
           "--warmup", "0"]
    env = {**__import__("os").environ, "PYTHONPATH": str(SRC)}
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "trust_remote_code" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    allowed = subprocess.run([*cmd, "--trust-remote-code"], env=env, capture_output=True, text=True, timeout=300)
    assert "Scale.double" in allowed.stdout, allowed.stderr
