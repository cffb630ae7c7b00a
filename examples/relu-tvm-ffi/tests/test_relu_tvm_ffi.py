"""Tests of the relu-tvm-ffi kernel, run against the installed build of the kernel.

They import ``relu_tvm_ffi`` as installed from its wheel and call it with torch tensors, which
reach the kernel through DLPack.
"""

import pytest

torch = pytest.importorskip("torch")

import relu_tvm_ffi  # noqa: E402


def _devices():
    built_for = {name.split("_")[-1] for name in ("relu_cpu", "relu_cuda") if hasattr(relu_tvm_ffi.ops, name)}
    return [d for d in ("cpu", "cuda") if d in built_for and (d == "cpu" or torch.cuda.is_available())]


@pytest.mark.kernels_ci
@pytest.mark.parametrize("n", [0, 1, 4096 + 3])
def test_relu_matches_torch(n: int) -> None:
    devices = _devices()
    if not devices:
        pytest.skip("this build of the kernel has no function for this machine's devices")
    for device in devices:
        x = torch.randn(n, device=device)
        out = torch.empty_like(x)
        assert relu_tvm_ffi.relu(x, out) is out
        torch.testing.assert_close(out, torch.relu(x), rtol=0, atol=0)


@pytest.mark.kernels_ci
def test_other_dtypes_are_refused_by_the_kernel() -> None:
    devices = _devices()
    if not devices:
        pytest.skip("this build of the kernel has no function for this machine's devices")
    x = torch.zeros(8, dtype=torch.float64, device=devices[0])
    with pytest.raises(TypeError, match="float32"):
        relu_tvm_ffi.relu(x, torch.empty_like(x))


@pytest.mark.kernels_ci
def test_library_is_named_after_the_op_namespace() -> None:
    name = relu_tvm_ffi._ops.OPS_NAME
    assert name.startswith("_relu_tvm_ffi_") and relu_tvm_ffi._ops.jax_add_ffi_target_name_prefix("relu") == f"{name}.relu"
