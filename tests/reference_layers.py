"""The model layers the layer tests kernelize: plain PyTorch versions of SiluAndMul and
RMSNorm, marked as replaceable by the hub layers of the same names (examples/rmsnorm-silu
ships kernel versions of both)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from kernels import use_kernel_forward_from_hub


@use_kernel_forward_from_hub("SiluAndMul")
class SiluAndMul(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1] // 2
        return F.silu(x[..., :d]) * x[..., d:]


@use_kernel_forward_from_hub("RMSNorm")
class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.rand(hidden) + 0.5)
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        rstd = torch.rsqrt(hidden_states.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return hidden_states * rstd * self.weight
