"""RMSNorm and SiLU-and-mul kernels (CPU and CUDA), with layers for ``kernels.kernelize``.

Functions:

- ``silu_and_mul(x)``: ``silu(x[..., :d]) * x[..., d:]`` with ``d = x.shape[-1] // 2``
  (forward only: no backward pass);
- ``rms_norm(x, weight, eps)``: ``x / sqrt(mean(x**2, -1) + eps) * weight``, differentiable.

Both work under ``torch.compile(fullgraph=True)``: the compiled ops have fake (meta)
implementations. Layers (``layers``): ``SiluAndMul`` and ``RMSNorm`` (reads ``weight`` and
``variance_epsilon`` of the module it replaces).
"""

from typing import Tuple

import torch

from ._ops import add_op_namespace_prefix, ops

__all__ = ["layers", "ops", "rms_norm", "silu_and_mul"]


@torch.library.register_fake(add_op_namespace_prefix("silu_and_mul"))
def _silu_and_mul_fake(out: torch.Tensor, x: torch.Tensor) -> None:
    return None


@torch.library.register_fake(add_op_namespace_prefix("rms_norm"))
def _rms_norm_fake(out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, eps: float) -> None:
    return None


def silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    """Return ``silu(x[..., :d]) * x[..., d:]`` with ``d = x.shape[-1] // 2`` (no backward)."""
    if x.dim() < 1 or x.shape[-1] % 2 != 0:
        raise ValueError(f"silu_and_mul needs an even-sized last dimension, got shape {tuple(x.shape)}")
    x = x.contiguous()
    out = x.new_empty((*x.shape[:-1], x.shape[-1] // 2))
    ops.silu_and_mul(out, x)
    return out


# Flags read by kernels' function repositories (FuncRepository).
silu_and_mul.has_backward = False
silu_and_mul.can_torch_compile = True


@torch.library.custom_op(add_op_namespace_prefix("rms_norm_fn"), mutates_args=())
def _rms_norm_fn(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x = x.contiguous()
    out = torch.empty_like(x)
    ops.rms_norm(out, x, weight.contiguous().to(x.dtype), eps)
    return out


@torch.library.register_fake(add_op_namespace_prefix("rms_norm_fn"))
def _rms_norm_fn_fake(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _setup_context(ctx, inputs: Tuple[torch.Tensor, torch.Tensor, float], output: torch.Tensor) -> None:
    x, weight, eps = inputs
    ctx.save_for_backward(x, weight)
    ctx.eps = eps


def _backward(ctx, grad: torch.Tensor):
    x, weight = ctx.saved_tensors
    xf, gf, wf = x.float(), grad.float(), weight.float()
    rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + ctx.eps)
    gw = gf * wf
    grad_x = rstd * (gw - xf * rstd.pow(2) * (gw * xf).mean(-1, keepdim=True))
    grad_w = (gf * xf * rstd).reshape(-1, x.shape[-1]).sum(0)
    return grad_x.to(x.dtype), grad_w.to(weight.dtype), None


torch.library.register_autograd(add_op_namespace_prefix("rms_norm_fn"), _backward, setup_context=_setup_context)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Return ``x / sqrt(mean(x**2, -1) + eps) * weight`` (differentiable)."""
    return _rms_norm_fn(x, weight, float(eps))


rms_norm.has_backward = True
rms_norm.can_torch_compile = True

# Last: the layers use the functions above.
from . import layers  # noqa: E402
