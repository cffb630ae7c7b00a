"""The C++ libraries a kernel can name in ``[kernel.<name>] depends``, and where each comes from.

Every name that build.toml accepts besides ``torch`` is a header library pinned to one exact
version (``../shared/CONTRACT.md`` §1.4, the same pins as the existing builder):

==============  ===========  =======  =======================================================
depends         version      backend  upstream
==============  ===========  =======  =======================================================
cutlass_2_10    2.10.0       cuda     github.com/NVIDIA/cutlass, tag v2.10.0
cutlass_3_5     3.5.1        cuda     tag v3.5.1 (also PyPI nvidia-cutlass 3.5.1.x)
cutlass_3_6     3.6.0        cuda     tag v3.6.0 (also PyPI nvidia-cutlass 3.6.0.x)
cutlass_3_8     3.8.0        cuda     tag v3.8.0 (also PyPI nvidia-cutlass 3.8.0.x)
cutlass_3_9     3.9.2        cuda     tag v3.9.2
cutlass_4_0     4.0.0        cuda     tag v4.0.0
cutlass_4_4     4.4.2        cuda     tag v4.4.2
cutlass_4_5     4.5.2        cuda     tag v4.5.2
sycl_tla        v0.8/v0.9.2  xpu      github.com/intel/sycl-tla: v0.8 for DPC++ 2025.3,
                                      v0.9.2 for 2026.0 and 2026.1
metal-cpp       26           metal    Apple's developer site, metal-cpp_26.zip
==============  ===========  =======  =======================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ..errors import ConfigError

CUTLASS_GIT = "https://github.com/NVIDIA/cutlass.git"
SYCL_TLA_GIT = "https://github.com/intel/sycl-tla.git"
METAL_CPP_ZIP = "https://developer.apple.com/metal/cpp/files/metal-cpp_26.zip"

#: ``depends`` names that are not libraries to provide (``torch`` is always there).
NOT_A_LIBRARY = ("torch",)


@dataclass(frozen=True)
class PyPIHeaders:
    """A PyPI distribution that ships the library's headers (found, or asked for under isolation)."""

    distribution: str  # "nvidia-cutlass"
    version_prefix: str  # "3.8.0": any 3.8.0.x release carries those headers
    root: str  # the library's source root inside site-packages: "cutlass_library/source"

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version_prefix}.*"


@dataclass(frozen=True)
class HeaderLibrary:
    """One ``depends`` entry resolved to an exact version of a header library."""

    name: str  # the build.toml name: "cutlass_3_8"
    library: str  # the settings name: "cutlass", "sycl-tla", "metal-cpp"
    title: str  # for people: "CUTLASS"
    version: str  # exact: "3.8.0"
    backend: str  # the backend whose kernels get it
    #: include directories, relative to the library's source root
    include_dirs: Tuple[str, ...]
    #: a file that every genuine source tree has, relative to the root (layout check)
    marker: str
    git_url: Optional[str] = None
    git_tag: Optional[str] = None
    archive_url: Optional[str] = None  # fetched as a zip instead of with git
    pypi: Optional[PyPIHeaders] = None
    #: the environment variable the existing builder reads for a source tree
    upstream_env: Optional[str] = None
    #: compile definitions the existing builder adds with the library
    definitions: Tuple[str, ...] = ()
    #: True when the sources state their version (checked against :attr:`version`)
    states_version: bool = True

    @property
    def cache_key(self) -> str:
        """Directory name in the per-user cache: ``cutlass-3.8.0``."""
        return f"{self.library}-{self.version}"


def _cutlass(minor_name: str, version: str, on_pypi: bool = False) -> HeaderLibrary:
    return HeaderLibrary(
        name=f"cutlass_{minor_name}",
        library="cutlass",
        title="CUTLASS",
        version=version,
        backend="cuda",
        include_dirs=("include", "tools/util/include"),
        marker="include/cutlass/cutlass.h",
        git_url=CUTLASS_GIT,
        git_tag=f"v{version}",
        pypi=PyPIHeaders("nvidia-cutlass", version, "cutlass_library/source") if on_pypi else None,
        upstream_env="CUTLASS_SRC_DIR",
    )


_CUTLASS: Dict[str, HeaderLibrary] = {
    lib.name: lib
    for lib in (
        _cutlass("2_10", "2.10.0"),
        _cutlass("3_5", "3.5.1", on_pypi=True),
        _cutlass("3_6", "3.6.0", on_pypi=True),
        _cutlass("3_8", "3.8.0", on_pypi=True),
        _cutlass("3_9", "3.9.2"),
        _cutlass("4_0", "4.0.0"),
        _cutlass("4_4", "4.4.2"),
        _cutlass("4_5", "4.5.2"),
    )
}

#: sycl-tla release by the DPC++ compiler's (torch.version.xpu's) year.minor.
SYCL_TLA_BY_DPCPP: Dict[Tuple[int, int], str] = {(2025, 3): "0.8", (2026, 0): "0.9.2", (2026, 1): "0.9.2"}


def _sycl_tla(dpcpp: Optional[Tuple[int, int]]) -> HeaderLibrary:
    version = SYCL_TLA_BY_DPCPP.get(dpcpp) if dpcpp else None
    if version is None:
        known = ", ".join(f"{y}.{m}" for y, m in SYCL_TLA_BY_DPCPP)
        have = f"{dpcpp[0]}.{dpcpp[1]}" if dpcpp else "unknown"
        raise ConfigError(
            "build.toml", "depends",
            f"sycl_tla has a release for DPC++ {known}, but this build uses DPC++ {have}; "
            "give a sycl-tla source tree with -C kernels.sycl-tla-dir=DIR (or SYCL_TLA_SRC_DIR)",
        )
    return HeaderLibrary(
        name="sycl_tla",
        library="sycl-tla",
        title="sycl-tla",
        version=version,
        backend="xpu",
        include_dirs=("include", "tools/util/include"),
        marker="include/cute/tensor.hpp",
        git_url=SYCL_TLA_GIT,
        git_tag=f"v{version}",
        upstream_env="SYCL_TLA_SRC_DIR",
        definitions=("CUTLASS_ENABLE_SYCL=1", "SYCL_INTEL_TARGET=1"),
        # sycl-tla's version.h states the CUTLASS release it derives from, not its own.
        states_version=False,
    )


_METAL_CPP = HeaderLibrary(
    name="metal-cpp",
    library="metal-cpp",
    title="metal-cpp",
    version="26",
    backend="metal",
    include_dirs=(".",),
    marker="Metal/Metal.hpp",
    archive_url=METAL_CPP_ZIP,
    states_version=False,
)


def library_for(name: str, backend_version: Optional[Tuple[int, int]] = None) -> Optional[HeaderLibrary]:
    """The library behind a ``depends`` name; None for ``torch``.

    ``backend_version`` is the toolkit version of the build (DPC++ ``year.minor`` for xpu),
    which picks the sycl-tla release.

    Raises:
        ConfigError: an unknown name (the parser refuses those first), or sycl_tla for a
            DPC++ release that no sycl-tla release is pinned to.
    """
    if name in NOT_A_LIBRARY:
        return None
    if name in _CUTLASS:
        return _CUTLASS[name]
    if name == "sycl_tla":
        return _sycl_tla(backend_version)
    if name == "metal-cpp":
        return _METAL_CPP
    raise ConfigError("build.toml", "depends", f"unknown dependency {name!r}")


def pypi_libraries() -> Tuple[HeaderLibrary, ...]:
    """The libraries that a PyPI distribution can provide."""
    return tuple(lib for lib in _CUTLASS.values() if lib.pypi is not None)
