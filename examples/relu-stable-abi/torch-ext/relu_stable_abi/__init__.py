"""ReLU kernel built against torch's stable ABI: ``relu(x)`` computes ``max(x, 0)`` on CPU.

The extension only uses torch's stable C ABI (``torch/csrc/stable``, ``torch/headeronly``),
so one build serves torch 2.10 and every later release.
"""

from typing import Optional

import torch

from ._ops import add_op_namespace_prefix, ops

__all__ = ["relu"]


def relu(x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Return ``max(x, 0)``; also writes the result into ``out`` when given."""
    result = ops.relu(x)
    if out is None:
        return result
    return out.copy_(result)


@torch.library.register_fake(add_op_namespace_prefix("relu"))
def _relu_fake(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)
