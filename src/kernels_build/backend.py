"""The PEP 517 hooks. Thin: each hook runs the pipeline and turns user errors into one line.

    build.toml -> config -> plan (variant) -> project -> driver -> assemble (compliance) -> wheel
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List, Mapping, NoReturn, Optional, Tuple, Union

from .errors import FileSystemError, KernelBuildError
from .progress import progress

if TYPE_CHECKING:
    from .config import BuildConfig
    from .plan import BuildPlan
    from .settings import BuildSettings

ConfigSettings = Optional[Mapping[str, Union[str, List[str]]]]


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Show a kernel author's mistake, or a fault of the machine (a read-only directory, a full
    disk), as one clear message, not a traceback. Other exceptions are bugs: shown in full."""
    try:
        yield
    except KernelBuildError as exc:
        _fail(exc)
    except OSError as exc:
        error = FileSystemError.from_os_error(exc)
        if error is None:
            raise
        _fail(error)


def _fail(error: KernelBuildError) -> NoReturn:
    sys.stdout.flush()
    print(f"\nkernels_build error: {error}", file=sys.stderr, flush=True)
    raise SystemExit(1) from None



#: What every build installs besides torch: the CMake driver, CMake and ninja (from PyPI, the
#: way scikit-build-core gets them). Also the ``build`` extra of the ``kernels`` distribution.
BUILD_TOOLS = ("scikit-build-core>=0.11", "cmake>=3.26", "ninja>=1.11")
#: The compliance gate's tools, for kernels with compiled code.
COMPLIANCE_TOOLS = ("auditwheel>=6.1", "abi3audit>=0.0.20")
#: Editable installs write their wheel with ``wheel``'s writer.
EDITABLE_TOOLS = ("wheel>=0.42",)
#: Import name of each tool above, to tell a build without isolation what is missing.
_IMPORT_NAMES = {"scikit-build-core": "scikit_build_core", "cmake": "cmake", "ninja": "ninja",
                 "auditwheel": "auditwheel", "abi3audit": "abi3audit", "wheel": "wheel"}


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    """The build tools (:data:`BUILD_TOOLS`; :data:`COMPLIANCE_TOOLS` for compiled kernels),
    torch (pinned with ``-C kernels.torch-version=M.m``; ``apache-tvm-ffi`` instead for a
    ``[tvm-ffi]`` kernel) and, for CUDA builds, nvcc from PyPI
    where no matching toolkit is installed and the PyPI packages of the ``depends`` libraries
    (``nvidia-cutlass``). The ``kernels`` distribution itself stays light: a kernel's
    ``[build-system] requires = ["kernels"]`` is all a build needs."""
    return _requirements(config_settings, editable=False)


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> List[str]:
    """As :func:`get_requires_for_build_wheel`, plus :data:`EDITABLE_TOOLS`."""
    return _requirements(config_settings, editable=True)


def _requirements(config_settings: ConfigSettings, editable: bool) -> List[str]:
    from .config import load_build_config
    from .settings import BuildSettings

    with _user_errors():
        settings = BuildSettings.from_config_settings(config_settings)
        config = load_build_config(Path(os.getcwd()))
    requires = list(BUILD_TOOLS)
    if config.kernels:
        requires += COMPLIANCE_TOOLS
    if editable:
        requires += EDITABLE_TOOLS
    if config.is_tvm_ffi:
        # Compiled against TVM FFI alone; nvcc comes from the system (CUDA_HOME, PATH).
        from .tvm_ffi import DISTRIBUTION

        return requires + [DISTRIBUTION]
    if settings.torch_version is not None:
        major, minor = settings.torch_version
        requires.append(f"torch=={major}.{minor}.*")
    else:
        requires.append("torch")
    with _user_errors():
        requires += _cuda_requirements(settings, config)
    return requires


def _check_build_tools(compiled: bool, editable: bool, extra: str = "build") -> None:
    """Without build isolation nothing installed the tools: say which extra (``extra``) brings them."""
    import importlib.util
    import shutil
    import subprocess

    from packaging.version import InvalidVersion, Version

    def system_tool_fits(requirement: str) -> bool:  # cmake and ninja may come from the system
        name, _, minimum = requirement.partition(">=")
        path = shutil.which(name)
        if path is None:
            return False
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
            return Version(re.findall(r"\d+\.\d+(?:\.\d+)?", out)[0]) >= Version(minimum)
        except (OSError, subprocess.SubprocessError, IndexError, InvalidVersion):
            return False

    def present(requirement: str) -> bool:
        name = requirement.split(">")[0].split("=")[0]
        return (importlib.util.find_spec(_IMPORT_NAMES[name]) is not None
                or (name in ("cmake", "ninja") and system_tool_fits(requirement)))

    wanted = BUILD_TOOLS + (COMPLIANCE_TOOLS if compiled else ()) + (EDITABLE_TOOLS if editable else ())
    missing = [r for r in wanted if not present(r)]
    if missing:
        raise KernelBuildError(
            f"missing build tools: {', '.join(missing)} (a build without isolation uses what this "
            f"environment has): pip install 'kernels[{extra}]', or build with isolation (drop "
            "--no-build-isolation) so the backend installs them")


def _cuda_requirements(settings: "BuildSettings", config: "BuildConfig") -> List[str]:
    """nvcc and the CUDA headers, and the ``depends`` libraries, from PyPI, when this is a
    CUDA build that needs them."""
    from .cuda_pip import build_requirements
    from .deps import build_requirements as dependency_requirements
    from .errors import ToolchainError
    from .toolchain import inspect_torch

    if settings.backend not in (None, "cuda"):
        return []
    if "cuda" not in config.general.backends or not config.kernels_for("cuda"):
        return []  # nothing to compile with nvcc
    try:
        torch = inspect_torch()  # present when [build-system] requires names torch
    except ToolchainError:
        torch = None
    if settings.backend is None and torch is not None and torch.cuda is None:
        return []  # this torch builds the cpu variant
    libraries = dependency_requirements(config.kernels, settings)
    if libraries:
        progress(f"libraries of depends from PyPI: {' '.join(libraries)}")
    toolchain = [] if settings.cuda_toolchain == "system" else build_requirements(settings.cuda_toolchain, torch)
    if toolchain:
        progress(f"CUDA toolchain from PyPI: {' '.join(toolchain)}")
    return toolchain + libraries


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    """An sdist is a plain archive of the kernel repository: nothing to install."""
    return []


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    """Archive the kernel repository (variant-independent) so wheels can be built from it."""
    from .config import check_layout, load_build_config
    from .sdist import make_sdist

    with _user_errors():
        config = load_build_config(Path(os.getcwd()))
        check_layout(config)
        sdist = make_sdist(config, Path(sdist_directory))
        progress(f"wrote {sdist.name}")
        return sdist.name


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    """Write the wheel's ``.dist-info`` (``METADATA``, ``WHEEL``, ``kernels-variant.txt``) into
    ``metadata_directory`` without compiling (PEP 517); return its name. Byte for byte the
    files the built wheel holds (:mod:`kernels_build.dist_info`)."""
    from .dist_info import write_dist_info

    with _user_errors():
        return write_dist_info(_plan(config_settings), Path(metadata_directory)).name


def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    """PEP 660: as :func:`prepare_metadata_for_build_wheel` (an editable wheel carries the same
    metadata)."""
    from .dist_info import write_dist_info

    with _user_errors():
        return write_dist_info(_plan(config_settings, editable=True), Path(metadata_directory)).name


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """Build the kernel variant that the build environment's torch (or the settings) selects."""
    with _user_errors():
        return _build(Path(wheel_directory), config_settings)[0].name


def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """PEP 660: compile the extension, then install a wheel whose package points back at
    ``torch-ext/<module>/`` (``tvm-ffi-ext/<module>/``) so edits to the Python code take effect without reinstalling."""
    from .editable import make_editable_wheel

    with _user_errors():
        with tempfile.TemporaryDirectory(prefix="kernels-editable-") as tmp:
            built, plan = _build(Path(tmp), config_settings, editable=True)
            return make_editable_wheel(built, Path(wheel_directory), plan.build_root, plan.config.python_dir).name


def _plan(config_settings: ConfigSettings, editable: bool = False) -> "BuildPlan":
    """The build plan (variant, ops name, archs, toolchain) from build.toml and the settings,
    without compiling anything."""
    import dataclasses

    from .config import check_layout, load_build_config
    from .gpus import visible_cuda_capabilities
    from .ophook import check_op_namespaces
    from .plan import make_plan
    from .settings import NATIVE, BuildSettings

    root = Path(os.getcwd())
    settings = BuildSettings.from_config_settings(config_settings)
    config = load_build_config(root)
    check_layout(config)
    check_op_namespaces(config.python_dir, root=root)
    # An editable install is for this machine: compile only for its GPUs, unless told otherwise.
    native_default = (editable and settings.cuda_capabilities is None and bool(config.kernels_for("cuda"))
                      and bool(visible_cuda_capabilities()))
    if native_default:
        settings = dataclasses.replace(settings, cuda_capabilities=(NATIVE,))
    plan = make_plan(config, settings)
    if native_default and plan.backend == "cuda":
        progress("editable install: CUDA code is compiled for the visible GPUs only "
                 "(kernels.cuda-capabilities=native); -C kernels.cuda-capabilities=all builds every arch")
    return plan


def _build(wheel_directory: Path, config_settings: ConfigSettings,
           editable: bool = False) -> "Tuple[Path, BuildPlan]":
    """Compile and assemble the wheel into ``wheel_directory``; the wheel and the plan built."""
    plan = _plan(config_settings, editable)
    _check_build_tools(compiled=not plan.is_noarch, editable=editable,
                       extra="build-tvm-ffi" if plan.is_tvm_ffi else "build")

    from .assemble import finalize_wheel
    from .compiler_cache import effective_launcher, find_compiler_cache, sccache_base_dirs
    from .deps import resolve_dependencies
    from .driver import build_with_scikit_build, keep_objects_across_environments
    from .project import cmake_build_dir, generate_project, with_headers_copy

    settings = plan.settings
    config = plan.config
    backend_version = getattr(plan.variant, "backend_version", None)
    plan = plan.with_dependencies(resolve_dependencies(plan.kernels, plan.backend, settings, backend_version))
    progress(f"building {config.general.name} variant {plan.variant.name} (ops {plan.ops_name})")
    launcher = find_compiler_cache(settings.compiler_cache, setting=settings.named("compiler-cache"))
    progress(f"compiler cache: {launcher}" if launcher else "compiler cache: none")
    base_dirs = sccache_base_dirs(effective_launcher(launcher))
    if base_dirs:
        progress(f"SCCACHE_BASEDIRS={os.pathsep.join(map(str, base_dirs))}: paths under them are left to "
                 "sccache (not mapped out of the binary); a running sccache server keeps the base "
                 "directories it started with (sccache --stop-server to change them)")
    if plan.nvcc is not None:
        major, minor = plan.nvcc.version
        progress(f"CUDA compiler: nvcc {major}.{minor} at {plan.nvcc.path}")
    if plan.cuda_capabilities:
        for name, caps in plan.cuda_capabilities.items():
            progress(f"kernel.{name}: CUDA archs {' '.join(str(c) for c in caps)}")
    with _build_dir_faults(plan):
        _check_build_dir(plan)
        plan = with_headers_copy(plan)
        project = generate_project(plan)
        keep_objects_across_environments(cmake_build_dir(plan))
        with tempfile.TemporaryDirectory(prefix="kernels-raw-") as tmp:
            raw = build_with_scikit_build(project, Path(tmp), settings.passthrough, log_path=plan.work_dir / "build.log")
            final = finalize_wheel(raw, plan, wheel_directory)
    progress(f"wrote {final.name}")
    return final, plan


def _check_build_dir(plan: "BuildPlan") -> None:
    """Create the variant's build directory and make sure files can be created in it."""
    try:
        plan.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=plan.work_dir):
            pass
    except OSError as exc:
        error = FileSystemError.from_os_error(exc, "cannot write the build directory", plan.work_dir)
        if error is None:
            raise
        raise error from None


@contextlib.contextmanager
def _build_dir_faults(plan: "BuildPlan") -> Iterator[None]:
    """A build directory that cannot be written (read-only, full): say where it is and how to
    choose another; other files that cannot be written (the wheel's) are named as they are."""
    try:
        yield
    except FileSystemError as exc:  # the build directory's own check, or the driver's
        raise FileSystemError(f"{exc}; {_build_dir_hint(plan, exc.kind)}", exc.kind) from None
    except OSError as exc:
        error = FileSystemError.from_os_error(exc, "cannot write")
        if error is None:
            raise
        if not isinstance(exc.filename, str) or plan.build_root.resolve() not in Path(exc.filename).resolve().parents:
            raise error from None
        raise FileSystemError(f"{error}; {_build_dir_hint(plan, error.kind)}", error.kind) from None


def _build_dir_hint(plan: "BuildPlan", kind: str) -> str:
    how = "-C kernels.build-dir=DIR (or KERNELS_BUILD_BUILD_DIR=DIR)"
    if kind == "read-only":
        if plan.settings.build_dir is None:
            where = (f"the build directory is inside the kernel repository by default "
                     f"({plan.build_root}): make the repository writable")
        else:
            where = f"{plan.settings.named('build-dir')} is {plan.build_root}: make it writable"
        return f"{where}, or choose a writable build directory with {how}"
    return f"to build on another file system: {how}"
