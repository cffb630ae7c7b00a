"""Kernel mappings: which repository provides which layer, per device type and mode.

The mapping lives in a context variable, so threads and ``asyncio`` tasks can scope their own
mappings with :func:`use_kernel_mapping` while :func:`register_kernel_mapping` changes the
current context's (normally the global) mapping.

A mapping is ``{layer name: {device: repository or {Mode: repository}}}``; ``device`` is a
device type string or a :class:`~kernels.Device`, a bare repository means ``{Mode.FALLBACK:
repository}``.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Dict, Iterator, Mapping, Optional, Union

from .device import DEVICE_TYPES, CapabilityRepos, Device, SingleRepos, unknown_device_type
from .errors import LayerMappingError
from .mode import Mode, check_mapping_mode, mode_label

__all__ = ["current_mapping", "register_kernel_mapping", "use_kernel_mapping"]

RepoSet = Union[CapabilityRepos, SingleRepos]
#: layer name -> device type -> registrations
_Registry = Dict[str, Dict[str, RepoSet]]

_MAPPING: contextvars.ContextVar[_Registry] = contextvars.ContextVar("kernels_layer_mapping", default={})

KernelMapping = Mapping[str, Mapping[Union[Device, str], Any]]


def current_mapping() -> _Registry:
    """The registrations of the current context (do not modify)."""
    return _MAPPING.get()


def _copy(registry: _Registry) -> _Registry:
    return {layer: {dev: repos.copy() for dev, repos in devices.items()} for layer, devices in registry.items()}


def _is_repository(value: object) -> bool:
    return callable(getattr(value, "load", None))


def _merge(registry: _Registry, mapping: KernelMapping) -> None:
    """Validate ``mapping`` completely, then add it to ``registry``."""
    if not isinstance(mapping, Mapping):
        raise LayerMappingError(f"a kernel mapping must be a dict {{layer name: {{device: repository}}}}, got {mapping!r}")
    staged = []
    for layer_name, devices in mapping.items():
        if not isinstance(layer_name, str) or not layer_name:
            raise LayerMappingError(f"kernel mapping: layer names must be non-empty strings, got {layer_name!r}")
        if not isinstance(devices, Mapping):
            raise LayerMappingError(
                f"kernel mapping for {layer_name!r}: expected {{device: repository}}, got {devices!r}")
        for device_key, value in devices.items():
            if isinstance(device_key, Device):
                device = device_key
            elif isinstance(device_key, str):
                try:
                    device = Device(type=device_key)
                except LayerMappingError as exc:
                    raise LayerMappingError(f"kernel mapping for {layer_name!r}: {exc}") from None
            else:
                raise LayerMappingError(
                    f"kernel mapping for {layer_name!r}: devices must be device type strings or kernels.Device, "
                    f"got {device_key!r}")
            if device.type not in DEVICE_TYPES:
                raise LayerMappingError(f"kernel mapping for {layer_name!r}: {unknown_device_type(device.type)}")
            where = f"kernel mapping for {layer_name!r} on {device.type}"
            if isinstance(value, Mapping):
                modes = {}
                for mode, repo in value.items():
                    modes[check_mapping_mode(mode, where)] = repo
            else:
                modes = {Mode.FALLBACK: value}
            for mode, repo in modes.items():
                if not _is_repository(repo):
                    raise LayerMappingError(
                        f"{where}, mode {mode_label(mode)}: expected a repository (LayerRepository, "
                        f"LocalLayerRepository, ...), got {repo!r}")
            if not modes:
                raise LayerMappingError(f"{where}: no repository given")
            staged.append((layer_name, device, modes))
    for layer_name, device, modes in staged:
        repo_set = registry.setdefault(layer_name, {}).setdefault(device.type, device.create_repo())
        repo_set.insert(device, modes)


def register_kernel_mapping(mapping: KernelMapping, inherit_mapping: bool = True) -> None:
    """Add ``mapping`` to the current context's kernel mapping.

    Args:
        mapping: ``{layer name: {device: repository | {Mode: repository}}}``.
        inherit_mapping: False clears the current mapping first.

    Raises:
        ValueError: an unknown device type, a mode that cannot be registered, or a value that
            is not a repository (nothing is registered then).

    Example::

        >>> from kernels import LayerRepository, Mode, register_kernel_mapping
        >>> register_kernel_mapping({
        ...     "SiluAndMul": {
        ...         "cuda": {
        ...             Mode.INFERENCE: LayerRepository("org/act-fast", layer_name="SiluAndMul", version=1),
        ...             Mode.TRAINING: LayerRepository("org/act", layer_name="SiluAndMul", version=1),
        ...         }
        ...     }
        ... })
    """
    registry = {} if not inherit_mapping else _copy(_MAPPING.get())
    _merge(registry, mapping)
    _MAPPING.set(registry)


@contextlib.contextmanager
def use_kernel_mapping(mapping: KernelMapping, *, inherit_mapping: bool = True) -> Iterator[None]:
    """Use ``mapping`` (on top of the current one, or alone with ``inherit_mapping=False``)
    inside a ``with`` block; the previous mapping is back afterwards.

    Example::

        >>> import torch.nn as nn
        >>> from kernels import LocalLayerRepository, Mode, kernelize, use_kernel_mapping
        >>> with use_kernel_mapping({"SiluAndMul": {"cpu": LocalLayerRepository(
        ...         "activation/build", layer_name="SiluAndMul")}}):
        ...     model = kernelize(nn.Sequential(), mode=Mode.INFERENCE, device="cpu")
    """
    registry = _copy(_MAPPING.get()) if inherit_mapping else {}
    _merge(registry, mapping)
    token = _MAPPING.set(registry)
    try:
        yield
    finally:
        _MAPPING.reset(token)


def lookup(layer_name: str, device_type: str) -> Optional[RepoSet]:
    """The registrations for ``layer_name`` on ``device_type`` (None when absent)."""
    return _MAPPING.get().get(layer_name, {}).get(device_type)
