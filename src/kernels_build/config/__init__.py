"""build.toml: the validated model of a kernel repository's build configuration.

``load_build_config(root)`` reads and validates ``<root>/build.toml``; ``check_layout(config)``
checks that the files it names exist and that the Python package is laid out correctly.
"""

from .model import (
    DEFAULT_PYEXT,
    BackendDepends,
    BuildConfig,
    Framework,
    General,
    Hub,
    Kernel,
    KernelDependency,
    Torch,
    TorchNoarch,
    TvmFfi,
    Version,
)
from .parse import (
    BUILD_TOML,
    FRAMEWORK_TABLES,
    GENERAL_PYTHON_DEPENDS,
    BACKEND_PYTHON_DEPENDS,
    KERNEL_BACKENDS,
    KERNEL_DEPENDS,
    check_layout,
    load_build_config,
    parse_build_toml,
)

__all__ = [
    "BACKEND_PYTHON_DEPENDS",
    "BUILD_TOML",
    "DEFAULT_PYEXT",
    "FRAMEWORK_TABLES",
    "GENERAL_PYTHON_DEPENDS",
    "KERNEL_BACKENDS",
    "KERNEL_DEPENDS",
    "BackendDepends",
    "BuildConfig",
    "Framework",
    "General",
    "Hub",
    "Kernel",
    "KernelDependency",
    "Torch",
    "TorchNoarch",
    "TvmFfi",
    "Version",
    "check_layout",
    "load_build_config",
    "parse_build_toml",
]
