"""kernels_build: a PEP 517 build backend for Kernel Hub kernel repositories.

A kernel repository (``build.toml``, ``torch-ext/<name>/``, C++/CUDA sources) becomes one
ABI3 manylinux wheel per build variant with ``pip wheel .`` once its pyproject.toml says::

    [build-system]
    requires = ["kernels>=0.18.0.dev0"]
    build-backend = "kernels_build"

The hooks below are the whole public interface; see :mod:`kernels_build.backend`.
"""

__version__ = "0.18.0.dev0"

from .backend import (  # noqa: E402  (the version is read by the modules imported here)
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]
