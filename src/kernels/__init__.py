"""kernels: load compute kernels for PyTorch from the Hugging Face Hub or local builds.

    >>> import kernels
    >>> relu = kernels.get_kernel("kernels-community/relu", version=1)          # doctest: +SKIP

Importing this package is cheap: the public names below are imported on first use (PEP 562),
and torch and huggingface_hub only when a kernel is loaded.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.18.0.dev0"

#: public name -> submodule that defines it
_EXPORTS = {
    "LoadedKernel": "load",
    "RepoInfo": "load",
    "get_kernel": "load",
    "get_kernel_dep": "load",
    "get_kernel_variants": "load",
    "get_loaded_kernels": "load",
    "get_local_kernel": "load",
    "has_kernel": "load",
    "install_kernel": "load",
    "get_locked_kernel": "lock",
    "load_kernel": "lock",
    "Metadata": "metadata",
    "VariantAccepted": "selection",
    "VariantRejected": "selection",
    "CUDAProperties": "layer",
    "Device": "layer",
    "FuncRepository": "layer",
    "KernelizeFallback": "layer",
    "LayerRepository": "layer",
    "LocalFuncRepository": "layer",
    "LocalLayerRepository": "layer",
    "LockedFuncRepository": "layer",
    "LockedLayerRepository": "layer",
    "Mode": "layer",
    "ROCMProperties": "layer",
    "kernelize": "layer",
    "register_kernel_mapping": "layer",
    "replace_kernel_forward_from_hub": "layer",
    "use_kernel_forward_from_hub": "layer",
    "use_kernel_func_from_hub": "layer",
    "use_kernel_mapping": "layer",
    "use_kernelized_func": "layer",
    "Benchmark": "benchmark",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:  # pragma: no cover
    from .load import (
        LoadedKernel,
        RepoInfo,
        get_kernel,
        get_kernel_dep,
        get_kernel_variants,
        get_loaded_kernels,
        get_local_kernel,
        has_kernel,
        install_kernel,
    )
    from .lock import get_locked_kernel, load_kernel
    from .metadata import Metadata
    from .selection import VariantAccepted, VariantRejected
    from .benchmark import Benchmark
    from .layer import (
        CUDAProperties,
        Device,
        FuncRepository,
        KernelizeFallback,
        LayerRepository,
        LocalFuncRepository,
        LocalLayerRepository,
        LockedFuncRepository,
        LockedLayerRepository,
        Mode,
        ROCMProperties,
        kernelize,
        register_kernel_mapping,
        replace_kernel_forward_from_hub,
        use_kernel_forward_from_hub,
        use_kernel_func_from_hub,
        use_kernel_mapping,
        use_kernelized_func,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_EXPORTS))
