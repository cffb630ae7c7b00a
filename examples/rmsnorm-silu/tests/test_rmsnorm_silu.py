"""Tests of the rmsnorm-silu kernel and its layers.

The kernel is loaded the way users load it, ``kernels.get_kernel("kernels-test/rmsnorm-silu",
version=1)``; point ``LOCAL_KERNELS`` at a build (``LOCAL_KERNELS=kernels-test/rmsnorm-silu=
<dir with build/<variant>/>``) to test one without the Hub.
"""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import kernels
from kernels import Mode, kernelize, use_kernel_forward_from_hub, use_kernel_mapping

REPO_ID = "kernels-test/rmsnorm-silu"


@pytest.fixture(scope="module")
def kernel():
    return kernels.get_kernel(REPO_ID, version=1)


def _devices(kernel):
    name = kernel._ops.add_op_namespace_prefix("x")
    devices = ["cpu"] if "_cpu_" in name else []
    if "_cuda_" in name and torch.cuda.is_available():
        devices.append("cuda")
    return devices


def silu_ref(x):
    d = x.shape[-1] // 2
    return F.silu(x[..., :d]) * x[..., d:]


def rms_ref(x, weight, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)


def tol(dtype):
    return {torch.float32: dict(atol=1e-5, rtol=1e-5)}.get(dtype, dict(atol=2e-2, rtol=2e-2))


@use_kernel_forward_from_hub("SiluAndMul")
class SiluAndMul(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return silu_ref(x)


@use_kernel_forward_from_hub("RMSNorm")
class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(hidden) + 0.5)
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return rms_ref(hidden_states, self.weight, self.variance_epsilon)


def _mapping(devices):
    return {name: {dev: kernels.LayerRepository(REPO_ID, layer_name=name, version=1) for dev in devices}
            for name in ("SiluAndMul", "RMSNorm")}


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_functions_match_reference(kernel, dtype):
    for device in _devices(kernel):
        torch.manual_seed(0)
        x = torch.randn(3, 5, 64, device=device, dtype=dtype)
        w = torch.rand(64, device=device, dtype=dtype) + 0.5
        torch.testing.assert_close(kernel.silu_and_mul(x), silu_ref(x), **tol(dtype))
        torch.testing.assert_close(kernel.rms_norm(x, w, 1e-5), rms_ref(x, w, 1e-5), **tol(dtype))


@pytest.mark.kernels_ci
def test_rms_norm_backward(kernel):
    for device in _devices(kernel):
        x = torch.randn(4, 32, device=device, dtype=torch.float64, requires_grad=True)
        w = (torch.rand(32, device=device, dtype=torch.float64) + 0.5).requires_grad_(True)
        torch.library.opcheck(kernel._rms_norm_fn, (x.float().detach().requires_grad_(True),
                                                    w.float().detach().requires_grad_(True), 1e-6))
        x2, w2 = x.detach().clone().requires_grad_(True), w.detach().clone().requires_grad_(True)
        grad = torch.randn(4, 32, device=device, dtype=torch.float64)
        kernel.rms_norm(x.float(), w.float(), 1e-6).backward(grad.float())
        rms_ref(x2, w2, 1e-6).backward(grad)
        torch.testing.assert_close(x.grad, x2.grad, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(w.grad, w2.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.kernels_ci
def test_layers_are_pure(kernel):
    for layer in (kernel.layers.SiluAndMul, kernel.layers.RMSNorm):
        assert "__init__" not in vars(layer) and layer.can_torch_compile is True
    assert kernel.layers.SiluAndMul.has_backward is False


@pytest.mark.kernels_ci
def test_kernelize_inference_and_training(kernel):
    for device in _devices(kernel):
        model = nn.Sequential(nn.Linear(32, 64), SiluAndMul(), RMSNorm(32)).to(device)
        x = torch.randn(8, 32, device=device)
        with torch.no_grad():
            expected = model(x)
        with use_kernel_mapping(_mapping([device]), inherit_mapping=False):
            kernelize(model, mode=Mode.INFERENCE, device=device)
            assert "forward" in vars(model[1]) and "forward" in vars(model[2])
            with torch.no_grad():
                torch.testing.assert_close(model(x), expected, **tol(torch.float32))
            kernelize(model, mode=Mode.TRAINING, device=device)
            assert "forward" not in vars(model[1])  # no backward: its own forward again
            assert "forward" in vars(model[2])
            model(x).sum().backward()
            assert model[2].weight.grad is not None


@pytest.mark.kernels_ci
def test_torch_compile_fullgraph(kernel):
    for device in _devices(kernel):
        torch._dynamo.reset()
        model = nn.Sequential(nn.Linear(32, 64), SiluAndMul(), RMSNorm(32)).to(device)
        x = torch.randn(8, 32, device=device)
        with torch.no_grad():
            expected = model(x)
        with use_kernel_mapping(_mapping([device]), inherit_mapping=False):
            kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device=device)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), expected, **tol(torch.float32))
