"""Which host C++ translation units share a precompiled header of torch (``kernels.precompiled-headers``).

Most of the compile time of a kernel's host-side C++ file is spent parsing torch's headers
(``<torch/all.h>`` alone is ~200k lines). With a precompiled header (PCH, CMake's
``target_precompile_headers``) that parse happens once per build, and every TU that includes
torch loads the parsed state instead. It pays when several TUs share it: the PCH itself costs
about one TU's parse, so a kernel with one or two host files gains little.

Rules (each keeps the TU's meaning: the PCH is force-included ahead of the TU's own lines):

- A TU is *eligible* when it is C++ (``.cpp``, ``.cc``, ``.cxx``; never CUDA, HIP or C), includes
  a header under ``torch/``, ``ATen/`` or ``c10/`` (itself or through a quoted header of the
  kernel), and has no ``#define``/``#undef`` before that first include (such a macro could change
  what torch's headers declare).
- One shared PCH of :data:`PCH_HEADERS`, built with the flags every target gets from torch
  (``kernel_base``), serves the targets without flags or definitions of their own: the torch
  binding and plain components. A component with its own flags (``-mavx512f``, ``-fopenmp``,
  defines) would invalidate a shared PCH (GCC refuses one made with other target options), so it
  gets its own PCH when it has :data:`OWN_PCH_MIN_TUS` eligible TUs or more, else none.
- ``auto`` (the default) uses PCHs only when at least :data:`AUTO_TUS_PER_JOB` eligible TUs per
  build job (and :data:`AUTO_MIN_TUS` at least) would use them, and no compiler cache wraps the
  compilers. Measured with GCC 12 and torch 2.13 (README "Build speed"): making the PCH of
  ``<torch/all.h>`` takes ~1.7x a plain TU's compile (it writes ~700 MB) and must finish before
  any TU that uses it starts; a TU using it then takes ~0.4x. So the critical path,
  ``T * TUs/jobs`` without, ``1.7 T + 0.4 T * TUs/jobs`` with, only shortens from about 3 TUs
  per job (``auto`` asks 4, a margin for the PCH's load time). With a compiler cache a PCH does not pay either: sccache 0.16 does serve PCH
  builds from its cache, but a cached build with the PCH is slower than one without (it
  stores and restores the ~700 MB PCH; benchmarks/pch_cache.py). ``on`` uses PCHs whenever a
  TU is eligible; ``off`` never.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

#: The values of ``kernels.precompiled-headers``.
CHOICES = ("auto", "on", "off")

#: What the shared PCH holds: the umbrella header of torch's C++ API, which includes ATen and c10.
PCH_HEADERS = ("torch/all.h",)

#: ``auto``: PCHs only when this many eligible TUs would use them ...
AUTO_MIN_TUS = 3

#: ... and at least this many per parallel build job (see the module docstring).
AUTO_TUS_PER_JOB = 4

#: A component with flags of its own gets a PCH of its own from this many eligible TUs.
OWN_PCH_MIN_TUS = 3

CXX_SUFFIXES = {".cpp", ".cc", ".cxx", ".c++"}
_TORCH_PREFIXES = ("torch/", "ATen/", "c10/")
_DIRECTIVE = re.compile(r'^\s*#\s*(include|define|undef)\b\s*([<"])?([^>"]*)')
#: Quoted headers followed to find torch includes: how deep (a header including a header ...).
_MAX_DEPTH = 4


@dataclass
class Target:
    """One CMake target of the generated project, as the PCH plan sees it."""

    name: str
    sources: List[Path]
    include_dirs: List[Path] = field(default_factory=list)
    #: flags or definitions of its own (a PCH made without them would not fit)
    own_flags: bool = False


@dataclass(frozen=True)
class PchPlan:
    """What the generated CMake does: targets sharing the PCH, targets with their own, and the
    sources of those targets that must not use it."""

    shared: Tuple[str, ...] = ()
    own: Tuple[str, ...] = ()
    skip: Tuple[Path, ...] = ()
    #: eligible TUs that use a PCH
    tus: int = 0

    def __bool__(self) -> bool:
        return bool(self.shared or self.own)


def plan_pch(choice: str, targets: Sequence[Target], compiler_cache: Optional[object], jobs: int = 1) -> PchPlan:
    """The :class:`PchPlan` for ``choice`` (see :data:`CHOICES`) over ``targets``.

    ``compiler_cache`` is the launcher in use (None: none) and ``jobs`` the parallel build jobs;
    ``auto`` stays off with a compiler cache or with fewer than :data:`AUTO_TUS_PER_JOB` TUs a job.
    """
    if choice == "off" or (choice == "auto" and compiler_cache is not None):
        return PchPlan()
    shared: List[str] = []
    own: List[str] = []
    skip: List[Path] = []
    tus = 0
    for target in targets:
        eligible = [s for s in target.sources if includes_torch_first(s, target.include_dirs)]
        if not eligible or (target.own_flags and len(eligible) < OWN_PCH_MIN_TUS):
            continue
        (own if target.own_flags else shared).append(target.name)
        skip += [s for s in target.sources if s not in eligible]
        tus += len(eligible)
    if choice == "auto" and tus < max(AUTO_MIN_TUS, AUTO_TUS_PER_JOB * jobs):
        return PchPlan()
    return PchPlan(tuple(shared), tuple(own), tuple(skip), tus)


def includes_torch_first(source: Path, include_dirs: Iterable[Path]) -> bool:
    """Whether ``source`` is an eligible C++ TU (see the module docstring)."""
    if source.suffix.lower() not in CXX_SUFFIXES:
        return False
    return _scan(source, [source.parent, *include_dirs], set(), 0) is True


def _scan(path: Path, include_dirs: List[Path], seen: Set[Path], depth: int) -> Optional[bool]:
    """True: a torch header is included before any macro is defined; False: a macro comes
    first; None: neither in this file (nor in the quoted headers it includes)."""
    if path in seen or depth > _MAX_DEPTH:
        return None
    seen.add(path)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        match = _DIRECTIVE.match(line)
        if match is None:
            continue
        kind, bracket, name = match.groups()
        if kind != "include":
            return False
        name = name.strip()
        if bracket == "<" and name.startswith(_TORCH_PREFIXES):
            return True
        if bracket == '"':
            header = _resolve(name, [path.parent, *include_dirs])
            found = _scan(header, include_dirs, seen, depth + 1) if header else None
            if found is not None:
                return found
    return None


def _resolve(name: str, dirs: Iterable[Path]) -> Optional[Path]:
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def cmake_lines(plan: PchPlan, headers: Sequence[str] = PCH_HEADERS) -> List[str]:
    """The generated CMake that applies ``plan`` (``kernel_precompile_torch_headers``, cmake/kernels.cmake)."""
    if not plan:
        return []
    out = ["kernel_precompile_torch_headers("]
    out.append("  HEADERS " + " ".join(f"<{h}>" for h in headers))
    if plan.shared:
        out.append("  SHARED " + " ".join(plan.shared))
    if plan.own:
        out.append("  OWN " + " ".join(plan.own))
    if plan.skip:
        out.append("  SKIP " + " ".join(_quote(p) for p in plan.skip))
    out.append(")")
    return out


def _quote(path: Path) -> str:
    text = str(path)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def describe(plan: PchPlan) -> Dict[str, object]:
    """For the build's progress line: how many TUs use which PCH."""
    return {"tus": plan.tus, "shared": list(plan.shared), "own": list(plan.own)}
