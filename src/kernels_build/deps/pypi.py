"""Header libraries from PyPI distributions installed in the build environment.

NVIDIA's ``nvidia-cutlass`` wheels (3.5.0 to 3.8.0, 4.2.0 at the time of writing) are pure
Python wheels that carry CUTLASS's headers at ``cutlass_library/source/include`` and
``cutlass_library/source/tools/util/include``. Under build isolation the backend asks pip for
the one a kernel needs (``get_requires_for_build_wheel``); without isolation it uses the one
installed, when its version is the requested one. Nothing is imported: the distribution's
metadata and files are enough.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Optional, Tuple

from .catalog import HeaderLibrary


def installed_headers(library: HeaderLibrary) -> Optional[Tuple[Path, str]]:
    """``(source root, distribution version)`` of an installed distribution that holds
    exactly ``library``'s version, or None."""
    if library.pypi is None:
        return None
    try:
        dist = metadata.distribution(library.pypi.distribution)
    except metadata.PackageNotFoundError:
        return None
    version = dist.version
    if version != library.pypi.version_prefix and not version.startswith(library.pypi.version_prefix + "."):
        return None
    root = Path(str(dist.locate_file(library.pypi.root))).resolve()
    if not root.is_dir():
        return None
    return root, version


def installed_version(distribution: str) -> Optional[str]:
    """The installed version of ``distribution``, or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
