import pytest
import torch
import torch.nn.functional as F

# The installed wheel's package is imported directly; the runtime loader will replace this
# import later (kernels.get_kernel("kernels-test/silu-and-mul", version=1)).
import silu_and_mul
from silu_and_mul.layers import SiluAndMul

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def reference(x: torch.Tensor) -> torch.Tensor:
    d = x.shape[-1] // 2
    return F.silu(x[..., :d]) * x[..., d:]


def tolerances(dtype: torch.dtype) -> dict:
    return {torch.float32: dict(atol=1e-6, rtol=1e-5)}.get(dtype, dict(atol=1e-2, rtol=1e-2))


@pytest.mark.kernels_ci
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8,), (3, 64), (2, 5, 256)])
def test_silu_and_mul_matches_reference(device, dtype, shape):
    torch.manual_seed(0)
    x = torch.randn(shape, device=device, dtype=dtype)
    out = silu_and_mul.silu_and_mul(x)
    assert out.shape == (*shape[:-1], shape[-1] // 2)
    assert out.dtype == dtype and out.device == x.device
    torch.testing.assert_close(out, reference(x), **tolerances(dtype))


@pytest.mark.kernels_ci
@pytest.mark.parametrize("device", DEVICES)
def test_layer_matches_reference(device):
    torch.manual_seed(0)
    x = torch.randn(4, 128, device=device)
    torch.testing.assert_close(SiluAndMul()(x), reference(x))


@pytest.mark.kernels_ci
def test_layer_is_pure():
    # Hub layers have no constructor and no state of their own.
    assert "__init__" not in SiluAndMul.__dict__
    assert SiluAndMul.has_backward is True
    assert SiluAndMul.can_torch_compile is True


@pytest.mark.kernels_ci
@pytest.mark.parametrize("device", DEVICES)
def test_backward_matches_reference(device):
    torch.manual_seed(0)
    x = torch.randn(6, 32, device=device, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    grad = torch.randn(6, 16, device=device, dtype=torch.float64)
    silu_and_mul.silu_and_mul(x).backward(grad)
    reference(x_ref).backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad)


@pytest.mark.kernels_ci
def test_op_lives_in_the_kernel_namespace():
    from silu_and_mul._ops import add_op_namespace_prefix

    name = add_op_namespace_prefix("silu_and_mul")
    namespace, op = name.split("::")
    assert op == "silu_and_mul" and namespace.startswith("_silu_and_mul_")
    # Schema, fake and autograd registrations agree with the real implementation.
    torch.library.opcheck(silu_and_mul.ops.silu_and_mul, (torch.randn(3, 8, requires_grad=True),))


@pytest.mark.kernels_ci
@pytest.mark.parametrize("device", DEVICES)
def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), SiluAndMul()).to(device)

    def fn(x):
        return silu_and_mul.silu_and_mul(x) + model(x)

    # aot_eager traces with fake tensors (needs register_fake) without compiling C++ code.
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    x = torch.randn(4, 64, device=device)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), fn(x))
