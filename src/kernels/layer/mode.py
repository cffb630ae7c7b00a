"""Kernelize modes and the order in which registered modes are tried.

>>> from kernels.layer.mode import Mode, fallback_order, mode_label
>>> [mode_label(m) for m in fallback_order(Mode.TRAINING)]
['TRAINING', 'TRAINING | TORCH_COMPILE', 'FALLBACK']
"""

from __future__ import annotations

import enum
from typing import Tuple

from .errors import LayerMappingError

__all__ = ["Mode", "fallback_order", "check_kernelize_mode", "check_mapping_mode"]


class Mode(enum.Flag):
    """What a model is kernelized for; combine with ``|``.

    - ``INFERENCE``: the model only runs forward passes.
    - ``TRAINING``: the model is trained (kernels need a backward pass).
    - ``TORCH_COMPILE``: the model is compiled with ``torch.compile`` (kernels must support it).
    - ``FALLBACK``: only in mappings: the kernel used when no registration for a more specific
      mode fits. A repository registered without a mode is registered for ``FALLBACK``.

    ``INFERENCE | TRAINING`` and ``FALLBACK`` combined with anything else are not valid
    modes: like kernels 0.17.2, ``|`` raises ``ValueError`` when asked to build them.

    Example::

        >>> from kernels import Mode
        >>> mode = Mode.INFERENCE | Mode.TORCH_COMPILE
        >>> Mode.TORCH_COMPILE in mode, mode_label(mode)
        (True, 'INFERENCE | TORCH_COMPILE')
    """

    _NONE = 0
    FALLBACK = enum.auto()
    TRAINING = enum.auto()
    INFERENCE = enum.auto()
    TORCH_COMPILE = enum.auto()

    def __or__(self, other: "Mode") -> "Mode":
        union = super().__or__(other)
        if union is NotImplemented:
            return union
        if Mode.INFERENCE in union and Mode.TRAINING in union:
            raise LayerMappingError("Mode.INFERENCE | Mode.TRAINING is not a valid mode: a model is "
                                    "kernelized either for inference or for training")
        if Mode.FALLBACK in union and union is not Mode.FALLBACK:
            raise LayerMappingError("Mode.FALLBACK cannot be combined with other modes: it only marks the "
                                    "kernel a mapping falls back to")
        return union

    # str() stays enum's own ("Mode.INFERENCE"), as in kernels 0.17.2; messages use mode_label.


def mode_label(mode: Mode) -> str:
    """A mode's flags for messages: ``"INFERENCE | TORCH_COMPILE"``."""
    names = [m.name for m in (Mode.FALLBACK, Mode.INFERENCE, Mode.TRAINING, Mode.TORCH_COMPILE) if m in mode]
    return " | ".join(names) if names else "NONE"


_TC = Mode.TORCH_COMPILE

#: For each kernelize mode, the registered modes to try, best first.
_ORDER = {
    Mode.INFERENCE: (Mode.INFERENCE, Mode.INFERENCE | _TC, Mode.TRAINING, Mode.TRAINING | _TC, Mode.FALLBACK),
    Mode.TRAINING: (Mode.TRAINING, Mode.TRAINING | _TC, Mode.FALLBACK),
    Mode.INFERENCE | _TC: (Mode.INFERENCE | _TC, Mode.TRAINING | _TC, Mode.FALLBACK),
    Mode.TRAINING | _TC: (Mode.TRAINING | _TC, Mode.FALLBACK),
}

#: The modes a mapping may register a repository for.
MAPPING_MODES = (Mode.FALLBACK, *_ORDER)


def _describe(mode: object) -> str:
    return mode_label(mode) if isinstance(mode, Mode) else repr(mode)


def check_kernelize_mode(mode: object) -> Mode:
    """Return ``mode`` if ``kernelize`` can use it, else raise :class:`LayerMappingError`.

    >>> check_kernelize_mode(Mode.FALLBACK)
    Traceback (most recent call last):
    ...
    kernels.layer.errors.LayerMappingError: kernelize: mode FALLBACK is not valid: ...
    """
    if not isinstance(mode, Mode):
        raise LayerMappingError(
            f"kernelize: mode must be a kernels.Mode such as Mode.INFERENCE or "
            f"Mode.TRAINING | Mode.TORCH_COMPILE, got {mode!r}")
    if mode not in _ORDER:
        if Mode.FALLBACK in mode:
            why = "Mode.FALLBACK is only for registering kernel mappings"
        elif Mode.INFERENCE in mode and Mode.TRAINING in mode:
            why = "INFERENCE and TRAINING exclude each other (a model kernelized for TRAINING also runs inference)"
        else:
            why = "it must contain Mode.INFERENCE or Mode.TRAINING"
        raise LayerMappingError(
            f"kernelize: mode {_describe(mode)} is not valid: {why}; use one of "
            + ", ".join(mode_label(m) for m in _ORDER))
    return mode


def check_mapping_mode(mode: object, where: str) -> Mode:
    """Return ``mode`` if a mapping may register a kernel for it, else raise
    :class:`LayerMappingError` naming ``where`` (the layer and device)."""
    if not isinstance(mode, Mode) or mode not in MAPPING_MODES:
        raise LayerMappingError(
            f"{where}: cannot register a kernel for mode {_describe(mode)}; use one of "
            + ", ".join(mode_label(m) for m in MAPPING_MODES))
    return mode


def fallback_order(mode: Mode) -> Tuple[Mode, ...]:
    """The registered modes ``kernelize(mode=mode)`` tries, in order (see the contract §8)."""
    return _ORDER[check_kernelize_mode(mode)]
