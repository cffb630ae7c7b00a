"""Third-party C++ libraries of a kernel: the ``depends`` names of build.toml.

- :mod:`.catalog`: which library and exact version each name means, and where it comes from;
- :mod:`.probe`: what a source tree is (layout, the version its sources state);
- :mod:`.pypi`: libraries carried by PyPI distributions (``nvidia-cutlass``);
- :mod:`.fetch`: the per-user cache, filled by shallow git fetches of release tags;
- :mod:`.resolve`: the order a) explicit tree, b) PyPI, c) fetch, d) a clear error.
"""

from .catalog import HeaderLibrary, library_for
from .resolve import ResolvedDependency, build_requirements, declared_libraries, resolve_dependencies

__all__ = [
    "HeaderLibrary",
    "ResolvedDependency",
    "build_requirements",
    "declared_libraries",
    "library_for",
    "resolve_dependencies",
]
