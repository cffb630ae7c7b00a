"""Turn a :class:`~kernels_build.plan.BuildPlan` into a CMake project for scikit-build-core.

The generated project lives in ``<kernel>/.kernels_build/<variant>/project`` and holds:

- ``pyproject.toml``: the wheel's name, version (with the variant label) and requirements, and
  the scikit-build-core settings (ABI3 tag, persistent build directory);
- ``CMakeLists.txt``: short, data only; the logic is in our ``cmake/`` modules;
- ``generated/registration.h`` and ``generated/_ops.py``: the glue the contract defines, and
  ``generated/kernels_extension_init.cpp`` (see :mod:`kernels_build.registration`).

Files are only rewritten when their content changes, so ninja sees no change on a rebuild.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from kernels.python_depends import PYTHON_DEPENDS_PIP, pip_requirements  # noqa: F401 (re-exported)
from kernels.wheels import default_summary

from . import parallelism, pch, tvm_ffi
from .compiler_cache import effective_launcher, find_compiler_cache, paths_left_to_sccache, sccache_base_dirs
from .config import Torch, TvmFfi
from .cuda_archs import gencode_flags
from .errors import ConfigError, SourceError
from .flags import torch_flags
from .header_mirror import SITE_DIR, default_headers_cache, mirrored_path, shared_copy
from .plan import DEFAULT_BUILD_DIR, BuildPlan
from .registration import (
    EXTENSION_INIT_CPP,
    EXTENSION_INIT_NAME,
    REGISTRATION_H,
    mentions_ops_name,
    registration_mode,
)

try:  # Python >= 3.11
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

#: Torch libraries an extension links, by backend.
TORCH_LIBRARIES = {
    "cpu": ("c10", "torch", "torch_cpu"),
    "cuda": ("c10", "torch", "torch_cpu", "c10_cuda", "torch_cuda"),
    "rocm": ("c10", "torch", "torch_cpu", "c10_hip", "torch_hip"),
    "xpu": ("c10", "torch", "torch_cpu", "c10_xpu", "torch_xpu"),
    "metal": ("c10", "torch", "torch_cpu"),
}

CMAKE_DIR = Path(__file__).resolve().parent / "cmake"


def cmake_modules_dir() -> Path:
    """Our CMake modules: packaged as ``kernels_build/cmake``, or ``cmake/`` in a checkout."""
    if (CMAKE_DIR / "kernels.cmake").is_file():
        return CMAKE_DIR
    checkout = Path(__file__).resolve().parents[2] / "cmake"
    if (checkout / "kernels.cmake").is_file():
        return checkout
    raise FileNotFoundError("kernels_build's CMake modules are missing; reinstall the kernels package")


def with_headers_copy(plan: BuildPlan) -> BuildPlan:
    """``plan`` naming the copy of the headers it reads from site-packages, made if missing
    (:mod:`kernels_build.header_mirror`): compile commands then stay the same when the same
    torch is installed elsewhere, as in the new environment of every isolated build.

    Raises ``OSError`` when the copy cannot be written (the caller names the place).
    """
    site = _site_packages(plan)
    if site is None:
        return plan
    copy = shared_copy(_site_header_dirs(plan), site, default_headers_cache(), plan.work_dir / "headers.json")
    return dataclasses.replace(plan, headers_copy=copy)


def generate_project(plan: BuildPlan) -> Path:
    """Write (or refresh) the CMake project of ``plan``; return its directory.

    Our compat sources are copied into it: compile commands name them, and where the
    ``kernels_build`` package lies changes with every isolated build.
    """
    project = plan.work_dir / "project"
    generated = project / "generated"
    _write_if_changed(generated / "_ops.py", render_ops_py(plan))
    if not plan.is_noarch and not plan.is_tvm_ffi:
        _write_if_changed(generated / "registration.h", REGISTRATION_H)
        _write_if_changed(generated / EXTENSION_INIT_NAME, EXTENSION_INIT_CPP)
    if not plan.is_noarch:
        for name in COMPAT_SOURCES:
            _write_bytes_if_changed(project / "compat" / name, (cmake_modules_dir() / name).read_bytes())
    _write_if_changed(project / "pyproject.toml", render_pyproject(plan))
    _write_if_changed(project / "CMakeLists.txt", render_cmakelists(plan))
    return project


#: Our sources that compile commands name (cmake/kernels.cmake, ``KERNEL_COMPAT_DIR``).
COMPAT_SOURCES = ("kernels_glibc_compat.h", "kernels_glibc_compat.c", "kernels_libstdcxx_compat.cpp")


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def _write_bytes_if_changed(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def cmake_build_dir(plan: BuildPlan) -> Path:
    """CMake's build directory of the variant, kept between builds (objects, ninja's log)."""
    return plan.work_dir / "cmake-build"


def _site_packages(plan: BuildPlan) -> Optional[Path]:
    """The site-packages of the framework the kernel builds against (None: Python-only)."""
    if plan.is_noarch:
        return None
    if plan.torch is not None and not plan.is_tvm_ffi:
        return plan.torch.site_packages.resolve()
    if plan.tvm_ffi is not None:
        return plan.tvm_ffi.site_packages.resolve()
    return None


def _site_header_dirs(plan: BuildPlan) -> List[Path]:
    """Every header directory of the framework, and of the ``depends`` libraries, the build reads."""
    dirs: List[Path] = []
    if plan.is_tvm_ffi and plan.tvm_ffi is not None:
        dirs += plan.tvm_ffi.include_dirs
    elif plan.torch is not None:
        dirs += plan.torch.include_dirs
        if plan.backend == "cuda":
            dirs += plan.torch.cuda_wheel_include_dirs()
    dirs += [d for kernel in plan.kernels for lib in plan.dependencies_of(kernel.name) for d in lib.include_dirs]
    return [d.resolve() for d in dirs]


def _read_from(plan: BuildPlan, path: Path) -> Path:
    """The path the compiler reads ``path`` at: its copy when it lies in site-packages."""
    site = _site_packages(plan)
    return path if site is None else mirrored_path(path.resolve(), site, plan.headers_copy)


# --------------------------------------------------------------------------- glue files


def render_ops_py(plan: BuildPlan) -> str:
    """The ``_ops`` module: the kernel's unique op namespace and a helper to prefix op names."""
    if plan.is_noarch:
        return _NOARCH_OPS_PY.format(module=plan.module, uid=plan.unique_id)
    if plan.is_tvm_ffi:
        return tvm_ffi.render_ops_py(plan.ops_name)
    name = plan.ops_name
    return (
        "# Generated by kernels_build: the op namespace of this build of the kernel.\n"
        "import torch\n"
        f"from . import {name}\n\n"
        f"ops = torch.ops.{name}\n\n\n"
        "def add_op_namespace_prefix(op_name: str) -> str:\n"
        '    """Qualify ``op_name`` with this kernel\'s unique op namespace."""\n'
        f'    return f"{name}::{{op_name}}"\n'
    )


# A noarch build runs on whatever backend torch has, so (as the contract says) its namespace
# names the backend found at import time.
_NOARCH_OPS_PY = '''\
# Generated by kernels_build: the op namespace of this build of the kernel.
import torch


def _backend() -> str:
    if hasattr(torch.backends, "tpu"):
        return "tpu"
    if hasattr(torch, "neuron"):
        return "neuron"
    if torch.version.cuda is not None:
        return "cuda"
    if getattr(torch.version, "hip", None) is not None:
        return "rocm"
    if torch.backends.mps.is_available():
        return "metal"
    if getattr(torch.version, "xpu", None) is not None:
        return "xpu"
    return "cpu"


_OPS_NAME = "_{module}_" + _backend() + "_{uid}"
ops = getattr(torch.ops, _OPS_NAME)


def add_op_namespace_prefix(op_name: str) -> str:
    """Qualify ``op_name`` with this kernel\'s unique op namespace."""
    return f"{{_OPS_NAME}}::{{op_name}}"
'''


# --------------------------------------------------------------------------- pyproject.toml


def render_pyproject(plan: BuildPlan) -> str:
    config = plan.config
    project = project_table(plan)
    skbuild: Dict[str, object] = {
        "build-dir": str(cmake_build_dir(plan)),
        "cmake.version": ">=3.26",
        "wheel.packages": [],
        "wheel.license-files": [],
        "wheel.exclude": ["**/__pycache__/**", "**/*.pyc"],
    }
    if plan.is_noarch:
        skbuild.update({"wheel.py-api": "py3", "wheel.platlib": False})
    elif plan.is_tvm_ffi:
        skbuild["wheel.py-api"] = "py3"  # the library uses no Python API: py3-none-<platform>
    else:
        skbuild["wheel.py-api"] = "cp39"
    lines = [
        "# Generated by kernels_build from " + str(config.path),
        "[build-system]",
        'requires = ["scikit-build-core"]',
        'build-backend = "scikit_build_core.build"',
        "",
        "[project]",
        *(f"{key} = {_toml_value(value)}" for key, value in project.items()),
        "",
        "[tool.scikit-build]",
        *(f"{key} = {_toml_value(value)}" for key, value in skbuild.items()),
        "",
    ]
    return "\n".join(lines)


def project_table(plan: BuildPlan) -> Dict[str, object]:
    """``[project]`` of the wheel: the kernel repo's own table when it has one, else build.toml."""
    config = plan.config
    general = config.general
    user = _user_project_table(config.root)
    if user:
        table = {k: v for k, v in user.items() if k not in ("dynamic", "version")}
        base_version = str(user.get("version", f"{general.version}.0.0"))
        if "+" in base_version:
            raise ConfigError(
                config.root / "pyproject.toml", "project.version",
                "must not carry a local label (+...): the builder appends the variant label",
            )
    else:
        table = {"name": general.name, "description": default_summary(general.name, plan.variant)}
        base_version = f"{general.version}.0.0"
    table["version"] = f"{base_version}+{plan.variant.wheel_label}"
    table.setdefault("requires-python", ">=3.9")
    dependencies: List[str] = list(table.get("dependencies", []))  # type: ignore[arg-type]
    dependencies.append(plan.framework_requirement)
    dependencies += pip_requirements(general.python_depends_for(plan.backend), dependencies)
    table["dependencies"] = dependencies
    return table


def _user_project_table(root: Path) -> Optional[Mapping[str, object]]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from None
    project = data.get("project")
    return project if isinstance(project, dict) else None


def _toml_value(value: object) -> str:
    """Serialise the few value types the generated pyproject.toml uses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} to TOML")


# --------------------------------------------------------------------------- CMakeLists.txt


def python_files(plan: BuildPlan) -> List[str]:
    """The kernel's Python package files to ship, relative to ``torch-ext/<module>/``.

    Extensions come from ``pyext``; arch builds leave out ``.pyi`` stubs (as the contract says).
    """
    framework = plan.config.framework
    pyext = set(getattr(framework, "pyext", ("py", "pyi")))
    if not plan.is_noarch:
        pyext.discard("pyi")
    base = plan.config.python_dir
    files = [
        p.relative_to(base).as_posix()
        for p in sorted(base.rglob("*"))
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.suffix.lstrip(".") in pyext
        and p.name != "_ops.py"  # always the generated one
    ]
    problems = [f"{rel}: {why}" for rel in files for why in [_python_file_problem(base, rel, plan.config.root)] if why]
    if problems:
        raise SourceError(f"{base}: these files cannot be shipped:\n" + "\n".join(f"  - {p}" for p in problems))
    return files


#: What a shipped file's name may hold: it is written into the generated CMake project.
_SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9._+@=,~ -]+")


def _python_file_problem(base: Path, rel: str, root: Path) -> str:
    """Why the package file ``rel`` cannot be shipped, or "" (name and link checks)."""
    for part in rel.split("/"):
        if not _SAFE_FILE_NAME.fullmatch(part):
            return "its name holds characters other than letters, digits, space and ._+@=,~-; rename it"
    try:
        (base / rel).resolve().relative_to(root.resolve())
    except ValueError:
        return f"it is a link to {(base / rel).resolve()}, outside the repository; copy the file instead"
    return ""


def render_cmakelists(plan: BuildPlan) -> str:
    config = plan.config
    files = python_files(plan)
    out: List[str] = [
        f"# Generated by kernels_build for {plan.variant.name}. Do not edit: edit build.toml.",
        "cmake_minimum_required(VERSION 3.26)",
    ]
    if plan.is_noarch:
        out += [
            f"project({_cmake_id(config.general.name)} LANGUAGES NONE)",
            f"set(KERNEL_MODULE {config.general.module_name})",
        ]
    else:
        out += _compiled_cmake(plan)
    out += [
        "",
        f"include({_q(cmake_modules_dir() / 'python.cmake')})",
        "kernel_install_python(",
        f"  DIR {_q(config.python_dir)}",
        "  FILES " + " ".join(_q(f) for f in files),
        ")",
        f"install(FILES {_q(plan.work_dir / 'project' / 'generated' / '_ops.py')} DESTINATION ${{KERNEL_MODULE}})",
        "",
    ]
    return "\n".join(out)


def _path_prefix_maps(plan: BuildPlan, launcher: Optional[str]) -> List[str]:
    """``old=new`` pairs for ``-ffile-prefix-map``: the kernel, its build directory when that
    is elsewhere (``kernels.build-dir``), then the copy of site-packages' headers named as
    site-packages; less those left to sccache's base directories (kernels_build/compiler_cache.py)
    when ``launcher`` is sccache."""
    name = plan.config.general.name
    root = plan.config.root.resolve()
    maps = [f"{root}={name}"]
    build_root = plan.build_root.resolve()
    if build_root != root and root not in build_root.parents:
        maps.append(f"{build_root}={name}/{DEFAULT_BUILD_DIR}")
    site_packages = plan.headers_copy / SITE_DIR if plan.headers_copy is not None else _site_packages(plan)
    if site_packages is not None:
        maps.append(f"{site_packages}=site-packages")
    kept, _ = paths_left_to_sccache(maps, sccache_base_dirs(launcher))
    return list(kept)


def _torch_cmake(plan: BuildPlan) -> List[str]:
    """What the project knows of torch: its definitions, headers, libraries and CUDA flags."""
    torch = plan.torch
    assert torch is not None
    include_dirs = [*torch.include_dirs]
    if plan.backend == "cuda":
        include_dirs += torch.cuda_wheel_include_dirs()
    include_dirs = [_read_from(plan, d) for d in include_dirs]
    libraries = [_torch_library(torch.library_dir, lib) for lib in TORCH_LIBRARIES[plan.backend]]
    flags = torch_flags(torch, plan.backend, plan.nvcc.version if plan.nvcc else None)
    out = [
        "set(KERNEL_FRAMEWORK torch)",
        f"set(KERNEL_CXX_STANDARD {20 if torch.major_minor >= (2, 12) else 17})",
        # What the existing builder's find_package(Torch) gives every target (kernels_build/flags.py).
        f"set(KERNEL_TORCH_DEFINITIONS {' '.join(_q(d) for d in flags.definitions)})",
        f"set(KERNEL_TORCH_INCLUDE_DIRS {' '.join(_q(p) for p in include_dirs)})",
        f"set(KERNEL_TORCH_LIBRARIES {' '.join(_q(p) for p in libraries if p is not None)})",
    ]
    if plan.stable_abi is not None:
        major, minor = (tuple(plan.stable_abi) + (0, 0))[:2]
        out.append(f"set(KERNEL_STABLE_ABI_VERSION 0x{(major << 56) | (minor << 48):016x})")
    if plan.nvcc is not None:
        out.append(f"set(KERNEL_TORCH_CUDA_FLAGS {' '.join(_q(_cmake_option(f)) for f in flags.cuda)})")
    return out


def _tvm_ffi_cmake(plan: BuildPlan) -> List[str]:
    """What the project knows of TVM FFI: its headers and libtvm_ffi.so (no torch, no Python)."""
    info = plan.tvm_ffi
    assert info is not None
    return [
        "set(KERNEL_FRAMEWORK tvm-ffi)",
        "set(KERNEL_CXX_STANDARD 17)",  # what TVM FFI's headers need
        f"set(KERNEL_TVM_FFI_INCLUDE_DIRS {' '.join(_q(_read_from(plan, p)) for p in info.include_dirs)})",
        f"set(KERNEL_TVM_FFI_LIBRARY {_q(info.library)})",
    ]


def _compiled_cmake(plan: BuildPlan) -> List[str]:
    config = plan.config
    root = config.root
    framework = config.framework
    assert isinstance(framework, (Torch, TvmFfi))
    languages = ["C", "CXX"] + {"cuda": ["CUDA"], "rocm": ["HIP"]}.get(plan.backend, [])
    ours = find_compiler_cache(plan.settings.compiler_cache, setting=plan.settings.named("compiler-cache"))
    launcher = effective_launcher(ours)  # the one that will wrap the compilers
    out = [
        f"set(KERNEL_OPS_NAME {plan.ops_name})",
        f"set(KERNEL_MODULE {config.general.module_name})",
        f"set(KERNEL_BACKEND {plan.backend})",
        *(_tvm_ffi_cmake(plan) if plan.is_tvm_ffi else _torch_cmake(plan)),
        f"set(KERNEL_GENERATED_DIR {_q(plan.work_dir / 'project' / 'generated')})",
        # compile_commands.json in the build directory: every flag of every TU (IDEs, tests).
        "set(CMAKE_EXPORT_COMPILE_COMMANDS ON)",
        # Sources include their headers relative to the repo root or torch-ext/, and (as the
        # existing builder lets every file do) relative to csrc/.
        f"set(KERNEL_SOURCE_INCLUDE_DIRS {' '.join(_q(d) for d in source_include_dirs(root))})",
        # Paths compiled into the extension (__FILE__ in TORCH_CHECK messages, asserts) name the
        # kernel and site-packages, not where this build happened: a wheel built from the sdist,
        # in an isolated environment (a random /tmp/pip-build-env-*), equals one built in place.
        # The more specific site-packages comes last: the last matching map wins. A build
        # directory outside the kernel (kernels.build-dir) is named as the default one.
        f"set(KERNEL_PATH_PREFIX_MAPS {' '.join(_q(m) for m in _path_prefix_maps(plan, launcher))})",
    ]
    if ours is not None:
        out.append(f"set(KERNEL_COMPILER_LAUNCHER {_q(ours)})")
    if plan.nvcc is not None:
        out += [
            f"set(CMAKE_CUDA_COMPILER {_q(plan.nvcc.path)})",
            # FindCUDAToolkit looks here first (not in /usr/local/cuda): the toolkit of this nvcc.
            f"set(CUDAToolkit_ROOT {_q(plan.nvcc.toolkit_root)})",
            "set(CMAKE_CUDA_ARCHITECTURES OFF)  # per-component -gencode flags instead",
        ]
    if plan.backend == "rocm":
        out += _rocm_preamble(plan)
    elif plan.backend == "xpu":
        out += _xpu_preamble(plan)
    out += [
        f"project({_cmake_id(config.general.name)} LANGUAGES {' '.join(languages)})",
        f"set(KERNEL_COMPAT_DIR {_q(plan.work_dir / 'project' / 'compat')})",
        f"include({_q(cmake_modules_dir() / 'kernels.cmake')})",
        f"include({_q(cmake_modules_dir() / (plan.backend + '.cmake'))})",
        "",
    ]
    all_sources = [*framework.src, *(s for kernel in plan.kernels for s in kernel.src)]
    # (A TVM FFI library has no registration to defer: its binding TUs get TVM_FFI_EXTENSION_NAME.)
    ops_name_at_load = not plan.is_tvm_ffi and registration_mode(root, all_sources) == "runtime"
    jobs, memory = parallelism.build_jobs(), parallelism.memory_threads()
    nvcc_threads, cuda_pool = _nvcc_parallelism(plan, jobs, memory) if plan.backend == "cuda" else ({}, None)
    pch_targets: List[pch.Target] = []  # host C++ TUs that may share precompiled torch headers
    for kernel in plan.kernels:
        if plan.backend == "cuda" and kernel.name not in plan.cuda_capabilities:
            out.append(f"# kernel.{kernel.name} skipped: it needs a newer CUDA toolkit (cuda-minver)")
            continue
        args = [f"kernel_add_component({_cmake_id(kernel.name)}"]
        args.append("  SOURCES " + " ".join(_q(root / s) for s in _compiled(kernel.src)))
        # The kernel's own include directories, then those of the libraries it depends on.
        libraries = plan.dependencies_of(kernel.name)
        includes = [root / i for i in kernel.include]
        includes += [_read_from(plan, d) for lib in libraries for d in lib.include_dirs]
        if includes:
            args.append("  INCLUDE " + " ".join(_q(i) for i in includes))
        definitions = [d for lib in libraries for d in lib.library.definitions]
        if definitions:
            args.append("  DEFINITIONS " + " ".join(_q(d) for d in definitions))
        if kernel.cxx_flags:
            args.append("  CXX_FLAGS " + " ".join(_q(f) for f in kernel.cxx_flags))
        if plan.backend == "cuda":
            flags = [*gencode_flags(plan.cuda_capabilities[kernel.name]), *kernel.cuda_flags]
            threads, split = nvcc_threads.get(_cmake_id(kernel.name), (1, 1))
            if threads > 1:
                flags.append(f"--threads={threads}")
            if split > 1:
                flags.append(f"--split-compile={split}")
            args.append("  CUDA_FLAGS " + " ".join(_q(f) for f in flags))
        elif plan.backend == "rocm":
            # kernel_add_hip_component (cmake/rocm.cmake) compiles .cu/.hip sources as HIP.
            args[0] = f"kernel_add_hip_component({_cmake_id(kernel.name)}"
            flags = [*offload_arch_flags(plan.rocm_archs[kernel.name]), *kernel.hip_flags]
            args.append("  HIP_FLAGS " + " ".join(_q(f) for f in flags))
        elif plan.backend == "xpu":
            # kernel_add_sycl_component (cmake/xpu.cmake) adds sycl-flags to .cpp/.cxx/.cc sources.
            args[0] = f"kernel_add_sycl_component({_cmake_id(kernel.name)}"
            if kernel.sycl_flags:
                args.append("  SYCL_FLAGS " + " ".join(_q(f) for f in kernel.sycl_flags))
        out += args + [")"]
        uses_ops_name = not ops_name_at_load and mentions_ops_name(root, kernel.src, _ops_name_macro(plan))
        if uses_ops_name:
            out.append(f"kernel_use_ops_name({_cmake_id(kernel.name)})")
        pch_targets.append(pch.Target(
            _cmake_id(kernel.name), [root / s for s in _compiled(kernel.src)],
            [*includes, *source_include_dirs(root)],
            own_flags=bool(definitions or kernel.cxx_flags or uses_ops_name)))
    if cuda_pool is not None:
        # CUDA compiles times nvcc threads stay within the jobs and the memory (Ninja only).
        out.append(f"set_property(GLOBAL APPEND PROPERTY JOB_POOLS {parallelism.CUDA_JOB_POOL}={cuda_pool})")
        out += [f"set_property(TARGET {name} PROPERTY JOB_POOL_COMPILE {parallelism.CUDA_JOB_POOL})"
                for name, (threads, _) in nvcc_threads.items() if threads > 1]
    ext = ["kernel_add_extension(" + ("OPS_NAME_AT_LOAD" if ops_name_at_load else "")]
    ext.append("  SOURCES " + " ".join(_q(root / s) for s in _compiled(framework.src)))
    if framework.include:
        ext.append("  INCLUDE " + " ".join(_q(root / i) for i in framework.include))
    if framework.cxx_flags:
        ext.append("  CXX_FLAGS " + " ".join(_q(f) for f in framework.cxx_flags))
    out += ext + [")"]
    if plan.backend in ("cpu", "cuda") and not plan.is_tvm_ffi:  # (hipcc and icpx: not measured)
        pch_targets.append(pch.Target(
            "kernel_extension", [root / s for s in _compiled(framework.src)],
            [*(root / i for i in framework.include), *source_include_dirs(root)],
            own_flags=bool(framework.cxx_flags or not ops_name_at_load)))
        out += pch.cmake_lines(pch.plan_pch(plan.settings.precompiled_headers, pch_targets, launcher, jobs))
    return out


def source_include_dirs(root: Path) -> List[Path]:
    """Include directories of every translation unit: the repository root, ``torch-ext/`` and,
    when they exist, ``tvm-ffi-ext/`` and ``csrc/`` (the existing builder adds ``csrc`` to its extension target)."""
    dirs = [root, root / "torch-ext"]
    for extra in ("tvm-ffi-ext", "csrc"):  # (a [tvm-ffi] kernel's package lives in tvm-ffi-ext/)
        if (root / extra).is_dir():
            dirs.append(root / extra)
    return dirs


def _ops_name_macro(plan: BuildPlan) -> str:
    """The macro that tells sources the op namespace (the contract's names)."""
    return "TVM_FFI_EXTENSION_NAME" if plan.is_tvm_ffi else "TORCH_EXTENSION_NAME"


def offload_arch_flags(archs: Iterable[str]) -> List[str]:
    """``--offload-arch=<gfx>`` for every architecture of a rocm component."""
    return [f"--offload-arch={arch}" for arch in archs]


def _rocm_preamble(plan: BuildPlan) -> List[str]:
    """What the generated project sets before ``project()`` for a rocm build.

    NOTE: .cu sources are compiled as HIP as they are; they are *not* hipified (upstream runs
    torch.utils.hipify over them, turning CUDA API calls and ATen/cuda includes into their HIP
    forms). Kernels whose .cu files call the CUDA API directly need HIP-ready sources until that
    step exists here.
    """
    union = sorted({a for archs in plan.rocm_archs.values() for a in archs})
    return [
        "# ROCm: every component passes its own --offload-arch flags (cmake/rocm.cmake sets",
        "# HIP_ARCHITECTURES OFF on it); this list only spares CMake the GPU detection and",
        "# gives its compiler check a target. .cu sources are compiled as HIP without hipify.",
        f"set(CMAKE_HIP_ARCHITECTURES {_q(';'.join(union))})",
    ]


def _xpu_preamble(plan: BuildPlan) -> List[str]:
    """Before ``project()`` for an xpu build: prefer the oneAPI DPC++ compilers, and tell
    cmake/xpu.cmake where oneDNN may live (torch's lib/ and the environment's lib/)."""
    torch = plan.torch
    assert torch is not None
    env_root = torch.site_packages.parent.parent.parent  # <prefix>/lib/pythonX.Y/site-packages
    return [
        "# XPU: icx/icpx unless the caller chose compilers (CC/CXX, CMAKE_<LANG>_COMPILER);",
        "# cmake/xpu.cmake stops the configuration when the C++ compiler is not IntelLLVM.",
        "if(NOT CMAKE_CXX_COMPILER AND NOT DEFINED ENV{CXX})",
        "  find_program(KERNEL_ICPX icpx)",
        "  if(KERNEL_ICPX)",
        "    set(CMAKE_CXX_COMPILER \"${KERNEL_ICPX}\")",
        "  endif()",
        "endif()",
        "if(NOT CMAKE_C_COMPILER AND NOT DEFINED ENV{CC})",
        "  find_program(KERNEL_ICX icx)",
        "  if(KERNEL_ICX)",
        "    set(CMAKE_C_COMPILER \"${KERNEL_ICX}\")",
        "  endif()",
        "endif()",
        f"set(KERNEL_XPU_LIBRARY_HINTS {_q(torch.library_dir)} {_q(env_root / 'lib')})",
        f"set(KERNEL_XPU_INCLUDE_HINTS {_q(env_root / 'include')})",
    ]


_HEADER_SUFFIXES = {".h", ".hh", ".hpp", ".hxx", ".cuh", ".inc", ".inl"}


def _compiles_cuda(sources: Iterable[str]) -> bool:
    return any(s.endswith(".cu") for s in sources)


def _nvcc_parallelism(plan: BuildPlan, jobs: int,
                      memory: Optional[int]) -> Tuple[Dict[str, Tuple[int, int]], Optional[int]]:
    """CUDA component (CMake name) -> (nvcc ``--threads``, ``--split-compile``), 1 meaning the
    flag is left out, and the size of the ninja pool of CUDA compiles (None: no component has
    arch threads, no pool), for ``jobs`` build jobs and ``memory`` (nvcc threads the memory
    holds; see :mod:`kernels_build.parallelism`)."""
    components = [k for k in plan.kernels if k.name in plan.cuda_capabilities and _compiles_cuda(k.src)]
    threads: Dict[str, int] = {}
    # NVCC_THREADS, as the existing builder reads it, is applied to every CUDA file by
    # cmake/cuda.cmake instead of our flag; the split below still counts its threads.
    env_threads = os.environ.get("NVCC_THREADS", "").strip()
    for kernel in components:
        # One cicc and one ptxas per arch; its PTX copy (+PTX) costs no step of its own.
        targets = len({cap.compute for cap in plan.cuda_capabilities[kernel.name]})
        wanted = parallelism.nvcc_threads(targets, plan.settings.nvcc_threads, jobs, memory)
        threads[kernel.name] = 1 if "NVCC_THREADS" in os.environ else wanted
    # CUDA compiles that can run at once: the pool's size when arch threads make one.
    most = max(threads.values(), default=1)
    pool = parallelism.cuda_pool_size(most, jobs, memory) if most > 1 else None
    cuda_files = sum(1 for k in components for s in _compiled(k.src) if s.endswith(".cu"))
    concurrent = max(1, min(pool or jobs, cuda_files))
    split_ok = plan.nvcc is not None and plan.nvcc.version >= parallelism.SPLIT_COMPILE_NVCC
    result = {}
    for kernel in components:
        arch_threads = int(env_threads) if env_threads.isdigit() and int(env_threads) > 0 else threads[kernel.name]
        split = parallelism.split_compile(arch_threads, concurrent, plan.settings.nvcc_split_compile, jobs, memory)
        if not split_ok or any("split-compile" in f for f in kernel.cuda_flags):
            split = 1  # (an older nvcc has no such option; the kernel's own flag wins)
        result[_cmake_id(kernel.name)] = (threads[kernel.name], split)
    return result, pool


def _compiled(sources: Iterable[str]) -> List[str]:
    """Headers are listed in build.toml for completeness; only translation units are compiled."""
    return [s for s in sources if Path(s).suffix.lower() not in _HEADER_SUFFIXES]


def _torch_library(lib_dir: Path, name: str) -> Optional[Path]:
    path = lib_dir / f"lib{name}.so"
    return path if path.exists() else None


def _cmake_option(flag: str) -> str:
    """A compile option for CMake: an option with its value ("-Xcudafe ...") stays one group,
    which CMake's de-duplication of options would otherwise break apart."""
    return f"SHELL:{flag}" if " " in flag else flag


def _cmake_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _q(value: object) -> str:
    """Quote one CMake argument."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
