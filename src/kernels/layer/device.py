"""Devices of kernel mappings, capability ranges, and the registrations kept per device type.

A mapping names a device type (``"cuda"``) or a :class:`Device` with capability bounds. Each
device type of a layer keeps its registrations in a *repository set*:

- cuda and rocm: a set of capability intervals, each with its ``{Mode: repository}`` dict; the
  smallest interval containing the running GPU's capability wins (ties: the one registered
  first), and registering the same interval again replaces it;
- every other type: one ``{Mode: repository}`` dict, replaced by each registration.

>>> from kernels.layer.device import CUDAProperties, Device
>>> Device("cuda", CUDAProperties(min_capability=80, max_capability=89)).type
'cuda'
"""

from __future__ import annotations

import functools
import logging
import numbers
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

from .errors import LayerMappingError
from .mode import Mode

__all__ = [
    "DEVICE_TYPES",
    "CUDAProperties",
    "Device",
    "ROCMProperties",
    "CapabilityRepos",
    "SingleRepos",
    "device_capability",
]

#: Device types a mapping (and ``kernelize``) may name.
DEVICE_TYPES = ("cpu", "cuda", "rocm", "mps", "xpu", "npu", "neuron", "tpu")


def _capability_range_error(cause: Exception) -> Exception:
    """The error of an invalid capability range: a :class:`LayerMappingError` that is also
    huggingface_hub's ``StrictDataclassClassValidationError``, what kernels 0.17.2 raised
    (the class is made on first use: importing huggingface_hub is not free)."""
    return _range_error_type()(str(cause))


@functools.lru_cache(maxsize=None)
def _range_error_type() -> type:
    from huggingface_hub.errors import StrictDataclassClassValidationError  # noqa: PLC0415

    class CapabilityRangeError(LayerMappingError, StrictDataclassClassValidationError):
        """A ``CUDAProperties``/``ROCMProperties`` capability range is not valid."""

        def __init__(self, message: str) -> None:
            Exception.__init__(self, message)

    CapabilityRangeError.__module__ = __name__
    CapabilityRangeError.__qualname__ = "CapabilityRangeError"
    globals()["CapabilityRangeError"] = CapabilityRangeError  # so that pickle finds it
    return CapabilityRangeError


@dataclass(frozen=True)
class _CapabilityRange:
    # Both bounds are required, as in kernels 0.17.2; "every capability" is
    # ``min_capability=0, max_capability=sys.maxsize``.
    min_capability: int
    max_capability: int

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the range again (construction already did); raises what construction raises."""
        try:
            self.validate_capability_range()
        except (ValueError, TypeError) as e:
            raise _capability_range_error(e) from e

    def validate_capability_range(self) -> None:
        """``TypeError`` when a bound is not a number, ``ValueError`` when
        ``min_capability > max_capability``."""
        name = type(self).__name__
        for what in ("min_capability", "max_capability"):
            value = getattr(self, what)
            if not isinstance(value, numbers.Real):
                raise TypeError(f"{name}.{what} must be a number such as 75 (= 7.5), got {value!r}")
        if self.min_capability > self.max_capability:
            raise LayerMappingError(
                f"{name}: min_capability {self.min_capability} is above max_capability {self.max_capability}")


@dataclass(frozen=True)
class CUDAProperties(_CapabilityRange):
    """Inclusive range of CUDA compute capabilities, written ``major * 10 + minor`` (75 = 7.5).

    Example::

        >>> from kernels import CUDAProperties
        >>> CUDAProperties(min_capability=90, max_capability=99)
        CUDAProperties(min_capability=90, max_capability=99)
    """


@dataclass(frozen=True)
class ROCMProperties(_CapabilityRange):
    """Inclusive range of ROCm GPU capabilities, written like :class:`CUDAProperties`.

    Example::

        >>> from kernels import ROCMProperties
        >>> ROCMProperties(min_capability=90, max_capability=95)
        ROCMProperties(min_capability=90, max_capability=95)
    """


_PROPERTY_TYPES = {"cuda": CUDAProperties, "rocm": ROCMProperties}


#: Unknown device types already warned about in this process.
_WARNED_TYPES: set = set()


def unknown_device_type(device_type: object) -> str:
    """The message for a device type that is not one of :data:`DEVICE_TYPES`."""
    hint = " (Apple GPUs are 'mps')" if device_type == "metal" else ""
    return f"unknown device type {device_type!r}; use one of {', '.join(DEVICE_TYPES)}{hint}"


@dataclass(frozen=True)
class Device:
    """A device type of a kernel mapping, for cuda and rocm optionally with a capability range.

    Args:
        type: one of ``cpu cuda rocm mps xpu npu neuron tpu``.
        properties: :class:`CUDAProperties` (type ``cuda``) or :class:`ROCMProperties` (type
            ``rocm``); none means every capability.

    Example::

        >>> from kernels import CUDAProperties, Device
        >>> hopper = Device(type="cuda", properties=CUDAProperties(min_capability=90, max_capability=99))
        >>> Device("metal").type  # as in kernels 0.17.2, built (with a WARNING: Apple GPUs are 'mps')
        'metal'

    An unknown type is accepted, as kernels 0.17.2 does, with a WARNING on the ``kernels``
    logger (a mapping for it never applies); :func:`kernels.register_kernel_mapping` and
    :func:`kernels.kernelize` refuse unknown types.
    """

    type: str
    properties: Optional[Union[CUDAProperties, ROCMProperties]] = field(default=None)

    def __post_init__(self) -> None:
        if self.type not in DEVICE_TYPES and self.type not in _WARNED_TYPES:
            _WARNED_TYPES.add(self.type)
            logging.getLogger("kernels").warning("%s: a kernel mapping for it never applies",
                                                 unknown_device_type(self.type))
        if self.properties is not None:
            wanted = _PROPERTY_TYPES.get(self.type)
            if wanted is None:
                raise LayerMappingError(
                    f"device type {self.type!r} takes no properties (only cuda: CUDAProperties, "
                    f"rocm: ROCMProperties), got {self.properties!r}")
            if type(self.properties) is not wanted:
                raise LayerMappingError(
                    f"device type {self.type!r} needs {wanted.__name__}, got {type(self.properties).__name__}")

    def create_repo(self) -> Union["CapabilityRepos", "SingleRepos"]:
        """An empty repository set that fits this device type."""
        return CapabilityRepos() if self.type in _PROPERTY_TYPES else SingleRepos()


ModeRepos = Dict[Mode, object]


class SingleRepos:
    """Registrations of a device type without capabilities: one ``{Mode: repo}`` dict."""

    def __init__(self) -> None:
        self.repos: Optional[ModeRepos] = None

    def insert(self, device: Device, repos: ModeRepos) -> None:
        self.repos = dict(repos)

    def select(self, capability: Optional[int]) -> Optional[ModeRepos]:
        return self.repos

    def copy(self) -> "SingleRepos":
        new = SingleRepos()
        new.repos = None if self.repos is None else dict(self.repos)
        return new


class CapabilityRepos:
    """Registrations of cuda or rocm: capability intervals, each with its ``{Mode: repo}``."""

    def __init__(self) -> None:
        self.intervals: List[Tuple[Tuple[int, int], ModeRepos]] = []

    def insert(self, device: Device, repos: ModeRepos) -> None:
        props = device.properties
        bounds = (0, sys.maxsize) if props is None else (props.min_capability, props.max_capability)
        for i, (existing, _) in enumerate(self.intervals):
            if existing == bounds:
                self.intervals[i] = (bounds, dict(repos))
                return
        self.intervals.append((bounds, dict(repos)))

    def select(self, capability: Optional[int]) -> Optional[ModeRepos]:
        """The repos of the smallest interval holding ``capability`` (first registered on ties)."""
        if capability is None:
            return None
        best: Optional[Tuple[int, ModeRepos]] = None
        for (low, high), repos in self.intervals:
            if low <= capability <= high and (best is None or high - low < best[0]):
                best = (high - low, repos)
        return None if best is None else best[1]

    def copy(self) -> "CapabilityRepos":
        new = CapabilityRepos()
        new.intervals = [(bounds, dict(repos)) for bounds, repos in self.intervals]
        return new


@functools.lru_cache(maxsize=None)
def device_capability(device_type: str) -> Optional[int]:
    """``major * 10 + minor`` of the current cuda/rocm GPU (cached), None for other types or
    without a GPU."""
    if device_type not in _PROPERTY_TYPES:
        return None
    import torch  # noqa: PLC0415

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability()
    return major * 10 + minor
