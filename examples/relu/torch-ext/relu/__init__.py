"""ReLU kernel: ``relu(x)`` computes ``max(x, 0)`` elementwise on CPU or CUDA tensors."""

from typing import Optional

import torch

from ._ops import add_op_namespace_prefix, ops

__all__ = ["relu"]


def relu(x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Return ``max(x, 0)``; writes into ``out`` when given."""
    x = x.contiguous()
    if out is None:
        out = torch.empty_like(x)
    ops.relu(out, x)
    return out


@torch.library.register_fake(add_op_namespace_prefix("relu"))
def _relu_fake(out: torch.Tensor, x: torch.Tensor) -> None:
    return None
