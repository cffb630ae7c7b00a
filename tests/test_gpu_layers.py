"""GPU tests of layers and benchmarks: examples/rmsnorm-silu built for CUDA by our backend,
converted with ``from-wheel``, kernelized on the GPU (inference, training fallback,
``torch.compile(fullgraph=True)``) and benchmarked with ``kernels benchmark --device cuda``.

Run on the GPU machine (needs an NVIDIA GPU, nvcc and a CUDA torch)::

    PYTHONPATH=src python3 -m pytest tests/test_gpu_layers.py -m gpu -v -rs

The build targets only the GPU's own capability (``kernels.cuda-capabilities``) to keep the
compile short, and downgrades the compliance gate to a warning as tests/test_gpu.py explains.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import GPU_MARKS, run_on_gpu_host

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
REPO_ID = "kernels-test/rmsnorm-silu"
pytestmark = GPU_MARKS


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    env.setdefault("KERNELS_BUILD_COMPLIANCE", "warn")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def cuda_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/build/<cuda variant>/`` and ``<root>/benchmarks/`` of the example's CUDA build."""
    import torch

    from kernels.convert import from_wheel

    base = tmp_path_factory.mktemp("rmsnorm-silu-cuda")
    src = base / "rmsnorm-silu"
    shutil.copytree(ROOT / "examples" / "rmsnorm-silu", src,
                    ignore=shutil.ignore_patterns(".kernels_build", "__pycache__", "build", "dist"))
    major, minor = torch.cuda.get_device_capability()
    run_on_gpu_host([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", base / "dist", src,
          "-C", f"kernels.cuda-capabilities={major}.{minor}"], env=_env(), timeout=1800)
    (wheel,) = list((base / "dist").glob("*.whl"))
    assert "cu1" in wheel.name, wheel.name
    root = base / "tree"
    from_wheel([wheel], root)
    shutil.copytree(src / "benchmarks", root / "benchmarks")
    return root


def test_example_tests_pass_on_gpu(cuda_tree: Path, tmp_path: Path) -> None:
    proc = run_on_gpu_host([sys.executable, "-m", "pytest", ROOT / "examples" / "rmsnorm-silu" / "tests", "-m", "kernels_ci",
                 "-p", "no:cacheprovider", "-v"],
                env=_env(LOCAL_KERNELS=f"{REPO_ID}={cuda_tree}"), cwd=tmp_path, timeout=900)
    assert " PASSED" in proc.stdout and " FAILED" not in proc.stdout, proc.stdout


def test_kernelize_on_cuda(cuda_tree: Path) -> None:
    import torch
    import torch.nn as nn

    from kernels import LocalLayerRepository, Mode, get_local_kernel, kernelize
    from kernels import use_kernel_mapping

    from reference_layers import RMSNorm, SiluAndMul

    def new_model() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(64, 256), SiluAndMul(), RMSNorm(128), nn.Linear(128, 64)).cuda()

    kernel = get_local_kernel(cuda_tree)
    assert kernel.__name__.startswith("_rmsnorm_silu_cuda_")
    mapping = {name: {"cuda": LocalLayerRepository(cuda_tree, layer_name=name)} for name in ("SiluAndMul", "RMSNorm")}
    x = torch.randn(32, 64, device="cuda")

    model = new_model()
    with torch.no_grad():
        expected = model(x)
    with use_kernel_mapping(mapping, inherit_mapping=False):
        kernelize(model, mode=Mode.INFERENCE, use_fallback=False)  # device from the parameters
        assert model[1].forward.__func__ is kernel.layers.SiluAndMul.forward
        with torch.no_grad():
            torch.testing.assert_close(model(x), expected, atol=1e-4, rtol=1e-4)
            half = new_model().half()
            half_expected = half(x.half())
            kernelize(half, mode=Mode.INFERENCE, use_fallback=False)
            assert "forward" in vars(half[1]) and "forward" in vars(half[2])
            torch.testing.assert_close(half(x.half()), half_expected, atol=2e-2, rtol=2e-2)

        # Training: SiluAndMul has no backward and falls back; RMSNorm trains with the kernel.
        kernelize(model, mode=Mode.TRAINING)
        assert "forward" not in vars(model[1]) and "forward" in vars(model[2])
        reference = new_model()
        model(x).pow(2).sum().backward()
        reference(x).pow(2).sum().backward()
        torch.testing.assert_close(model[2].weight.grad, reference[2].weight.grad, atol=1e-3, rtol=1e-3)

        # torch.compile(fullgraph=True): no graph breaks, same result, with inductor.
        torch._dynamo.reset()
        model = new_model()
        kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cuda", use_fallback=False)
    with torch.no_grad():
        explanation = torch._dynamo.explain(model)(x)
        assert explanation.graph_break_count == 0, explanation.break_reasons
        compiled = torch.compile(model, fullgraph=True)
        torch.testing.assert_close(compiled(x), expected, atol=1e-3, rtol=1e-3)


def test_benchmark_on_cuda(cuda_tree: Path, tmp_path: Path) -> None:
    plot = tmp_path / "bench.svg"
    proc = run_on_gpu_host([sys.executable, "-m", "kernels.cli", "benchmark", cuda_tree, "--device", "cuda",
                 "--iterations", "50", "--warmup", "5", "--json", "--plot", plot], env=_env(), timeout=900)
    data = json.loads(proc.stdout)
    print(json.dumps(data, indent=2))
    assert data["machineInfo"]["backend"] == "cuda" and data["machineInfo"]["gpu"] != "none"
    assert data["machineInfo"]["gpuCores"] > 0
    assert all(r.get("verified", True) for r in data["results"])
    assert all(r["timingResults"]["iterations"] == 50 for r in data["results"])
    assert plot.read_text().rstrip().endswith("</svg>")
