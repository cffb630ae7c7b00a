"""Tests of the cutlass-gemm kernel, run against the installed build of the kernel."""

import pytest
import torch

import cutlass_gemm

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.kernels_ci
def test_compiled_against_cutlass_3_8() -> None:
    assert cutlass_gemm.cutlass_version() == "3.8.0"


@pytest.mark.kernels_ci
@needs_gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", [(128, 256, 64), (77, 40, 24), (1, 8, 8), (1000, 520, 136)])
def test_gemm_matches_torch(dtype: torch.dtype, shape: tuple) -> None:
    m, n, k = shape
    torch.manual_seed(0)
    a = torch.randn(m, k, device="cuda", dtype=dtype)
    b = torch.randn(k, n, device="cuda", dtype=dtype)
    bias = torch.randn(n, device="cuda", dtype=dtype)
    expected = (0.5 * (a.float() @ b.float()) + bias.float()).to(dtype)
    got = cutlass_gemm.gemm(a, b, bias=bias, alpha=0.5)
    # fp32 accumulation in both; the rounding of the bias add differs by at most an ulp or two.
    torch.testing.assert_close(got, expected, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(cutlass_gemm.gemm(a, b), (a.float() @ b.float()).to(dtype), rtol=2e-2, atol=2e-2)


@pytest.mark.kernels_ci
@needs_gpu
def test_gemm_refuses_what_it_cannot_do() -> None:
    a = torch.randn(16, 12, device="cuda", dtype=torch.float16)
    b = torch.randn(12, 16, device="cuda", dtype=torch.float16)
    with pytest.raises(RuntimeError, match="multiples of 8"):
        cutlass_gemm.gemm(a, b)
    with pytest.raises(RuntimeError, match="float16 or bfloat16"):
        cutlass_gemm.gemm(a.float()[:, :8].contiguous(), b.float()[:8])
    with pytest.raises(RuntimeError, match="inner dimensions"):
        cutlass_gemm.gemm(a[:, :8].contiguous(), b[:, :8].contiguous())
