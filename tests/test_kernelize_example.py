"""``kernelize`` and ``kernels benchmark`` with a real compiled kernel: examples/rmsnorm-silu,
built for CPU by our backend (``pip wheel``), converted with ``kernels from-wheel``, loaded
through the real loader (local tree in this process; the local Hub server in subprocesses,
because a compiled build registers its op namespace once per process).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
from conftest import EXAMPLES, build_example_wheel, copy_example  # noqa: E402

from kernels import (  # noqa: E402
    KernelizeFallback,
    LocalLayerRepository,
    Mode,
    get_local_kernel,
    kernelize,
    register_kernel_mapping,
    use_kernel_mapping,
)
from kernels.convert import from_wheel  # noqa: E402

pytestmark = pytest.mark.slow
pytest_plugins = ["kernels.testing.fixtures"]

SRC = Path(__file__).resolve().parents[1] / "src"
REPO_ID = "kernels-test/rmsnorm-silu"


# --------------------------------------------------------------------------- the model


from reference_layers import RMSNorm, SiluAndMul  # noqa: E402


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Linear(32, 128)
        self.act = SiluAndMul()
        self.norm = RMSNorm(64)
        self.down = nn.Linear(64, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.norm(self.act(self.up(x))))


def new_model() -> MLP:
    torch.manual_seed(0)
    return MLP()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/build/<torch variant>/`` plus ``<root>/benchmarks/`` of the example's CPU build."""
    base = tmp_path_factory.mktemp("rmsnorm-silu")
    repo = copy_example("rmsnorm-silu", base)
    wheel = build_example_wheel(repo, base / "wheelhouse")
    root = base / "tree"
    from_wheel([wheel], root)
    shutil.copytree(repo / "benchmarks", root / "benchmarks")
    return root


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DISABLE_KERNEL_MAPPING", raising=False)
    monkeypatch.delenv("LOCAL_KERNELS", raising=False)
    register_kernel_mapping({}, inherit_mapping=False)
    yield
    register_kernel_mapping({}, inherit_mapping=False)


def mapping(tree: Path) -> dict:
    return {name: {"cpu": LocalLayerRepository(tree, layer_name=name)} for name in ("SiluAndMul", "RMSNorm")}


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(Path(__file__).parent)])
    env.update(extra)
    return env


def kernels_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kernels.cli", *args], capture_output=True, text=True,
                          env=_env(**env), timeout=600)


# --------------------------------------------------------------------------- kernelize


def test_example_ships_layers(tree: Path) -> None:
    kernel = get_local_kernel(tree)
    assert {"SiluAndMul", "RMSNorm"} <= set(vars(kernel.layers))
    assert kernel.layers.SiluAndMul.has_backward is False
    assert kernel.__name__.startswith("_rmsnorm_silu_cpu_")


def test_kernelized_model_matches_the_original_layers(tree: Path) -> None:
    model = new_model()
    x = torch.randn(8, 32)
    with torch.no_grad():
        expected = model(x)
    with use_kernel_mapping(mapping(tree)):
        kernelize(model, mode=Mode.INFERENCE, use_fallback=False)
    kernel = get_local_kernel(tree)
    assert model.act.forward.__func__ is kernel.layers.SiluAndMul.forward
    assert model.norm.forward.__func__ is kernel.layers.RMSNorm.forward
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)
    for dtype in (torch.float16, torch.bfloat16):
        y = torch.randn(4, 64, dtype=dtype)
        torch.testing.assert_close(model.act(torch.cat([y, y], -1)), SiluAndMul()(torch.cat([y, y], -1)),
                                   atol=2e-2, rtol=2e-2)


def test_training_falls_back_where_there_is_no_backward(tree: Path) -> None:
    model = new_model()
    reference = new_model()
    x = torch.randn(8, 32)
    with use_kernel_mapping(mapping(tree)):
        kernelize(model, mode=Mode.TRAINING)
        assert "forward" not in vars(model.act)  # SiluAndMul: has_backward = False
        assert "forward" in vars(model.norm)  # RMSNorm: differentiable kernel
        with pytest.raises(ValueError, match="SiluAndMul.*has no backward pass"):
            kernelize(model, mode=Mode.TRAINING, use_fallback=False)
    model(x).pow(2).sum().backward()
    reference(x).pow(2).sum().backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-4, rtol=1e-4, msg=name)


def test_torch_compile_fullgraph_without_graph_breaks(tree: Path) -> None:
    torch._dynamo.reset()
    model = new_model()
    x = torch.randn(8, 32)
    with torch.no_grad():
        expected = model(x)
    with use_kernel_mapping(mapping(tree)):
        kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, use_fallback=False)
    with torch.no_grad():
        explanation = torch._dynamo.explain(model)(x)
        assert explanation.graph_break_count == 0, explanation.break_reasons
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        torch.testing.assert_close(compiled(x), expected, atol=1e-5, rtol=1e-5)
    # Training with torch.compile: RMSNorm's custom op has an autograd formula.
    torch._dynamo.reset()
    with use_kernel_mapping(mapping(tree)):
        kernelize(model, mode=Mode.TRAINING | Mode.TORCH_COMPILE)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    compiled(x).sum().backward()
    assert model.norm.weight.grad is not None


def test_no_kernel_for_this_device_or_name(tree: Path) -> None:
    model = new_model()
    with use_kernel_mapping({"RMSNorm": {"cuda": LocalLayerRepository(tree, layer_name="RMSNorm")}}):
        with pytest.raises(ValueError, match="'RMSNorm' has no entry for device type 'cpu'"):
            kernelize(model, mode=Mode.INFERENCE, use_fallback=KernelizeFallback.NO_LAYER)
        with pytest.raises(ValueError, match="no kernel mapping for layer 'SiluAndMul'"):
            kernelize(model, mode=Mode.INFERENCE, use_fallback=KernelizeFallback.NO_DEVICE)


# --------------------------------------------------------------------------- the Hub


def test_layer_repository_through_the_hub(hub_server, tree: Path, tmp_path: Path) -> None:
    from kernels.upload import upload_tree

    hub_server.set_trusted_publisher(REPO_ID.split("/")[0])
    result = upload_tree(tree, repo_id=REPO_ID)
    assert result.branch == "v1"
    script = textwrap.dedent(f"""
        import torch
        from kernels import LayerRepository, Mode, kernelize, use_kernel_mapping
        from test_kernelize_example import new_model

        model = new_model()
        x = torch.randn(8, 32)
        with torch.no_grad():
            expected = model(x)
        repo = lambda name: LayerRepository("{REPO_ID}", layer_name=name, version=1)
        with use_kernel_mapping({{n: {{"cpu": repo(n)}} for n in ("SiluAndMul", "RMSNorm")}}):
            kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, use_fallback=False)
        assert "forward" in vars(model.act) and "forward" in vars(model.norm)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), expected, atol=1e-5, rtol=1e-5)
        print("kernelized from", model.norm.forward.__func__.__module__)
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kernelized from _rmsnorm_silu_cpu_" in proc.stdout
    assert hub_server.request_log.matching(contains="/resolve/")

    bench = kernels_cli("benchmark", f"{REPO_ID}@v1", "--iterations", "3", "--warmup", "1", "--json")
    assert bench.returncode == 0, bench.stderr
    assert {r["workload"] for r in json.loads(bench.stdout)["results"]} == {
        "RmsNormSiluBenchmark.silu_and_mul", "RmsNormSiluBenchmark.rms_norm", "RmsNormSiluBenchmark.rms_norm_small"}


# --------------------------------------------------------------------------- kernels benchmark


def test_benchmark_table_json_and_plot(tree: Path, tmp_path: Path) -> None:
    plot, output = tmp_path / "bench.svg", tmp_path / "bench.json"
    table = kernels_cli("benchmark", str(tree), "--iterations", "5", "--warmup", "2", "--plot", str(plot),
                        "--output", str(output))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["workload", "mean", "std"]
    assert any(line.startswith("RmsNormSiluBenchmark.rms_norm ") and line.rstrip().endswith("yes") for line in lines)
    assert "running RmsNormSiluBenchmark.silu_and_mul ..." in table.stderr

    root = ET.parse(plot).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "RmsNormSiluBenchmark.silu_and_mul" in texts

    data = json.loads(output.read_text())
    assert set(data) == {"results", "machineInfo", "kernelCommitSha", "benchmarkScriptPath", "benchmarkScriptSha"}
    kernel = get_local_kernel(tree)
    assert data["kernelCommitSha"] == kernel.__name__.rsplit("_", 1)[1]
    assert data["benchmarkScriptPath"] == "benchmarks" and len(data["benchmarkScriptSha"]) == 64
    assert {"gpu", "backend", "pytorchVersion", "os", "cpu"} <= set(data["machineInfo"])
    by_name = {r["workload"]: r for r in data["results"]}
    timing = by_name["RmsNormSiluBenchmark.silu_and_mul"]["timingResults"]
    assert timing["iterations"] == 5
    assert timing["min_ms"] <= timing["q1_ms"] <= timing["q3_ms"] <= timing["max_ms"]
    assert by_name["RmsNormSiluBenchmark.silu_and_mul"]["verified"] is True
    assert "verified" not in by_name["RmsNormSiluBenchmark.rms_norm_small"]

    as_json = kernels_cli("benchmark", str(tree / "build"), "--iterations", "2", "--warmup", "0", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert len(json.loads(as_json.stdout)["results"]) == 3


def test_benchmark_verification_failure_exits_1(tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tree"
    shutil.copytree(tree, copy)
    (copy / "benchmarks" / "benchmark_wrong.py").write_text(textwrap.dedent("""
        import torch
        from kernels.benchmark import Benchmark

        class Wrong(Benchmark):
            def setup(self):
                self.x = torch.randn(4, 8)

            def benchmark_silu(self):
                return self.kernel.silu_and_mul(self.x)

            def verify_silu(self):
                return torch.zeros(4, 4) + 100
        """))
    proc = kernels_cli("benchmark", str(copy), "--iterations", "2", "--warmup", "0")
    assert proc.returncode == 1
    assert "verification failed: Wrong.silu" in proc.stderr
    assert any(line.startswith("Wrong.silu ") and line.rstrip().endswith("NO") for line in proc.stdout.splitlines())


def test_benchmark_errors(tmp_path: Path, tree: Path) -> None:
    copy = tmp_path / "tree"
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("benchmarks"))
    proc = kernels_cli("benchmark", str(copy))
    assert proc.returncode == 1 and "no benchmarks/ directory" in proc.stderr
    (copy / "benchmarks").mkdir()
    (copy / "benchmarks" / "benchmark.py").write_text("raise RuntimeError('boom')\n")
    proc = kernels_cli("benchmark", str(copy))
    assert proc.returncode == 1 and "cannot import the benchmark script: RuntimeError: boom" in proc.stderr


def test_example_tests_pass_with_local_kernels(tree: Path, tmp_path: Path) -> None:
    """The example's own kernels_ci tests, loading it by repo id through LOCAL_KERNELS."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLES / "rmsnorm-silu" / "tests"), "-m", "kernels_ci",
         "-p", "no:cacheprovider", "-q"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env=_env(LOCAL_KERNELS=f"{REPO_ID}={tree}", PYTHONPATH=str(SRC), PYTHONDONTWRITEBYTECODE="1"))
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout
