"""The build-variant model, shared by the build backend and the runtime.

A *variant* names one build of a kernel: the framework it was built against, the compute
backend, the toolkit version and the platform. Variants appear as directory names in a Hub
repository (``build/<variant>/``) and, in compact form, as the local version label of a
kernel wheel (``relu-1.0.0+torch213cpucxx11-cp39-abi3-manylinux_2_28_x86_64.whl``).

Grammar (see the project's contract)::

    torch<M><m>[-cxx11|-cxx98]-<compute>-<cpu>-<os>      torch213-cxx11-cu130-x86_64-linux
    torch-stable-abi<M><m>-<compute>-<cpu>-<os>          torch-stable-abi210-cu130-x86_64-linux
    tvm-ffi<M><m>-<compute>-<cpu>-<os>                   tvm-ffi01-cu130-x86_64-linux
    torch-<backend>                                      torch-cuda   (no compiled code)
    torch-universal                                      legacy noarch, matches any backend

Nothing here imports torch at module level: ``import kernels`` must stay cheap.
"""

from __future__ import annotations

import platform as _platform
import re
import sys
from dataclasses import dataclass
from typing import Optional, Tuple, Union

__all__ = [
    "BACKENDS",
    "ArchVariant",
    "NoarchVariant",
    "Variant",
    "parse_variant",
    "parse_wheel_label",
    "compute_tag",
    "parse_compute_tag",
    "host_cpu",
    "host_os",
]

#: Every compute backend a build.toml may name (``general.backends``).
BACKENDS = ("cann", "cpu", "cuda", "metal", "neuron", "rocm", "tpu", "xpu")

#: Frameworks of arch variants, as written in variant names.
FRAMEWORKS = ("torch", "torch-stable-abi", "tvm-ffi")

#: Noarch variant names use ``npu`` for the CANN backend (the runtime's device name).
_NOARCH_NAME = {"cann": "npu"}
_NOARCH_BACKEND = {v: k for k, v in _NOARCH_NAME.items()}

Version = Tuple[int, ...]


def _format_mm(version: Version) -> str:
    """``(2, 13)`` -> ``"213"``; ``(0, 1)`` -> ``"01"`` (major then minor, no separator)."""
    return f"{version[0]}{version[1]}"


def compute_tag(backend: str, version: Optional[Version]) -> str:
    """The compute part of a variant name: ``("cuda", (13, 0))`` -> ``"cu130"``.

    Backends without a toolkit version (cpu, metal, tpu, neuron) are written bare.
    """
    if backend == "cuda":
        return f"cu{_require(version, backend)[0]}{version[1]}"  # type: ignore[index]
    if backend in ("rocm", "xpu", "cann"):
        v = _require(version, backend)
        return f"{backend}{v[0]}{v[1]}"
    if backend in ("cpu", "metal", "tpu", "neuron"):
        return backend
    raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")


def _require(version: Optional[Version], backend: str) -> Version:
    if version is None or len(version) < 2:
        raise ValueError(f"backend {backend!r} needs a major.minor toolkit version")
    return version


# CUDA majors have two digits since CUDA 10; XPU majors are years; ROCm and CANN one digit.
_COMPUTE_RE = re.compile(
    r"^(?:cu(?P<cu>\d{2})(?P<cum>\d+)|rocm(?P<rocm>\d)(?P<rocmm>\d+)|xpu(?P<xpu>\d{4})(?P<xpum>\d+)"
    r"|cann(?P<cann>\d)(?P<cannm>\d+)|(?P<bare>cpu|metal|tpu|neuron))$"
)


def parse_compute_tag(tag: str) -> Tuple[str, Optional[Version]]:
    """Inverse of :func:`compute_tag`: ``"cu130"`` -> ``("cuda", (13, 0))``."""
    m = _COMPUTE_RE.match(tag)
    if not m:
        raise ValueError(f"unknown compute tag {tag!r}")
    if m["bare"]:
        return m["bare"], None
    for backend, key in (("cuda", "cu"), ("rocm", "rocm"), ("xpu", "xpu"), ("cann", "cann")):
        if m[key]:
            return backend, (int(m[key]), int(m[key + "m"]))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class ArchVariant:
    """A variant with compiled code, tied to one framework version, backend and platform."""

    framework: str  # one of FRAMEWORKS
    framework_version: Version  # (major, minor)
    backend: str  # one of BACKENDS
    backend_version: Optional[Version]  # toolkit (major, minor), None for cpu/metal/...
    cpu: str  # x86_64 | aarch64
    os: str  # linux | darwin | windows
    cxx_abi: Optional[str] = None  # "cxx11" | "cxx98" | None (torch only; Linux only)

    @property
    def compute(self) -> str:
        return compute_tag(self.backend, self.backend_version)

    @property
    def name(self) -> str:
        """The variant string, e.g. ``torch213-cxx11-cpu-x86_64-linux``."""
        parts = [f"{self.framework}{_format_mm(self.framework_version)}"]
        if self.cxx_abi:
            parts.append(self.cxx_abi)
        parts += [self.compute, self.cpu, self.os]
        return "-".join(parts)

    @property
    def variant_str(self) -> str:
        """:attr:`name`, under the attribute name of the released ``kernels``."""
        return self.name

    @property
    def is_noarch(self) -> bool:
        return False

    @property
    def wheel_label(self) -> str:
        """Local version label of the wheel: ``torch214cu130cxx11``, ``torch213cpucxx11``.

        Together with the wheel's platform tag (which carries cpu and os) it maps one to one
        back to the variant name (:func:`parse_wheel_label`).
        """
        framework = self.framework.replace("-", "")
        return f"{framework}{_format_mm(self.framework_version)}{self.compute}{self.cxx_abi or ''}"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class NoarchVariant:
    """A variant without compiled code: ``torch-cuda``, ``torch-cpu``, ``torch-universal``."""

    backend: str  # one of BACKENDS, or "universal"

    @property
    def name(self) -> str:
        return f"torch-{_NOARCH_NAME.get(self.backend, self.backend)}"

    @property
    def variant_str(self) -> str:
        """:attr:`name`, under the attribute name of the released ``kernels``."""
        return self.name

    @property
    def is_noarch(self) -> bool:
        return True

    @property
    def wheel_label(self) -> str:
        return self.name.replace("-", "")

    def __str__(self) -> str:
        return self.name


Variant = Union[ArchVariant, NoarchVariant]

_ARCH_RE = re.compile(
    r"^(?P<fw>torch-stable-abi|tvm-ffi|torch)(?P<M>\d)(?P<m>\d+)"
    r"(?:-(?P<cxx>cxx11|cxx98))?-(?P<compute>[a-z]+\d*)-(?P<cpu>x86_64|aarch64)-(?P<os>linux|darwin|windows)$"
)
_NOARCH_RE = re.compile(r"^torch-(?P<b>[a-z]+)$")


def parse_variant(name: str) -> Variant:
    """Parse a variant string; raise ``ValueError`` naming the string when it is not one.

    >>> parse_variant("torch213-cxx11-cu130-x86_64-linux").backend_version
    (13, 0)
    """
    m = _ARCH_RE.match(name)
    if m:
        if m["cxx"] and m["fw"] != "torch":
            raise ValueError(f"invalid variant {name!r}: only torch variants carry a C++ ABI tag")
        backend, version = parse_compute_tag(m["compute"])
        return ArchVariant(
            framework=m["fw"],
            framework_version=(int(m["M"]), int(m["m"])),
            backend=backend,
            backend_version=version,
            cpu=m["cpu"],
            os=m["os"],
            cxx_abi=m["cxx"],
        )
    m = _NOARCH_RE.match(name)
    if m:
        b = _NOARCH_BACKEND.get(m["b"], m["b"])
        if b in BACKENDS or b == "universal":
            return NoarchVariant(b)
    raise ValueError(
        f"invalid variant {name!r}: expected e.g. torch213-cxx11-cpu-x86_64-linux, "
        "torch-stable-abi210-cu130-x86_64-linux or torch-cuda"
    )


_LABEL_RE = re.compile(
    r"^(?P<fw>torchstableabi|tvmffi|torch)(?P<M>\d)(?P<m>\d+)(?P<compute>cu\d+|rocm\d+|xpu\d+|cann\d+|cpu|metal|tpu|neuron)"
    r"(?P<cxx>cxx11|cxx98)?$"
)
_LABEL_FRAMEWORK = {"torch": "torch", "torchstableabi": "torch-stable-abi", "tvmffi": "tvm-ffi"}


def parse_wheel_label(label: str, platform_tag: str) -> Variant:
    """Recover the variant from a kernel wheel's local version label and platform tag.

    ``parse_wheel_label("torch213cpucxx11", "manylinux_2_28_x86_64").name`` is
    ``"torch213-cxx11-cpu-x86_64-linux"``; ``("torchcuda", "any")`` gives ``torch-cuda``.
    """
    if platform_tag == "any":
        m = re.match(r"^torch([a-z]+)$", label)
        if not m:
            raise ValueError(f"invalid noarch wheel label {label!r}")
        return parse_variant(f"torch-{m[1]}")
    m = _LABEL_RE.match(label)
    if not m:
        raise ValueError(f"invalid kernel wheel label {label!r}")
    backend, version = parse_compute_tag(m["compute"])
    cpu, os_name = _platform_from_tag(platform_tag)
    return ArchVariant(
        framework=_LABEL_FRAMEWORK[m["fw"]],
        framework_version=(int(m["M"]), int(m["m"])),
        backend=backend,
        backend_version=version,
        cpu=cpu,
        os=os_name,
        cxx_abi=m["cxx"],
    )


def _platform_from_tag(tag: str) -> Tuple[str, str]:
    for cpu in ("x86_64", "aarch64", "arm64", "amd64", "AMD64"):
        if tag.endswith(cpu):
            norm = normalize_cpu(cpu)
            if tag.startswith(("manylinux", "linux", "musllinux")):
                return norm, "linux"
            if tag.startswith("macosx"):
                return norm, "darwin"
            if tag.startswith("win"):
                return norm, "windows"
    raise ValueError(f"unsupported wheel platform tag {tag!r}")


def normalize_cpu(machine: str) -> str:
    """``arm64`` -> ``aarch64``, ``AMD64`` -> ``x86_64``."""
    m = machine.lower()
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(m, m)


def host_cpu() -> str:
    """This machine's CPU as variant names spell it."""
    return normalize_cpu(_platform.machine())


def host_os() -> str:
    """This machine's OS as variant names spell it (linux, darwin, windows)."""
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "darwin"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    return sys.platform


def parse_version(text: str) -> Version:
    """``"12.8"`` -> ``(12, 8)``; trailing zeros are dropped (``"2.10.0"`` -> ``(2, 10)``).

    Raises ``ValueError`` for anything but dotted integers.
    """
    if not isinstance(text, str) or not re.fullmatch(r"\d+(\.\d+)*", text):
        raise ValueError(f"{text!r} is not a version of dotted integers such as \"12.8\"")
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def version_key(version: Version, width: int = 3) -> Version:
    """Pad a version with zeros so that versions of different lengths compare correctly."""
    return tuple(version) + (0,) * (width - len(version))
