"""Errors of the layers API (mappings, kernel layers, ``kernelize``).

All derive from :class:`kernels.errors.KernelsError` and from the builtin the contract names,
so ``except ValueError`` / ``except TypeError`` written against the upstream runtime still work::

    >>> from kernels.layer.errors import LayerMappingError, LayerValidationError
    >>> isinstance(LayerMappingError("no kernel for 'SiluAndMul'"), ValueError)
    True
    >>> isinstance(LayerValidationError("layer 'X': must not define __init__"), TypeError)
    True
"""

from __future__ import annotations

from ..errors import KernelsError

__all__ = ["LayerLoadError", "LayerMappingError", "LayerValidationError"]


class LayerMappingError(KernelsError, ValueError):
    """A mapping, mode, device or ``kernelize`` call is not valid, or ``kernelize`` found no
    usable kernel for a layer while falling back was not allowed. The message says what to do."""


class LayerValidationError(KernelsError, TypeError):
    """A kernel layer breaks the rules for Hub layers (pure ``nn.Module`` subclass, no
    constructor, no state, ``forward`` compatible with the layer it replaces). The message names
    the layer and the rule."""


class LayerLoadError(KernelsError, FileNotFoundError, ValueError):
    """``kernelize`` could not load a mapped kernel (no variant for this environment, missing
    files) and ``KernelizeFallback.CANNOT_LOAD`` was not allowed. Both a ``FileNotFoundError``
    (what loading raised) and a ``ValueError`` (what a refused fallback raises)::

        >>> err = LayerLoadError("cannot load org/act")
        >>> isinstance(err, FileNotFoundError) and isinstance(err, ValueError)
        True
    """
