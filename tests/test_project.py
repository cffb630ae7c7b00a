"""Unit tests of the plan and project stages for every compiled backend, without toolchains.

Each test writes a real kernel repository (build.toml, sources, Python package) to
``tmp_path``, loads it with :func:`load_build_config`, describes the build environment by hand
(:class:`TorchInfo` for a CUDA, ROCm, XPU or CPU torch; :class:`Nvcc` for the CUDA compiler)
and calls :func:`make_plan` and the project renderers. Nothing imports or patches torch, so
ROCm and XPU generation is checked on any machine.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import textwrap
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from kernels.variants import host_cpu, host_os, parse_variant, parse_wheel_label
from kernels_build.compiler_cache import find_compiler_cache
from kernels_build.config import load_build_config
from kernels_build.errors import ConfigError, ToolchainError
from kernels_build.plan import ROCM_SUPPORTED_ARCHS, BuildPlan, effective_rocm_archs, make_plan
from kernels_build.project import (
    REGISTRATION_H,
    TORCH_LIBRARIES,
    generate_project,
    render_cmakelists,
    render_ops_py,
    render_pyproject,
)
from kernels_build.registration import (
    EXTENSION_INIT_CPP,
    EXTENSION_INIT_NAME,
    mentions_ops_name,
    registration_mode,
)
from kernels_build.settings import BuildSettings
from kernels_build.toolchain import Nvcc, TorchInfo

try:  # Python >= 3.11
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

PLATFORM = f"{host_cpu()}-{host_os()}"
CXX = "-cxx11" if host_os() == "linux" else ""
LABEL_CXX = "cxx11" if host_os() == "linux" else ""

NVCC13_SUPPORTED = ("7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "10.3", "11.0", "12.0", "12.1")
NVCC = Nvcc(path=Path("/usr/local/cuda/bin/nvcc"), version=(13, 0), supported_archs=NVCC13_SUPPORTED)

#: Every backend with a component, and a pure-Python extra (metal has no kernel: noarch).
BUILD_TOML = """\
[general]
name = "act-demo"
version = 1
edition = 5
license = "Apache-2.0"
backends = ["cpu", "cuda", "rocm", "xpu", "metal"]
python-depends = ["einops"]

[general.xpu]
python-depends = ["onednn"]

[torch]
src = ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]
cxx-flags = ["-DBINDING_FLAG"]

[kernel.act_cpu]
backend = "cpu"
depends = ["torch"]
src = ["act_cpu/act.cpp"]

[kernel.act_cuda]
backend = "cuda"
depends = ["torch"]
src = ["act_cuda/act.cu", "act_cuda/act.cuh"]
cuda-capabilities = ["7.0", "8.0", "9.0a"]
cuda-flags = ["-lineinfo"]

[kernel.act_rocm]
backend = "rocm"
depends = ["torch"]
src = ["act_rocm/act.cu", "act_rocm/helper.hip", "act_rocm/host.cpp", "act_rocm/act.h"]
include = ["act_rocm/include"]
rocm-archs = ["gfx940", "gfx942", "gfx90a"]
hip-flags = ["-fgpu-flush-denormals-to-zero"]

[kernel.act_rocm_all]
backend = "rocm"
depends = ["torch"]
src = ["act_rocm/all.cu"]

[kernel.act_xpu]
backend = "xpu"
depends = ["torch"]
src = ["act_xpu/act.cpp", "act_xpu/glue.c"]
cxx-flags = ["-DXPU_CXX_FLAG"]
sycl-flags = ["-fsycl-unnamed-lambda", "-ffp-model=precise"]
"""

SOURCES = (
    "torch-ext/torch_binding.cpp",
    "torch-ext/torch_binding.h",
    "act_cpu/act.cpp",
    "act_cuda/act.cu",
    "act_cuda/act.cuh",
    "act_rocm/act.cu",
    "act_rocm/helper.hip",
    "act_rocm/host.cpp",
    "act_rocm/act.h",
    "act_rocm/all.cu",
    "act_xpu/act.cpp",
    "act_xpu/glue.c",
)


def write_repo(root: Path, build_toml: str = BUILD_TOML, pyproject: Optional[str] = None) -> Path:
    """A kernel repository with ``build_toml``, a stub for every source, and its package."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "build.toml").write_text(build_toml)
    for rel in SOURCES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"// {rel}\n")
    package = root / "torch-ext" / "act_demo"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("from ._ops import ops\n")
    (package / "layers.py").write_text("import torch\n")
    (package / "__init__.pyi").write_text("ops: object\n")
    if pyproject is not None:
        (root / "pyproject.toml").write_text(pyproject)
    return root


def fake_torch(base: Path, version: str, **compute: Optional[Tuple[int, int]]) -> TorchInfo:
    """A torch 2.13 "installation" under ``base``: a package dir with every backend's libraries."""
    package_dir = base / "env" / "lib" / "python3.11" / "site-packages" / "torch"
    lib = package_dir / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    for name in {n for names in TORCH_LIBRARIES.values() for n in names}:
        (lib / f"lib{name}.so").write_text("")
    return TorchInfo(
        version=version,
        major_minor=(2, 13),
        cxx11_abi=True,
        cuda=compute.get("cuda"),
        hip=compute.get("hip"),
        xpu=compute.get("xpu"),
        package_dir=package_dir,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "act-demo")


@pytest.fixture
def torches(tmp_path: Path) -> Dict[str, TorchInfo]:
    return {
        "cuda": fake_torch(tmp_path / "cu", "2.13.0+cu130", cuda=(13, 0)),
        "rocm": fake_torch(tmp_path / "rocm", "2.13.0+rocm7.1", hip=(7, 1)),
        "xpu": fake_torch(tmp_path / "xpu", "2.13.0+xpu", xpu=(2025, 3)),
        "cpu": fake_torch(tmp_path / "cpu", "2.13.0+cpu"),
    }


def plan_for(root: Path, torch: TorchInfo, backend: Optional[str] = None, nvcc: Optional[Nvcc] = NVCC, **settings) -> BuildPlan:
    config = load_build_config(root)
    return make_plan(config, BuildSettings(backend=backend, **settings), torch=torch, nvcc=nvcc)


def components(cmakelists: str) -> Dict[str, str]:
    """``kernel_add_*component(<name> ...)`` calls of a generated CMakeLists.txt, by name."""
    return {
        m["name"]: m["body"]
        for m in re.finditer(r"^kernel_add_(?:\w+_)?component\((?P<name>\w+)\n(?P<body>.*?)^\)", cmakelists, re.M | re.S)
    }


def check_ops_name(plan: BuildPlan, backend: str) -> None:
    assert re.fullmatch(rf"_act_demo_{backend}_[0-9a-f]{{10}}", plan.ops_name), plan.ops_name
    assert plan.metadata().id == plan.ops_name


# --------------------------------------------------------------------------- variants


def test_cuda_plan(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["cuda"], "cuda")
    assert plan.variant.name == f"torch213{CXX}-cu130-{PLATFORM}"
    assert plan.variant.wheel_label == f"torch213cu130{LABEL_CXX}"
    assert plan.dist_version == f"1.0.0+torch213cu130{LABEL_CXX}"
    assert plan.framework_requirement == "torch==2.13.*"
    assert plan.nvcc == NVCC
    assert [k.name for k in plan.kernels] == ["act_cuda"]
    assert {k: tuple(map(str, v)) for k, v in plan.cuda_capabilities.items()} == {"act_cuda": ("8.0", "9.0a+PTX")}
    assert plan.rocm_archs == {}
    check_ops_name(plan, "cuda")
    meta = plan.metadata()
    assert meta.backend.type == "cuda"
    assert meta.backend.archs == ("8.0", "9.0a+PTX")
    assert meta.python_depends == ("einops",)


def test_cuda_is_the_default_backend_of_a_cuda_torch(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    assert plan_for(repo, torches["cuda"]).backend == "cuda"
    assert plan_for(repo, torches["rocm"]).backend == "rocm"
    assert plan_for(repo, torches["xpu"]).backend == "xpu"
    assert plan_for(repo, torches["cpu"]).backend == "cpu"


def test_rocm_plan(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["rocm"], "rocm")
    assert plan.variant.name == f"torch213{CXX}-rocm71-{PLATFORM}"
    assert plan.variant.wheel_label == f"torch213rocm71{LABEL_CXX}"
    assert plan.nvcc is None and plan.cuda_capabilities == {}
    assert [k.name for k in plan.kernels] == ["act_rocm", "act_rocm_all"]
    # gfx940 is not supported any more: dropped. Order: the supported list's.
    assert plan.rocm_archs == {"act_rocm": ("gfx90a", "gfx942"), "act_rocm_all": ROCM_SUPPORTED_ARCHS}
    check_ops_name(plan, "rocm")
    meta = plan.metadata()
    assert meta.backend.type == "rocm"
    # Union of the components, string-sorted (gfx1030 before gfx906).
    assert meta.backend.archs == tuple(sorted(ROCM_SUPPORTED_ARCHS))
    assert meta.backend.archs[0] == "gfx1030" and meta.backend.archs[-1] == "gfx950"


def test_rocm_metadata_archs_of_one_component(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace('[kernel.act_rocm_all]\nbackend = "rocm"', '[kernel.act_rocm_all]\nbackend = "cpu"')
    plan = plan_for(write_repo(tmp_path / "one", toml), torches["rocm"], "rocm")
    assert plan.metadata().backend.archs == ("gfx90a", "gfx942")


def test_xpu_plan(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["xpu"], "xpu")
    assert plan.variant.name == f"torch213{CXX}-xpu20253-{PLATFORM}"
    assert plan.variant.wheel_label == f"torch213xpu20253{LABEL_CXX}"
    assert [k.name for k in plan.kernels] == ["act_xpu"]
    check_ops_name(plan, "xpu")
    meta = plan.metadata()
    assert meta.backend.type == "xpu" and meta.backend.archs is None
    assert meta.python_depends == ("einops", "onednn")


def test_cpu_plan(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["cpu"], "cpu")
    assert plan.variant.name == f"torch213{CXX}-cpu-{PLATFORM}"
    assert plan.variant.wheel_label == f"torch213cpu{LABEL_CXX}"
    assert plan.nvcc is None
    check_ops_name(plan, "cpu")


def test_variant_names_and_labels_parse_back(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    platform_tag = {"x86_64": "manylinux_2_28_x86_64", "aarch64": "manylinux_2_28_aarch64"}.get(host_cpu())
    if host_os() != "linux" or platform_tag is None:
        pytest.skip("Linux wheel tags only")
    for backend in ("cpu", "cuda", "rocm", "xpu"):
        variant = plan_for(repo, torches[backend], backend).variant
        assert parse_variant(variant.name) == variant
        assert parse_wheel_label(variant.wheel_label, platform_tag) == variant


def test_same_sources_same_id_and_changes_give_new_id(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    first = plan_for(repo, torches["cuda"], "cuda").unique_id
    assert plan_for(repo, torches["cuda"], "cuda").unique_id == first
    assert plan_for(repo, torches["rocm"], "rocm").unique_id == first  # one id per source state
    (repo / "act_rocm" / "act.cu").write_text("// changed\n")
    assert plan_for(repo, torches["cuda"], "cuda").unique_id != first


def test_unique_id_setting(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["cpu"], "cpu", unique_id="abc_123")
    assert plan.ops_name == "_act_demo_cpu_abc_123"


def test_stable_abi_variant(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace("[kernel.act_cpu]", '[torch.stable-abi]\ncuda = "2.10"\nrocm = "2.10"\n\n[kernel.act_cpu]')
    root = write_repo(tmp_path / "stable", toml)
    cuda = plan_for(root, torches["cuda"], "cuda")
    assert cuda.variant.name == f"torch-stable-abi210-cu130-{PLATFORM}"
    assert cuda.variant.wheel_label == "torchstableabi210cu130"
    assert cuda.stable_abi == (2, 10)
    assert cuda.framework_requirement == "torch>=2.10"
    assert "set(KERNEL_STABLE_ABI_VERSION 0x020a000000000000)" in render_cmakelists(cuda)
    project = tomllib.loads(render_pyproject(cuda))["project"]
    assert project["version"] == "1.0.0+torchstableabi210cu130"
    assert "torch>=2.10" in project["dependencies"]

    rocm = plan_for(root, torches["rocm"], "rocm")
    assert rocm.variant.name == f"torch-stable-abi210-rocm71-{PLATFORM}"
    # Backends not listed under torch.stable-abi keep the version-specific ABI.
    cpu = plan_for(root, torches["cpu"], "cpu")
    assert cpu.variant.name == f"torch213{CXX}-cpu-{PLATFORM}"
    assert cpu.stable_abi is None
    assert "KERNEL_STABLE_ABI_VERSION" not in render_cmakelists(cpu)


def test_stable_abi_newer_than_torch(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace("[kernel.act_cpu]", '[torch.stable-abi]\ncuda = "2.14"\n\n[kernel.act_cpu]')
    with pytest.raises(ToolchainError, match=r"stable-abi asks for torch 2\.14.*torch 2\.13\.0\+cu130"):
        plan_for(write_repo(tmp_path / "stable", toml), torches["cuda"], "cuda")


def test_noarch_backend_without_kernel(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    # metal is declared, but has no [kernel.*]: a Python-only torch-metal build, on any OS.
    root = write_repo(tmp_path / "noarch")
    plan = plan_for(root, torches["cpu"], "metal")
    assert plan.is_noarch and plan.variant.name == "torch-metal"
    assert plan.variant.wheel_label == "torchmetal"
    assert plan.dist_version == "1.0.0+torchmetal"
    assert plan.framework_requirement == "torch"
    assert re.fullmatch(r"_act_demo_metal_[0-9a-f]{10}", plan.ops_name)
    cmake = render_cmakelists(plan)
    assert "LANGUAGES NONE" in cmake and "kernel_add_" not in cmake
    assert "from . import" not in render_ops_py(plan)
    skbuild = tomllib.loads(render_pyproject(plan))["tool"]["scikit-build"]
    assert skbuild["wheel"]["py-api"] == "py3" and skbuild["wheel"]["platlib"] is False


def test_noarch_cuda_when_cuda_has_no_kernel(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = textwrap.dedent(
        """\
        [general]
        name = "act-demo"
        version = 2
        edition = 5
        license = "MIT"
        backends = ["cpu", "cuda"]

        [torch]
        src = ["torch-ext/torch_binding.cpp"]

        [kernel.act_cpu]
        backend = "cpu"
        depends = ["torch"]
        src = ["act_cpu/act.cpp"]
        """
    )
    root = write_repo(tmp_path / "noarch-cuda", toml)
    # nvcc is not even looked at: there is nothing to compile.
    plan = plan_for(root, torches["cuda"], "cuda", nvcc=None)
    assert plan.variant.name == "torch-cuda" and plan.is_noarch
    assert plan.nvcc is None and plan.kernels == ()
    assert plan.dist_version == "2.0.0+torchcuda"
    assert plan.metadata().backend.archs is None


def test_python_only_kernel(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = textwrap.dedent(
        """\
        [general]
        name = "act-demo"
        version = 1
        edition = 5
        license = "MIT"
        backends = ["cuda", "rocm"]

        [torch-noarch]
        rocm_archs = ["gfx942", "gfx90a"]
        """
    )
    root = write_repo(tmp_path / "py-only", toml)
    rocm = plan_for(root, torches["rocm"], "rocm", nvcc=None)
    assert rocm.variant.name == "torch-rocm"
    assert rocm.metadata().backend.archs == ("gfx90a", "gfx942")
    assert plan_for(root, torches["cuda"], nvcc=None).variant.name == "torch-cuda"


# --------------------------------------------------------------------------- rocm archs


def test_effective_rocm_archs() -> None:
    assert effective_rocm_archs(None) == ROCM_SUPPORTED_ARCHS
    assert effective_rocm_archs(["gfx1201", "gfx90a", "gfx90a"]) == ("gfx90a", "gfx1201")
    assert effective_rocm_archs(["gfx940", "gfx941", "gfx942"]) == ("gfx942",)
    assert ROCM_SUPPORTED_ARCHS == (
        "gfx906", "gfx908", "gfx90a", "gfx942", "gfx950",
        "gfx1030", "gfx1100", "gfx1101", "gfx1200", "gfx1201",
    )


def test_rocm_archs_empty_intersection(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace('rocm-archs = ["gfx940", "gfx942", "gfx90a"]', 'rocm-archs = ["gfx940", "gfx941"]')
    with pytest.raises(ToolchainError) as err:
        plan_for(write_repo(tmp_path / "r", toml), torches["rocm"], "rocm")
    message = str(err.value)
    assert "kernel.act_rocm.rocm-archs" in message
    assert "gfx940, gfx941" in message
    assert ", ".join(ROCM_SUPPORTED_ARCHS) in message


# --------------------------------------------------------------------------- CMakeLists.txt


def test_cuda_cmakelists(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["cuda"], "cuda")
    cmake = render_cmakelists(plan)
    assert f"set(KERNEL_OPS_NAME {plan.ops_name})" in cmake
    assert "set(KERNEL_BACKEND cuda)" in cmake
    assert 'set(CMAKE_CUDA_COMPILER "/usr/local/cuda/bin/nvcc")' in cmake
    assert "set(CMAKE_CUDA_ARCHITECTURES OFF)" in cmake
    assert "project(act_demo LANGUAGES C CXX CUDA)" in cmake
    assert "cmake/cuda.cmake" in cmake and "rocm.cmake" not in cmake and "xpu.cmake" not in cmake
    comps = components(cmake)
    assert list(comps) == ["act_cuda"]
    body = comps["act_cuda"]
    assert f'"{repo}/act_cuda/act.cu"' in body
    assert "act.cuh" not in body  # headers are not compiled
    assert (
        'CUDA_FLAGS "-gencode=arch=compute_80,code=sm_80" "-gencode=arch=compute_90a,code=sm_90a" '
        '"-gencode=arch=compute_90a,code=compute_90a" "-lineinfo"'
    ) in body
    assert "compute_70" not in cmake  # 7.0 is not supported by nvcc 13
    assert "offload-arch" not in cmake and "HIP" not in cmake and "SYCL" not in cmake
    libs = re.search(r"set\(KERNEL_TORCH_LIBRARIES (.*)\)", cmake)[1]
    assert "libc10_cuda.so" in libs and "libtorch_cuda.so" in libs and "hip" not in libs
    assert 'CXX_FLAGS "-DBINDING_FLAG"' in cmake  # [torch] cxx-flags on the bindings
    # Arch builds ship .py files, not .pyi stubs.
    assert 'FILES "__init__.py" "layers.py"' in cmake


def test_nvcc_compiles_the_archs_of_a_file_in_parallel(repo: Path, torches: Dict[str, TorchInfo],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NVCC_THREADS", raising=False)
    monkeypatch.setenv("CMAKE_BUILD_PARALLEL_LEVEL", "16")
    cmake = render_cmakelists(plan_for(repo, torches["cuda"], "cuda"))
    # two archs (sm_80, and sm_90a with its PTX copy, which is no step of its own): two
    # threads; 16 jobs / 2 threads (when the memory holds 16 threads) = 8 CUDA compiles at once
    assert '"-lineinfo" "--threads=2"' in components(cmake)["act_cuda"]
    pool = re.search(r"set_property\(GLOBAL APPEND PROPERTY JOB_POOLS kernels_cuda=(\d+)\)", cmake)
    from kernels_build.parallelism import memory_threads

    assert pool and int(pool[1]) == max(1, min(16, memory_threads() or 16) // 2)
    assert "set_property(TARGET act_cuda PROPERTY JOB_POOL_COMPILE kernels_cuda)" in cmake
    monkeypatch.setenv("CMAKE_BUILD_PARALLEL_LEVEL", "1")
    assert "--threads" not in components(render_cmakelists(plan_for(repo, torches["cuda"], "cuda")))["act_cuda"]
    for settings, env in (({"nvcc_threads": 1}, None), ({}, "4")):
        if env:
            monkeypatch.setenv("NVCC_THREADS", env)  # the existing builder's variable: cmake/cuda.cmake applies it
        cmake = render_cmakelists(plan_for(repo, torches["cuda"], "cuda", **settings))
        assert "--threads" not in components(cmake)["act_cuda"] and "JOB_POOLS" not in cmake


def test_nvcc_splits_the_optimizations_of_a_file(repo: Path, torches: Dict[str, TorchInfo],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from kernels_build.parallelism import MAX_SPLIT_COMPILE, memory_threads

    monkeypatch.delenv("NVCC_THREADS", raising=False)
    monkeypatch.setenv("CMAKE_BUILD_PARALLEL_LEVEL", "16")
    memory = memory_threads()
    # one CUDA file of two archs: 2 arch threads, each split as the memory allows
    split = max(1, min(MAX_SPLIT_COMPILE, 16, (memory or 16) // 2))
    body = components(render_cmakelists(plan_for(repo, torches["cuda"], "cuda")))["act_cuda"]
    assert body.endswith('"--threads=2"' + (f' "--split-compile={split}"' if split > 1 else "") + "\n")
    # narrowed to one arch: no arch threads, the split alone (what a one-arch dev build needs)
    one_arch = components(render_cmakelists(plan_for(repo, torches["cuda"], "cuda", cuda_capabilities=("9.0",))))
    assert "--threads" not in one_arch["act_cuda"]
    if memory is None or memory >= 2:
        assert f'"--split-compile={min(MAX_SPLIT_COMPILE, memory or 16)}"' in one_arch["act_cuda"]
    # NVCC_THREADS=8 (applied by cmake/cuda.cmake): the split shares the memory with its 8 threads
    monkeypatch.setenv("NVCC_THREADS", "8")
    env_split = max(1, min(MAX_SPLIT_COMPILE, 16, (memory or 16) // 8))
    one_arch = components(render_cmakelists(plan_for(repo, torches["cuda"], "cuda", cuda_capabilities=("9.0",))))
    assert ("--split-compile" in one_arch["act_cuda"]) == (env_split > 1)
    if env_split > 1:
        assert f'"--split-compile={env_split}"' in one_arch["act_cuda"]
    monkeypatch.delenv("NVCC_THREADS")
    # the setting, and the kernel's own flag, win; an nvcc older than 12.0 has no such option
    off = render_cmakelists(plan_for(repo, torches["cuda"], "cuda", nvcc_split_compile=1))
    assert "split-compile" not in off
    six = render_cmakelists(plan_for(repo, torches["cuda"], "cuda", nvcc_split_compile=6))
    assert '"--split-compile=6"' in components(six)["act_cuda"]
    old_nvcc = Nvcc(path=NVCC.path, version=(11, 8), supported_archs=("8.0", "9.0"))
    cu118 = dataclasses.replace(torches["cuda"], cuda=(11, 8))
    assert "split-compile" not in render_cmakelists(plan_for(repo, cu118, "cuda", nvcc=old_nvcc))
    # asked for by name, an nvcc without the option is an error, not a silent build without it
    with pytest.raises(ToolchainError, match=r"kernels.nvcc-split-compile=4 needs nvcc >= 12.0.*nvcc 11.8"):
        plan_for(repo, cu118, "cuda", nvcc=old_nvcc, nvcc_split_compile=4)
    # given by its variable, the error names the variable
    with pytest.raises(ToolchainError, match=r"^KERNELS_BUILD_NVCC_SPLIT_COMPILE=4 needs nvcc >= 12.0"):
        plan_for(repo, cu118, "cuda", nvcc=old_nvcc, nvcc_split_compile=4,
                 from_environment=frozenset({"nvcc-split-compile"}))
    assert "split-compile" not in render_cmakelists(plan_for(repo, cu118, "cuda", nvcc=old_nvcc,
                                                             nvcc_split_compile=1))
    toml = repo / "build.toml"
    toml.write_text(toml.read_text().replace('cuda-flags = ["-lineinfo"]', 'cuda-flags = ["-split-compile=2"]'))
    own = components(render_cmakelists(plan_for(repo, torches["cuda"], "cuda")))["act_cuda"]
    assert own.count("split-compile") == 1 and '"-split-compile=2"' in own


@pytest.mark.parametrize("key", ["nvcc-threads", "nvcc-split-compile"])
def test_nvcc_thread_settings_are_validated(key: str) -> None:
    attr = key.replace("-", "_")
    assert getattr(BuildSettings.from_config_settings({f"kernels.{key}": "auto"}), attr) is None
    assert getattr(BuildSettings.from_config_settings({f"kernels.{key}": "6"}), attr) == 6
    for bad in ("0", "-1", "many"):
        with pytest.raises(ConfigError, match=f"kernels.{key}.*neither 'auto' nor a thread count"):
            BuildSettings.from_config_settings({f"kernels.{key}": bad})


def test_a_bad_setting_from_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNELS_BUILD_TORCH_VERSION", "two")
    with pytest.raises(ConfigError) as err:
        BuildSettings.from_config_settings({})
    assert str(err.value) == "environment: KERNELS_BUILD_TORCH_VERSION: 'two' is not a torch version such as 2.13"
    # a -C setting wins over the variable, and its own error names the setting
    assert BuildSettings.from_config_settings({"kernels.torch-version": "2.13"}).torch_version == (2, 13)
    monkeypatch.delenv("KERNELS_BUILD_TORCH_VERSION")
    with pytest.raises(ConfigError, match=r"^config settings: kernels.policy: 'x'"):
        BuildSettings.from_config_settings({"kernels.policy": "x"})
    # a valid value remembers where it came from, for the errors of later stages
    monkeypatch.setenv("KERNELS_BUILD_COMPILER_CACHE", "ccache")
    settings = BuildSettings.from_config_settings({"kernels.policy": "manylinux_2_28"})
    assert settings.from_environment == {"compiler-cache"}
    assert settings.named("compiler-cache", "ccache") == "KERNELS_BUILD_COMPILER_CACHE=ccache"
    assert settings.named("policy") == "kernels.policy"
    with pytest.raises(ToolchainError, match=r"^KERNELS_BUILD_COMPILER_CACHE=ccache: ccache is not on PATH"):
        find_compiler_cache("ccache", path="", setting=settings.named("compiler-cache"))


def test_rocm_cmakelists(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["rocm"], "rocm")
    cmake = render_cmakelists(plan)
    assert "set(KERNEL_BACKEND rocm)" in cmake
    assert "project(act_demo LANGUAGES C CXX HIP)" in cmake
    assert cmake.index("set(CMAKE_HIP_ARCHITECTURES") < cmake.index("project(")
    assert f'set(CMAKE_HIP_ARCHITECTURES "{";".join(sorted(ROCM_SUPPORTED_ARCHS))}")' in cmake
    assert "cmake/rocm.cmake" in cmake and "cmake/cuda.cmake" not in cmake
    assert "CMAKE_CUDA" not in cmake and "gencode" not in cmake and "CUDA_FLAGS" not in cmake
    assert "hipify" in cmake  # the generated project says .cu files are not hipified

    comps = components(cmake)
    assert list(comps) == ["act_rocm", "act_rocm_all"]
    assert "kernel_add_hip_component(act_rocm\n" in cmake
    body = comps["act_rocm"]
    assert f'SOURCES "{repo}/act_rocm/act.cu" "{repo}/act_rocm/helper.hip" "{repo}/act_rocm/host.cpp"\n' in body
    assert f'INCLUDE "{repo}/act_rocm/include"' in body
    assert (
        'HIP_FLAGS "--offload-arch=gfx90a" "--offload-arch=gfx942" "-fgpu-flush-denormals-to-zero"'
    ) in body
    assert "gfx940" not in cmake
    all_body = comps["act_rocm_all"]
    assert all_body.count("--offload-arch=") == len(ROCM_SUPPORTED_ARCHS)
    for arch in ROCM_SUPPORTED_ARCHS:
        assert f'"--offload-arch={arch}"' in all_body

    libs = re.search(r"set\(KERNEL_TORCH_LIBRARIES (.*)\)", cmake)[1]
    for lib in ("libc10.so", "libtorch.so", "libtorch_cpu.so", "libc10_hip.so", "libtorch_hip.so"):
        assert f"/{lib}" in libs
    assert "cuda" not in libs and "xpu" not in libs


def test_xpu_cmakelists(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["xpu"], "xpu")
    cmake = render_cmakelists(plan)
    assert "set(KERNEL_BACKEND xpu)" in cmake
    assert "project(act_demo LANGUAGES C CXX)" in cmake
    assert "cmake/xpu.cmake" in cmake
    # icpx/icx are looked for before project(), unless the caller chose compilers.
    assert cmake.index("find_program(KERNEL_ICPX icpx)") < cmake.index("project(")
    env_root = torches["xpu"].site_packages.parents[2]
    assert f'set(KERNEL_XPU_LIBRARY_HINTS "{torches["xpu"].library_dir}" "{env_root / "lib"}")' in cmake
    comps = components(cmake)
    assert list(comps) == ["act_xpu"]
    assert "kernel_add_sycl_component(act_xpu\n" in cmake
    body = comps["act_xpu"]
    assert 'SYCL_FLAGS "-fsycl-unnamed-lambda" "-ffp-model=precise"' in body
    assert 'CXX_FLAGS "-DXPU_CXX_FLAG"' in body
    assert "gencode" not in cmake and "offload-arch" not in cmake and "CMAKE_CUDA" not in cmake
    libs = re.search(r"set\(KERNEL_TORCH_LIBRARIES (.*)\)", cmake)[1]
    assert "libc10_xpu.so" in libs and "libtorch_xpu.so" in libs and "cuda" not in libs


def test_cpu_cmakelists(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    cmake = render_cmakelists(plan_for(repo, torches["cpu"], "cpu"))
    assert "project(act_demo LANGUAGES C CXX)" in cmake
    assert list(components(cmake)) == ["act_cpu"]
    assert "kernel_add_component(act_cpu\n" in cmake
    assert "FLAGS" not in components(cmake)["act_cpu"]


def test_cmake_modules_declare_backend_definitions() -> None:
    """The contract's definitions live in the backend modules the projects include."""
    cmake_dir = Path(__file__).resolve().parents[1] / "cmake"
    rocm = (cmake_dir / "rocm.cmake").read_text()
    for needle in ("USE_ROCM=1", "ROCM_KERNEL", "function(kernel_add_hip_component", "LANGUAGE HIP",
                   "HIP_ARCHITECTURES OFF", "COMPILE_LANGUAGE:HIP", "hipify"):
        assert needle in rocm
    xpu = (cmake_dir / "xpu.cmake").read_text()
    for needle in ("XPU_KERNEL USE_XPU", "IntelLLVM", "function(kernel_add_sycl_component", "cpp|cxx|cc",
                   "dnnl", "-fsycl-targets=spir64_gen,spir64", "pvc,xe-lpg,ats-m150"):
        assert needle in xpu


# --------------------------------------------------------------------------- glue files


MACROS = (
    "_CONCAT", "CONCAT", "_STRINGIFY", "STRINGIFY",
    "TORCH_LIBRARY_EXPAND", "TORCH_LIBRARY_IMPL_EXPAND",
    "STABLE_TORCH_LIBRARY_EXPAND", "STABLE_TORCH_LIBRARY_IMPL_EXPAND",
    "REGISTER_EXTENSION",
)


@pytest.mark.parametrize("backend", ["cpu", "cuda", "rocm", "xpu"])
def test_generated_project_files(repo: Path, torches: Dict[str, TorchInfo], backend: str) -> None:
    plan = plan_for(repo, torches[backend], backend)
    project = generate_project(plan)
    assert project == plan.work_dir / "project"
    assert project.is_relative_to(repo / ".kernels_build")
    header = (project / "generated" / "registration.h").read_text()
    assert header == REGISTRATION_H
    assert "#pragma once" in header and "#include <Python.h>" in header
    for macro in MACROS:
        assert re.search(rf"^#define {macro}\(", header, re.M), macro
    assert "PyInit_" in header and "PyModule_Create" in header
    assert (project / "generated" / "_ops.py").read_text() == render_ops_py(plan)
    assert (project / "CMakeLists.txt").read_text() == render_cmakelists(plan)
    assert (project / "pyproject.toml").read_text() == render_pyproject(plan)


@pytest.mark.parametrize(
    "source, mode",
    [
        ("TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {}\nREGISTER_EXTENSION( TORCH_EXTENSION_NAME )", "runtime"),
        ("TORCH_LIBRARY_IMPL_EXPAND(TORCH_EXTENSION_NAME, CUDA, ops) {}", "runtime"),
        ("// TORCH_EXTENSION_NAME is the namespace\n/* so is\nTORCH_EXTENSION_NAME */ int x;", "runtime"),
        ("STABLE_TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {}", "define"),
        ('const char* n = STRINGIFY(TORCH_EXTENSION_NAME);', "define"),
        ("PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {}", "define"),
    ],
)
def test_registration_mode(tmp_path: Path, source: str, mode: str) -> None:
    """Sources that use the op namespace only through the registration macros leave it out of
    their compile flags (it changes with every edit); any other use gets the define."""
    (tmp_path / "a.cpp").write_text(source)
    (tmp_path / "b.cu").write_text("__global__ void k() {}")
    assert registration_mode(tmp_path, ["a.cpp", "b.cu", "missing.cpp"]) == mode
    assert mentions_ops_name(tmp_path, ["b.cu"]) is False


def test_generated_cmake_passes_the_namespace_to_one_glue_tu(
    repo: Path, torches: Dict[str, TorchInfo]
) -> None:
    binding = repo / "torch-ext" / "torch_binding.cpp"
    binding.write_text("TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {}\nREGISTER_EXTENSION(TORCH_EXTENSION_NAME)\n")
    plan = plan_for(repo, torches["cpu"], "cpu")
    project = generate_project(plan)
    cmake = (project / "CMakeLists.txt").read_text()
    assert "kernel_add_extension(OPS_NAME_AT_LOAD" in cmake and "kernel_use_ops_name" not in cmake
    assert (project / "generated" / EXTENSION_INIT_NAME).read_text() == EXTENSION_INIT_CPP
    binding.write_text(binding.read_text() + "static const char* n = STRINGIFY(TORCH_EXTENSION_NAME);\n")
    cmake = render_cmakelists(plan)
    assert "kernel_add_extension(\n" in cmake


def test_noarch_project_has_no_registration_header(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(write_repo(tmp_path / "n"), torches["cpu"], "metal")
    project = generate_project(plan)
    assert not (project / "generated" / "registration.h").exists()
    assert (project / "generated" / "_ops.py").is_file()


def test_generate_project_leaves_unchanged_files_alone(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    plan = plan_for(repo, torches["rocm"], "rocm")
    project = generate_project(plan)
    stamps = {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()}
    generate_project(plan)
    assert {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()} == stamps


@pytest.mark.parametrize("backend", ["cpu", "cuda", "rocm", "xpu"])
def test_ops_py(repo: Path, torches: Dict[str, TorchInfo], backend: str) -> None:
    plan = plan_for(repo, torches[backend], backend)
    text = render_ops_py(plan)
    name = plan.ops_name
    assert "import torch\n" in text
    assert f"from . import {name}\n" in text
    assert f"ops = torch.ops.{name}\n" in text
    tree = ast.parse(text)
    relative = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.level == 1]
    assert [(n.module, [a.name for a in n.names]) for n in relative] == [(None, [name])]
    # Run add_op_namespace_prefix on its own (the module itself imports torch and the extension).
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "add_op_namespace_prefix")
    namespace: dict = {}
    exec(compile(ast.Module(body=[func], type_ignores=[]), "_ops.py", "exec"), namespace)
    assert namespace["add_op_namespace_prefix"]("silu_and_mul") == f"{name}::silu_and_mul"


# --------------------------------------------------------------------------- pyproject.toml


@pytest.mark.parametrize(
    "backend, label",
    [("cpu", "torch213cpu"), ("cuda", "torch213cu130"), ("rocm", "torch213rocm71"), ("xpu", "torch213xpu20253")],
)
def test_pyproject(repo: Path, torches: Dict[str, TorchInfo], backend: str, label: str) -> None:
    plan = plan_for(repo, torches[backend], backend)
    data = tomllib.loads(render_pyproject(plan))
    assert data["build-system"]["build-backend"] == "scikit_build_core.build"
    project = data["project"]
    assert project["name"] == "act-demo"
    assert project["version"] == f"1.0.0+{label}{LABEL_CXX}"
    assert project["dependencies"][0] == "torch==2.13.*"
    assert "einops" in project["dependencies"]
    assert ("onednn-devel" in project["dependencies"]) == (backend == "xpu")
    skbuild = data["tool"]["scikit-build"]
    assert skbuild["wheel"]["py-api"] == "cp39"
    assert skbuild["build-dir"] == str(plan.work_dir / "cmake-build")


def test_user_project_table_is_honoured(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    pyproject = textwrap.dedent(
        """\
        [build-system]
        requires = ["kernels"]
        build-backend = "kernels_build"

        [project]
        name = "acme-act"
        version = "0.3.1"
        description = "Activation kernels by ACME"
        dynamic = ["readme"]
        dependencies = ["numpy>=1.26"]
        """
    )
    root = write_repo(tmp_path / "user", pyproject=pyproject)
    plan = plan_for(root, torches["rocm"], "rocm")
    project = tomllib.loads(render_pyproject(plan))["project"]
    assert project["name"] == "acme-act"
    assert project["description"] == "Activation kernels by ACME"
    assert project["version"] == f"0.3.1+torch213rocm71{LABEL_CXX}"
    assert project["dependencies"] == ["numpy>=1.26", "torch==2.13.*", "einops"]
    assert "dynamic" not in project


def test_user_project_without_version_takes_the_kernel_major(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    root = write_repo(tmp_path / "user", pyproject='[project]\nname = "acme-act"\ndynamic = ["version"]\n')
    project = tomllib.loads(render_pyproject(plan_for(root, torches["cpu"], "cpu")))["project"]
    assert project["version"] == f"1.0.0+torch213cpu{LABEL_CXX}"
    assert project["name"] == "acme-act"


def test_user_version_with_local_label_is_an_error(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    root = write_repo(tmp_path / "user", pyproject='[project]\nname = "acme-act"\nversion = "0.3.1+mine"\n')
    plan = plan_for(root, torches["cpu"], "cpu")
    with pytest.raises(ConfigError) as err:
        render_pyproject(plan)
    assert err.value.key == "project.version"
    assert "pyproject.toml" in err.value.file
    assert "+" in str(err.value)


# --------------------------------------------------------------------------- errors


def test_nvcc_major_must_match_torch_cuda(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    nvcc12 = Nvcc(path=Path("/usr/local/cuda-12.8/bin/nvcc"), version=(12, 8), supported_archs=("8.0", "9.0"))
    with pytest.raises(ToolchainError) as err:
        plan_for(repo, torches["cuda"], "cuda", nvcc=nvcc12)
    message = str(err.value)
    assert "nvcc 12.8" in message and "CUDA 13.0" in message
    assert "/usr/local/cuda-12.8/bin/nvcc" in message


def test_cuda_minver_above_nvcc(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace("[general.xpu]", '[general.cuda]\nminver = "13.1"\n\n[general.xpu]')
    with pytest.raises(ToolchainError) as err:
        plan_for(write_repo(tmp_path / "m", toml), torches["cuda"], "cuda")
    assert "general.cuda.minver = 13.1" in str(err.value) and "nvcc 13.0" in str(err.value)


def test_cuda_maxver_below_nvcc(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace("[general.xpu]", '[general.cuda]\nmaxver = "12.9"\n\n[general.xpu]')
    with pytest.raises(ToolchainError, match=r"general\.cuda\.maxver = 12\.9"):
        plan_for(write_repo(tmp_path / "m", toml), torches["cuda"], "cuda")


def test_component_cuda_minver_skips_the_component(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace('cuda-flags = ["-lineinfo"]', 'cuda-flags = ["-lineinfo"]\ncuda-minver = "13.1"')
    plan = plan_for(write_repo(tmp_path / "m", toml), torches["cuda"], "cuda")
    assert plan.cuda_capabilities == {}
    cmake = render_cmakelists(plan)
    assert "# kernel.act_cuda skipped" in cmake and components(cmake) == {}


def test_torch_minver_above_torch(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace('cxx-flags = ["-DBINDING_FLAG"]', 'cxx-flags = ["-DBINDING_FLAG"]\nminver = "2.14"')
    with pytest.raises(ToolchainError) as err:
        plan_for(write_repo(tmp_path / "t", toml), torches["rocm"], "rocm")
    assert "torch.minver = 2.14" in str(err.value) and "2.13.0+rocm7.1" in str(err.value)


def test_torch_maxver_below_torch(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace('cxx-flags = ["-DBINDING_FLAG"]', 'cxx-flags = ["-DBINDING_FLAG"]\nmaxver = "2.12"')
    with pytest.raises(ToolchainError, match=r"torch\.maxver = 2\.12"):
        plan_for(write_repo(tmp_path / "t", toml), torches["xpu"], "xpu")


def test_torch_version_setting_must_match(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    with pytest.raises(ToolchainError, match=r"kernels\.torch-version asks for torch 2\.12"):
        plan_for(repo, torches["cpu"], "cpu", torch_version=(2, 12))
    assert plan_for(repo, torches["cpu"], "cpu", torch_version=(2, 13)).backend == "cpu"


def test_backend_not_declared(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    toml = BUILD_TOML.replace('backends = ["cpu", "cuda", "rocm", "xpu", "metal"]', 'backends = ["cpu", "cuda"]')
    toml = toml.split("[kernel.act_rocm]")[0]  # rocm/xpu kernels would be rejected by the parser
    root = write_repo(tmp_path / "b", toml.replace("[general.xpu]\npython-depends = [\"onednn\"]\n", ""))
    with pytest.raises(ConfigError) as err:
        plan_for(root, torches["rocm"], "rocm")
    assert err.value.key == "general.backends"
    assert "'rocm'" in str(err.value) and "cpu, cuda" in str(err.value)


def test_cuda_backend_needs_a_cuda_torch(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    with pytest.raises(ToolchainError, match="needs a CUDA build of torch"):
        plan_for(repo, torches["cpu"], "cuda")


@pytest.mark.parametrize("backend, name", [("rocm", "ROCm"), ("xpu", "XPU")])
def test_rocm_xpu_need_a_matching_torch(repo: Path, torches: Dict[str, TorchInfo], backend: str, name: str) -> None:
    with pytest.raises(ToolchainError, match=f"needs a torch built for {name}"):
        plan_for(repo, torches["cuda"], backend)


def test_metal_kernels_fail_early_off_macos(tmp_path: Path, torches: Dict[str, TorchInfo]) -> None:
    if host_os() == "darwin":
        pytest.skip("Metal kernels build on macOS")
    toml = BUILD_TOML + textwrap.dedent(
        """
        [kernel.act_metal]
        backend = "metal"
        depends = ["torch"]
        src = ["act_metal/act.metal", "act_metal/act.mm"]
        """
    )
    root = write_repo(tmp_path / "metal", toml)
    for rel in ("act_metal/act.metal", "act_metal/act.mm"):
        (root / rel).parent.mkdir(exist_ok=True)
        (root / rel).write_text("")
    with pytest.raises(ToolchainError) as err:
        plan_for(root, torches["cpu"], "metal")
    assert "Metal kernels can only be built on macOS" in str(err.value)
    assert "act_metal" in str(err.value)
    # The other backends of the same repository still plan.
    assert plan_for(root, torches["cpu"], "cpu").backend == "cpu"


# --------------------------------------------------------------------------- native archs


def test_cuda_capabilities_words_native_and_all() -> None:
    assert BuildSettings.from_config_settings({"kernels.cuda-capabilities": "native"}).native_archs
    assert BuildSettings.from_config_settings({"kernels.cuda-capabilities": "all"}).cuda_capabilities is None
    with pytest.raises(ConfigError, match="'nativ' is not a CUDA capability.*'native'"):
        BuildSettings.from_config_settings({"kernels.cuda-capabilities": "nativ"})
    with pytest.raises(ConfigError, match="'native' stands alone"):
        BuildSettings.from_config_settings({"kernels.cuda-capabilities": "9.0;native"})
    with pytest.raises(ConfigError, match="is empty"):
        BuildSettings.from_config_settings({"kernels.cuda-capabilities": " ; "})
    assert BuildSettings.from_config_settings({"kernels.cuda-capabilities": "8.0, 9.0a"}).cuda_capabilities == ("8.0", "9.0a")


@pytest.mark.skipif(bool(__import__("kernels_build.gpus", fromlist=["x"]).visible_cuda_capabilities()),
                    reason="a GPU is visible here (tests/test_gpu.py checks native there)")
def test_native_without_a_visible_gpu_is_a_clear_error(repo: Path, torches: Dict[str, TorchInfo]) -> None:
    with pytest.raises(ToolchainError) as err:
        plan_for(repo, torches["cuda"], "cuda", cuda_capabilities=("native",))
    assert "kernels.cuda-capabilities=native" in str(err.value)
    assert "no CUDA GPU is visible" in str(err.value) and "-C kernels.cuda-capabilities=9.0" in str(err.value)
    # Backends other than cuda ignore the setting.
    assert plan_for(repo, torches["cpu"], "cpu", cuda_capabilities=("native",)).backend == "cpu"
