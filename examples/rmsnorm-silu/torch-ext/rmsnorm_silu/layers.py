"""Layers of the rmsnorm-silu kernel for ``kernels.kernelize``.

Layers are pure: no constructor, no state; ``forward`` uses the attributes of the module it
replaces (declared as annotations).
"""

import torch
import torch.nn as nn

from . import rms_norm, silu_and_mul

__all__ = ["RMSNorm", "SiluAndMul"]


class SiluAndMul(nn.Module):
    """``silu(x[..., :d]) * x[..., d:]``; forward only (kernelize falls back when training)."""

    has_backward = False
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return silu_and_mul(x)


class RMSNorm(nn.Module):
    """RMS normalisation with the replaced module's ``weight`` and ``variance_epsilon``."""

    weight: torch.Tensor
    variance_epsilon: float

    has_backward = True
    can_torch_compile = True

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return rms_norm(hidden_states, self.weight, self.variance_epsilon)
