"""ReLU through Apache TVM FFI: ``relu(x, out)`` writes ``max(x, 0)`` into ``out``.

``x`` and ``out`` are any DLPack tensors (torch, JAX, NumPy, ...) of float32, contiguous, of
one size and on one device: the CPU for the cpu build, a CUDA GPU for the cuda build. Nothing
here imports torch.
"""

from typing import Any

import tvm_ffi

from ._ops import ops

__all__ = ["relu"]

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
