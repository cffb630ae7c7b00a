"""The rules for kernel layers (contract §8): a layer from a kernel replaces only the
``forward`` of a model's module, so it must be *pure*:

1. a subclass of ``torch.nn.Module``;
2. no ``__init__`` of its own (it is never instantiated with state);
3. no class members beyond ``nn.Module``'s except ``forward`` and the flags ``has_backward``
   (default True) and ``can_torch_compile`` (default False); annotations of the attributes
   it reads from the module it replaces (``weight: torch.Tensor``) are fine;
4. ``forward`` takes as many parameters, of the same kinds, as the ``forward`` it replaces.

A violation raises :class:`~kernels.layer.errors.LayerValidationError` (a ``TypeError``) that
names the layer and the rule.
"""

from __future__ import annotations

import inspect
from typing import Any, List

from .errors import LayerValidationError

__all__ = ["ALLOWED_MEMBERS", "validate_layer"]

#: Class members a kernel layer may define besides nn.Module's.
ALLOWED_MEMBERS = frozenset({"forward", "has_backward", "can_torch_compile"})

#: Members Python itself puts into every class namespace.
_IMPLICIT = frozenset({
    "__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__",
    "__firstlineno__", "__static_attributes__", "__orig_bases__", "__parameters__",
    "__annotate__", "__annotate_func__", "__annotations_cache__", "__classdictcell__",
})


def _kinds(forward: Any) -> List[str]:
    return [p.kind.name for p in inspect.signature(forward).parameters.values()]


def validate_layer(layer: Any, replaced: type, *, name: str) -> None:
    """Check that kernel layer class ``layer`` may replace ``forward`` of class ``replaced``.

    ``name`` describes the layer in messages (e.g. ``"SiluAndMul from org/act (version 1)"``).

    Example::

        >>> import torch.nn as nn
        >>> class Bad(nn.Module):
        ...     scale = 2.0
        ...     def forward(self, x):
        ...         return x * self.scale
        >>> validate_layer(Bad, nn.Identity, name="Bad")
        Traceback (most recent call last):
        ...
        kernels.layer.errors.LayerValidationError: kernel layer Bad: must not define class members other than forward, has_backward and can_torch_compile (found: scale); kernel layers are pure
    """
    from torch import nn  # noqa: PLC0415

    if not isinstance(layer, type) or not issubclass(layer, nn.Module):
        raise LayerValidationError(f"kernel layer {name}: must be a subclass of torch.nn.Module, got {layer!r}")
    own_classes = [cls for cls in layer.__mro__ if cls not in nn.Module.__mro__]
    for cls in own_classes:
        if "__init__" in vars(cls):
            raise LayerValidationError(
                f"kernel layer {name}: must not define __init__ ({cls.__qualname__} does); kernel layers are pure "
                f"and use the attributes of the module they replace")
    extra = sorted({member for cls in own_classes for member in vars(cls)} - ALLOWED_MEMBERS - _IMPLICIT)
    if extra:
        raise LayerValidationError(
            f"kernel layer {name}: must not define class members other than forward, has_backward and "
            f"can_torch_compile (found: {', '.join(extra)}); kernel layers are pure")
    if layer.forward is nn.Module.forward:
        raise LayerValidationError(f"kernel layer {name}: must define forward")
    try:
        mine, theirs = _kinds(layer.forward), _kinds(replaced.forward)
    except (TypeError, ValueError):  # no inspectable signature: nothing to compare
        return
    if mine != theirs:
        raise LayerValidationError(
            f"kernel layer {name}: forward{inspect.signature(layer.forward)} does not match the replaced "
            f"{replaced.__qualname__}.forward{inspect.signature(replaced.forward)} (parameter count and kinds must "
            f"be equal)")
