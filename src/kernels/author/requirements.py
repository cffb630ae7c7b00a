"""Which variants a kernel must ship, and which one this build environment produces.

:func:`required_variants` applies a kernel's build.toml to the matrix of
:mod:`kernels.author.variant_matrix`:

- a backend without compiled code (``[torch-noarch]``, or no ``[kernel.*]`` of that backend)
  needs the one noarch variant ``torch-<backend>``;
- a compiled backend needs every matrix cell of that backend, within ``torch.minver/maxver``
  and (CUDA) ``general.cuda.minver/maxver``;
- a stable-ABI backend needs one ``torch-stable-abi<V>`` variant per toolkit and platform,
  built with the newest torch of the matrix;
- a kernel bound through Apache TVM FFI (``[tvm-ffi]``) needs, instead of torch variants,
  ``tvm-ffi<M><m>-<compute>-<cpu>-<os>`` for every tvm-ffi cell of each declared backend (cpu
  and CUDA, within ``general.cuda.minver/maxver``); other backends get none.

:func:`current_variant` asks the build backend's planning stage what ``pip wheel .`` would
build here (torch is inspected, not imported).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..errors import AuthoringError
from ..variants import ArchVariant, NoarchVariant
from .variant_matrix import REQUIRED_BUILDS, REQUIRED_TVM_FFI_BUILDS, Build

__all__ = ["RequiredVariant", "CurrentBuild", "load_config", "required_variants", "current_variant"]


@dataclass(frozen=True)
class RequiredVariant:
    """A variant the kernel must ship, and the matrix cell that builds it (None: noarch)."""

    name: str
    backend: str
    build: Optional[Build]

    @property
    def is_noarch(self) -> bool:
        return self.build is None


@dataclass(frozen=True)
class CurrentBuild:
    """What ``pip wheel --no-build-isolation .`` builds in this environment: a variant name,
    or the reason it cannot build (``variant`` is then None)."""

    variant: Optional[str]
    backend: Optional[str] = None
    reason: Optional[str] = None


def load_config(root: Union[str, Path]):  # -> kernels_build.config.BuildConfig
    """The validated build.toml of the kernel repository ``root``; errors as :class:`AuthoringError`."""
    from kernels_build.config import load_build_config  # noqa: PLC0415 - the backend's parser
    from kernels_build.errors import KernelBuildError  # noqa: PLC0415

    root = Path(root)
    if not (root / "build.toml").is_file():
        raise AuthoringError(f"{root}: no build.toml here; run this in a kernel repository (see `kernels init`)")
    try:
        return load_build_config(root)
    except KernelBuildError as exc:
        raise AuthoringError(str(exc)) from None


def _within(version: Tuple[int, ...], low: Optional[Tuple[int, ...]], high: Optional[Tuple[int, ...]]) -> bool:
    def pad(v: Sequence[int]) -> Tuple[int, int]:
        v = tuple(v) + (0, 0)
        return v[0], v[1]

    v = pad(version)
    return (low is None or v >= pad(low)) and (high is None or v <= pad(high))


def required_variants(config) -> List[RequiredVariant]:
    """The variants ``config`` (a :class:`kernels_build.config.BuildConfig`) must ship, per
    declared backend in build.toml order; see the module docstring for the rules."""
    from kernels_build.config import Torch, TvmFfi  # noqa: PLC0415

    framework = config.framework
    if isinstance(framework, TvmFfi):
        return [v for backend in config.general.backends for v in _tvm_ffi_variants(config, backend)]
    out: List[RequiredVariant] = []
    for backend in config.general.backends:
        if not isinstance(framework, Torch) or not config.kernels_for(backend):
            out.append(RequiredVariant(NoarchVariant(backend).name, backend, None))
            continue
        out += _arch_variants(config, framework, backend)
    return out


def _cuda_within(config, build: Build) -> bool:
    """Whether a CUDA cell lies within build.toml's ``[general.cuda]`` bounds (others always do)."""
    cuda = config.general.backend_depends.get("cuda")
    return build.backend != "cuda" or cuda is None or _within(build.toolkit or (0, 0), cuda.minver, cuda.maxver)


def _tvm_ffi_variants(config, backend: str) -> List[RequiredVariant]:
    """``tvm-ffi<M><m>-<compute>-<cpu>-<os>`` for every tvm-ffi cell of ``backend`` within the
    CUDA bounds; none for backends tvm-ffi kernels are not built for."""
    return [
        RequiredVariant(ArchVariant("tvm-ffi", b.tvm_ffi, backend, b.toolkit, b.cpu, b.os).name, backend, b)
        for b in REQUIRED_TVM_FFI_BUILDS
        if b.backend == backend and _cuda_within(config, b)
    ]


def _arch_variants(config, framework, backend: str) -> List[RequiredVariant]:
    builds = [
        b for b in REQUIRED_BUILDS
        if b.backend == backend and _within(b.torch, framework.minver, framework.maxver) and _cuda_within(config, b)
    ]
    stable = framework.stable_abi.get(backend)
    if stable is None:
        return [
            RequiredVariant(
                ArchVariant("torch", b.torch, backend, b.toolkit, b.cpu, b.os,
                            cxx_abi="cxx11" if b.os == "linux" else None).name,
                backend, b,
            )
            for b in builds
        ]
    # Stable ABI: one variant per toolkit and platform, built with the newest torch that has it.
    abi = (stable[0], stable[1] if len(stable) > 1 else 0)
    newest: Dict[tuple, Build] = {}
    for b in builds:
        if b.torch < abi:
            continue
        key = (b.toolkit, b.cpu, b.os)
        if key not in newest or b.torch > newest[key].torch:
            newest[key] = b
    return [
        RequiredVariant(ArchVariant("torch-stable-abi", abi, backend, b.toolkit, b.cpu, b.os).name, backend, b)
        for b in newest.values()
    ]


def current_variant(root: Union[str, Path], config_settings: Optional[dict] = None) -> CurrentBuild:
    """The variant ``pip wheel --no-build-isolation`` would build from ``root`` with this
    interpreter's torch (and nvcc for CUDA), or why it cannot build one.

    ``config_settings`` are the ``-C`` settings of that build (``kernels.backend=...``, ...);
    the ``KERNELS_BUILD_*`` environment variables apply as in a real build.
    """
    from kernels_build.errors import KernelBuildError  # noqa: PLC0415
    from kernels_build.plan import make_plan  # noqa: PLC0415
    from kernels_build.settings import BuildSettings  # noqa: PLC0415

    config = load_config(root)
    try:
        plan = make_plan(config, BuildSettings.from_config_settings(config_settings or {}))
    except KernelBuildError as exc:
        return CurrentBuild(None, None, str(exc))
    return CurrentBuild(plan.variant.name, plan.backend)
