"""Read and validate ``build.toml`` into a :class:`~kernels_build.config.model.BuildConfig`.

Every key of the file is checked: unknown keys, wrong types, missing required keys and bad
values each raise one :class:`~kernels_build.errors.ConfigError` naming the file, the dotted
key and what is allowed. Edition 5 files are read as they are; edition-less files are read as
edition 4 (with a warning) and upgraded in memory; edition 3 files are refused.

:func:`check_layout` then compares the validated configuration with the files on disk.
"""

from __future__ import annotations

import logging
import posixpath
import re
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from kernels.variants import BACKENDS, parse_version, version_key

from ..errors import ConfigError, SourceError
from .model import (
    DEFAULT_PYEXT,
    BackendDepends,
    BuildConfig,
    Framework,
    General,
    Hub,
    Kernel,
    KernelDependency,
    Torch,
    TorchNoarch,
    TvmFfi,
    Version,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python < 3.11
    import tomli as tomllib

__all__ = ["load_build_config", "parse_build_toml", "check_layout", "BUILD_TOML"]

logger = logging.getLogger("kernels_build")

BUILD_TOML = "build.toml"

#: The only edition this backend reads natively; edition-less files are upgraded from 4.
EDITION = 5

FRAMEWORK_TABLES = ("torch", "torch-noarch", "tvm-ffi")
KERNEL_BACKENDS = ("cpu", "cuda", "metal", "rocm", "xpu")
KERNEL_DEPENDS = (
    "torch",
    "cutlass_2_10",
    "cutlass_3_5",
    "cutlass_3_6",
    "cutlass_3_8",
    "cutlass_3_9",
    "cutlass_4_0",
    "cutlass_4_4",
    "cutlass_4_5",
    "sycl_tla",
    "metal-cpp",
)
#: Python dependencies known to the runtime (its python_depends.json).
GENERAL_PYTHON_DEPENDS = ("einops", "helion", "tvm-ffi")
BACKEND_PYTHON_DEPENDS: Mapping[str, Tuple[str, ...]] = {
    "cuda": ("nvidia-cutlass-dsl",),
    "neuron": ("nki",),
    "xpu": ("onednn",),
}

_NAME_RE = re.compile(r"^[a-z][-a-z0-9]*[a-z0-9]$")
_CAPABILITY_RE = re.compile(r"^\d+\.\d+[af]?(\+PTX)?$")
_ROCM_ARCH_RE = re.compile(r"^gfx[0-9a-f]+$")
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_GIT_URL_RE = re.compile(
    r"^(?:(?:https?|git|ssh|git\+ssh|git\+https?)://[^\s/]+/\S+"  # scheme://host/path
    r"|[\w.-]+@[\w.-]+:(?!//)\S+)$"  # scp-like git@host:path
)
_GIT_SCHEMES = "https, http, git, ssh, git+ssh, git+https, git+http, or git@host:path"

# [general] keys by edition; the edition-5-only ones get a hint in edition-less files.
_GENERAL_KEYS_V4 = (
    "name",
    "version",
    "license",
    "backends",
    "upstream",
    "source",
    "python-depends",
    "hub",
    "cuda",
    "xpu",
    "neuron",
)
_GENERAL_KEYS_V5 = _GENERAL_KEYS_V4 + ("edition", "kernel-depends", "tpu")
# Which [general.<backend>] tables exist and what they may hold (kernel-depends: edition 5).
_BACKEND_TABLE_KEYS: Mapping[str, Tuple[str, ...]] = {
    "cuda": ("minver", "maxver", "python-depends", "kernel-depends"),
    "xpu": ("python-depends", "kernel-depends"),
    "neuron": ("python-depends", "kernel-depends"),
    "tpu": ("python-depends",),
}
_KERNEL_COMMON_KEYS = ("backend", "depends", "src", "include", "cxx-flags")
_KERNEL_BACKEND_KEYS: Mapping[str, Tuple[str, ...]] = {
    "cuda": ("cuda-capabilities", "cuda-flags", "cuda-minver"),
    "rocm": ("rocm-archs", "hip-flags"),
    "xpu": ("sycl-flags",),
}
# Keys of editions before 3, which fail as unknown keys; say what replaced them.
_PRE_V3_HINTS = {
    "universal": "`universal` was removed; Python-only kernels use a [torch-noarch] table",
    "language": "`language` was removed; set `backend` (cpu, cuda, metal, rocm, xpu) instead",
}


# --------------------------------------------------------------------------------------------
# Entry points


def load_build_config(root: Union[str, Path]) -> BuildConfig:
    """Read ``<root>/build.toml``; raise :class:`ConfigError` if it is missing or invalid."""
    root = Path(root).absolute()
    path = root / BUILD_TOML
    if not path.is_file():
        raise ConfigError(path, None, f"directory {root} has no {BUILD_TOML}; a kernel repository needs one at its root")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not valid UTF-8 ({exc})") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read the file ({exc})") from None
    return parse_build_toml(text, path)


def parse_build_toml(text: str, path: Path) -> BuildConfig:
    """Validate the TOML ``text`` of the build.toml at ``path`` (used for messages and root)."""
    path = Path(path).absolute()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from None

    doc = _Table(path, "", data)
    doc.check_keys(("general",) + FRAMEWORK_TABLES + ("kernel",))
    general_table = doc.table("general", required=True)
    assert general_table is not None
    edition = _edition(doc, general_table)
    general = _parse_general(general_table, edition)
    framework = _parse_framework(doc, general, edition)
    kernels = _parse_kernels(doc, general, framework)
    return BuildConfig(
        path=path,
        root=path.parent,
        source_edition=edition,
        general=general,
        framework=framework,
        kernels=kernels,
    )


# --------------------------------------------------------------------------------------------
# Typed table access


def _describe(value: Any) -> str:
    """``"x"`` -> ``a string ("x")``: the TOML type of a value, for 'found ...' messages."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value})"
    if isinstance(value, str):
        return f'a string ("{value}")'
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__} ({value})"  # dates and times


def _choices(items: Iterable[str]) -> str:
    return ", ".join(items)


class _Table:
    """One TOML table plus its dotted key, so every error can name the exact key."""

    def __init__(self, file: Path, key: str, data: Mapping[str, Any]) -> None:
        self.file = file
        self.key = key
        self.data = data

    @property
    def display(self) -> str:
        return f"[{self.key}]" if self.key else "the top level"

    def dotted(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: Optional[str], message: str) -> ConfigError:
        return ConfigError(self.file, self.dotted(name) if name else (self.key or None), message)

    def check_keys(self, allowed: Sequence[str], hints: Optional[Mapping[str, str]] = None) -> None:
        """Reject the first key not in ``allowed``; ``hints`` explain known mistakes."""
        hints = hints or {}
        for name in self.data:
            if name in allowed:
                continue
            listing = f"allowed keys in {self.display}: {_choices(allowed)}"
            if name in hints:
                raise self.error(name, f"{hints[name]} ({listing})")
            for other in (name.replace("-", "_"), name.replace("_", "-")):
                if other != name and other in allowed:
                    raise self.error(name, f'unknown key; write it as "{other}" ({listing})')
            raise self.error(name, f"unknown key; {listing}")

    def _get(self, name: str, required: bool, what: str) -> Any:
        if name not in self.data:
            if required:
                raise self.error(name, f"missing required key (expected {what})")
            return None
        return self.data[name]

    def _type_error(self, name: str, what: str, value: Any) -> ConfigError:
        hint = ""
        if isinstance(value, (int, float)) and not isinstance(value, bool) and "version" in what:
            hint = f'; quote it: "{value}"'
        return self.error(name, f"expected {what}, found {_describe(value)}{hint}")

    def string(self, name: str, required: bool = False) -> Optional[str]:
        value = self._get(name, required, "a string")
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._type_error(name, "a string", value)
        if not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def integer(self, name: str, required: bool = False) -> Optional[int]:
        value = self._get(name, required, "an integer")
        if value is None:
            return None
        # bool is a subclass of int in Python, but `true` is not a number in TOML.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._type_error(name, "an integer", value)
        return value

    def strings(self, name: str, required: bool = False, what: str = "an array of strings") -> Optional[Tuple[str, ...]]:
        value = self._get(name, required, what)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._type_error(name, what, value)
        for item in value:
            if not isinstance(item, str):
                raise self.error(name, f"expected {what}, found an array containing {_describe(item)}")
            if not item.strip():
                raise self.error(name, "entries must not be empty strings")
        return tuple(value)

    def version(self, name: str, required: bool = False) -> Optional[Version]:
        what = 'a version string such as "12.8"'
        value = self._get(name, required, what)
        if value is None:
            return None
        return _as_version(self, name, value, what)

    def table(self, name: str, required: bool = False) -> Optional["_Table"]:
        value = self._get(name, required, "a table")
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._type_error(name, "a table", value)
        return _Table(self.file, self.dotted(name), value)


def _as_version(table: _Table, name: str, value: Any, what: str) -> Version:
    if not isinstance(value, str):
        raise table._type_error(name, what, value)
    try:
        return parse_version(value.strip())
    except ValueError:
        raise table.error(name, f'"{value}" is not a version; expected dotted integers such as "12.8"') from None


def _check_bounds(table: _Table, low: Optional[Version], high: Optional[Version]) -> None:
    """An inverted minver/maxver range would silently build nothing; say so up front."""
    if low is not None and high is not None:
        width = max(len(low), len(high))
        if version_key(low, width) > version_key(high, width):
            lo = ".".join(map(str, low))
            hi = ".".join(map(str, high))
            raise table.error("minver", f"minver {lo} is greater than maxver {hi}")


# --------------------------------------------------------------------------------------------
# Edition


def _edition(doc: _Table, general: _Table) -> Optional[int]:
    """5 for edition 5 files, None for edition-less (edition 4) files; refuse the rest."""
    if "edition" in general.data:
        edition = general.data["edition"]
        if isinstance(edition, bool) or not isinstance(edition, int):
            raise general.error("edition", f"expected the integer 5, found {_describe(edition)}; only edition = 5 is supported")
        if edition != EDITION:
            raise general.error("edition", f"edition {edition} is not supported; only edition = 5 is supported")
        return EDITION

    # Edition 3 had no framework table (meaning torch-noarch) and an optional license.
    has_framework = any(name in doc.data for name in FRAMEWORK_TABLES)
    has_license = "license" in general.data
    if not (has_framework and has_license):
        todo = ["`edition = 5`"] + ([] if has_license else ["`license`"])
        upgrade = f"edition 3 is no longer supported; to upgrade, add {' and '.join(todo)} to [general]"
        if not has_framework:
            upgrade += " and a [torch] table (or [torch-noarch] for Python-only kernels)"
            raise doc.error("torch", f"no framework table ([torch], [torch-noarch] or [tvm-ffi]): {upgrade}")
        raise general.error("license", f"missing `license`: {upgrade}")
    logger.warning(
        "%s has no general.edition and is read as edition 4 (upgraded in memory); "
        "add `edition = 5` to [general] to use the current format",
        doc.file,
    )
    return None


def _needs_v5(what: str) -> str:
    return (
        f"{what} requires edition 5; this file has no `edition` and is read as edition 4: "
        "add `edition = 5` to [general]"
    )


# --------------------------------------------------------------------------------------------
# [general]


def _parse_general(table: _Table, edition: Optional[int]) -> General:
    if edition is None:
        hints = {k: _needs_v5(f"`{k}`") for k in ("kernel-depends", "tpu")}
        hints.update(_PRE_V3_HINTS)
        table.check_keys(_GENERAL_KEYS_V4, hints)
    else:
        table.check_keys(_GENERAL_KEYS_V5, _PRE_V3_HINTS)

    name = table.string("name", required=True)
    assert name is not None
    if not _NAME_RE.match(name):
        raise table.error(
            "name",
            f'invalid name "{name}": use lowercase letters, digits and "-", starting with a letter '
            "and not ending with \"-\" (pattern ^[a-z][-a-z0-9]*[a-z0-9]$)",
        )
    version = table.integer("version", required=True)
    assert version is not None
    if version < 0:
        raise table.error("version", f"expected a non-negative major version, found {version}")
    license = table.string("license", required=True)
    assert license is not None

    backends = table.strings("backends", required=True)
    assert backends is not None
    if not backends:
        raise table.error("backends", f"list at least one backend; allowed: {_choices(BACKENDS)}")
    for backend in backends:
        if backend not in BACKENDS:
            raise table.error("backends", f'unknown backend "{backend}"; allowed: {_choices(BACKENDS)}')
    if len(set(backends)) != len(backends):
        dup = next(b for b in backends if backends.count(b) > 1)
        raise table.error("backends", f'backend "{dup}" is listed twice')

    upstream = _git_url(table, "upstream")
    source = _git_url(table, "source")
    python_depends = _python_depends(table, None)
    kernel_depends = _kernel_depends(table)

    hub = Hub()
    hub_table = table.table("hub")
    if hub_table is not None:
        hub_table.check_keys(("repo-id", "branch"))
        repo_id = hub_table.string("repo-id")
        if repo_id is not None and not _REPO_ID_RE.match(repo_id):
            raise hub_table.error("repo-id", f'invalid Hub repository id "{repo_id}"; expected "owner/name"')
        hub = Hub(repo_id=repo_id, branch=hub_table.string("branch"))

    backend_depends: Dict[str, BackendDepends] = {}
    for backend in _BACKEND_TABLE_KEYS:
        sub = table.table(backend)
        if sub is not None:
            backend_depends[backend] = _parse_backend_table(sub, backend, edition)

    return General(
        name=name,
        version=version,
        license=license,
        backends=backends,
        edition=EDITION,
        upstream=upstream,
        source=source,
        python_depends=python_depends,
        kernel_depends=kernel_depends,
        hub=hub,
        backend_depends=backend_depends,
    )


def _parse_backend_table(table: _Table, backend: str, edition: Optional[int]) -> BackendDepends:
    """``[general.cuda]`` and friends: backend-specific dependencies (and CUDA bounds)."""
    allowed = _BACKEND_TABLE_KEYS[backend]
    if edition is None:
        allowed = tuple(k for k in allowed if k != "kernel-depends")
        table.check_keys(allowed, {"kernel-depends": _needs_v5("`kernel-depends`")})
    else:
        table.check_keys(allowed)
    minver = table.version("minver")
    maxver = table.version("maxver")
    _check_bounds(table, minver, maxver)
    return BackendDepends(
        python_depends=_python_depends(table, backend),
        kernel_depends=_kernel_depends(table),
        minver=minver,
        maxver=maxver,
    )


def _git_url(table: _Table, name: str) -> Optional[str]:
    url = table.string(name)
    if url is not None and not _GIT_URL_RE.match(url):
        raise table.error(name, f'"{url}" is not a git URL; allowed forms: {_GIT_SCHEMES}')
    return url


def _python_depends(table: _Table, backend: Optional[str]) -> Tuple[str, ...]:
    """Check names against the runtime's list: general names anywhere, backend names only
    in that backend's table (the runtime looks them up per backend)."""
    names = table.strings("python-depends") or ()
    own = BACKEND_PYTHON_DEPENDS.get(backend, ()) if backend else ()
    allowed = GENERAL_PYTHON_DEPENDS + own
    for name in names:
        if name in allowed:
            continue
        owner = next((b for b, deps in BACKEND_PYTHON_DEPENDS.items() if name in deps), None)
        if owner is not None:
            raise table.error(
                "python-depends",
                f'"{name}" is a {owner}-only dependency: list it in [general.{owner}] python-depends '
                f"(allowed here: {_choices(allowed)})",
            )
        raise table.error("python-depends", f'unknown Python dependency "{name}"; allowed here: {_choices(allowed)}')
    return names


def _kernel_depends(table: _Table) -> Tuple[KernelDependency, ...]:
    """``kernel-depends = [{ repo-id = "o/n", version = 1 }, { repo-id = "o/m", revision = "x" }]``."""
    key = "kernel-depends"
    value = table.data.get(key)
    if value is None:
        return ()
    what = "an array of inline tables such as { repo-id = \"owner/name\", version = 1 }"
    if not isinstance(value, list):
        raise table._type_error(key, what, value)
    result: List[KernelDependency] = []
    allowed = ("repo-id", "version", "revision")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise table.error(key, f"entry {i}: expected an inline table such as {{ repo-id = \"owner/name\", version = 1 }}, found {_describe(entry)}")
        for name in entry:
            if name not in allowed:
                hint = '; write it as "repo-id"' if name == "repo_id" else ""
                raise table.error(key, f'entry {i}: unknown key "{name}"{hint}; allowed keys: {_choices(allowed)}')
        repo_id = entry.get("repo-id")
        if repo_id is None:
            raise table.error(key, f"entry {i}: missing required key repo-id (\"owner/name\")")
        if not isinstance(repo_id, str) or not _REPO_ID_RE.match(repo_id):
            raise table.error(key, f'entry {i}: repo-id must be a string "owner/name", found {_describe(repo_id)}')
        version = entry.get("version")
        revision = entry.get("revision")
        if (version is None) == (revision is None):
            found = "both" if version is not None else "neither"
            raise table.error(
                key,
                f'entry {i} ({repo_id}): set exactly one of version (an integer, branch v<N>) '
                f"or revision (a git branch, tag or commit); found {found}",
            )
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
            raise table.error(key, f"entry {i} ({repo_id}): version must be a non-negative integer, found {_describe(version)}")
        if revision is not None and (not isinstance(revision, str) or not revision.strip()):
            raise table.error(key, f"entry {i} ({repo_id}): revision must be a non-empty string, found {_describe(revision)}")
        result.append(KernelDependency(repo_id=repo_id, version=version, revision=revision))
    return tuple(result)


# --------------------------------------------------------------------------------------------
# Framework tables


def _parse_framework(doc: _Table, general: General, edition: Optional[int]) -> Framework:
    present = [name for name in FRAMEWORK_TABLES if name in doc.data]
    if not present:
        raise doc.error(
            "torch",
            "missing framework table: add exactly one of [torch] (compiled Torch extension), "
            "[torch-noarch] (Python-only) or [tvm-ffi]",
        )
    if len(present) > 1:
        raise doc.error(
            present[1],
            f"only one framework table is allowed; found [{present[0]}] and [{present[1]}] "
            f"(choose one of {_choices('[' + t + ']' for t in FRAMEWORK_TABLES)})",
        )
    table = doc.table(present[0])
    assert table is not None
    if present[0] == "torch":
        return _parse_torch(table, general, edition)
    if present[0] == "torch-noarch":
        return _parse_torch_noarch(table)
    return _parse_tvm_ffi(table)


def _pyext(table: _Table) -> Tuple[str, ...]:
    exts = table.strings("pyext")
    if exts is None:
        return DEFAULT_PYEXT
    for ext in exts:
        if ext.startswith(".") or "/" in ext or "\\" in ext:
            raise table.error("pyext", f'"{ext}" is not a bare file extension; write e.g. "py" or "json" (no dot)')
    return exts


def _parse_torch(table: _Table, general: General, edition: Optional[int]) -> Torch:
    table.check_keys(("src", "include", "pyext", "minver", "maxver", "cxx-flags", "stable-abi"))
    minver = table.version("minver")
    maxver = table.version("maxver")
    _check_bounds(table, minver, maxver)
    return Torch(
        src=table.strings("src") or (),
        include=table.strings("include") or (),
        pyext=_pyext(table),
        minver=minver,
        maxver=maxver,
        cxx_flags=table.strings("cxx-flags") or (),
        stable_abi=_stable_abi(table, general, edition),
    )


def _stable_abi(table: _Table, general: General, edition: Optional[int]) -> Dict[str, Version]:
    """``stable-abi = "2.10"`` (every backend) or ``[torch.stable-abi] cuda = "2.10"`` (edition 5)."""
    key = "stable-abi"
    value = table.data.get(key)
    what = 'a Torch version string such as "2.10" or a table of backend = "2.10"'
    if value is None:
        return {}
    if isinstance(value, str):
        version = _as_version(table, key, value, what)
        return {backend: version for backend in general.backends}
    if isinstance(value, dict):
        if edition is None:
            raise table.error(key, _needs_v5("the table form of stable-abi") + '; or write stable-abi = "2.10" for all backends')
        sub = table.table(key)
        assert sub is not None
        sub.check_keys(BACKENDS)
        result: Dict[str, Version] = {}
        for backend in BACKENDS:
            if backend in sub.data:
                version = _as_version(sub, backend, sub.data[backend], 'a Torch version string such as "2.10"')
                # Backends the kernel does not build for are ignored, as upstream does.
                if backend in general.backends:
                    result[backend] = version
        return result
    if edition is None:
        what = 'a Torch version string such as "2.10"'
    raise table._type_error(key, what, value)


def _parse_torch_noarch(table: _Table) -> TorchNoarch:
    # Upstream reads this table with underscore keys (the kebab spelling in its docs fails);
    # check_keys points kebab spellings to the underscore ones.
    table.check_keys(("pyext", "cuda_capabilities", "rocm_archs"))
    return TorchNoarch(
        pyext=_pyext(table),
        cuda_capabilities=_capabilities(table, "cuda_capabilities") or (),
        rocm_archs=_rocm_archs(table, "rocm_archs") or (),
    )


def _parse_tvm_ffi(table: _Table) -> TvmFfi:
    table.check_keys(("src", "include", "pyext", "cxx-flags"))
    src = table.strings("src", required=True)
    assert src is not None
    return TvmFfi(
        src=src,
        include=table.strings("include") or (),
        pyext=_pyext(table),
        cxx_flags=table.strings("cxx-flags") or (),
    )


def _capabilities(table: _Table, name: str) -> Optional[Tuple[str, ...]]:
    caps = table.strings(name)
    if caps is None:
        return None
    for cap in caps:
        if not _CAPABILITY_RE.match(cap):
            raise table.error(
                name,
                f'invalid CUDA capability "{cap}"; expected major.minor with an optional a/f suffix '
                'and optional +PTX, e.g. "8.0", "9.0a", "10.0f", "8.0+PTX"',
            )
    return caps


def _rocm_archs(table: _Table, name: str) -> Optional[Tuple[str, ...]]:
    archs = table.strings(name)
    if archs is None:
        return None
    for arch in archs:
        if not _ROCM_ARCH_RE.match(arch):
            raise table.error(name, f'invalid ROCm architecture "{arch}"; expected a gfx name such as "gfx90a" or "gfx942"')
    return archs


# --------------------------------------------------------------------------------------------
# [kernel.<name>]


def _parse_kernels(doc: _Table, general: General, framework: Framework) -> Tuple[Kernel, ...]:
    section = doc.table("kernel")
    if section is None or not section.data:
        return ()  # community noarch files carry an empty [kernel] table
    if isinstance(framework, TorchNoarch):
        first = next(iter(section.data))
        raise section.error(
            first,
            "a [torch-noarch] kernel is Python-only and cannot have [kernel.<name>] sections; "
            "use a [torch] table for compiled kernels",
        )
    kernels = []
    for name in section.data:
        table = section.table(name)
        assert table is not None
        kernels.append(_parse_kernel(table, name, general))
    return tuple(kernels)


def _parse_kernel(table: _Table, name: str, general: General) -> Kernel:
    backend = table.string("backend", required=True)
    assert backend is not None
    if backend not in KERNEL_BACKENDS:
        raise table.error("backend", f'unknown kernel backend "{backend}"; allowed: {_choices(KERNEL_BACKENDS)}')
    if backend not in general.backends:
        raise table.error(
            "backend",
            f'backend "{backend}" is not in general.backends ({_choices(general.backends)}); '
            "add it there or remove this kernel",
        )

    own = _KERNEL_BACKEND_KEYS.get(backend, ())
    allowed = _KERNEL_COMMON_KEYS + own
    for key in table.data:
        owner = next((b for b, keys in _KERNEL_BACKEND_KEYS.items() if key in keys and b != backend), None)
        if owner is not None:
            raise table.error(
                key,
                f'"{key}" applies only to {owner} kernels, but this kernel has backend = "{backend}" '
                f"(allowed keys: {_choices(allowed)})",
            )
    table.check_keys(allowed, _PRE_V3_HINTS)

    depends = table.strings("depends", required=True)
    assert depends is not None
    for dep in depends:
        if dep not in KERNEL_DEPENDS:
            raise table.error("depends", f'unknown dependency "{dep}"; allowed: {_choices(KERNEL_DEPENDS)}')
    src = table.strings("src", required=True)
    assert src is not None
    if not src:
        raise table.error("src", "list at least one source file")

    cuda_capabilities = _capabilities(table, "cuda-capabilities")
    if cuda_capabilities == ():
        raise table.error("cuda-capabilities", "must not be empty; omit the key to use the builder's default capabilities")
    rocm_archs = _rocm_archs(table, "rocm-archs")
    if rocm_archs == ():
        raise table.error("rocm-archs", "must not be empty; omit the key to build for every supported architecture")

    return Kernel(
        name=name,
        backend=backend,
        depends=depends,
        src=src,
        include=table.strings("include") or (),
        cxx_flags=table.strings("cxx-flags") or (),
        cuda_capabilities=cuda_capabilities,
        cuda_flags=table.strings("cuda-flags") or (),
        cuda_minver=table.version("cuda-minver"),
        rocm_archs=rocm_archs,
        hip_flags=table.strings("hip-flags") or (),
        sycl_flags=table.strings("sycl-flags") or (),
    )


# --------------------------------------------------------------------------------------------
# Layout


def check_layout(config: BuildConfig) -> None:
    """Compare ``config`` with the repository on disk; raise one :class:`SourceError` listing
    every problem (bad or missing ``src``/``include`` paths, Python package layout)."""
    problems: List[str] = []
    framework = config.framework
    if isinstance(framework, (Torch, TvmFfi)):
        table = "torch" if isinstance(framework, Torch) else "tvm-ffi"
        problems += _path_problems(config.root, f"{table}.src", framework.src, want_dir=False)
        problems += _path_problems(config.root, f"{table}.include", framework.include, want_dir=True)
    for kernel in config.kernels:
        problems += _path_problems(config.root, f"kernel.{kernel.name}.src", kernel.src, want_dir=False)
        problems += _path_problems(config.root, f"kernel.{kernel.name}.include", kernel.include, want_dir=True)

    module = config.general.module_name
    package = config.python_dir
    init = package / "__init__.py"
    if not init.is_file():
        problems.append(f"the Python package needs {init} (the kernel's module is {module!r}); it is missing")
    nested = package / module
    if nested.exists():
        problems.append(
            f"{nested} is a nested package, which is not allowed: put the kernel's Python code "
            f"directly in {package}"
        )
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise SourceError(f"{config.path}: the repository does not match build.toml:\n{listing}")


#: Characters that CMake would expand or split on in a generated argument (``${...}``, ``;``),
#: or that quote and escape there.
_UNSAFE_PATH_CHARACTERS = frozenset('$;"\\`')


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every link resolved, lies inside ``root`` (resolved too)."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _path_problems(root: Path, key: str, entries: Sequence[str], want_dir: bool) -> List[str]:
    problems = []
    for entry in entries:
        # Judge the path as written, in both conventions, so Windows-style paths fail everywhere.
        posix = PurePosixPath(entry.replace("\\", "/"))
        if posix.is_absolute() or PureWindowsPath(entry).drive:
            problems.append(f'{key}: "{entry}" is absolute; paths are relative to the repository root {root}')
            continue
        normal = posixpath.normpath(str(posix))
        if normal == ".." or normal.startswith("../"):
            problems.append(f'{key}: "{entry}" points outside the repository root {root}')
            continue
        unsafe = sorted(set(c for c in str(posix) if c in _UNSAFE_PATH_CHARACTERS or ord(c) < 32))
        if unsafe:
            problems.append(f'{key}: "{entry}" holds {" ".join(repr(c) for c in unsafe)}, which the generated '
                            "build files cannot carry literally; rename it")
            continue
        full = root / posix
        if not full.exists():
            problems.append(f'{key}: "{entry}" does not exist (looked for {full})')
        elif not _inside(full, root):
            # Judged after resolving links: a link may not pull in a file from elsewhere.
            problems.append(f'{key}: "{entry}" resolves to {full.resolve()}, outside the repository root {root} '
                            "(a symbolic link); copy the file into the repository")
        elif want_dir and not full.is_dir():
            problems.append(f'{key}: "{entry}" is not a directory ({full})')
        elif not want_dir and full.is_dir():
            problems.append(f'{key}: "{entry}" is a directory; list source files')
    return problems
