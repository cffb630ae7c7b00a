"""``kernelize``: give the marked modules of a model the ``forward`` of their kernel layers.

For each module whose class has ``kernel_layer_name`` (and each entry of a module's
``_kernel_funcs``), ``kernelize`` looks the name up in the current kernel mapping for the
device type, then for the GPU's capability (cuda/rocm), then for the mode in the order of
:func:`~kernels.layer.mode.fallback_order`; loads the kernel layer, checks it
(:mod:`~kernels.layer.validate`) and sets the *instance's* ``forward`` to the layer's
``forward``. Classes are never changed; kernelizing again (with another mode, device or
mapping) first restores each module's own ``forward``.
"""

from __future__ import annotations

import difflib
import enum
import logging
import os
import threading
import types
from typing import TYPE_CHECKING, Any, Iterator, Set, Tuple, Union

from .device import DEVICE_TYPES, device_capability
from .errors import LayerLoadError, LayerMappingError
from .mapping import current_mapping
from .mode import Mode, check_kernelize_mode, fallback_order, mode_label
from .validate import validate_layer

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = ["KernelizeFallback", "kernelize"]

logger = logging.getLogger("kernels")

#: Instance attribute that records the kernel layer kernelize installed.
_MARK = "_kernels_layer"

#: Layer names already reported as having no mapping at all. A missing name is most likely a
#: typo (in the mapping or in ``use_kernel_forward_from_hub``), so it is a WARNING, which Python
#: prints even without logging setup, but only once per name per process, since models hold
#: many instances of a layer and are often kernelized repeatedly.
_REPORTED_UNMAPPED: Set[str] = set()
_REPORTED_LOCK = threading.Lock()


def _reset_unmapped_reports() -> None:
    """Forget which unmapped layer names were reported (for tests)."""
    with _REPORTED_LOCK:
        _REPORTED_UNMAPPED.clear()


def _report_unmapped(qualname: str, layer_name: str) -> None:
    """Warn once per process that ``layer_name`` has no mapping, naming the closest mapped names."""
    with _REPORTED_LOCK:
        first = layer_name not in _REPORTED_UNMAPPED
        _REPORTED_UNMAPPED.add(layer_name)
    if not first:
        logger.info("kernelize: %s (%s): no kernel mapping for this layer; keeping its own forward",
                    qualname, layer_name)
        return
    mapped = sorted(name for name, devices in current_mapping().items() if devices)
    close = difflib.get_close_matches(layer_name, mapped, n=3)
    if close:
        hint = "closest mapped names: " + ", ".join(repr(name) for name in close)
    elif mapped:
        shown = ", ".join(repr(name) for name in mapped[:10])
        hint = f"no mapped name is close; mapped names: {shown}{', ...' if len(mapped) > 10 else ''}"
    else:
        hint = "the kernel mapping is empty"
    logger.warning("kernelize: no kernel mapping for layer %r (keeping its own forward); %s", layer_name, hint)


class KernelizeFallback(enum.Flag):
    """When ``kernelize`` may keep a module's own ``forward`` instead of raising.

    - ``NO_LAYER``: no mapping for the layer name;
    - ``NO_DEVICE``: the layer has no mapping for this device type;
    - ``NO_COMPATIBLE_PROPERTIES``: no registered capability range holds this GPU's;
    - ``NO_COMPATIBLE_MODE``: no registration for a usable mode, or the kernel layer lacks the
      backward pass (TRAINING) or ``torch.compile`` support (TORCH_COMPILE) the mode needs;
    - ``CANNOT_LOAD``: the kernel has no variant for this environment (``FileNotFoundError``).

    ``DEFAULT`` (what ``use_fallback=True`` means) is the first four, ``ALL`` all five, ``NONE``
    (``use_fallback=False``) none.

    Example::

        >>> from kernels import KernelizeFallback
        >>> KernelizeFallback.CANNOT_LOAD in KernelizeFallback.DEFAULT
        False
    """

    NONE = 0
    NO_LAYER = enum.auto()
    NO_DEVICE = enum.auto()
    NO_COMPATIBLE_PROPERTIES = enum.auto()
    NO_COMPATIBLE_MODE = enum.auto()
    CANNOT_LOAD = enum.auto()
    DEFAULT = NO_LAYER | NO_DEVICE | NO_COMPATIBLE_PROPERTIES | NO_COMPATIBLE_MODE
    ALL = DEFAULT | CANNOT_LOAD


class _NoKernel(Exception):
    """Internal: no kernel for a module, for the reason ``kind`` (a KernelizeFallback)."""

    def __init__(self, kind: KernelizeFallback, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _fallback_flags(use_fallback: Union[bool, KernelizeFallback]) -> KernelizeFallback:
    if use_fallback is True:
        return KernelizeFallback.DEFAULT
    if use_fallback is False:
        return KernelizeFallback.NONE
    if isinstance(use_fallback, KernelizeFallback):
        return use_fallback
    raise LayerMappingError(
        f"kernelize: use_fallback must be True, False or a KernelizeFallback, got {use_fallback!r}")


def _device_type(model: "nn.Module", device: Union[str, "torch.device", None]) -> str:
    if device is None:
        param = next(iter(model.parameters()), None)
        if param is None:
            param = next(iter(model.buffers()), None)
        if param is None:
            raise LayerMappingError(
                "kernelize: cannot tell the device type of a model without parameters or buffers; pass device= "
                "(e.g. device='cuda')")
        device_type = param.device.type
    elif isinstance(device, str):
        device_type = device.split(":", 1)[0]
    elif hasattr(device, "type"):
        device_type = device.type
    else:
        raise LayerMappingError(f"kernelize: device must be a string or torch.device, got {device!r}")
    if device_type == "cuda":
        import torch  # noqa: PLC0415

        if getattr(torch.version, "hip", None):
            device_type = "rocm"
    if device_type not in DEVICE_TYPES:
        raise LayerMappingError(
            f"kernelize: unknown device type {device_type!r}; use one of {', '.join(DEVICE_TYPES)}")
    return device_type


def _replaceable(model: "nn.Module") -> Iterator[Tuple[str, "nn.Module"]]:
    """``(qualified name, module)`` of every marked module and ``_kernel_funcs`` entry, once each."""
    seen = set()
    for name, module in model.named_modules():
        candidates = [(name, module)]
        funcs = getattr(module, "_kernel_funcs", None)
        if isinstance(funcs, dict):
            candidates += [(f"{name}._kernel_funcs[{key!r}]".lstrip("."), fn) for key, fn in funcs.items()]
        for qualname, candidate in candidates:
            if id(candidate) in seen or not isinstance(getattr(type(candidate), "kernel_layer_name", None), str):
                continue
            seen.add(id(candidate))
            yield qualname, candidate


def _restore(module: "nn.Module") -> None:
    if module.__dict__.pop(_MARK, None) is not None:
        module.__dict__.pop("forward", None)


def _select(layer_name: str, device_type: str, mode: Mode) -> Tuple[Any, Mode]:
    devices = current_mapping().get(layer_name)
    if not devices:
        raise _NoKernel(KernelizeFallback.NO_LAYER,
                        f"no kernel mapping for layer {layer_name!r}; register one with "
                        f"register_kernel_mapping or use_kernel_mapping")
    repo_set = devices.get(device_type)
    if repo_set is None:
        raise _NoKernel(KernelizeFallback.NO_DEVICE,
                        f"the kernel mapping for layer {layer_name!r} has no entry for device type {device_type!r} "
                        f"(it has: {', '.join(sorted(devices))}); add one to the mapping")
    capability = device_capability(device_type)
    repos = repo_set.select(capability)
    if repos is None:
        raise _NoKernel(KernelizeFallback.NO_COMPATIBLE_PROPERTIES,
                        f"no kernel for layer {layer_name!r} is registered for this {device_type} device's "
                        f"capability {capability}; register one whose capability range holds it")
    for candidate in fallback_order(mode):
        if candidate in repos:
            return repos[candidate], candidate
    raise _NoKernel(KernelizeFallback.NO_COMPATIBLE_MODE,
                    f"no kernel for layer {layer_name!r} on {device_type} is registered for mode "
                    f"{mode_label(mode)} (tried {', '.join(mode_label(m) for m in fallback_order(mode))}); "
                    "register one for a usable mode")


def _check_mode_support(layer: type, layer_name: str, repo: Any, mode: Mode, registered: Mode) -> None:
    """Raise if the layer was registered for a mode it cannot serve; _NoKernel if it cannot
    serve the requested mode."""
    has_backward = getattr(layer, "has_backward", True)
    can_compile = getattr(layer, "can_torch_compile", False)
    for flag, ok, what in ((Mode.TRAINING, has_backward, "has no backward pass (has_backward = False)"),
                           (Mode.TORCH_COMPILE, can_compile, "does not support torch.compile "
                                                             "(can_torch_compile is not True)")):
        if ok:
            continue
        if flag in registered:
            raise LayerMappingError(
                f"kernel layer from {repo} {what} but is registered for {layer_name!r} with mode "
                f"{mode_label(registered)}; register it for another mode")
        if flag in mode:
            raise _NoKernel(KernelizeFallback.NO_COMPATIBLE_MODE,
                            f"kernel layer from {repo} {what}, which mode {mode_label(mode)} needs")


def _kernelize_one(module: "nn.Module", layer_name: str, device_type: str, mode: Mode) -> Tuple[type, Any]:
    repo, registered = _select(layer_name, device_type, mode)
    try:
        layer = repo.load()
    except FileNotFoundError as exc:
        raise _NoKernel(KernelizeFallback.CANNOT_LOAD, f"cannot load {repo}: {exc}") from exc
    source = repo._source() if hasattr(repo, "_source") else str(repo)
    validate_layer(layer, type(module), name=f"{getattr(layer, '__name__', layer)!s} from {source}")
    _check_mode_support(layer, layer_name, repo, mode, registered)
    return layer, repo


def kernelize(model: "nn.Module", *, mode: Mode, device: Union[str, "torch.device", None] = None,
              use_fallback: Union[bool, KernelizeFallback] = True) -> "nn.Module":
    """Replace ``forward`` of the model's kernel-replaceable modules by kernel layers, in place.

    Args:
        model: the model.
        mode: ``Mode.INFERENCE`` or ``Mode.TRAINING``, optionally ``| Mode.TORCH_COMPILE``.
        device: device type to pick kernels for (``cpu cuda mps neuron npu rocm tpu xpu``);
            default: the device of the model's first parameter (``cuda`` becomes ``rocm`` on a
            ROCm torch).
        use_fallback: when no usable kernel is found, keep the module's own ``forward``
            (``True`` = :attr:`KernelizeFallback.DEFAULT`), raise (``False``), or choose per
            reason with a :class:`KernelizeFallback`.

    Returns:
        ``model`` itself. The chosen kernels are logged at INFO level (logger ``kernels``); a
        layer name without any mapping (likely a typo) is a WARNING, once per name per process.
        With ``DISABLE_KERNEL_MAPPING=1`` every module keeps (or gets back) its own ``forward``.

    Raises:
        ValueError: an invalid mode or device; no usable kernel for a layer where falling back
            is not allowed (the message says which layer and what to register); a kernel
            layer registered for a mode it cannot serve.
        TypeError: a kernel layer that is not pure (see :mod:`kernels.layer.validate`).
        FileNotFoundError: a kernel without a variant for this environment, unless
            ``KernelizeFallback.CANNOT_LOAD`` is allowed (a ``LayerLoadError``, also a
            ``ValueError``).

    Example::

        >>> import torch.nn as nn
        >>> from kernels import LocalLayerRepository, Mode, kernelize, use_kernel_mapping
        >>> model = nn.Sequential(nn.Linear(8, 8))
        >>> with use_kernel_mapping({"SiluAndMul": {"cpu": LocalLayerRepository(
        ...         "activation/build", layer_name="SiluAndMul")}}):
        ...     model = kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE)
    """
    mode = check_kernelize_mode(mode)
    allowed = _fallback_flags(use_fallback)
    device_type = _device_type(model, device)
    disabled = os.environ.get("DISABLE_KERNEL_MAPPING", "0").strip().lower() not in ("", "0", "false", "no")
    if disabled:
        logger.info("kernelize: DISABLE_KERNEL_MAPPING is set; every layer keeps its own forward")
    for qualname, module in _replaceable(model):
        _restore(module)
        if disabled:
            continue
        cls = type(module)
        layer_name: str = cls.kernel_layer_name  # type: ignore[attr-defined]
        condition = getattr(cls, "kernel_condition", None)
        if condition is not None and not condition(module):
            logger.debug("kernelize: %s (%s): condition is false, keeping its forward", qualname, layer_name)
            continue
        try:
            layer, repo = _kernelize_one(module, layer_name, device_type, mode)
        except _NoKernel as exc:
            if exc.kind in allowed and exc.kind is KernelizeFallback.NO_LAYER:
                _report_unmapped(qualname or "model", layer_name)
                continue
            if exc.kind in allowed:  # mapped, but not for this device/capability/mode: not a typo
                logger.info("kernelize: %s (%s): %s; keeping its own forward", qualname or "model", layer_name, exc)
                continue
            if exc.kind is KernelizeFallback.CANNOT_LOAD:
                raise LayerLoadError(
                    f"kernelize: {exc} (to keep the module's own forward instead, pass "
                    f"use_fallback=KernelizeFallback.ALL)") from exc.__cause__
            raise LayerMappingError(
                f"kernelize: {exc} (falling back to the module's own forward is not allowed: "
                f"use_fallback={use_fallback!r})") from None
        module.__dict__["forward"] = types.MethodType(layer.forward, module)
        module.__dict__[_MARK] = repo
        logger.info("kernelize: %s (%s) uses layer %s from %s for %s on %s",
                    qualname or "model", layer_name, getattr(layer, "__name__", layer), repo, mode, device_type)
    return model
