import pytest
import torch

# The installed wheel's package is imported directly; the runtime loader will replace this
# import later (kernels.get_kernel("kernels-test/relu-stable-abi", version=1)).
import relu_stable_abi


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", [(7,), (32, 64), (3, 1000, 17)])
def test_relu_matches_torch(dtype, shape):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=dtype)
    out = relu_stable_abi.relu(x)
    assert out.shape == x.shape and out.dtype == dtype
    torch.testing.assert_close(out, torch.relu(x), atol=0, rtol=0)


@pytest.mark.kernels_ci
def test_relu_non_contiguous_and_out():
    x = torch.randn(64, 48).t()  # non-contiguous view
    torch.testing.assert_close(relu_stable_abi.relu(x), torch.relu(x), atol=0, rtol=0)
    out = torch.empty_like(x)
    assert relu_stable_abi.relu(x, out=out) is out
    torch.testing.assert_close(out, torch.relu(x), atol=0, rtol=0)


@pytest.mark.kernels_ci
def test_relu_large_input_uses_all_chunks():
    # Larger than the parallel_for grain size: every chunk must be written.
    x = torch.randn(1 << 20)
    torch.testing.assert_close(relu_stable_abi.relu(x), torch.relu(x), atol=0, rtol=0)


@pytest.mark.kernels_ci
def test_relu_rejects_unsupported_dtype():
    with pytest.raises(RuntimeError, match="relu_cpu"):
        relu_stable_abi.relu(torch.arange(4, dtype=torch.int32))


@pytest.mark.kernels_ci
def test_op_registration():
    from relu_stable_abi._ops import add_op_namespace_prefix

    namespace = add_op_namespace_prefix("relu").split("::")[0]
    assert namespace.startswith("_relu_stable_abi_cpu_")
    torch.library.opcheck(relu_stable_abi.ops.relu, (torch.randn(5, 3),))


@pytest.mark.kernels_ci
def test_torch_compile_fullgraph():
    torch._dynamo.reset()

    def fn(x):
        return relu_stable_abi.relu(x) * 2

    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    x = torch.randn(16, 16)
    torch.testing.assert_close(compiled(x), torch.relu(x) * 2)
