"""benchmarks/kernel_speed.py without building anything: the no-GPU exit, the flag readers of
both build directories, the cases' sources and the timing child's workloads (run against
PyTorch's own ops). The full run is ``python benchmarks/kernel_speed.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import kernel_speed  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_no_gpu_is_one_message_and_status_2() -> None:
    proc = subprocess.run([sys.executable, str(BENCH / "kernel_speed.py"), "--cases", "relu"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: no CUDA") and "Traceback" not in proc.stderr
    assert "--device cpu" in proc.stderr


def test_unknown_case_is_status_1() -> None:
    assert kernel_speed.main(["--cases", "nope", "--device", "cpu"]) == 1


def test_flags_of_both_sides_and_their_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ours = tmp_path / "ours"
    db = ours / ".kernels_build" / "v" / "cmake-build" / "compile_commands.json"
    db.parent.mkdir(parents=True)
    db.write_text(json.dumps([{"file": str(ours / "k" / "relu.cu"), "command":
                               f"/usr/bin/nvcc -DTORCH_EXTENSION_NAME=_relu_abc -I/x -O3 -DENABLE_FP8 "
                               f"-o k.o -c {ours}/k/relu.cu"}]))
    theirs = tmp_path / "theirs"
    ninja = theirs / "build" / "temp.linux" / "build.ninja"
    ninja.parent.mkdir(parents=True)
    ninja.write_text("ninja_required_version = 1.3\ncxx = c++\ncflags = -O3 -Wall\n"
                     "cuda_cflags = -I/y -D__CUDA_NO_HALF_OPERATORS__\ncuda_post_cflags = -O3\n")
    assert kernel_speed.ours_flags(ours, "k/relu.cu") == ["-O3", "-DENABLE_FP8"]
    assert kernel_speed.theirs_flags(theirs, "k/relu.cu") == ["-D__CUDA_NO_HALF_OPERATORS__", "-O3"]
    assert kernel_speed.theirs_flags(theirs, "k/relu.cpp") == ["-O3", "-Wall"]
    assert kernel_speed.ours_flags(ours, "k/other.cu") is None
    kernel_speed.print_flags("relu", "k/relu.cu", ["-O3", "-DENABLE_FP8"], ["-O3", "-DX"])
    out = capsys.readouterr().out
    assert "only ours: -DENABLE_FP8\n" in out and "only theirs: -DX\n" in out


@pytest.mark.parametrize("name", ["relu", "rmsnorm-silu"])
def test_example_cases_have_cuda_and_cpu_sources(name: str) -> None:
    root = kernel_speed.KERNELS[name].root
    for backend, suffix in (("cuda", ".cu"), ("cpu", ".cpp")):
        sources = kernel_speed.kernel_sources(root, backend)
        assert sources[0] == "torch-ext/torch_binding.cpp" and sources[1].endswith(suffix)


class _TorchOps:
    """Stands in for a kernel's ``torch.ops`` namespace, with PyTorch's own ops."""

    @staticmethod
    def relu(out: torch.Tensor, x: torch.Tensor) -> None:
        out.copy_(torch.relu(x))

    @staticmethod
    def silu_and_mul(out: torch.Tensor, x: torch.Tensor) -> None:
        d = x.shape[-1] // 2
        out.copy_(torch.nn.functional.silu(x[:, :d]) * x[:, d:])

    @staticmethod
    def rms_norm(out: torch.Tensor, x: torch.Tensor, w: torch.Tensor, eps: float) -> None:
        out.copy_(torch.nn.functional.rms_norm(x, (x.shape[-1],), w, eps))


@pytest.mark.parametrize("op", ["relu", "silu_and_mul", "rms_norm"])
def test_workloads_check_and_time_on_cpu(op: str) -> None:
    loads = kernel_speed.workloads(_TorchOps, op, "cpu", torch.float32)
    assert len(loads) == 3
    for _label, call, check in loads:
        call()
        assert check() < 1e-4
        assert kernel_speed.median_us(call, "cpu", iters=3, warmup=1) > 0
