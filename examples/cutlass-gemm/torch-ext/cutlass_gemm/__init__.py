"""A tensor-core GEMM built from CUTLASS 3.8 (declared in build.toml: ``depends = ["cutlass_3_8"]``).

``gemm(a, b, bias=None, alpha=1.0)`` returns ``alpha * a @ b (+ bias)`` for row-major float16 or
bfloat16 CUDA matrices, accumulating in float32. ``cutlass_version()`` says which CUTLASS the
kernel was compiled against.
"""

from typing import Optional

import torch

from ._ops import add_op_namespace_prefix, ops

__all__ = ["gemm", "cutlass_version"]


def gemm(a: torch.Tensor, b: torch.Tensor, bias: Optional[torch.Tensor] = None, alpha: float = 1.0,
         out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``alpha * a @ b``, plus ``bias`` (shape ``[N]``) on every row when given.

    Args:
        a: ``[M, K]`` float16 or bfloat16 CUDA tensor.
        b: ``[K, N]`` tensor of ``a``'s dtype and device; N and K must be multiples of 8.
        bias: optional ``[N]`` tensor of ``a``'s dtype.
        alpha: scale of the product (float32).
        out: optional ``[M, N]`` result tensor (written and returned).

    Raises:
        RuntimeError: shapes, dtypes, devices or alignment that the kernel does not take.
    """
    a, b = a.contiguous(), b.contiguous()
    if out is None:
        out = torch.empty((a.shape[0], b.shape[1]), dtype=a.dtype, device=a.device)
    ops.gemm(out, a, b, None if bias is None else bias.contiguous(), float(alpha))
    return out


def cutlass_version() -> str:
    """The CUTLASS version the kernel was compiled against, e.g. ``"3.8.0"``."""
    packed = int(ops.cutlass_version())
    return f"{packed // 10000}.{packed // 100 % 100}.{packed % 100}"


@torch.library.register_fake(add_op_namespace_prefix("gemm"))
def _gemm_fake(out, a, b, bias, alpha) -> None:
    return None
