"""Provide every library that the kernels of a build name in ``depends``.

Each library is looked for in this order; one progress line says which version was used and
where it came from:

a. an explicit source tree: ``-C kernels.<lib>-dir=DIR`` (or ``KERNELS_BUILD_<LIB>_DIR``),
   then the variable the existing builder reads (``CUTLASS_SRC_DIR``, ``SYCL_TLA_SRC_DIR``);
b. a PyPI distribution in the build environment that holds exactly that version's headers
   (``nvidia-cutlass``; under build isolation :func:`build_requirements` asks pip for it);
c. the per-user cache, filled by a shallow git fetch of the upstream release tag (or of
   ``-C kernels.<lib>-url``, a mirror); see :mod:`kernels_build.deps.fetch`;
d. otherwise the build stops, before CMake runs, naming the kernel, the library and a), b), c).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..config import Kernel
from ..errors import DependencyError
from ..progress import progress
from ..settings import BuildSettings
from . import probe, pypi
from .catalog import HeaderLibrary, library_for
from .fetch import default_cache_dir, fetch_into_cache


@dataclass(frozen=True)
class ResolvedDependency:
    """A library found for a build: where its sources are and which version they are."""

    library: HeaderLibrary
    root: Path
    version: str  # as the sources state it (the pinned version when they state none)
    origin: str  # for people: "PyPI nvidia-cutlass 3.8.0.0", "kernels.cutlass-dir", ...
    kernels: Tuple[str, ...]  # the [kernel.*] sections that declared it

    @property
    def include_dirs(self) -> Tuple[Path, ...]:
        """The include directories the existing builder adds (those the tree has)."""
        dirs = tuple((self.root / d).resolve() for d in self.library.include_dirs)
        return tuple(d for d in dirs if d.is_dir())

    def provenance(self) -> Dict[str, str]:
        """The entry recorded in metadata.json's ``provenance.dependencies``."""
        return {"version": self.version, "source": self.origin}


def declared_libraries(
    kernels: Sequence[Kernel],
    backend: str,
    backend_version: Optional[Tuple[int, int]] = None,
    *,
    warn: bool = True,
) -> Dict[HeaderLibrary, Tuple[str, ...]]:
    """The libraries that the ``kernels`` of ``backend`` declare, each with its kernels' names.

    Kernels of other backends are not part of the build. A library of another backend (a
    CUDA-only CUTLASS in a cpu kernel) is left out, with a warning when ``warn``: the existing
    builder provides a library only to builds of its own backend.
    """
    found: Dict[HeaderLibrary, List[str]] = {}
    for kernel in kernels:
        if kernel.backend != backend:
            continue
        for name in kernel.depends:
            library = library_for(name, backend_version)
            if library is None:
                continue
            if library.backend != backend:
                if warn:
                    progress(f"warning: kernel.{kernel.name} (backend {backend}) declares {name}, "
                             f"a {library.backend} library: ignored")
                continue
            found.setdefault(library, []).append(kernel.name)
    return {library: tuple(names) for library, names in found.items()}


def resolve_dependencies(
    kernels: Sequence[Kernel],
    backend: str,
    settings: BuildSettings,
    backend_version: Optional[Tuple[int, int]] = None,
) -> Tuple[ResolvedDependency, ...]:
    """Find (fetching where needed) every library the ``kernels`` of this build declare.

    Raises:
        DependencyError: a library cannot be provided; the message names the kernel, the
            library and its exact version, and the three ways to provide it.
    """
    resolved = []
    for library, names in declared_libraries(kernels, backend, backend_version).items():
        dependency = _resolve_one(library, names, settings)
        label = f"{dependency.library.title} {dependency.version}"
        progress(f"dependency {library.name}: {label} from {dependency.origin} ({dependency.root}) "
                 f"for kernel.{', kernel.'.join(names)}")
        resolved.append(dependency)
    return tuple(resolved)


def _resolve_one(library: HeaderLibrary, kernels: Tuple[str, ...], settings: BuildSettings) -> ResolvedDependency:
    explicit = _explicit_dir(library, settings)
    if explicit is not None:
        directory, origin = explicit
        return _from_explicit(library, kernels, directory, origin)
    installed = pypi.installed_headers(library)
    if installed is not None and library.pypi is not None:
        root, dist_version = installed
        stated = probe.stated_version(library, root)
        if probe.has_layout(library, root) and stated in (None, library.version):
            return ResolvedDependency(library, root, library.version,
                                      f"PyPI {library.pypi.distribution} {dist_version}", kernels)
        progress(f"warning: {library.pypi.distribution} {dist_version} holds "
                 f"{library.title} {stated or '(no version)'} headers, not {library.version}: not used")
    url = settings.dependency_urls.get(library.library) or library.archive_url or library.git_url
    assert url is not None
    cache = Path(settings.deps_cache).expanduser() if settings.deps_cache else default_cache_dir()
    try:
        root = fetch_into_cache(library, url, cache)
    except DependencyError as exc:
        raise DependencyError(_not_found(library, kernels, url, str(exc))) from None
    how = f"git {url} tag {library.git_tag}" if library.archive_url is None else url
    return ResolvedDependency(library, root, library.version, f"{how} (cache)", kernels)


def _explicit_dir(library: HeaderLibrary, settings: BuildSettings) -> Optional[Tuple[Path, str]]:
    value = settings.dependency_dirs.get(library.library)
    if value:
        return Path(value).expanduser(), settings.named(f"{library.library}-dir")
    if library.upstream_env and os.environ.get(library.upstream_env):
        return Path(os.environ[library.upstream_env]).expanduser(), library.upstream_env
    return None


def _from_explicit(library: HeaderLibrary, kernels: Tuple[str, ...], directory: Path, origin: str) -> ResolvedDependency:
    root = directory.resolve()
    if not root.is_dir() or not probe.has_layout(library, root):
        why = "does not exist" if not root.is_dir() else f"has no {library.marker}"
        raise DependencyError(
            f"{origin}={directory} is not a {library.title} source tree ({why}); kernel.{kernels[0]} "
            f"declares {library.name} ({library.title} {library.version}). Point it at the directory "
            f"that holds {library.marker}"
            + (f" (in an unpacked {library.pypi.distribution} wheel: {library.pypi.root})" if library.pypi else "")
            + ", or unset it to use PyPI or a fetched copy."
        )
    stated = probe.stated_version(library, root)
    if stated is not None and stated != library.version:
        progress(f"warning: {origin} holds {library.title} {stated}, but kernel.{kernels[0]} declares "
                 f"{library.name} ({library.version}); building with {stated} as asked")
    return ResolvedDependency(library, root, stated or library.version, f"{origin} (explicit directory)", kernels)


def _not_found(library: HeaderLibrary, kernels: Tuple[str, ...], url: str, cause: str) -> str:
    lines = [
        f"kernel.{kernels[0]} depends on {library.name} ({library.title} {library.version}), which "
        "could not be provided. Provide it in one of these ways:",
        f"  a) a source tree: -C kernels.{library.library}-dir=DIR"
        + (f" or {library.upstream_env}=DIR" if library.upstream_env else ""),
    ]
    if library.pypi is not None:
        installed = pypi.installed_version(library.pypi.distribution)
        found = f"; {library.pypi.distribution} {installed} is installed, another version" if installed else ""
        lines.append(f"  b) install {library.pypi.requirement} into the build environment "
                     f"(build isolation asks for it by itself){found}")
    else:
        lines.append(f"  b) (no PyPI package holds {library.title} {library.version})")
    what = f"tag {library.git_tag} of" if library.archive_url is None else "the archive"
    lines.append(f"  c) let the build fetch {what} {url} (another place: -C kernels.{library.library}-url=URL); "
                 f"that failed: {cause}")
    return "\n".join(lines)


def build_requirements(kernels: Sequence[Kernel], settings: BuildSettings) -> List[str]:
    """The PyPI distributions (path b) that a CUDA build of ``kernels`` asks pip for under
    build isolation: one per distribution, for libraries without an explicit source tree."""
    requirements: Dict[str, str] = {}
    for library in declared_libraries(kernels, "cuda", warn=False):
        if library.pypi is None or _explicit_dir(library, settings) is not None:
            continue
        requirements.setdefault(library.pypi.distribution, library.pypi.requirement)
    return list(requirements.values())
