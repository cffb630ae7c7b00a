"""The compile flags a kernel gets from torch (``kernels_build/flags.py``), read from real files.

The installed torch of this environment is read (never imported by the code under test); the
generated CMake project is checked for the variables the CMake modules consume. The flags of
a real CUDA build are read back from its compile_commands.json in test_build_cutlass.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kernels_build.flags import TORCH_CMAKE_CUDA_FLAGS, common_nvcc_flags, interface_definitions, torch_flags
from kernels_build.project import render_cmakelists, source_include_dirs
from kernels_build.toolchain import inspect_torch
from test_project import plan_for, write_repo


def test_definitions_of_the_installed_torch() -> None:
    torch = inspect_torch()
    flags = torch_flags(torch, "cpu")
    assert flags.definitions[0] == "_GLIBCXX_USE_CXX11_ABI=1"
    targets = torch.package_dir / "share" / "cmake" / "Caffe2" / "Caffe2Targets.cmake"
    assert targets.is_file()
    # What torch_cpu's export says, e.g. USE_DISTRIBUTED on Linux builds.
    assert list(flags.definitions[1:]) == interface_definitions(targets, ["torch_cpu"])
    assert "USE_DISTRIBUTED" in flags.definitions
    assert flags.cuda == ()


def test_common_nvcc_flags_read_from_torch_source() -> None:
    flags = common_nvcc_flags(inspect_torch())
    assert "--expt-relaxed-constexpr" in flags
    assert "-D__CUDA_NO_HALF_OPERATORS__" in flags  # present in torch; removed by the builder


def test_cuda_flags_adjusted_as_the_existing_builder_does() -> None:
    flags = torch_flags(inspect_torch(), "cuda", (13, 0))
    assert flags.cuda[: len(TORCH_CMAKE_CUDA_FLAGS)] == TORCH_CMAKE_CUDA_FLAGS
    assert "--expt-extended-lambda" in flags.cuda and flags.cuda.count("--expt-relaxed-constexpr") == 1
    assert flags.cuda[-1] == "-DENABLE_FP8"
    assert not [f for f in flags.cuda if f.startswith("-D__CUDA_NO_")]
    assert torch_flags(inspect_torch(), "cuda", (11, 7)).cuda[-1] != "-DENABLE_FP8"


def test_interface_definitions_parse(tmp_path: Path) -> None:
    export = tmp_path / "Targets.cmake"
    export.write_text(
        'set_target_properties(torch_cpu PROPERTIES\n  INTERFACE_COMPILE_DEFINITIONS "A;B=1"\n'
        '  INTERFACE_INCLUDE_DIRECTORIES "${_IMPORT_PREFIX}/include"\n)\n'
        'set_target_properties(torch_cuda PROPERTIES\n  INTERFACE_COMPILE_DEFINITIONS "C;A;$<X:Y>"\n)\n'
        'set_target_properties(other PROPERTIES\n  INTERFACE_COMPILE_DEFINITIONS "Z"\n)\n'
    )
    assert interface_definitions(export, ["torch_cpu", "torch_cuda"]) == ["A", "B=1", "C"]
    assert interface_definitions(tmp_path / "missing.cmake", ["torch_cpu"]) == []


def test_generated_project_carries_the_flags(tmp_path: Path) -> None:
    from test_project import fake_torch

    repo = write_repo(tmp_path / "act-demo")
    torch = fake_torch(tmp_path / "cu", "2.13.0+cu130", cuda=(13, 0))
    cmake = render_cmakelists(plan_for(repo, torch, "cuda"))
    assert 'set(KERNEL_TORCH_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=1")' in cmake  # fake torch: no export
    # -Xcudafe and its value stay one option (CMake de-duplicates single options).
    assert '"SHELL:-Xcudafe --diag_suppress=cc_clobber_ignored,' in cmake
    assert '"--expt-extended-lambda"' in cmake and '"-DENABLE_FP8"' in cmake
    assert "set(CMAKE_EXPORT_COMPILE_COMMANDS ON)" in cmake


@pytest.mark.parametrize("with_csrc", [False, True])
def test_csrc_is_an_include_directory_when_it_exists(tmp_path: Path, with_csrc: bool) -> None:
    if with_csrc:
        (tmp_path / "csrc").mkdir()
    expected = [tmp_path, tmp_path / "torch-ext"] + ([tmp_path / "csrc"] if with_csrc else [])
    assert source_include_dirs(tmp_path) == expected
