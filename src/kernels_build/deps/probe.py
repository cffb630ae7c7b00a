"""What a source tree of a header library is: its layout and the version its sources state.

CUTLASS 3.x and 4.x state their version in ``include/cutlass/version.h`` (``CUTLASS_MAJOR``,
``CUTLASS_MINOR``, ``CUTLASS_PATCH``); 2.x releases only in the top-level ``CMakeLists.txt``
(``project(CUTLASS VERSION 2.10.0 ...)``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from .catalog import HeaderLibrary

_MACRO = r"^\s*#\s*define\s+CUTLASS_{part}\s+(\d+)"
_PROJECT = re.compile(r"project\s*\(\s*CUTLASS\s+VERSION\s+(\d+\.\d+\.\d+)", re.I)


def stated_version(library: HeaderLibrary, root: Path) -> Optional[str]:
    """The version the sources at ``root`` state, or None when they state none (or the
    library's sources never do: sycl-tla, metal-cpp)."""
    if not library.states_version:
        return None
    return cutlass_version(root)


def cutlass_version(root: Path) -> Optional[str]:
    """``"3.8.0"`` for a CUTLASS source tree (or a copy of its headers), else None."""
    header = root / "include" / "cutlass" / "version.h"
    if header.is_file():
        text = header.read_text(errors="replace")
        parts = [re.search(_MACRO.format(part=p), text, re.M) for p in ("MAJOR", "MINOR", "PATCH")]
        if all(parts):
            return ".".join(m.group(1) for m in parts)  # type: ignore[union-attr]
    cmakelists = root / "CMakeLists.txt"
    if cmakelists.is_file():
        match = _PROJECT.search(cmakelists.read_text(errors="replace"))
        if match:
            return match.group(1)
    return None


def has_layout(library: HeaderLibrary, root: Path) -> bool:
    """True when ``root`` looks like a source tree of ``library`` (its marker file exists)."""
    return (root / library.marker).is_file()
