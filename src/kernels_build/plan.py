"""Decide what one build produces: the variant, the op namespace, the archs, the metadata.

``make_plan`` is the "variant" stage of the pipeline: it joins the parsed build.toml with the
build environment (torch, nvcc) and the user's settings into a :class:`BuildPlan`, and every
later stage (project generation, driver, wheel assembly) only reads the plan.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from kernels.metadata import BackendInfo, Metadata
from kernels.variants import ArchVariant, NoarchVariant, Variant, host_cpu, host_os

from . import __version__
from .config import BuildConfig, Kernel, Torch, TorchNoarch, TvmFfi
from .cuda_archs import Capability, effective_capabilities, metadata_archs
from .deps import ResolvedDependency
from .errors import ConfigError, ToolchainError
from .gpus import visible_cuda_capabilities
from .parallelism import SPLIT_COMPILE_NVCC
from .settings import NATIVE, BuildSettings
from .cuda_pip import select_nvcc
from .toolchain import Nvcc, TorchInfo, find_nvcc, inspect_torch
from .tvm_ffi import TVM_FFI_BACKENDS, TvmFfiInfo, check_no_torch_includes, inspect_tvm_ffi

#: Backends whose C++/CUDA code this builder can compile on Linux.
COMPILED_BACKENDS = ("cpu", "cuda", "rocm", "xpu", "metal")

#: AMD GPU architectures the ROCm backend builds for (upstream's HIP_SUPPORTED_ARCHS); also the
#: default list for kernels without ``rocm-archs``. gfx940/gfx941 are gone from ROCm 7.
ROCM_SUPPORTED_ARCHS: Tuple[str, ...] = (
    "gfx906", "gfx908", "gfx90a", "gfx942", "gfx950",
    "gfx1030", "gfx1100", "gfx1101", "gfx1200", "gfx1201",
)


@dataclass(frozen=True)
class BuildPlan:
    """Everything the later stages need to know about one variant build."""

    config: BuildConfig
    settings: BuildSettings
    variant: Variant
    backend: str
    unique_id: str
    torch: Optional[TorchInfo]
    nvcc: Optional[Nvcc] = None
    kernels: Tuple[Kernel, ...] = ()
    cuda_capabilities: Dict[str, Tuple[Capability, ...]] = field(default_factory=dict)
    #: kernel name -> the gfx architectures it is compiled for (rocm builds only).
    rocm_archs: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    stable_abi: Optional[Tuple[int, ...]] = None
    #: the libraries of the kernels' ``depends``, once found (see :meth:`with_dependencies`)
    dependencies: Tuple[ResolvedDependency, ...] = ()
    #: the copy of the headers in site-packages that compile commands name, once made
    #: (:mod:`kernels_build.header_mirror`; None: the headers where they lie)
    headers_copy: Optional[Path] = None
    #: the TVM FFI a ``[tvm-ffi]`` kernel is compiled against (then ``torch`` is None)
    tvm_ffi: Optional[TvmFfiInfo] = None

    def with_dependencies(self, dependencies: Tuple[ResolvedDependency, ...]) -> "BuildPlan":
        """This plan with its kernels' libraries found: their versions enter the op id."""
        if not dependencies:
            return self  # the id of a kernel without libraries is its sources' hash, as before
        unique_id = self.settings.unique_id or source_hash(self.config, dependencies)
        return dataclasses.replace(self, dependencies=dependencies, unique_id=unique_id)

    def dependencies_of(self, kernel: str) -> Tuple[ResolvedDependency, ...]:
        """The libraries that ``[kernel.<kernel>]`` declared."""
        return tuple(d for d in self.dependencies if kernel in d.kernels)

    @property
    def module(self) -> str:
        return self.config.general.module_name

    @property
    def ops_name(self) -> str:
        """Extension name = op namespace = metadata ``id``: ``_relu_cpu_0123456789``."""
        return f"_{self.module}_{self.backend}_{self.unique_id}"

    @property
    def is_noarch(self) -> bool:
        return isinstance(self.variant, NoarchVariant)

    @property
    def build_root(self) -> Path:
        """The directory holding every variant's build directory (:func:`build_root`)."""
        return build_root(self.config, self.settings)

    @property
    def work_dir(self) -> Path:
        """Per-variant working directory (inside the kernel repo by default), kept between builds."""
        return self.build_root / self.variant.name

    @property
    def dist_version(self) -> str:
        """``1.0.0+torch213cpucxx11``: the kernel's major version, then the variant label."""
        return f"{self.config.general.version}.0.0+{self.variant.wheel_label}"

    @property
    def is_tvm_ffi(self) -> bool:
        """A ``[tvm-ffi]`` kernel: a TVM FFI library, not a torch extension."""
        return self.tvm_ffi is not None

    @property
    def framework_requirement(self) -> str:
        """``Requires-Dist`` on the framework: torch's built major.minor (a floor for stable ABI),
        or ``apache-tvm-ffi``'s for a tvm-ffi kernel."""
        if self.tvm_ffi is not None:
            return self.tvm_ffi.requirement
        if self.stable_abi is not None:
            return f"torch>={self.stable_abi[0]}.{self.stable_abi[1]}"
        if self.is_noarch or self.torch is None:
            return "torch"
        major, minor = self.torch.major_minor
        return f"torch=={major}.{minor}.*"

    def metadata(self) -> Metadata:
        """metadata.json for this variant, without the digest (added when the wheel is assembled)."""
        general = self.config.general
        archs: Optional[Tuple[str, ...]] = None
        if self.cuda_capabilities:
            archs = metadata_archs(c for caps in self.cuda_capabilities.values() for c in caps)
        elif self.rocm_archs:
            archs = tuple(sorted({a for kernel_archs in self.rocm_archs.values() for a in kernel_archs}))
        elif isinstance(self.config.framework, TorchNoarch):
            fw = self.config.framework
            listed = {"cuda": fw.cuda_capabilities, "rocm": fw.rocm_archs}.get(self.backend)
            archs = tuple(sorted(set(listed))) if listed else None
        kernel_depends = tuple(
            {"repo-id": d.repo_id, **({"version": d.version} if d.version is not None else {"revision": d.revision})}
            for d in general.kernel_depends_for(self.backend)
        )
        return Metadata(
            name=general.name,
            id=self.ops_name,
            version=general.version,
            license=general.license,
            upstream=general.upstream,
            source=general.source,
            python_depends=tuple(general.python_depends_for(self.backend)),
            kernel_depends=kernel_depends,
            backend=BackendInfo(type=self.backend, archs=archs),
            provenance=_provenance(self.config.root, self.dependencies),
        )


#: The build directories' default home, inside the kernel repository.
DEFAULT_BUILD_DIR = ".kernels_build"


def build_root(config: BuildConfig, settings: BuildSettings) -> Path:
    """Where the per-variant build directories go: ``kernels.build-dir`` (relative to the
    kernel repository), by default ``<kernel>/.kernels_build``."""
    if settings.build_dir is None:
        return config.root / DEFAULT_BUILD_DIR
    return (config.root / Path(settings.build_dir).expanduser()).resolve()


def make_plan(
    config: BuildConfig,
    settings: BuildSettings,
    torch: Optional[TorchInfo] = None,
    nvcc: Optional[Nvcc] = None,
) -> BuildPlan:
    """Choose the variant for this environment and settings; validate it can be built.

    ``torch`` and ``nvcc`` describe the build environment; by default they are looked up
    (:func:`inspect_torch`, :func:`find_nvcc`). Passing them builds a plan for any environment
    without that environment at hand (the unit tests do).
    """
    general = config.general
    framework = config.framework
    if isinstance(framework, TvmFfi):
        return _tvm_ffi_plan(config, settings, nvcc)

    torch = _torch_if_needed(config, settings, torch)
    backend = settings.backend or _default_backend(config, torch)
    if backend not in general.backends:
        raise ConfigError(
            config.path,
            "general.backends",
            f"backend {backend!r} was asked for but the kernel declares only {', '.join(general.backends)}",
        )
    unique_id = settings.unique_id or source_hash(config)
    kernels = config.kernels_for(backend) if isinstance(framework, Torch) else ()

    if not kernels:
        # Python-only kernels, and backends without a [kernel.*] section of their own.
        return BuildPlan(config, settings, NoarchVariant(backend), backend, unique_id, torch)

    assert torch is not None and isinstance(framework, Torch)
    if backend not in COMPILED_BACKENDS:
        raise ConfigError(config.path, "general.backends", f"compiling {backend} kernels is not supported")
    if backend == "metal" and host_os() != "darwin":
        # Fail here rather than deep inside CMake: Metal needs Apple's metal compiler and SDK.
        raise ToolchainError(
            f"Metal kernels can only be built on macOS (this machine runs {host_os()}); "
            f"kernel(s) {', '.join(k.name for k in kernels)} of {config.path} have backend = \"metal\". "
            "Build the metal variant on a Mac, or choose another backend with -C kernels.backend=<backend>."
        )
    _check_torch_bounds(config, framework, torch)
    stable = framework.stable_abi.get(backend)
    if stable is not None and torch.major_minor < tuple(stable[:2]):
        raise ToolchainError(
            f"torch.stable-abi asks for torch {'.'.join(map(str, stable))} but the build "
            f"environment has torch {torch.version}; install a newer torch."
        )
    caps: Dict[str, Tuple[Capability, ...]] = {}
    rocm_archs: Dict[str, Tuple[str, ...]] = {}
    backend_version = None
    if backend == "cuda":
        nvcc, caps = _cuda_toolchain(config, settings, torch, kernels, nvcc)
        backend_version = nvcc.version
    else:
        nvcc = None  # only cuda builds use nvcc
    if backend == "rocm":
        backend_version = _require_version(torch.hip, "ROCm", "torch.version.hip")
        rocm_archs = {k.name: effective_rocm_archs(k.rocm_archs, component=k.name) for k in kernels}
    elif backend == "xpu":
        backend_version = _require_version(torch.xpu, "XPU", "torch.version.xpu")

    if stable is not None:
        variant: Variant = ArchVariant(
            "torch-stable-abi", (stable[0], stable[1] if len(stable) > 1 else 0),
            backend, backend_version, host_cpu(), host_os(),
        )
    else:
        variant = ArchVariant(
            "torch", torch.major_minor, backend, backend_version, host_cpu(), host_os(),
            cxx_abi=("cxx11" if torch.cxx11_abi else "cxx98") if host_os() == "linux" else None,
        )
    return BuildPlan(
        config, settings, variant, backend, unique_id, torch, nvcc, kernels, caps,
        rocm_archs=rocm_archs,
        stable_abi=tuple(stable) if stable is not None else None,
    )


def _tvm_ffi_plan(config: BuildConfig, settings: BuildSettings, nvcc: Optional[Nvcc] = None,
                  tvm_ffi: Optional[TvmFfiInfo] = None) -> BuildPlan:
    """The plan of a ``[tvm-ffi]`` kernel: compiled against the environment's apache-tvm-ffi (not
    torch) into the variant ``tvm-ffi<M><m>-<compute>-<cpu>-<os>``."""
    general = config.general
    backend = settings.backend or ("cpu" if "cpu" in general.backends else general.backends[0])
    if backend not in general.backends:
        raise ConfigError(
            config.path, "general.backends",
            f"backend {backend!r} was asked for but the kernel declares only {', '.join(general.backends)}",
        )
    if backend not in TVM_FFI_BACKENDS:
        raise ConfigError(
            config.path, "general.backends",
            f"a [tvm-ffi] kernel cannot be built for {backend} here: this builder compiles tvm-ffi kernels "
            f"for {' and '.join(TVM_FFI_BACKENDS)} only; choose one with -C kernels.backend=<backend>",
        )
    kernels = config.kernels_for(backend)
    framework = config.framework
    assert isinstance(framework, TvmFfi)
    check_no_torch_includes(config.root, [*framework.src, *(s for k in kernels for s in k.src)], config.path)
    tvm_ffi = tvm_ffi or inspect_tvm_ffi()
    caps: Dict[str, Tuple[Capability, ...]] = {}
    backend_version = None
    if backend == "cuda":
        nvcc, caps = _tvm_ffi_cuda_toolchain(config, settings, kernels, nvcc)
        backend_version = nvcc.version
    else:
        nvcc = None
    variant = ArchVariant("tvm-ffi", tvm_ffi.major_minor, backend, backend_version, host_cpu(), host_os())
    return BuildPlan(config, settings, variant, backend, settings.unique_id or source_hash(config), None,
                     nvcc, kernels, caps, tvm_ffi=tvm_ffi)


def _tvm_ffi_cuda_toolchain(
    config: BuildConfig, settings: BuildSettings, kernels: Tuple[Kernel, ...], nvcc: Optional[Nvcc]
) -> Tuple[Nvcc, Dict[str, Tuple[Capability, ...]]]:
    """nvcc (no torch to match: any CUDA toolkit, its version names the variant) and each
    component's archs."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise ToolchainError(
            "no nvcc found (looked at $CUDACXX, $CUDA_HOME/bin, PATH, /usr/local/cuda): building the "
            "cuda variant of a [tvm-ffi] kernel needs a CUDA toolkit; install one or set CUDA_HOME, "
            "or build the cpu variant with -C kernels.backend=cpu"
        )
    _check_split_compile(settings, nvcc)
    return nvcc, _component_capabilities(config, settings, kernels, nvcc)


def effective_rocm_archs(requested: Optional[Sequence[str]], *, component: str = "") -> Tuple[str, ...]:
    """The gfx architectures a rocm component is compiled for, in the supported list's order.

    ``rocm-archs`` (every supported architecture when absent) intersected with
    :data:`ROCM_SUPPORTED_ARCHS`; architectures outside it (gfx940, gfx941, ...) are dropped,
    and an empty intersection is an error naming the key and the supported list.
    """
    wanted = set(ROCM_SUPPORTED_ARCHS if requested is None else requested)
    archs = tuple(a for a in ROCM_SUPPORTED_ARCHS if a in wanted)
    if not archs:
        where = f"kernel.{component}.rocm-archs" if component else "rocm-archs"
        raise ToolchainError(
            f"{where}: none of {', '.join(requested or ()) or '(none)'} is a ROCm architecture this "
            f"builder supports ({', '.join(ROCM_SUPPORTED_ARCHS)}); widen rocm-archs."
        )
    return archs


def _torch_if_needed(
    config: BuildConfig, settings: BuildSettings, given: Optional[TorchInfo] = None
) -> Optional[TorchInfo]:
    """Compiled kernels need torch; Python-only ones use it only to pick a default backend."""
    needs_torch = isinstance(config.framework, Torch) and any(
        config.kernels_for(b) for b in ([settings.backend] if settings.backend else config.general.backends)
    )
    if given is not None:
        torch = given
    else:
        try:
            torch = inspect_torch()
        except ToolchainError:
            if needs_torch:
                raise
            return None
    if settings.torch_version and torch.major_minor != settings.torch_version:
        raise ToolchainError(
            f"{settings.named('torch-version')} asks for torch {settings.torch_version[0]}.{settings.torch_version[1]} "
            f"but the build environment has torch {torch.version}; install that torch, or build "
            "with build isolation so that the backend requests it."
        )
    return torch


def _default_backend(config: BuildConfig, torch: Optional[TorchInfo]) -> str:
    """The backend the build environment's torch was built for, if the kernel has it."""
    backends = config.general.backends
    if torch is not None:
        for backend, present in (("cuda", torch.cuda), ("rocm", torch.hip), ("xpu", torch.xpu)):
            if present and backend in backends:
                return backend
    if "cpu" in backends:
        return "cpu"
    if len(backends) == 1 or torch is None:
        return backends[0]
    raise ToolchainError(
        f"the build environment's torch ({torch.version}) has none of the kernel's backends "
        f"({', '.join(backends)}); choose one with -C kernels.backend=<backend>."
    )


def _check_torch_bounds(config: BuildConfig, framework: Torch, torch: TorchInfo) -> None:
    have = torch.major_minor
    for key, bound, ok in (
        ("torch.minver", framework.minver, lambda b: have >= _pad(b)),
        ("torch.maxver", framework.maxver, lambda b: have <= _pad(b)),
    ):
        if bound is not None and not ok(bound):
            raise ToolchainError(
                f"{config.path}: {key} = {'.'.join(map(str, bound))} excludes the build environment's "
                f"torch {torch.version}; install a torch within the bounds."
            )


def _pad(version: Tuple[int, ...]) -> Tuple[int, int]:
    v = tuple(version) + (0, 0)
    return v[0], v[1]


def _require_version(version: Optional[Tuple[int, int]], name: str, where: str) -> Tuple[int, int]:
    if version is None:
        raise ToolchainError(
            f"building the {name.lower()} backend needs a torch built for {name} ({where} is empty); "
            f"install a {name} build of torch."
        )
    return version


def _cuda_toolchain(
    config: BuildConfig,
    settings: BuildSettings,
    torch: TorchInfo,
    kernels: Tuple[Kernel, ...],
    nvcc: Optional[Nvcc] = None,
) -> Tuple[Nvcc, Dict[str, Tuple[Capability, ...]]]:
    if torch.cuda is None:
        raise ToolchainError(
            f"building the cuda backend needs a CUDA build of torch, but the build environment has "
            f"torch {torch.version}; install e.g. torch==2.14.1 (cu130), or build another backend "
            "with -C kernels.backend=cpu."
        )
    if nvcc is None:
        view = build_root(config, settings) / f"cuda-pip-{torch.cuda[0]}.{torch.cuda[1]}"
        nvcc, _ = select_nvcc(
            settings.cuda_toolchain, torch.cuda, view, torch.site_packages, setting=settings.named("cuda-toolchain")
        )
    if nvcc is None:
        raise ToolchainError(
            f"no nvcc found (looked at $CUDACXX, $CUDA_HOME/bin, PATH, /usr/local/cuda); torch "
            f"{torch.version} needs a CUDA {torch.cuda[0]}.x toolkit. Install it or set CUDA_HOME, "
            f"or take nvcc from PyPI: build with build isolation and torch in [build-system] requires, "
            f"or -C kernels.cuda-toolchain=pip."
        )
    if nvcc.version[0] != torch.cuda[0]:
        # CUDACXX, when set, is looked at before CUDA_HOME: pointing CUDA_HOME elsewhere would not do.
        point = "Point CUDACXX at" if os.environ.get("CUDACXX") else "Point CUDA_HOME at"
        raise ToolchainError(
            f"nvcc {nvcc.version[0]}.{nvcc.version[1]} ({nvcc.path}) does not match torch's CUDA "
            f"{torch.cuda[0]}.{torch.cuda[1]}: the major versions must be equal. {point} the nvcc of a "
            f"CUDA {torch.cuda[0]}.x toolkit or install a torch built for CUDA {nvcc.version[0]}."
        )
    _check_split_compile(settings, nvcc)
    return nvcc, _component_capabilities(config, settings, kernels, nvcc)


def _check_split_compile(settings: BuildSettings, nvcc: Nvcc) -> None:
    """An explicit ``kernels.nvcc-split-compile`` above 1 needs an nvcc that has the option
    (``auto`` leaves it out on an older one)."""
    wanted = settings.nvcc_split_compile
    if wanted is not None and wanted > 1 and nvcc.version < SPLIT_COMPILE_NVCC:
        found = ".".join(map(str, nvcc.version))
        need = ".".join(map(str, SPLIT_COMPILE_NVCC))
        raise ToolchainError(
            f"{settings.named('nvcc-split-compile', str(wanted))} needs nvcc >= {need} (--split-compile), but nvcc "
            f"{found} ({nvcc.path}) builds this kernel; leave the setting at auto or 1, or use a CUDA "
            f"{need}+ toolkit."
        )


def _component_capabilities(
    config: BuildConfig, settings: BuildSettings, kernels: Tuple[Kernel, ...], nvcc: Nvcc
) -> Dict[str, Tuple[Capability, ...]]:
    """The archs of each CUDA component (``cuda-capabilities`` against what ``nvcc`` supports and
    ``kernels.cuda-capabilities``); components with a ``cuda-minver`` above nvcc are left out."""
    cuda = config.general.backend_depends.get("cuda")
    for key, bound, ok in (
        ("general.cuda.minver", cuda.minver if cuda else None, lambda b: nvcc.version >= _pad(b)),
        ("general.cuda.maxver", cuda.maxver if cuda else None, lambda b: nvcc.version <= _pad(b)),
    ):
        if bound is not None and not ok(bound):
            raise ToolchainError(
                f"{config.path}: {key} = {'.'.join(map(str, bound))} excludes nvcc "
                f"{nvcc.version[0]}.{nvcc.version[1]}; use a CUDA toolkit within the bounds."
            )
    narrow_to, narrowed_by = cuda_narrowing(settings)
    caps = {}
    for kernel in kernels:
        if kernel.cuda_minver is not None and nvcc.version < _pad(kernel.cuda_minver):
            continue  # the contract: components needing a newer toolkit are skipped
        caps[kernel.name] = effective_capabilities(
            kernel.cuda_capabilities, nvcc.version, nvcc.supported_archs,
            narrow_to=narrow_to, narrowed_by=narrowed_by, component=kernel.name,
        )
    return caps


def cuda_narrowing(settings: BuildSettings) -> Tuple[Optional[Tuple[str, ...]], str]:
    """The archs ``kernels.cuda-capabilities`` narrows a CUDA build to (None: no narrowing),
    and how to name that narrowing in messages.

    ``native`` means the GPUs visible now. Raises :class:`ToolchainError` when none is.
    """
    if not settings.native_archs:
        caps = settings.cuda_capabilities
        return caps, (settings.named("cuda-capabilities", ";".join(caps)) if caps else "")
    visible = visible_cuda_capabilities()
    if not visible:
        raise ToolchainError(
            f"{settings.named('cuda-capabilities', NATIVE)} builds for the GPUs visible at build time, but no "
            "CUDA GPU is visible (no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them all); "
            "name the archs instead, e.g. -C kernels.cuda-capabilities=9.0, or leave the setting "
            "out to build every default arch."
        )
    return visible, f"{settings.named('cuda-capabilities', NATIVE)} (the visible GPUs: {', '.join(visible)})"


def source_hash(
    config: BuildConfig, dependencies: Sequence[ResolvedDependency] = (), length: int = 10
) -> str:
    """Hash of everything that defines the kernel: build.toml, every listed source, the
    Python package and the versions of the libraries of ``depends``. Same sources give the
    same id; any change gives a new one, so two versions of a kernel get distinct op
    namespaces and load side by side. Without libraries the id is what it always was."""
    root = config.root
    paths = {config.path}
    framework = config.framework
    for entry in [*getattr(framework, "src", ()), *(s for k in config.kernels for s in k.src)]:
        paths.add(root / entry)
    if config.python_dir.is_dir():
        paths.update(
            p for p in config.python_dir.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    digest = hashlib.sha256()
    for path in sorted(paths):
        rel = path.relative_to(root).as_posix()
        digest.update(rel.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
        digest.update(b"\0")
    for dependency in sorted(dependencies, key=lambda d: d.library.name):
        digest.update(f"depends:{dependency.library.name}={dependency.version}\0".encode())
    return digest.hexdigest()[:length]


def _provenance(root: Path, dependencies: Sequence[ResolvedDependency] = ()) -> dict:
    # "kernel-builder" is the format's key for whichever builder made the variant; readers
    # (kernels 0.17.2 included) require it once provenance is present. "dependencies" (the
    # libraries of depends: version and source) is ours; 0.17.2 ignores keys it does not know.
    provenance: dict = {"kernel-builder": {"version": f"kernels_build-{__version__}"}}
    if dependencies:
        provenance["dependencies"] = {d.library.name: d.provenance() for d in dependencies}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return provenance  # not a git checkout: nothing to record
    provenance["kernel"] = {"commit": commit, "dirty": bool(dirty)}
    return provenance
