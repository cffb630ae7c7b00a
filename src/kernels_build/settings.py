"""Typed build settings: our ``-C kernels.*`` config settings, the rest for scikit-build-core.

Every setting can also come from an environment variable (handy on CI runners and on
machines where the pip command line is not yours), the config setting winning::

    pip wheel . -C kernels.backend=cuda -C kernels.compliance=warn
    KERNELS_BUILD_BACKEND=cuda KERNELS_BUILD_COMPLIANCE=warn pip wheel .

=========================  ===============================  ==========================================
config setting             environment variable             meaning
=========================  ===============================  ==========================================
kernels.backend            KERNELS_BUILD_BACKEND            backend to build (default: from torch)
kernels.torch-version      KERNELS_BUILD_TORCH_VERSION      torch major.minor to build against
kernels.compliance         KERNELS_BUILD_COMPLIANCE         ``error`` (default) or ``warn``
kernels.policy             KERNELS_BUILD_POLICY             manylinux policy (default manylinux_2_28)
kernels.cuda-capabilities  KERNELS_BUILD_CUDA_CAPABILITIES  e.g. ``9.0`` or ``8.0;9.0``: replaces the
                                                            default list, narrows explicit ones;
                                                            ``native``: the visible GPUs' archs;
                                                            ``all``: the default list (no narrowing)
kernels.unique-id          KERNELS_BUILD_UNIQUE_ID          op namespace id (default: source hash)
kernels.compiler-cache     KERNELS_BUILD_COMPILER_CACHE     ``auto`` (ccache/sccache when on PATH),
                                                            ``ccache``, ``sccache`` or ``off``
kernels.cuda-toolchain     KERNELS_BUILD_CUDA_TOOLCHAIN     ``auto``, ``system`` (an installed nvcc)
                                                            or ``pip`` (nvcc from PyPI packages)
kernels.nvcc-threads       KERNELS_BUILD_NVCC_THREADS       ``auto`` (one nvcc thread per arch of a
                                                            file, within jobs and memory) or N
                                                            (1: archs one after the other)
kernels.nvcc-split-compile KERNELS_BUILD_NVCC_SPLIT_COMPILE ``auto`` (up to 4 threads per arch of a
                                                            file, within jobs and memory) or N
                                                            (1: off); nvcc's ``--split-compile``
kernels.precompiled-headers KERNELS_BUILD_PRECOMPILED_HEADERS ``auto`` (4 host C++ files per job,
                                                            no compiler cache), ``on`` or ``off``
kernels.<lib>-dir          KERNELS_BUILD_<LIB>_DIR          a source tree of a ``depends`` library
                                                            (<lib>: cutlass, sycl-tla, metal-cpp;
                                                            also CUTLASS_SRC_DIR, SYCL_TLA_SRC_DIR)
kernels.<lib>-url          KERNELS_BUILD_<LIB>_URL          where to fetch it from (a git mirror, or
                                                            for metal-cpp a zip archive)
kernels.deps-cache         KERNELS_BUILD_DEPS_CACHE         the per-user cache of fetched libraries
kernels.build-dir          KERNELS_BUILD_BUILD_DIR          where the per-variant build directories go
                                                            (default ``<kernel>/.kernels_build``;
                                                            relative: to the kernel repository)
=========================  ===============================  ==========================================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Dict, FrozenSet, List, Mapping, Optional, Tuple, Union

from kernels.variants import BACKENDS

from .compiler_cache import CHOICES as COMPILER_CACHES
from .cuda_pip import TOOLCHAINS as CUDA_TOOLCHAINS
from .errors import ConfigError
from .pch import CHOICES as PRECOMPILED_HEADERS

ConfigSettings = Mapping[str, Union[str, List[str]]]

_PREFIX = "kernels."
#: The libraries of build.toml's ``depends`` whose source trees the settings can name.
DEPENDENCY_LIBRARIES = ("cutlass", "sycl-tla", "metal-cpp")

_KEYS = (
    "backend", "torch-version", "compliance", "policy", "cuda-capabilities", "unique-id",
    "compiler-cache", "cuda-toolchain", "nvcc-threads", "nvcc-split-compile", "precompiled-headers",
    "deps-cache", "build-dir",
    *(f"{lib}-{what}" for lib in DEPENDENCY_LIBRARIES for what in ("dir", "url")),
)

#: ``kernels.cuda-capabilities`` words: the archs of the visible GPUs, or the default list.
NATIVE = "native"
ALL_ARCHS = "all"


@dataclass(frozen=True)
class BuildSettings:
    """Our settings, validated; ``passthrough`` holds the scikit-build-core ones."""

    backend: Optional[str] = None
    torch_version: Optional[Tuple[int, int]] = None
    compliance: str = "error"
    policy: str = "manylinux_2_28"
    cuda_capabilities: Optional[Tuple[str, ...]] = None
    unique_id: Optional[str] = None
    compiler_cache: str = "auto"
    cuda_toolchain: str = "auto"
    #: nvcc ``--threads`` per CUDA file (None: ``auto``, see :mod:`kernels_build.parallelism`)
    nvcc_threads: Optional[int] = None
    #: nvcc ``--split-compile`` per CUDA file (None: ``auto``, see :mod:`kernels_build.parallelism`)
    nvcc_split_compile: Optional[int] = None
    #: precompiled torch headers for host C++ TUs (see :mod:`kernels_build.pch`)
    precompiled_headers: str = "auto"
    #: library (cutlass, sycl-tla, metal-cpp) -> a source tree given with ``kernels.<lib>-dir``
    dependency_dirs: Mapping[str, str] = field(default_factory=dict)
    #: library -> where to fetch it from instead of upstream (``kernels.<lib>-url``)
    dependency_urls: Mapping[str, str] = field(default_factory=dict)
    deps_cache: Optional[str] = None
    #: the directory holding the per-variant build directories (None: ``<kernel>/.kernels_build``)
    build_dir: Optional[str] = None
    passthrough: Mapping[str, Union[str, List[str]]] = field(default_factory=dict)
    #: names (``torch-version``, ...) of the settings whose value came from a KERNELS_BUILD_* variable
    from_environment: FrozenSet[str] = frozenset()

    def named(self, name: str, value: Optional[str] = None) -> str:
        """How a message names the setting ``kernels.<name>``: the way the user gave it.

        >>> BuildSettings(from_environment=frozenset({"torch-version"})).named("torch-version", "2.13")
        'KERNELS_BUILD_TORCH_VERSION=2.13'
        >>> BuildSettings().named("compiler-cache", "ccache")
        'kernels.compiler-cache=ccache'
        """
        key = env_variable(name) if name in self.from_environment else _PREFIX + name
        return key if value is None else f"{key}={value}"

    @property
    def native_archs(self) -> bool:
        """``kernels.cuda-capabilities=native``: build for the GPUs visible at build time."""
        return self.cuda_capabilities == (NATIVE,)

    @classmethod
    def from_config_settings(cls, config_settings: Optional[ConfigSettings]) -> "BuildSettings":
        raw: Dict[str, str] = {}
        passthrough: Dict[str, Union[str, List[str]]] = {}
        for key, value in (config_settings or {}).items():
            if key.startswith(_PREFIX):
                name = key[len(_PREFIX):]
                if name not in _KEYS:
                    raise _error(key, f"unknown setting; known: {', '.join(_PREFIX + k for k in _KEYS)}")
                raw[name] = value[-1] if isinstance(value, list) else value
            elif key in _KEYS:
                # scikit-build-core would refuse it only after the build started, in its own words
                raise _error(key, f"unknown setting; did you mean {_PREFIX + key}? (our settings start with "
                                  f"'{_PREFIX}'; the others go to scikit-build-core)")
            else:
                passthrough[key] = value
        from_env = set()
        for name in _KEYS:
            env = os.environ.get(env_variable(name))
            if name not in raw and env:
                raw[name] = env
                from_env.add(name)
        try:
            return replace(cls._validated(raw, passthrough), from_environment=frozenset(from_env))
        except ConfigError as exc:
            failed = exc.key[len(_PREFIX):] if exc.key.startswith(_PREFIX) else None
            if failed not in from_env:
                raise
            # the value came from the environment: name the variable the user set
            raise ConfigError("environment", env_variable(failed), exc.message) from None

    @classmethod
    def _validated(cls, raw: Dict[str, str], passthrough: Dict[str, Union[str, List[str]]]) -> "BuildSettings":
        return cls(
            backend=_backend(raw.get("backend")),
            torch_version=_torch_version(raw.get("torch-version")),
            compliance=_choice("compliance", raw.get("compliance", "error"), ("error", "warn")),
            policy=_policy(raw.get("policy", "manylinux_2_28")),
            cuda_capabilities=_capabilities(raw.get("cuda-capabilities")),
            unique_id=_unique_id(raw.get("unique-id")),
            compiler_cache=_choice("compiler-cache", raw.get("compiler-cache", "auto"), COMPILER_CACHES),
            cuda_toolchain=_choice("cuda-toolchain", raw.get("cuda-toolchain", "auto"), CUDA_TOOLCHAINS),
            nvcc_threads=_thread_count("nvcc-threads", raw.get("nvcc-threads")),
            nvcc_split_compile=_thread_count("nvcc-split-compile", raw.get("nvcc-split-compile")),
            precompiled_headers=_choice("precompiled-headers", raw.get("precompiled-headers", "auto"),
                                        PRECOMPILED_HEADERS),
            dependency_dirs={lib: raw[f"{lib}-dir"] for lib in DEPENDENCY_LIBRARIES if raw.get(f"{lib}-dir")},
            dependency_urls={lib: raw[f"{lib}-url"] for lib in DEPENDENCY_LIBRARIES if raw.get(f"{lib}-url")},
            deps_cache=raw.get("deps-cache") or None,
            build_dir=raw.get("build-dir") or None,
            passthrough=passthrough,
        )


def env_variable(name: str) -> str:
    """The environment variable of the setting ``kernels.<name>``.

    >>> env_variable("torch-version")
    'KERNELS_BUILD_TORCH_VERSION'
    """
    return "KERNELS_BUILD_" + name.upper().replace("-", "_")


def _error(key: str, message: str) -> ConfigError:
    return ConfigError("config settings", key, message)


def _choice(name: str, value: str, allowed: Tuple[str, ...]) -> str:
    if value not in allowed:
        raise _error(_PREFIX + name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _thread_count(name: str, value: Optional[str]) -> Optional[int]:
    if value is None or value.strip() == "auto":
        return None
    text = value.strip()
    if not text.isdigit() or int(text) < 1:
        raise _error(_PREFIX + name, f"{value!r} is neither 'auto' nor a thread count such as 4")
    return int(text)


def _backend(value: Optional[str]) -> Optional[str]:
    if value is None or value == "auto":
        return None
    return _choice("backend", value, BACKENDS)


def _torch_version(value: Optional[str]) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    m = re.fullmatch(r"(\d+)\.(\d+)(\.\d+)?", value.strip())
    if not m:
        raise _error(_PREFIX + "torch-version", f"{value!r} is not a torch version such as 2.13")
    return int(m[1]), int(m[2])


def _policy(value: str) -> str:
    if not re.fullmatch(r"manylinux_2_\d+", value):
        raise _error(_PREFIX + "policy", f"{value!r} is not a policy such as manylinux_2_28")
    return value


def _capabilities(value: Optional[str]) -> Optional[Tuple[str, ...]]:
    """None for the default list (also for ``all``), ``("native",)``, or explicit capabilities."""
    if value is None or value.strip() == ALL_ARCHS:
        return None
    if value.strip() == NATIVE:
        return (NATIVE,)
    caps = tuple(c for c in re.split(r"[;, ]+", value.strip()) if c)
    if not caps:
        raise _error(_PREFIX + "cuda-capabilities", "is empty; name capabilities such as 9.0, or native or all")
    for word in (NATIVE, ALL_ARCHS):
        if word in caps:
            raise _error(_PREFIX + "cuda-capabilities",
                         f"{word!r} stands alone; it cannot be combined with other capabilities ({value!r})")
    for cap in caps:
        if not re.fullmatch(r"\d+\.\d+[af]?(\+PTX)?", cap):
            raise _error(
                _PREFIX + "cuda-capabilities",
                f"{cap!r} is not a CUDA capability such as 8.0, 9.0a, 10.0f or 12.0+PTX "
                f"(or {NATIVE!r}: the visible GPUs, {ALL_ARCHS!r}: every default arch)",
            )
    return caps


def _unique_id(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    if not re.fullmatch(r"[a-z0-9_]+", value):
        raise _error(_PREFIX + "unique-id", f"{value!r} may only hold lowercase letters, digits and _")
    return value
