"""Compliance gate for built kernel extensions: Python stable ABI and manylinux rules.

A kernel wheel is tagged ``cp39-abi3-manylinux_2_28_<arch>``. That tag is a promise; this
module checks it for one compiled extension (``*.abi3.so``) or for every extension in a wheel:

* **abi3** -- the module uses only symbols of the Python stable ABI that exist in the
  requested Python version (3.9 by default). The symbol analysis is abi3audit's, reached
  through :func:`_abi3audit_findings`, the single place that touches its private API.
* **manylinux** -- every undefined *versioned* symbol (``GLIBC_``, ``GLIBCXX_``, ``CXXABI_``,
  ``GCC_``, ``LIBATOMIC_``, ``ZLIB_``...) is a version the policy allows. The policy data is
  auditwheel's (:class:`auditwheel.policy.WheelPolicies`), for the architecture in the ELF header.
* **library** -- every ``DT_NEEDED`` library is on the policy's whitelist or is a library torch
  provides or ships (:data:`DEFAULT_ALLOWED_LIBRARIES`, fnmatch patterns).
* **rpath** -- the module carries no ``DT_RPATH``/``DT_RUNPATH`` entry.

A TVM FFI library (a ``[tvm-ffi]`` kernel's ``<ops>.so``, wheel tag
``py3-none-manylinux_2_28_<arch>``) is checked with ``python_abi=None``: it may use no Python
symbol at all (rule **python-abi**: the "none" of its ABI tag) and may need only libtvm_ffi and
the CUDA libraries (:data:`TVM_FFI_ALLOWED_LIBRARIES`), never torch.

Each report also names the *best policy* the file really meets (the most compatible manylinux
policy whose symbol versions and library whitelist it satisfies), so that a wheel built with
the gate downgraded to a warning (``-C kernels.compliance=warn``) can still be tagged honestly
(:func:`wheel_platform_tag`).
"""

from __future__ import annotations

import fnmatch
import functools
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection

from auditwheel.architecture import Architecture
from auditwheel.libc import Libc
from auditwheel.policy import Policy, WheelPolicies

from .errors import ComplianceError

__all__ = [
    "DEFAULT_ALLOWED_LIBRARIES",
    "DEFAULT_POLICY",
    "TVM_FFI_ALLOWED_LIBRARIES",
    "ExtensionReport",
    "Violation",
    "check_extension",
    "check_wheel",
    "enforce",
    "failure_message",
    "wheel_platform_tag",
]

DEFAULT_POLICY = "manylinux_2_28"
"""The manylinux policy kernel wheels promise."""

DEFAULT_ALLOWED_LIBRARIES: Tuple[str, ...] = (
    # Libraries of torch itself (torch/lib), loaded by ``import torch`` before any kernel.
    "libtorch.so*",
    "libtorch_*.so*",
    "libc10.so*",
    "libc10_*.so*",
    "libshm.so*",
    "libgomp*.so*",  # OpenMP runtime that torch's wheels bundle
) + (
    # CUDA: the driver, and the runtime libraries torch's CUDA wheels depend on.
    "libcuda.so.1",
    "libcudart.so*",
    "libcublas.so*",
    "libcublasLt.so*",
    "libcudnn*.so*",
    "libcusparse*.so*",
    "libcufft*.so*",
    "libcurand.so*",
    "libcusolver*.so*",
    "libnvrtc*.so*",
    "libnvJitLink.so*",
    "libnvToolsExt.so*",
    "libnccl.so*",
    "libcupti.so*",
    "libcufile*.so*",
    "libnvshmem*.so*",
) + (
    # ROCm libraries torch's ROCm wheels ship.
    "libamdhip64.so*",
    "libhiprtc.so*",
    "libhipblas*.so*",
    "libhipsparse*.so*",
    "libhipfft.so*",
    "libhiprand.so*",
    "librocblas.so*",
    "librocrand.so*",
    "librocsolver.so*",
    "libMIOpen.so*",
    "librccl.so*",
    "libroctx64.so*",
    "libhsa-runtime64.so*",
    # Intel XPU (SYCL / oneAPI) libraries torch's XPU wheels ship.
    "libsycl*.so*",
    "libdnnl*.so*",
    "libze_loader.so*",
    "libOpenCL.so*",
    "libmkl*.so*",
    "libsvml.so*",
    "libimf.so*",
    "libintlc.so*",
    "libirng.so*",
)
"""fnmatch patterns of ``DT_NEEDED`` libraries allowed beyond the policy's whitelist."""

TVM_FFI_ALLOWED_LIBRARIES: Tuple[str, ...] = ("libtvm_ffi.so*",) + tuple(
    pattern for pattern in DEFAULT_ALLOWED_LIBRARIES if pattern.startswith(("libcu", "libnv"))
)
"""What a TVM FFI library may need beyond the policy's whitelist: libtvm_ffi (from the
``apache-tvm-ffi`` wheel) and the CUDA driver and runtime libraries; no torch, no libpython."""

_DYNAMIC_LOADERS = ("ld-linux*", "ld64.so.*")
"""The ELF interpreter may always be needed (it is part of glibc)."""

_ELF_MACHINES: Dict[Tuple[str, int, bool], Architecture] = {
    ("EM_386", 32, True): Architecture.i686,
    ("EM_X86_64", 64, True): Architecture.x86_64,
    ("EM_AARCH64", 64, True): Architecture.aarch64,
    ("EM_PPC64", 64, True): Architecture.ppc64le,
    ("EM_PPC64", 64, False): Architecture.ppc64,
    ("EM_S390", 64, False): Architecture.s390x,
    ("EM_ARM", 32, True): Architecture.armv7l,
    ("EM_RISCV", 64, True): Architecture.riscv64,
    ("EM_LOONGARCH", 64, True): Architecture.loongarch64,
}

_WARN_SETTING = "kernels.compliance=warn"


# --------------------------------------------------------------------------------------------
# Public data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One broken rule.

    ``rule`` is ``"abi3"``, ``"python-abi"``, ``"manylinux"``, ``"library"`` or ``"rpath"``; ``symbol`` is the
    offending symbol, library name or dynamic tag; ``detail`` explains it, e.g.
    ``"GLIBC_2.32 (manylinux_2_28 allows up to GLIBC_2.28)"``.
    """

    rule: str
    symbol: str
    detail: str

    def describe(self) -> str:
        """One line for humans: ``[rule] symbol: detail``."""
        return f"[{self.rule}] {self.symbol}: {self.detail}"


@dataclass(frozen=True)
class ExtensionReport:
    """The verdict on one extension.

    ``policy`` is the checked policy with its architecture (``manylinux_2_28_x86_64``);
    ``best_policy`` the most compatible policy the file really meets (``linux_<arch>`` if none).
    ``python_abi`` is the stable-ABI version the file was checked against; None for a library
    that may use no Python symbol at all (a TVM FFI library).
    """

    path: Path
    policy: str
    violations: Tuple[Violation, ...]
    best_policy: str
    python_abi: Optional[Tuple[int, int]] = (3, 9)

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    def describe(self) -> str:
        """A header line with the file name and verdict, then one line per violation."""
        python = ("no Python ABI" if self.python_abi is None
                  else f"abi3 (Python {self.python_abi[0]}.{self.python_abi[1]})")
        target = f"{python}, {self.policy}"
        if self.ok:
            return f"{self.path.name}: OK ({target})"
        count = len(self.violations)
        noun = "violation" if count == 1 else "violations"
        header = (
            f"{self.path.name}: FAILED, {count} {noun} of {target}; "
            f"the file meets {self.best_policy}"
        )
        return "\n".join([header] + [f"  {v.describe()}" for v in self.violations])


# --------------------------------------------------------------------------------------------
# ELF reading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _VersionedSymbol:
    """An undefined symbol bound to a version of a needed library (or a bare version need)."""

    symbol: str  # empty when the version is required but no dynamic symbol names it
    library: str
    version: str  # e.g. "GLIBC_2.32"


@dataclass(frozen=True)
class _ElfFacts:
    """What the compliance rules need from one ELF shared object."""

    arch: Architecture
    needed: Tuple[str, ...]
    search_paths: Tuple[Tuple[str, str], ...]  # (tag, value), e.g. ("DT_RUNPATH", "/tmp/x")
    versioned: Tuple[_VersionedSymbol, ...]
    undefined: Tuple[str, ...] = ()  # names of every undefined dynamic symbol


def _read_elf(path: Path) -> _ElfFacts:
    """Read the architecture, dynamic tags and symbol versions of ``path``.

    Raises :class:`ComplianceError` for a missing, non-ELF, non-shared or corrupt file.
    """
    try:
        with path.open("rb") as stream:
            if stream.read(4) != b"\x7fELF":
                raise ComplianceError(
                    f"{path}: not an ELF shared object (no ELF magic); cannot check compliance"
                )
            stream.seek(0)
            elf = ELFFile(stream)
            if elf["e_type"] != "ET_DYN":
                raise ComplianceError(
                    f"{path}: ELF file of type {elf['e_type']}, not a shared object (ET_DYN)"
                )
            return _ElfFacts(
                arch=_elf_architecture(elf, path),
                needed=tuple(_dynamic_values(elf, "DT_NEEDED")),
                search_paths=tuple(_search_paths(elf)),
                versioned=tuple(_versioned_symbols(elf)),
                undefined=tuple(_undefined_symbols(elf)),
            )
    except ComplianceError:
        raise
    except OSError as exc:
        raise ComplianceError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    except Exception as exc:  # pyelftools raises assorted errors on truncated/corrupt files
        kind = "malformed ELF file" if isinstance(exc, ELFError) else type(exc).__name__
        raise ComplianceError(f"{path}: cannot parse ELF data ({kind}: {exc})") from None


def _elf_architecture(elf: ELFFile, path: Path) -> Architecture:
    """The baseline architecture (x86_64, aarch64, ...) from the ELF header."""
    key = (elf["e_machine"], elf.elfclass, elf.little_endian)
    try:
        return _ELF_MACHINES[key]
    except KeyError:
        raise ComplianceError(
            f"{path}: unsupported ELF machine {key[0]} ({key[1]}-bit); no manylinux policy applies"
        ) from None


def _dynamic_section(elf: ELFFile) -> Optional[DynamicSection]:
    """The ``.dynamic`` section, if any."""
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            return section
    return None


def _dynamic_values(elf: ELFFile, tag: str) -> Iterator[str]:
    """String values of every dynamic entry with ``tag`` (DT_NEEDED, DT_RPATH, DT_RUNPATH)."""
    section = _dynamic_section(elf)
    if section is None:
        return
    attribute = {"DT_NEEDED": "needed", "DT_RPATH": "rpath", "DT_RUNPATH": "runpath"}[tag]
    for entry in section.iter_tags():
        if entry.entry.d_tag == tag:
            yield getattr(entry, attribute)


def _search_paths(elf: ELFFile) -> Iterator[Tuple[str, str]]:
    """(tag, value) of every DT_RPATH and DT_RUNPATH entry."""
    for tag in ("DT_RPATH", "DT_RUNPATH"):
        for value in _dynamic_values(elf, tag):
            yield tag, value


def _version_needs(elf: ELFFile) -> Dict[int, Tuple[str, str]]:
    """Map version index (``vna_other``) -> (needed library, version name)."""
    needs: Dict[int, Tuple[str, str]] = {}
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for verneed, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    needs[int(aux["vna_other"])] = (str(verneed.name), str(aux.name))
    return needs


def _undefined_symbols(elf: ELFFile) -> Iterator[str]:
    """The names of the undefined dynamic symbols (what the file takes from other libraries)."""
    dynsym = elf.get_section_by_name(".dynsym")
    if isinstance(dynsym, SymbolTableSection):
        for symbol in dynsym.iter_symbols():
            if symbol.name and symbol["st_shndx"] == "SHN_UNDEF":
                yield symbol.name


def _versioned_symbols(elf: ELFFile) -> Iterator[_VersionedSymbol]:
    """Every undefined dynamic symbol with its required version.

    Versions that are required (``.gnu.version_r``) but name no symbol are yielded too, with an
    empty symbol name: the loader refuses the file just the same when they are missing.
    """
    needs = _version_needs(elf)
    used = set()
    dynsym = elf.get_section_by_name(".dynsym")
    versym = next((s for s in elf.iter_sections() if isinstance(s, GNUVerSymSection)), None)
    if isinstance(dynsym, SymbolTableSection) and versym is not None:
        for symbol, version_entry in zip(dynsym.iter_symbols(), versym.iter_symbols()):
            if not symbol.name or symbol["st_shndx"] != "SHN_UNDEF":
                continue
            ndx = version_entry["ndx"]
            if not isinstance(ndx, int) or (ndx & 0x7FFF) not in needs:
                continue  # VER_NDX_LOCAL / VER_NDX_GLOBAL: unversioned
            library, version = needs[ndx & 0x7FFF]
            used.add(ndx & 0x7FFF)
            yield _VersionedSymbol(symbol.name, library, version)
    for index, (library, version) in sorted(needs.items()):
        if index not in used:
            yield _VersionedSymbol("", library, version)


# --------------------------------------------------------------------------------------------
# abi3 (through abi3audit)
# --------------------------------------------------------------------------------------------


def _abi3audit_findings(
    path: Path, python_abi: Tuple[int, int]
) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Run abi3audit on one ELF file; the only function that touches abi3audit's private API.

    Returns (names of ``Py*``/``_Py*`` symbols outside the stable ABI, [(name, version added)]
    for stable-ABI symbols newer than ``python_abi``), both sorted by name.
    """
    try:
        from abi3audit._audit import audit
        from abi3audit._extract import SharedObjectExtractor, SharedObjectSpec
        from abi3info.models import PyVersion
    except ImportError as exc:  # pragma: no cover - dependency missing or API moved
        raise ComplianceError(f"cannot run the abi3 check: abi3audit is unusable ({exc})") from None
    try:
        shared_objects = list(SharedObjectExtractor(SharedObjectSpec(str(path))))
        if not shared_objects:
            raise ComplianceError(f"{path}: abi3audit found no shared object to audit")
        result = audit(shared_objects[0], assume_minimum_abi3=PyVersion(*python_abi))
    except ComplianceError:
        raise
    except Exception as exc:
        raise ComplianceError(f"{path}: abi3 audit failed: {exc}") from None
    non_abi3 = sorted({symbol.name for symbol in result.non_abi3_symbols})
    future = sorted({(obj.symbol.name, str(obj.added)) for obj in result.future_abi3_objects})
    return non_abi3, future


def _abi3_violations(path: Path, python_abi: Tuple[int, int]) -> List[Violation]:
    """Violations of the Python stable ABI as of ``python_abi``."""
    non_abi3, future = _abi3audit_findings(path, python_abi)
    wanted = f"{python_abi[0]}.{python_abi[1]}"
    violations = [
        Violation("abi3", name, "not part of the Python stable ABI (limited API)")
        for name in non_abi3
    ]
    violations += [
        Violation("abi3", name, f"added to the stable ABI in Python {added}, after {wanted}")
        for name, added in future
    ]
    return violations


def _python_violations(facts: _ElfFacts) -> List[Violation]:
    """For a library tied to no Python ABI: every Python symbol it uses, and libpython."""
    violations = [
        Violation("python-abi", name, "a Python C API symbol; this library must use none")
        for name in sorted(set(facts.undefined)) if name.startswith(("Py", "_Py"))
    ]
    violations += [
        Violation("python-abi", library, "links libpython; this library must not")
        for library in facts.needed if library.startswith("libpython")
    ]
    return violations


# --------------------------------------------------------------------------------------------
# manylinux (through auditwheel's policy data)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _policies(arch: Architecture) -> WheelPolicies:
    """auditwheel's glibc (manylinux) policies for ``arch``, sorted by priority."""
    return WheelPolicies(libc=Libc.GLIBC, arch=arch)


def _resolve_policy(name: str, arch: Architecture) -> Policy:
    """The policy called ``name`` (``manylinux_2_28``, an alias, or a full name) for ``arch``."""
    policies = _policies(arch)
    for candidate in (name, f"{name}_{arch.value}"):
        try:
            return policies.get_policy_by_name(candidate)
        except LookupError:
            continue
    known = ", ".join(_short_name(p.name, arch) for p in policies)
    raise ComplianceError(f"unknown platform policy {name!r} for {arch.value}; known: {known}")


def _short_name(policy_name: str, arch: Architecture) -> str:
    """``manylinux_2_28_x86_64`` -> ``manylinux_2_28``."""
    suffix = f"_{arch.value}"
    return policy_name[: -len(suffix)] if policy_name.endswith(suffix) else policy_name


def _known_prefixes(arch: Architecture) -> frozenset:
    """Symbol-version prefixes (GLIBC, GLIBCXX, ...) that any policy for ``arch`` governs."""
    return frozenset(prefix for p in _policies(arch) for prefix in p.symbol_versions)


def _version_key(version: str) -> Optional[Tuple[int, ...]]:
    """``"2.28"`` -> ``(2, 28)``; None for non-numeric versions such as ``PRIVATE``."""
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        return None
    return tuple(int(part) for part in version.split("."))


def _newest_allowed(allowed: frozenset) -> Optional[str]:
    """The highest numeric version in ``allowed``."""
    numeric = [v for v in allowed if _version_key(v) is not None]
    return max(numeric, key=_version_key) if numeric else None  # type: ignore[arg-type]


def _symbol_violations(
    facts: _ElfFacts, policy: Policy, arch: Architecture
) -> List[Violation]:
    """Versioned symbols whose version ``policy`` does not allow."""
    if not policy.symbol_versions:  # the generic ``linux`` policy allows everything
        return []
    short = _short_name(policy.name, arch)
    known = _known_prefixes(arch)
    violations = []
    for item in facts.versioned:
        prefix, _, version = item.version.partition("_")
        if prefix not in known:
            continue  # a library's own version node (e.g. libcudart.so.12): no policy governs it
        allowed = policy.symbol_versions.get(prefix, frozenset())
        if version in allowed:
            continue
        newest = _newest_allowed(allowed)
        limit = f"allows up to {prefix}_{newest}" if newest else f"allows no {prefix} versions"
        detail = f"{item.version} ({short} {limit})"
        violations.append(Violation("manylinux", item.symbol or item.version, detail))
    return violations


def _library_violations(
    facts: _ElfFacts, policy: Policy, allowed_libraries: Sequence[str], arch: Architecture
) -> List[Violation]:
    """``DT_NEEDED`` libraries neither on ``policy``'s whitelist nor matching an allowed pattern."""
    if not policy.symbol_versions:  # ``linux``: no whitelist, any library goes
        return []
    patterns = tuple(allowed_libraries) + _DYNAMIC_LOADERS
    short = _short_name(policy.name, arch)
    violations = []
    for library in facts.needed:
        if library in policy.whitelist:
            continue
        if any(fnmatch.fnmatchcase(library, pattern) for pattern in patterns):
            continue
        detail = (
            f"needed library is not on the {short} whitelist and is not one of the libraries "
            f"allowed here ({', '.join(allowed_libraries[:3])}, ...)"
        )
        violations.append(Violation("library", library, detail))
    return violations


def _rpath_violations(facts: _ElfFacts) -> List[Violation]:
    """One violation per DT_RPATH / DT_RUNPATH entry."""
    return [
        Violation("rpath", tag, f"{value!r} (library search paths must be stripped)")
        for tag, value in facts.search_paths
    ]


def _best_policy(
    facts: _ElfFacts, allowed_libraries: Sequence[str], arch: Architecture
) -> str:
    """The most compatible (oldest glibc) policy whose symbol versions and libraries fit."""
    policies = _policies(arch)
    for policy in sorted(policies, key=lambda p: p.priority, reverse=True):
        if policy == policies.linux:
            continue
        if _symbol_violations(facts, policy, arch):
            continue
        if _library_violations(facts, policy, allowed_libraries, arch):
            continue
        return policy.name
    return policies.linux.name


# --------------------------------------------------------------------------------------------
# Public checks
# --------------------------------------------------------------------------------------------


def check_extension(
    path: Path,
    *,
    policy: str = DEFAULT_POLICY,
    python_abi: Optional[Tuple[int, int]] = (3, 9),
    allowed_libraries: Sequence[str] = DEFAULT_ALLOWED_LIBRARIES,
) -> ExtensionReport:
    """Check one compiled extension against abi3 (``python_abi``) and ``policy``.

    ``python_abi=None`` checks a library that must use no Python symbol at all (a TVM FFI
    library; pass ``allowed_libraries=TVM_FFI_ALLOWED_LIBRARIES`` with it).

    ``policy`` is a manylinux policy name without architecture (``manylinux_2_28``), an alias
    (``manylinux2014``) or a full name; the architecture comes from the ELF header.
    Raises :class:`ComplianceError` if the file is not a readable ELF shared object.
    """
    path = Path(path)
    facts = _read_elf(path)
    resolved = _resolve_policy(policy, facts.arch)
    python = _python_violations(facts) if python_abi is None else _abi3_violations(path, tuple(python_abi))  # type: ignore[arg-type]
    violations = (
        python
        + _symbol_violations(facts, resolved, facts.arch)
        + _library_violations(facts, resolved, allowed_libraries, facts.arch)
        + _rpath_violations(facts)
    )
    return ExtensionReport(
        path=path,
        policy=resolved.name,
        violations=tuple(violations),
        best_policy=_best_policy(facts, allowed_libraries, facts.arch),
        python_abi=None if python_abi is None else (int(python_abi[0]), int(python_abi[1])),
    )


def _wheel_extension_members(archive: zipfile.ZipFile) -> List[str]:
    """Names of the ``*.so`` members of a wheel, skipping unsafe paths."""
    members = []
    for name in archive.namelist():
        pure = PurePosixPath(name)
        if name.endswith("/") or not pure.name.endswith(".so"):
            continue
        if pure.is_absolute() or ".." in pure.parts:
            raise ComplianceError(f"unsafe path {name!r} inside the wheel")
        members.append(name)
    return sorted(members)


def check_wheel(
    wheel: Path,
    *,
    policy: str = DEFAULT_POLICY,
    python_abi: Optional[Tuple[int, int]] = (3, 9),
    allowed_libraries: Sequence[str] = DEFAULT_ALLOWED_LIBRARIES,
) -> List[ExtensionReport]:
    """Check every ``*.so`` inside ``wheel`` (see :func:`check_extension`).

    The reports' ``path`` is the member's path inside the wheel (the files are extracted to a
    temporary directory that is removed afterwards).
    """
    wheel = Path(wheel)
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ComplianceError(f"{wheel}: cannot open wheel: {exc}") from None
    reports = []
    with archive, tempfile.TemporaryDirectory(prefix="kernels-compliance-") as tmp:
        for member in _wheel_extension_members(archive):
            extracted = Path(archive.extract(member, tmp))
            report = check_extension(
                extracted,
                policy=policy,
                python_abi=python_abi,
                allowed_libraries=allowed_libraries,
            )
            reports.append(_relocate(report, Path(member)))
    return reports


def _relocate(report: ExtensionReport, path: Path) -> ExtensionReport:
    """A copy of ``report`` with another ``path``."""
    return ExtensionReport(
        path=path,
        policy=report.policy,
        violations=report.violations,
        best_policy=report.best_policy,
        python_abi=report.python_abi,
    )


# --------------------------------------------------------------------------------------------
# Gate and tagging
# --------------------------------------------------------------------------------------------

_FIX_HINTS = {
    "abi3": (
        "abi3: use only the Python limited API: compile with -DPy_LIMITED_API=0x03090000 "
        "and replace the listed Py*/_Py* functions"
    ),
    "python-abi": (
        "python-abi: a TVM FFI library is tied to no Python version: drop the Python.h include and "
        "every Py* call (take tensors as tvm::ffi::TensorView)"
    ),
    "manylinux": (
        "manylinux: build in a manylinux_2_28 image (quay.io/pypa/manylinux_2_28_<arch>) or "
        "with an older toolchain whose glibc/libstdc++ are no newer than the policy allows"
    ),
    "library": (
        "library: link only against the framework (torch, or libtvm_ffi for a TVM FFI library) "
        "and the CUDA/ROCm/XPU libraries; link other code statically"
    ),
    "rpath": (
        "rpath: strip RPATH/RUNPATH (e.g. CMAKE_SKIP_RPATH=ON, or patchelf --remove-rpath)"
    ),
}


def failure_message(reports: Sequence[ExtensionReport]) -> str:
    """The text :func:`enforce` raises (empty when every report is ok); usable as a warning."""
    failed = [report for report in reports if not report.ok]
    if not failed:
        return ""
    rules = {v.rule for report in failed for v in report.violations}
    lines = [f"compliance check failed for {len(failed)} of {len(reports)} extension(s):"]
    lines += [report.describe() for report in failed]
    lines.append("How to fix:")
    lines += [f"  - {_FIX_HINTS[rule]}" for rule in _FIX_HINTS if rule in rules]
    lines.append(
        f"To build anyway, the config setting {_WARN_SETTING} (e.g. pip wheel "
        f"-C {_WARN_SETTING}, or python -m build -C{_WARN_SETTING}) downgrades this gate "
        "to a warning; the wheel is then tagged with the platform it really meets."
    )
    return "\n".join(lines)


def enforce(reports: Sequence[ExtensionReport]) -> None:
    """Raise :class:`ComplianceError` listing every violation per file, if there is any."""
    message = failure_message(reports)
    if message:
        raise ComplianceError(message)


def wheel_platform_tag(
    reports: Sequence[ExtensionReport],
    default_arch: str,
    *,
    policy: Optional[str] = DEFAULT_POLICY,
) -> str:
    """The platform tag every extension meets: the least compatible of their ``best_policy``.

    ``policy`` is a ceiling on compatibility: the tag is never more compatible than it (kernel
    wheels claim ``manylinux_2_28`` even when the code alone would fit an older policy, since
    torch needs it anyway). Pass ``policy=None`` for the plain least compatible best policy.
    With no reports the tag is ``policy`` (or ``linux_<default_arch>``) for ``default_arch``.
    """
    arch = Architecture(default_arch).baseline
    candidates = [_resolve_policy(report.best_policy, arch) for report in reports]
    if policy is not None:
        candidates.append(_resolve_policy(policy, arch))
    if not candidates:
        return _policies(arch).linux.name
    return min(candidates, key=lambda p: p.priority).name
