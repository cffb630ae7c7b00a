"""ReLU through Apache TVM FFI: ``relu(x, out)`` writes ``max(x, 0)`` into ``out``.

``x`` and ``out`` are any DLPack tensors (torch, NumPy, ...) of float32, contiguous, of one
size and on one device: the CPU for the cpu build, a CUDA GPU for the cuda build. JAX arrays,
which cannot be written to, go through ``relu_jax(x)`` (a JAX FFI call; needs ``jax`` and
``jax-tvm-ffi``). Nothing here imports torch.
"""

import functools
from typing import Any

import tvm_ffi

from . import _ops
from ._ops import ops

__all__ = ["relu", "relu_jax"]

#: The function of this build, by DLPack device type name.
_FUNCTIONS = {"cpu": "relu_cpu", "cuda": "relu_cuda"}


def relu(x: Any, out: Any) -> Any:
    """Write ``max(x, 0)`` into ``out`` and return ``out``.

    Raises ``ValueError``/``TypeError`` (from the kernel) for tensors of other dtypes, sizes or
    devices, and ``NotImplementedError`` for a device this build has no function for.
    """
    x_view = tvm_ffi.from_dlpack(x)
    device = x_view.device.type
    name = _FUNCTIONS.get(device)
    function = getattr(ops, name, None) if name else None
    if function is None:
        raise NotImplementedError(f"relu: this build of relu-tvm-ffi has no function for {device} tensors")
    function(tvm_ffi.from_dlpack(out), x_view)
    return out


@functools.lru_cache(maxsize=None)
def _jax_target() -> str:
    """Register this build's function as a JAX FFI target (once); return the target's name."""
    from jax_tvm_ffi import register_ffi_target

    cpu = hasattr(ops, "relu_cpu")
    name = _ops.jax_add_ffi_target_name_prefix("relu")
    register_ffi_target(name, ops.relu_cpu if cpu else ops.relu_cuda, arg_spec=["rets", "args"],
                        platform="cpu" if cpu else "gpu")
    return name


def relu_jax(x: Any) -> Any:
    """``max(x, 0)`` of a float32 JAX array, as a JAX FFI call (so it works under ``jax.jit``),
    on the platform of this build (CPU, or the GPU for the cuda build).

    Raises ``RuntimeError`` when jax or jax-tvm-ffi is not installed.
    """
    # (getattr: an _ops.py of the existing builder defines only ``ops``.)
    if not getattr(_ops, "has_jax", False) or not hasattr(_ops, "jax_add_ffi_target_name_prefix"):
        raise RuntimeError("relu_jax needs jax and jax-tvm-ffi (pip install jax jax-tvm-ffi) and the "
                           "JAX helpers of a kernels_build _ops.py")
    import jax

    return jax.ffi.ffi_call(_jax_target(), jax.ShapeDtypeStruct(x.shape, x.dtype), vmap_method="broadcast_all")(x)
