"""SiLU-and-mul (SwiGLU gating) written in plain PyTorch.

``silu_and_mul(x)`` splits the last dimension of ``x`` in two halves ``a, b`` and returns
``silu(a) * b``. It is registered as a custom op in this build's own op namespace, with a
fake (meta) implementation and an autograd formula, so it works under
``torch.compile(fullgraph=True)`` and in training.
"""

from typing import Tuple

import torch
import torch.nn.functional as F

from . import layers
from ._ops import add_op_namespace_prefix, ops

__all__ = ["silu_and_mul", "layers", "ops"]


def _check_input(x: torch.Tensor) -> int:
    if x.dim() < 1 or x.shape[-1] % 2 != 0:
        raise ValueError(
            f"silu_and_mul needs an even-sized last dimension, got shape {tuple(x.shape)}"
        )
    return x.shape[-1] // 2


@torch.library.custom_op(add_op_namespace_prefix("silu_and_mul"), mutates_args=())
def _silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    d = _check_input(x)
    return F.silu(x[..., :d]) * x[..., d:]


@torch.library.register_fake(add_op_namespace_prefix("silu_and_mul"))
def _silu_and_mul_fake(x: torch.Tensor) -> torch.Tensor:
    d = _check_input(x)
    return x.new_empty((*x.shape[:-1], d))


def _setup_context(ctx, inputs: Tuple[torch.Tensor], output: torch.Tensor) -> None:
    (x,) = inputs
    ctx.save_for_backward(x)


def _backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    (x,) = ctx.saved_tensors
    d = x.shape[-1] // 2
    a, b = x[..., :d], x[..., d:]
    sig = torch.sigmoid(a)
    # d/da silu(a) = sigmoid(a) * (1 + a * (1 - sigmoid(a)))
    grad_a = grad * b * sig * (1 + a * (1 - sig))
    grad_b = grad * a * sig
    return torch.cat([grad_a, grad_b], dim=-1)


torch.library.register_autograd(
    add_op_namespace_prefix("silu_and_mul"), _backward, setup_context=_setup_context
)


def silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    """Return ``silu(x[..., :d]) * x[..., d:]`` with ``d = x.shape[-1] // 2``."""
    return ops.silu_and_mul(x)
