"""Tests of the relu kernel, run against the installed build of the kernel.

They import the ``relu`` package as installed from its wheel (``pip install relu-*.whl``).
"""

import pytest
import torch

import relu

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.kernels_ci
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_matches_torch(device: str, dtype: torch.dtype) -> None:
    if device == "cpu" and not _has_backend_for("cpu"):
        pytest.skip("this build of the kernel has no CPU implementation")
    if device == "cuda" and not _has_backend_for("cuda"):
        pytest.skip("this build of the kernel has no CUDA implementation")
    torch.manual_seed(0)
    x = torch.randn(4096 + 3, device=device, dtype=dtype)
    torch.testing.assert_close(relu.relu(x), torch.relu(x), rtol=0, atol=0)


@pytest.mark.kernels_ci
def test_relu_out_argument() -> None:
    device = "cuda" if _has_backend_for("cuda") and torch.cuda.is_available() else "cpu"
    if not _has_backend_for(device):
        pytest.skip("no implementation for this machine")
    x = torch.linspace(-2, 2, 17, device=device)
    out = torch.empty_like(x)
    assert relu.relu(x, out=out) is out
    torch.testing.assert_close(out, torch.relu(x))


@pytest.mark.kernels_ci
def test_ops_live_in_unique_namespace() -> None:
    qualified = relu._ops.add_op_namespace_prefix("relu")
    assert qualified.startswith("_relu_") and qualified.endswith("::relu")


def _has_backend_for(device: str) -> bool:
    """The op namespace names the backend this build was compiled for."""
    return f"_relu_{device}_" in relu._ops.add_op_namespace_prefix("relu")
