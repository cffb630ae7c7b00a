"""Which CUDA architectures a kernel component is compiled for, and the nvcc flags for them.

Effective capabilities = the component's ``cuda-capabilities`` (or the builder's default list
for the nvcc in use) intersected with the architectures that nvcc supports. Each gets SASS
(``code=sm_XY``); the newest also gets PTX (``code=compute_XY``) so that future GPUs can JIT
it, and so does every capability written with ``+PTX``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple

from .errors import ToolchainError

_CAP_RE = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(?P<suffix>[af]?)(?P<ptx>\+PTX)?$")


def default_capabilities(nvcc_version: Tuple[int, int]) -> Tuple[str, ...]:
    """The builder's default list, by toolkit version (as upstream kernel-builder uses)."""
    if nvcc_version >= (13, 0):
        return ("7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "11.0", "12.0", "12.1+PTX")
    if nvcc_version >= (12, 8):
        return ("7.0", "7.2", "7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "10.1", "12.0+PTX")
    return ("7.0", "7.2", "7.5", "8.0", "8.6", "8.7", "8.9", "9.0+PTX")


@dataclass(frozen=True, order=True)
class Capability:
    major: int
    minor: int
    suffix: str = ""  # "", "a" (arch-specific) or "f" (family)
    ptx: bool = False

    @classmethod
    def parse(cls, text: str) -> "Capability":
        m = _CAP_RE.match(text)
        if not m:
            raise ValueError(f"invalid CUDA capability {text!r}")
        return cls(int(m["major"]), int(m["minor"]), m["suffix"], bool(m["ptx"]))

    @property
    def base(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def compute(self) -> str:
        return f"{self.major}{self.minor}{self.suffix}"

    def __str__(self) -> str:
        return f"{self.base}{self.suffix}{'+PTX' if self.ptx else ''}"


def effective_capabilities(
    requested: Optional[Sequence[str]],
    nvcc_version: Tuple[int, int],
    nvcc_supported: Iterable[str],
    *,
    narrow_to: Optional[Sequence[str]] = None,
    narrowed_by: str = "",
    component: str = "",
) -> Tuple[Capability, ...]:
    """Capabilities to compile for, sorted oldest first, PTX flagged where it is emitted.

    ``narrow_to`` (the ``kernels.cuda-capabilities`` setting, or the visible GPUs' archs for
    ``native``) replaces the default list for components without ``cuda-capabilities`` and
    narrows explicit lists to its bases. ``narrowed_by`` says where ``narrow_to`` came from,
    for the error raised when the narrowing leaves a component no arch.

    Raises:
        ToolchainError: no capability is left; the message names the component, what it
            declares, the narrowing (if any) and what nvcc supports.
    """
    supported = set(nvcc_supported)
    where = f"kernel.{component}.cuda-capabilities" if component else "cuda-capabilities"
    if requested is None:
        wanted = list(narrow_to) if narrow_to else list(default_capabilities(nvcc_version))
    else:
        wanted = list(requested)
        if narrow_to:
            bases = {Capability.parse(c).base for c in narrow_to}
            wanted = [c for c in wanted if Capability.parse(c).base in bases]
            if not wanted:
                setting = narrowed_by or f"kernels.cuda-capabilities={';'.join(narrow_to)}"
                raise ToolchainError(
                    f"{where}: the kernel declares {', '.join(requested)}, and {setting} narrows "
                    f"the build to {', '.join(narrow_to)}, which leaves it no arch; narrow to one of "
                    f"its capabilities (-C kernels.cuda-capabilities={Capability.parse(requested[-1]).base}) "
                    "or leave the setting out."
                )
    caps = sorted({Capability.parse(c) for c in wanted if Capability.parse(c).base in supported})
    if not caps:
        raise ToolchainError(
            f"{where}: none of {', '.join(wanted) or '(none)'} is supported by nvcc "
            f"{nvcc_version[0]}.{nvcc_version[1]} (it supports {', '.join(sorted(supported, key=_key))}); "
            "widen cuda-capabilities or use another CUDA toolkit."
        )
    newest = max(caps, key=lambda c: (c.major, c.minor))
    return tuple(
        Capability(c.major, c.minor, c.suffix, c.ptx or c is newest) for c in caps
    )


def _key(base: str) -> Tuple[int, int]:
    major, minor = base.split(".")
    return int(major), int(minor)


def gencode_flags(caps: Sequence[Capability]) -> Tuple[str, ...]:
    """``-gencode`` flags: SASS for every capability, PTX where flagged."""
    flags = []
    for cap in caps:
        flags.append(f"-gencode=arch=compute_{cap.compute},code=sm_{cap.compute}")
        if cap.ptx:
            flags.append(f"-gencode=arch=compute_{cap.compute},code=compute_{cap.compute}")
    return tuple(flags)


def metadata_archs(all_caps: Iterable[Capability]) -> Tuple[str, ...]:
    """``backend.archs`` of metadata.json: deduplicated and string-sorted, as the contract says."""
    return tuple(sorted({str(c) for c in all_caps}))
