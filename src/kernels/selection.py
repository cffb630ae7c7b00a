"""Which build variants of a kernel this process can load, and which one it prefers.

A kernel repository holds one directory per build variant (``build/<variant>/``). This module
decides, for a list of variant names, which ones the current process can run (contract §2.4),
orders the accepted ones by preference (§2.5) and gives every rejected one a one-line reason::

    >>> env = Environment(torch_version=(2, 13), cxx11_abi=True, backend="cuda",
    ...                   backend_version=(13, 0), cpu="x86_64", os="linux")
    >>> decisions = evaluate_variants(
    ...     ["torch212-cxx11-cu130-x86_64-linux", "torch-cuda",
    ...      "torch213-cxx11-cu130-x86_64-linux"], env)
    >>> [d.variant_str for d in decisions]
    ['torch213-cxx11-cu130-x86_64-linux', 'torch-cuda', 'torch212-cxx11-cu130-x86_64-linux']
    >>> decisions[-1].reason
    'built for torch 2.12, this is torch 2.13'
    >>> best_variant(decisions).name
    'torch213-cxx11-cu130-x86_64-linux'

Everything acceptance depends on lives in :class:`Environment`, so tests build environments by
hand and only :meth:`Environment.detect` looks at the real process. Importing this module does
not import torch; ``detect`` does, lazily.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.metadata
import importlib.util
import platform
import re
import sys
import sysconfig
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

from .variants import ArchVariant, NoarchVariant, Variant, host_cpu, host_os, parse_variant

__all__ = [
    "Decision",
    "Environment",
    "VariantAccepted",
    "VariantRejected",
    "best_variant",
    "evaluate_variants",
    "explain",
    "preference_key",
]

MajorMinor = Tuple[int, int]

#: Metal variants are compiled with ``-std=metal4.0``, which needs macOS 26.
METAL_MIN_MACOS: MajorMinor = (26, 0)

#: Backends whose variants carry a toolkit version that must match exactly.
_EXACT_VERSION_BACKENDS = ("rocm", "xpu", "cann")

#: Human spelling of backends in reasons (``CUDA 13.0``, ``ROCm 7.1``).
_BACKEND_TITLE = {"cuda": "CUDA", "rocm": "ROCm", "xpu": "XPU", "cann": "CANN"}

_VERSION_RE = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?")


def _major_minor(text: Optional[str]) -> Optional[MajorMinor]:
    """The first two numbers of a version string, or ``None``.

    >>> _major_minor("2.13.0+cpu"), _major_minor("7.1.25424-4179531dcd"), _major_minor("26")
    ((2, 13), (7, 1), (26, 0))
    >>> _major_minor("unknown") is None
    True
    """
    if not text:
        return None
    m = _VERSION_RE.match(str(text))
    if not m:
        return None
    return int(m[1]), int(m[2] or 0)


def _fmt(version: Optional[Sequence[int]]) -> str:
    """``(2, 13)`` -> ``"2.13"``; ``None`` -> ``"unknown"``.

    >>> _fmt((13, 0)), _fmt(None)
    ('13.0', 'unknown')
    """
    return "unknown" if version is None else ".".join(str(p) for p in version)


def _backend_str(backend: str, version: Optional[Sequence[int]]) -> str:
    """A backend as reasons spell it.

    >>> _backend_str("cuda", (13, 0)), _backend_str("rocm", (7, 1)), _backend_str("cpu", None)
    ('CUDA 13.0', 'ROCm 7.1', 'cpu')
    """
    title = _BACKEND_TITLE.get(backend)
    if title is None:
        return backend
    return f"{title} {_fmt(version)}" if version is not None else title


def _noarch_name(backend: str) -> str:
    """The suffix a noarch variant uses for a backend: ``cann`` -> ``npu``.

    >>> _noarch_name("cann"), _noarch_name("cuda")
    ('npu', 'cuda')
    """
    return NoarchVariant(backend).name[len("torch-"):]


# --------------------------------------------------------------------------- environment


@dataclass(frozen=True)
class Environment:
    """What this process can run: everything variant acceptance depends on.

    Built by :meth:`detect` for the running process, or by hand (tests, ``kernels versions``
    for another machine)::

        >>> env = Environment(torch_version=(2, 13), cxx11_abi=True, backend="cpu",
        ...                   backend_version=None, cpu="x86_64", os="linux")
        >>> env.describe()
        'torch 2.13 cxx11, cpu, x86_64-linux'

    ``free_threaded`` means a free-threaded CPython that cannot load ``abi3`` extensions
    (before 3.15): with it, no arch variant is accepted. ``cxx11_abi`` is ``None`` when torch
    is absent and, as in kernels 0.17.2, off Linux (where variant names carry no ABI tag).
    """

    torch_version: Optional[MajorMinor]
    cxx11_abi: Optional[bool]
    backend: str
    backend_version: Optional[MajorMinor]
    cpu: str
    os: str
    free_threaded: bool = False
    macos_version: Optional[MajorMinor] = None
    tvm_ffi_version: Optional[MajorMinor] = None

    @classmethod
    def detect(cls) -> "Environment":
        """The environment of the running process (imports torch and tvm_ffi if installed).

        Backend order (contract §2.2): ``torch.backends.tpu`` -> tpu, ``torch.neuron`` ->
        neuron, ``torch.version.cuda`` -> cuda, ``torch.version.hip`` -> rocm, MPS available
        -> metal, ``torch.version.xpu`` -> xpu, privateuse1 ``npu`` -> cann, else cpu. Without
        torch, a loadable ``libcudart`` gives cuda, else cpu.

            >>> Environment.detect().os in ("linux", "darwin", "windows")
            True
        """
        os_name = host_os()
        torch = _import_torch()
        if torch is None:
            torch_version, cxx11_abi = None, None
            backend, backend_version = _backend_without_torch()
        else:
            torch_version = _major_minor(torch.__version__)
            cxx11_abi = bool(torch.compiled_with_cxx11_abi()) if os_name == "linux" else None
            backend, backend_version = _torch_backend(torch)
        return cls(
            torch_version=torch_version,
            cxx11_abi=cxx11_abi,
            backend=backend,
            backend_version=backend_version,
            cpu=host_cpu(),
            os=os_name,
            free_threaded=_free_threaded_without_abi3(),
            macos_version=_macos_version() if os_name == "darwin" else None,
            tvm_ffi_version=_tvm_ffi_version(),
        )

    @property
    def platform(self) -> str:
        """``cpu-os`` as variant names end: ``x86_64-linux``."""
        return f"{self.cpu}-{self.os}"

    def describe(self, backend: Optional[str] = None) -> str:
        """The environment in one line; ``backend`` names a selected backend other than the
        detected one.

        >>> Environment((2, 13), True, "cuda", (13, 0), "x86_64", "linux").describe()
        'torch 2.13 cxx11, CUDA 13.0, x86_64-linux'
        >>> Environment((2, 13), True, "cuda", (13, 0), "x86_64", "linux").describe("cpu")
        'torch 2.13 cxx11, cpu (selected; detected CUDA 13.0), x86_64-linux'
        """
        parts = [self._torch_str()]
        if self.tvm_ffi_version is not None:
            parts.append(f"tvm-ffi {_fmt(self.tvm_ffi_version)}")
        detected = _backend_str(self.backend, self.backend_version)
        if backend is not None and backend != self.backend:
            parts.append(f"{backend} (selected; detected {detected})")
        else:
            parts.append(detected)
        parts.append(self.platform)
        if self.macos_version is not None:
            parts.append(f"macOS {_fmt(self.macos_version)}")
        if self.free_threaded:
            parts.append("free-threaded Python")
        return ", ".join(parts)

    def _torch_str(self) -> str:
        if self.torch_version is None:
            return "torch not installed"
        abi = {True: " cxx11", False: " cxx98", None: ""}[self.cxx11_abi]
        return f"torch {_fmt(self.torch_version)}{abi}"


def _import_torch() -> Any:
    """``torch`` if it is installed, else ``None``."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_backend(torch: Any) -> Tuple[str, Optional[MajorMinor]]:
    """The backend torch was built for and runs on, in the order of contract §2.2."""
    if hasattr(torch.backends, "tpu"):
        return "tpu", None
    if hasattr(torch, "neuron"):
        return "neuron", None
    if getattr(torch.version, "cuda", None):
        return "cuda", _major_minor(torch.version.cuda)
    if getattr(torch.version, "hip", None):
        return "rocm", _major_minor(torch.version.hip.split("-")[0])
    if _mps_available(torch):
        return "metal", None
    xpu = getattr(torch.version, "xpu", None)
    if xpu:
        return "xpu", _xpu_version(str(xpu))
    if _privateuse1_name(torch) == "npu":
        return "cann", _cann_version()
    return "cpu", None


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    try:
        return bool(mps is not None and mps.is_available())
    except Exception:  # noqa: BLE001 - a broken MPS probe means no MPS
        return False


def _xpu_version(text: str) -> Optional[MajorMinor]:
    """``torch.version.xpu`` is ``YYYYMMPP``-like; the runtime reads ``[0:4]`` and ``[5]``.

    >>> _xpu_version("20250300"), _xpu_version("2025.3") , _xpu_version("x")
    ((2025, 3), (2025, 3), None)
    """
    if re.fullmatch(r"\d{6,}", text):
        return int(text[0:4]), int(text[5])
    return _major_minor(text)


def _privateuse1_name(torch: Any) -> Optional[str]:
    getter = getattr(torch._C, "_get_privateuse1_backend_name", None)
    return getter() if getter is not None else None


def _cann_version() -> Optional[MajorMinor]:
    """CANN version from ``torch_npu`` (``"8.0.RC1"`` -> ``(8, 0)``), ``None`` if unknown."""
    try:
        from torch_npu.utils.collect_env import get_cann_version  # type: ignore[import-not-found]

        return _major_minor(str(get_cann_version()))
    except Exception:  # noqa: BLE001 - torch_npu variations: the version is then unknown
        return None


def _backend_without_torch() -> Tuple[str, Optional[MajorMinor]]:
    """Without torch: cuda if ``libcudart`` loads and reports its version, else cpu."""
    version = _cudart_version()
    return ("cuda", version) if version is not None else ("cpu", None)


def _cudart_version() -> Optional[MajorMinor]:
    """``cudaRuntimeGetVersion`` (``13000`` -> ``(13, 0)``), ``None`` without libcudart."""
    name = ctypes.util.find_library("cudart")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        value = ctypes.c_int(0)
        if lib.cudaRuntimeGetVersion(ctypes.byref(value)) != 0:
            return None
    except (OSError, AttributeError):
        return None
    return value.value // 1000, (value.value % 1000) // 10


def _free_threaded_without_abi3() -> bool:
    """True on free-threaded CPython before 3.15, which cannot load ``abi3`` extensions."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and sys.version_info < (3, 15)


def _macos_version() -> Optional[MajorMinor]:
    return _major_minor(platform.mac_ver()[0])


def _tvm_ffi_version() -> Optional[MajorMinor]:
    """The installed ``tvm_ffi`` version: from package metadata, importing only as a fallback."""
    try:
        if importlib.util.find_spec("tvm_ffi") is None:
            return None
    except (ImportError, ValueError):  # a broken install or an import hook that hides it: absent
        return None
    try:
        return _major_minor(importlib.metadata.version("apache-tvm-ffi"))
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        import tvm_ffi  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - an unimportable tvm_ffi counts as absent
        return None
    return _major_minor(getattr(tvm_ffi, "__version__", None))


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class VariantAccepted:
    """A variant this process can load.

    >>> VariantAccepted(parse_variant("torch-cuda")).variant_str
    'torch-cuda'
    """

    variant: Variant

    @property
    def variant_str(self) -> str:
        return self.variant.name


@dataclass(frozen=True)
class VariantRejected:
    """A variant this process cannot load, with a one-line reason.

    ``variant`` is the name itself when it does not parse as a variant.

    >>> VariantRejected("build-tools", "not a variant name").variant_str
    'build-tools'
    """

    variant: Union[Variant, str]
    reason: str

    @property
    def variant_str(self) -> str:
        return self.variant if isinstance(self.variant, str) else self.variant.name


Decision = Union[VariantAccepted, VariantRejected]


def evaluate_variants(
    names: Iterable[Union[str, Variant]], env: Environment, backend: Optional[str] = None
) -> List[Decision]:
    """Decide every variant: accepted ones first, best first, then rejected ones in input order.

    ``backend=None`` selects the detected backend ``env.backend``; otherwise ``backend`` must
    be ``"cpu"`` or ``env.backend`` (``ValueError`` else). Parsed variants are accepted too.

    >>> env = Environment((2, 13), True, "cuda", (13, 0), "x86_64", "linux")
    >>> [d.variant_str for d in evaluate_variants(["torch-cpu", "torch-cuda"], env, "cpu")]
    ['torch-cpu', 'torch-cuda']
    >>> evaluate_variants(["torch-cuda"], env, "rocm")
    Traceback (most recent call last):
    ...
    ValueError: invalid backend 'rocm': this system supports only cpu and cuda
    """
    selected, selected_version = _select_backend(env, backend)
    decisions = [_decide(name, env, selected, selected_version) for name in names]
    accepted = [d for d in decisions if isinstance(d, VariantAccepted)]
    rejected = [d for d in decisions if isinstance(d, VariantRejected)]
    return _sorted_accepted(accepted) + rejected


def _select_backend(env: Environment, backend: Optional[str]) -> Tuple[str, Optional[MajorMinor]]:
    """The selected backend and its version; only ``cpu`` or the detected one may be asked for.

    >>> env = Environment((2, 13), True, "cuda", (13, 0), "x86_64", "linux")
    >>> _select_backend(env, None), _select_backend(env, "cpu")
    (('cuda', (13, 0)), ('cpu', None))
    """
    if backend is None or backend == env.backend:
        return env.backend, env.backend_version
    if backend == "cpu":
        return "cpu", None
    supported = "cpu" if env.backend == "cpu" else f"cpu and {env.backend}"
    raise ValueError(f"invalid backend {backend!r}: this system supports only {supported}")


def _decide(
    name: Union[str, Variant], env: Environment, backend: str, version: Optional[MajorMinor]
) -> Decision:
    """Accept or reject one variant name against the environment and selected backend."""
    variant_or_reason = _parse(name)
    if isinstance(variant_or_reason, VariantRejected):
        return variant_or_reason
    variant = variant_or_reason
    if isinstance(variant, NoarchVariant):
        reason = _noarch_reason(variant, backend)
    else:
        reason = _arch_reason(variant, env, backend, version)
    return VariantAccepted(variant) if reason is None else VariantRejected(variant, reason)


def _parse(name: Union[str, Variant]) -> Union[Variant, VariantRejected]:
    """A variant, or a rejection for names that do not parse or are not spelled canonically.

    A non-canonical name (``torch-cann``, which this runtime spells ``torch-npu``) is rejected:
    the decision's ``variant_str`` must name the directory it came from.

    >>> _parse("torch-cann").reason
    'not a canonical variant name: this runtime spells it torch-npu'
    """
    if isinstance(name, (ArchVariant, NoarchVariant)):
        return name
    try:
        variant = parse_variant(name)
    except ValueError as exc:
        detail = str(exc).split(": ", 1)[-1]
        return VariantRejected(name, f"not a variant name ({detail})")
    if variant.name != name:
        return VariantRejected(
            name, f"not a canonical variant name: this runtime spells it {variant.name}"
        )
    return variant


def _noarch_reason(variant: NoarchVariant, backend: str) -> Optional[str]:
    """Noarch variants fit the selected backend (cann as ``npu``) or everything (universal).

    >>> _noarch_reason(NoarchVariant("cuda"), "cpu")
    'noarch variant for cuda, selected backend is cpu'
    """
    if variant.backend in ("universal", backend):
        return None
    return f"noarch variant for {_noarch_name(variant.backend)}, selected backend is {backend}"


def _arch_reason(
    variant: ArchVariant, env: Environment, backend: str, version: Optional[MajorMinor]
) -> Optional[str]:
    """Why an arch variant does not fit, checked in the order of kernels 0.17.2, or ``None``."""
    if env.free_threaded:
        return (
            "arch variants need the abi3 stable ABI, "
            "which free-threaded Python before 3.15 cannot load"
        )
    if (variant.cpu, variant.os) != (env.cpu, env.os):
        return f"for {variant.cpu}-{variant.os}, this is {env.platform}"
    return _framework_reason(variant, env) or _backend_reason(variant, env, backend, version)


def _framework_reason(variant: ArchVariant, env: Environment) -> Optional[str]:
    """Torch / stable-ABI / tvm-ffi version and C++ ABI checks.

    >>> env = Environment((2, 13), True, "cpu", None, "x86_64", "linux")
    >>> _framework_reason(parse_variant("torch-stable-abi214-cpu-x86_64-linux"), env)
    'needs torch 2.14 or newer (stable ABI 2.14), this is torch 2.13'
    """
    built = variant.framework_version[:2]
    if variant.framework == "torch":
        if env.torch_version is None:
            return f"built for torch {_fmt(built)}, torch is not installed"
        if built != env.torch_version:
            return f"built for torch {_fmt(built)}, this is torch {_fmt(env.torch_version)}"
        return _cxx_abi_reason(variant.cxx_abi, env.cxx11_abi)
    if variant.framework == "torch-stable-abi":
        if env.torch_version is None:
            return f"needs torch {_fmt(built)} or newer (stable ABI), torch is not installed"
        if built > env.torch_version:
            return (
                f"needs torch {_fmt(built)} or newer (stable ABI {_fmt(built)}), "
                f"this is torch {_fmt(env.torch_version)}"
            )
        return None
    if env.tvm_ffi_version is None:
        return (f"built for tvm-ffi {_fmt(built)}, tvm-ffi is not installed "
                f"(pip install 'apache-tvm-ffi=={_fmt(built)}.*')")
    if built != env.tvm_ffi_version:
        return f"built for tvm-ffi {_fmt(built)}, this is tvm-ffi {_fmt(env.tvm_ffi_version)}"
    return None


def _cxx_abi_reason(tag: Optional[str], cxx11_abi: Optional[bool]) -> Optional[str]:
    """A tagged torch variant needs the matching torch C++ ABI; tagless ones always pass.

    >>> _cxx_abi_reason("cxx11", False)
    'needs the C++11 ABI (cxx11), this torch uses the pre-C++11 ABI (cxx98)'
    >>> _cxx_abi_reason(None, False) is None
    True
    """
    if tag is None:
        return None
    wanted = tag == "cxx11"
    if cxx11_abi == wanted:
        return None
    need = "the C++11 ABI (cxx11)" if wanted else "the pre-C++11 ABI (cxx98)"
    have = {
        True: "this torch uses the C++11 ABI (cxx11)",
        False: "this torch uses the pre-C++11 ABI (cxx98)",
        None: "the C++ ABI of this torch is unknown",
    }[cxx11_abi]
    return f"needs {need}, {have}"


def _backend_reason(
    variant: ArchVariant, env: Environment, backend: str, version: Optional[MajorMinor]
) -> Optional[str]:
    """Backend and toolkit checks: CUDA minor-compatible, ROCm/XPU/CANN exact, Metal macOS 26.

    >>> env = Environment((2, 13), True, "cuda", (13, 0), "x86_64", "linux")
    >>> _backend_reason(parse_variant("torch213-cxx11-cu132-x86_64-linux"), env, "cuda", (13, 0))
    "CUDA 13.2 is newer than this system's CUDA 13.0"
    """
    if variant.backend != backend:
        return f"built for {variant.compute}, selected backend is {_backend_str(backend, version)}"
    built = variant.backend_version
    if backend == "cuda":
        return _cuda_reason(built, version)
    if backend in _EXACT_VERSION_BACKENDS and (built is None or tuple(built[:2]) != version):
        title = _BACKEND_TITLE[backend]
        return f"built for {title} {_fmt(built)}, this system has {_backend_str(backend, version)}"
    if backend == "metal":
        return _metal_reason(env.macos_version)
    return None


def _cuda_reason(built: Optional[Sequence[int]], system: Optional[MajorMinor]) -> Optional[str]:
    """Same CUDA major, and a minor no newer than the system's.

    >>> _cuda_reason((12, 8), (13, 0))
    'CUDA 12.8 needs CUDA 12.x, this system has CUDA 13.0'
    >>> _cuda_reason((13, 0), (13, 2)) is None
    True
    """
    if system is None:
        return f"CUDA {_fmt(built)} needs a known CUDA version, this system's is unknown"
    if built is None or built[0] != system[0]:
        major = built[0] if built else "?"
        return f"CUDA {_fmt(built)} needs CUDA {major}.x, this system has CUDA {_fmt(system)}"
    if built[1] > system[1]:
        return f"CUDA {_fmt(built)} is newer than this system's CUDA {_fmt(system)}"
    return None


def _metal_reason(macos: Optional[MajorMinor]) -> Optional[str]:
    """Metal variants need macOS 26.0 or newer.

    >>> _metal_reason((15, 4))
    'Metal kernels need macOS 26.0 or newer, this is macOS 15.4'
    """
    if macos is not None and macos >= METAL_MIN_MACOS:
        return None
    have = "the macOS version is unknown" if macos is None else f"this is macOS {_fmt(macos)}"
    return f"Metal kernels need macOS {_fmt(METAL_MIN_MACOS)} or newer, {have}"


# --------------------------------------------------------------------------- preference


def preference_key(variant: Variant) -> Tuple[int, ...]:
    """Sort key of accepted variants, smaller is better (contract §2.5).

    (1) stable-ABI arch, newest ABI first, then highest backend minor; (2) torch arch, tagless
    before cxx-tagged, then highest backend minor; (3) tvm-ffi arch (minus its backend minor)
    and noarch (0) share a rank, so a stable sort keeps their input order on ties;
    (4) ``torch-universal``.

    >>> sorted(["torch-universal", "torch-cuda", "torch213-cu130-x86_64-linux"],
    ...        key=lambda n: preference_key(parse_variant(n)))
    ['torch213-cu130-x86_64-linux', 'torch-cuda', 'torch-universal']
    """
    if isinstance(variant, NoarchVariant):
        return (3, 0, 0, 0, 0) if variant.backend == "universal" else (2, 0, 0, 0, 0)
    minor = -variant.backend_version[1] if variant.backend_version else 0
    if variant.framework == "torch-stable-abi":
        major_abi, minor_abi = variant.framework_version[:2]
        return (0, -major_abi, -minor_abi, 0, minor)
    if variant.framework == "torch":
        return (1, 0, 0, 0 if variant.cxx_abi is None else 1, minor)
    return (2, 0, 0, 0, minor)


def _sorted_accepted(accepted: List[VariantAccepted]) -> List[VariantAccepted]:
    """Accepted decisions best first; ``sorted`` is stable, so ties keep input order."""
    return sorted(accepted, key=lambda d: preference_key(d.variant))


def best_variant(decisions: Iterable[Decision]) -> Optional[Variant]:
    """The preferred accepted variant, or ``None`` when nothing was accepted.

    Works on decisions in any order (ties go to the earliest accepted one).

    >>> env = Environment((2, 13), True, "cpu", None, "x86_64", "linux")
    >>> best_variant(evaluate_variants(["torch-cuda"], env)) is None
    True
    """
    accepted = [d for d in decisions if isinstance(d, VariantAccepted)]
    ranked = _sorted_accepted(accepted)
    return ranked[0].variant if ranked else None


def explain(decisions: Iterable[Decision], env: Environment, backend: Optional[str] = None) -> str:
    """A multi-line account: the environment, then every variant with ✅ or ❌ and its reason.

    ``backend`` names the selected backend when it was not the detected one. Used in the
    ``FileNotFoundError`` raised when no variant fits.

    >>> env = Environment((2, 13), True, "cpu", None, "x86_64", "linux")
    >>> print(explain(evaluate_variants(["torch-cpu", "torch-cuda"], env), env))
    environment: torch 2.13 cxx11, cpu, x86_64-linux
      ✅ torch-cpu: accepted (preferred)
      ❌ torch-cuda: noarch variant for cuda, selected backend is cpu
    """
    decisions = list(decisions)
    ranked = _sorted_accepted([d for d in decisions if isinstance(d, VariantAccepted)])
    best = ranked[0] if ranked else None
    lines = [f"environment: {env.describe(backend)}"]
    if not decisions:
        lines.append("  (no variants)")
    for decision in decisions:
        lines.append(_explain_line(decision, best))
    return "\n".join(lines)


def _explain_line(decision: Decision, best: Optional[VariantAccepted]) -> str:
    if isinstance(decision, VariantAccepted):
        preferred = " (preferred)" if decision is best else ""
        return f"  ✅ {decision.variant_str}: accepted{preferred}"
    return f"  ❌ {decision.variant_str}: {decision.reason}"
