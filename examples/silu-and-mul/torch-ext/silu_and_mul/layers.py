"""Layers of the silu-and-mul kernel, for ``kernels`` layer mapping (``kernelize``).

Layers hold no state: only ``forward`` is used, on the attributes of the module they replace.
"""

import torch
import torch.nn as nn

from ._ops import ops


class SiluAndMul(nn.Module):
    """``silu(x[..., :d]) * x[..., d:]`` with ``d = x.shape[-1] // 2``."""

    has_backward = True
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The op is registered when the package is imported (always before its layers).
        return ops.silu_and_mul(x)
