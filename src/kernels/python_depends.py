"""The ``python-depends`` names a kernel may declare, and the pip requirements they stand for.

``build.toml`` (``general.python-depends`` and the per-backend lists) and ``metadata.json``
(``python-depends``) name dependencies by the short names of upstream's
``python_dependencies.json``; wheels need pip distribution names::

    >>> pip_requirements(["einops", "tvm-ffi", "einops"])
    ['einops', 'apache-tvm-ffi']

Names without a pip package (or unknown to this table) are left out: the runtime checks them.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Mapping

__all__ = ["PYTHON_DEPENDS_PIP", "pip_requirements", "requirement_name"]

#: pip names of the python-depends the contract knows (python_dependencies.json).
PYTHON_DEPENDS_PIP: Mapping[str, str] = {
    "einops": "einops",
    "helion": "helion",
    "tvm-ffi": "apache-tvm-ffi",
    "nvidia-cutlass-dsl": "nvidia-cutlass-dsl",
    "nki": "nki",
    "onednn": "onednn-devel",
}


def pip_requirements(python_depends: Iterable[str], existing: Iterable[str] = ()) -> List[str]:
    """pip names of ``python_depends`` in order, leaving out duplicates and the distributions
    that the requirement strings in ``existing`` already name (``"einops>=0.7"`` names einops).
    """
    seen = {requirement_name(r) for r in existing}
    out: List[str] = []
    for dep in python_depends:
        pip_name = PYTHON_DEPENDS_PIP.get(dep)
        if pip_name and requirement_name(pip_name) not in seen:
            seen.add(requirement_name(pip_name))
            out.append(pip_name)
    return out


def requirement_name(requirement: str) -> str:
    """The normalised distribution name a requirement string starts with:
    ``"Apache_TVM.FFI==0.1.*"`` -> ``"apache-tvm-ffi"``."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    name = m.group(1) if m else requirement.strip()
    return re.sub(r"[-_.]+", "-", name).lower()
