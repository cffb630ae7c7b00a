"""Layers: mark model modules as kernel-replaceable, map them to kernel layers, ``kernelize``.

One job per module: :mod:`.mode` (modes and their fallback order), :mod:`.device` (devices,
capability ranges), :mod:`.repository` (where layers come from), :mod:`.mapping` (the
context-scoped kernel mapping), :mod:`.decorators` (marking layers and functions),
:mod:`.validate` (the pure-layer rules), :mod:`.kernelize` (the replacement itself).
Nothing here imports torch until a layer is loaded or a model is kernelized.

>>> from kernels.layer import Mode
>>> str(Mode.TRAINING | Mode.TORCH_COMPILE)
'TRAINING | TORCH_COMPILE'
"""

from .decorators import (
    replace_kernel_forward_from_hub,
    use_kernel_forward_from_hub,
    use_kernel_func_from_hub,
    use_kernelized_func,
)
from .device import CUDAProperties, Device, ROCMProperties
from .errors import LayerLoadError, LayerMappingError, LayerValidationError
from .kernelize import KernelizeFallback, kernelize
from .mapping import register_kernel_mapping, use_kernel_mapping
from .mode import Mode
from .repository import (
    FuncRepository,
    LayerRepository,
    LocalFuncRepository,
    LocalLayerRepository,
    LockedFuncRepository,
    LockedLayerRepository,
)

__all__ = [
    "CUDAProperties",
    "Device",
    "FuncRepository",
    "KernelizeFallback",
    "LayerLoadError",
    "LayerMappingError",
    "LayerRepository",
    "LayerValidationError",
    "LocalFuncRepository",
    "LocalLayerRepository",
    "LockedFuncRepository",
    "LockedLayerRepository",
    "Mode",
    "ROCMProperties",
    "kernelize",
    "register_kernel_mapping",
    "replace_kernel_forward_from_hub",
    "use_kernel_forward_from_hub",
    "use_kernel_func_from_hub",
    "use_kernel_mapping",
    "use_kernelized_func",
]
