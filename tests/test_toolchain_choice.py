"""Unit tests of the toolchain choices: compiler cache, pip CUDA toolchain requirements and the
toolkit view. No compiler runs here; the real builds are in test_build_speed.py and
test_build_cuda_pip.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kernels_build.compiler_cache import (
    effective_launcher,
    find_compiler_cache,
    paths_left_to_sccache,
    sccache_base_dirs,
)
from kernels_build.cuda_pip import (
    PipToolkit,
    build_requirements,
    find_pip_toolkit,
    requirements,
    runtime_headers_version,
)
from kernels_build.errors import ConfigError, ToolchainError
from kernels_build.settings import BuildSettings


def _program(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexec \"$@\"\n")
    path.chmod(0o755)
    return path


def test_settings_defaults_env_and_validation(monkeypatch) -> None:
    monkeypatch.delenv("KERNELS_BUILD_COMPILER_CACHE", raising=False)
    monkeypatch.delenv("KERNELS_BUILD_CUDA_TOOLCHAIN", raising=False)
    settings = BuildSettings.from_config_settings({})
    assert (settings.compiler_cache, settings.cuda_toolchain) == ("auto", "auto")
    monkeypatch.setenv("KERNELS_BUILD_COMPILER_CACHE", "off")
    monkeypatch.setenv("KERNELS_BUILD_CUDA_TOOLCHAIN", "pip")
    settings = BuildSettings.from_config_settings({"kernels.compiler-cache": "sccache"})
    assert (settings.compiler_cache, settings.cuda_toolchain) == ("sccache", "pip")
    with pytest.raises(ConfigError, match="kernels.cuda-toolchain: 'conda' is not one of auto, system, pip"):
        BuildSettings.from_config_settings({"kernels.cuda-toolchain": "conda"})
    with pytest.raises(ConfigError, match="kernels.compiler-cache"):
        BuildSettings.from_config_settings({"kernels.compiler-cache": "distcc"})


def test_compiler_cache_lookup(tmp_path: Path) -> None:
    both = tmp_path / "both"
    ccache, sccache = _program(both, "ccache"), _program(both, "sccache")
    only_s = tmp_path / "only-sccache"
    _program(only_s, "sccache")
    assert find_compiler_cache("auto", path=str(both)) == ccache  # ccache preferred
    assert find_compiler_cache("sccache", path=str(both)) == sccache
    assert find_compiler_cache("auto", path=str(only_s)) == only_s / "sccache"
    assert find_compiler_cache("auto", path=str(tmp_path / "none")) is None
    assert find_compiler_cache("off", path=str(both)) is None
    with pytest.raises(ToolchainError, match="kernels.compiler-cache=ccache: ccache is not on PATH"):
        find_compiler_cache("ccache", path=str(only_s))


def test_prefix_maps_under_sccache_base_dirs_are_left_to_sccache(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    env = {"SCCACHE_BASEDIRS": f"{a}{os.pathsep}{b}{os.pathsep}relative/ignored"}
    assert sccache_base_dirs("/opt/bin/sccache", env) == (a.resolve(), b.resolve())
    assert sccache_base_dirs("/opt/bin/ccache", env) == ()  # ccache has its own CCACHE_BASEDIR
    assert sccache_base_dirs(None, env) == ()
    assert sccache_base_dirs("/opt/bin/sccache", {}) == ()
    maps = [f"{a.resolve()}/relu=relu", f"{tmp_path.resolve()}/site=site-packages", f"{b.resolve()}=relu"]
    kept, dropped = paths_left_to_sccache(maps, sccache_base_dirs("sccache", env))
    assert kept == (f"{tmp_path.resolve()}/site=site-packages",)
    assert dropped == (f"{a.resolve()}/relu=relu", f"{b.resolve()}=relu")
    # The user's own CMake launcher wins over ours, as cmake/kernels.cmake does.
    assert effective_launcher(Path("/x/ccache"), {"CMAKE_CXX_COMPILER_LAUNCHER": "/y/sccache"}) == "/y/sccache"
    assert effective_launcher(Path("/x/ccache"), {}) == "/x/ccache"
    assert effective_launcher(None, {}) is None


def test_pip_requirements_follow_torchs_cuda() -> None:
    assert requirements((13, 0)) == [
        "nvidia-cuda-nvcc==13.0.*", "nvidia-cuda-crt==13.0.*", "nvidia-nvvm==13.0.*",
        "nvidia-cuda-runtime==13.0.*", "nvidia-cuda-cccl==13.0.*",
    ]
    assert requirements((13, 2))[0] == "nvidia-cuda-nvcc==13.2.*"
    with pytest.raises(ToolchainError, match="CUDA 13.0 and newer"):
        requirements((12, 8))


def test_build_requirements_without_torch() -> None:
    assert build_requirements("system", None) == []
    assert build_requirements("auto", None) == []  # unknown CUDA: the build says what is missing
    # Under isolation torch arrives with these requirements: torch's own cuda-toolkit pin
    # decides the toolkit release (tests/test_build_isolation.py builds with it).
    assert build_requirements("pip", None) == ["cuda-toolkit[nvcc,cccl]"]


def _fake_wheel_tree(site: Path, files: dict) -> None:
    for rel, text in files.items():
        path = site / "nvidia" / "cu13" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_toolkit_view_merges_split_site_packages(tmp_path: Path) -> None:
    # As under build isolation: torch's nvidia-cuda-runtime in one prefix, nvcc & co in another.
    overlay, normal = tmp_path / "overlay", tmp_path / "normal"
    _fake_wheel_tree(overlay, {"include/cuda_runtime.h": "rt", "lib/libcudart.so.13": "so",
                               "include/nvtx3/a.h": "a"})
    _fake_wheel_tree(normal, {"bin/nvcc": "nvcc", "bin/nvcc.profile": "p", "include/crt/host_config.h": "c",
                              "include/cccl/cub/cub.cuh": "cub", "nvvm/bin/cicc": "cicc",
                              "include/nvtx3/b.h": "b"})
    assert find_pip_toolkit(13, [str(tmp_path / "nothing")]) is None
    kit = find_pip_toolkit(13, [str(normal), str(overlay), str(normal)])
    assert kit is not None and kit.roots == (normal / "nvidia" / "cu13", overlay / "nvidia" / "cu13")
    view = kit.materialize(tmp_path / "view")
    assert (view / "bin" / "nvcc").read_text() == "nvcc"
    assert (view / "include" / "cuda_runtime.h").read_text() == "rt"
    assert (view / "include" / "crt" / "host_config.h").read_text() == "c"
    assert sorted(p.name for p in (view / "include" / "nvtx3").iterdir()) == ["a.h", "b.h"]  # merged
    assert (view / "lib" / "libcudart.so").read_text() == "so"  # for CMake's find_library
    assert (view / "lib64" / "libcudart.so.13").is_file()
    assert (view / "nvvm" / "bin" / "cicc").is_file()
    # Unchanged trees: the view is kept as it is (ninja sees the same files).
    stamp = os.lstat(view / "bin" / "nvcc").st_mtime_ns
    assert kit.materialize(tmp_path / "view") == view
    assert os.lstat(view / "bin" / "nvcc").st_mtime_ns == stamp
    assert json.loads((view / ".kernels-toolkit-view.json").read_text()) == kit.view_layout()
    assert isinstance(kit, PipToolkit)


def test_torchs_runtime_headers_win(tmp_path: Path) -> None:
    # pip can put a newer nvidia-cuda-runtime (an unpinned dependency of nvidia-cuda-nvcc) into
    # the prefix it installs the backend's requirements into; torch's own one must win.
    torch_site, normal = tmp_path / "overlay", tmp_path / "normal"
    _fake_wheel_tree(torch_site, {"include/cuda_runtime_api.h": "#define CUDART_VERSION  13000\n"})
    _fake_wheel_tree(normal, {"bin/nvcc": "nvcc", "include/cuda_runtime_api.h": "#define CUDART_VERSION  13050\n"})
    kit = find_pip_toolkit(13, [str(normal), str(torch_site)], first=torch_site)
    assert kit is not None and kit.roots[0] == torch_site / "nvidia" / "cu13"
    view = kit.materialize(tmp_path / "view")
    assert runtime_headers_version(view / "include") == (13, 0)
    assert runtime_headers_version(normal / "nvidia" / "cu13" / "include") == (13, 5)
    assert runtime_headers_version(tmp_path) is None
