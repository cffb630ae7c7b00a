"""Marking layers and functions of a model as replaceable by kernels.

Marking changes no behaviour: it records the name ``kernelize`` looks up in the kernel
mapping (class attribute ``kernel_layer_name``) and an optional condition
(``kernel_condition``).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Optional, TypeVar

from .errors import LayerMappingError
from .func import func_module

__all__ = [
    "replace_kernel_forward_from_hub",
    "use_kernel_forward_from_hub",
    "use_kernel_func_from_hub",
    "use_kernelized_func",
]

T = TypeVar("T")
#: ``condition(module) -> bool``: whether ``kernelize`` may replace this module's forward.
Condition = Callable[[Any], bool]


def _check_name(layer_name: object, what: str) -> str:
    if not isinstance(layer_name, str) or not layer_name:
        raise LayerMappingError(f"{what}: the layer name must be a non-empty string, got {layer_name!r}")
    return layer_name


def replace_kernel_forward_from_hub(cls: type, layer_name: str, condition: Optional[Condition] = None) -> type:
    """Make an existing layer class (e.g. of another library) replaceable under ``layer_name``.

    Prefer :func:`use_kernel_forward_from_hub` on classes you own: it shows that the class's
    ``forward`` signature is meant to stay compatible with kernel layers.

    Args:
        cls: an ``nn.Module`` subclass.
        layer_name: the name kernel mappings use for it.
        condition: optional ``condition(module) -> bool``; ``kernelize`` leaves a module whose
            condition is false as it is.

    Example::

        >>> import torch.nn as nn
        >>> from kernels import replace_kernel_forward_from_hub
        >>> class LayerNorm(nn.LayerNorm):
        ...     pass
        >>> _ = replace_kernel_forward_from_hub(LayerNorm, "LayerNorm")
        >>> LayerNorm.kernel_layer_name
        'LayerNorm'
    """
    _check_name(layer_name, "replace_kernel_forward_from_hub")
    from torch import nn  # noqa: PLC0415

    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise LayerMappingError(f"replace_kernel_forward_from_hub: {cls!r} is not a torch.nn.Module subclass")
    if condition is not None and not callable(condition):
        raise LayerMappingError(f"replace_kernel_forward_from_hub: condition must be callable, got {condition!r}")
    cls.kernel_layer_name = layer_name  # type: ignore[attr-defined]
    cls.kernel_condition = condition  # type: ignore[attr-defined]
    return cls


def _wrap_function(func: Callable[..., Any], layer_name: str, condition: Optional[Condition]) -> Any:
    module_cls = func_module(func)
    replace_kernel_forward_from_hub(module_cls, layer_name, condition)
    instance = module_cls()
    functools.update_wrapper(instance, func, assigned=("__doc__",), updated=())
    return instance


def use_kernel_forward_from_hub(layer_name: str, condition: Optional[Condition] = None) -> Callable[[T], T]:
    """Decorator: make a layer class (or a function) replaceable by kernels named ``layer_name``.

    On a class it sets ``kernel_layer_name`` and ``kernel_condition`` and returns the class.
    On a function it returns an *instance* of a module whose ``forward`` calls the function;
    assign it as a submodule of your model (or list it in :func:`use_kernelized_func`) so
    ``kernelize`` finds it.

    Example::

        >>> import torch
        >>> import torch.nn as nn
        >>> import torch.nn.functional as F
        >>> from kernels import use_kernel_forward_from_hub
        >>> @use_kernel_forward_from_hub("SiluAndMul")
        ... class SiluAndMul(nn.Module):
        ...     def forward(self, x: torch.Tensor) -> torch.Tensor:
        ...         d = x.shape[-1] // 2
        ...         return F.silu(x[..., :d]) * x[..., d:]
        >>> SiluAndMul.kernel_layer_name
        'SiluAndMul'
    """
    _check_name(layer_name, "use_kernel_forward_from_hub")

    def decorator(obj: Any) -> Any:
        if isinstance(obj, type):
            return replace_kernel_forward_from_hub(obj, layer_name, condition)
        if callable(obj):
            return _wrap_function(obj, layer_name, condition)
        raise LayerMappingError(f"use_kernel_forward_from_hub({layer_name!r}): cannot decorate {obj!r}")

    return decorator


def use_kernel_func_from_hub(func_name: str) -> Callable[[Callable[..., Any]], Any]:
    """Deprecated decorator: make a function replaceable by kernel functions named ``func_name``.

    Returns an instance of a module whose ``forward`` calls the function (see
    :func:`use_kernel_forward_from_hub`, which does the same for functions).

    Example::

        >>> import warnings
        >>> from kernels import use_kernel_func_from_hub
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     @use_kernel_func_from_hub("double")
        ...     def double(x):
        ...         return 2 * x
        >>> double(21), double.kernel_layer_name
        (42, 'double')
    """
    warnings.warn("use_kernel_func_from_hub is deprecated: use use_kernel_forward_from_hub on the function",
                  DeprecationWarning, stacklevel=2)
    _check_name(func_name, "use_kernel_func_from_hub")

    def decorator(func: Callable[..., Any]) -> Any:
        return _wrap_function(func, func_name, None)

    return decorator


def use_kernelized_func(*funcs: Any) -> Callable[[type], type]:
    """Class decorator: let ``kernelize`` replace the given decorated functions for every
    instance of the class (they are put into the instance attribute ``_kernel_funcs``,
    ``{layer name: function module}``).

    Raises:
        ValueError: a function was not decorated with :func:`use_kernel_forward_from_hub` or
            :func:`use_kernel_func_from_hub`.

    Example::

        >>> import torch.nn as nn
        >>> from kernels import use_kernel_forward_from_hub, use_kernelized_func
        >>> @use_kernel_forward_from_hub("double")
        ... def double(x):
        ...     return 2 * x
        >>> @use_kernelized_func(double)
        ... class Model(nn.Module):
        ...     def forward(self, x):
        ...         return self._kernel_funcs["double"](x)
        >>> Model()(21)
        42
    """
    for func in funcs:
        if not isinstance(getattr(type(func), "kernel_layer_name", None), str):
            raise LayerMappingError(
                f"use_kernelized_func: {func!r} is not kernel-replaceable; decorate it with "
                f"@use_kernel_forward_from_hub(<name>) first")
    entries = {type(func).kernel_layer_name: func for func in funcs}

    def decorator(cls: type) -> type:
        original_init = cls.__init__

        @functools.wraps(original_init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            existing = dict(getattr(self, "_kernel_funcs", None) or {})
            existing.update(entries)
            self._kernel_funcs = existing

        cls.__init__ = __init__  # type: ignore[misc]
        return cls

    return decorator
