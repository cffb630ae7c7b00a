"""The libraries of ``depends`` (CUTLASS, sycl-tla, metal-cpp): found, fetched, provided.

No compiler here: these tests resolve libraries the way a build does (explicit tree, PyPI
distribution, fetch into the per-user cache), check the errors, and read the generated CMake
project. Git fetches go to local repositories standing in for the upstream ones (no network):
real ``git``, real processes racing for one cache. The CUTLASS headers of NVIDIA's PyPI wheels
come from ``KERNELS_TEST_CUTLASS_WHEELS`` (``nox -s tests`` downloads them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from conftest import run
from kernels.metadata import Metadata
from kernels_build.config import load_build_config
from kernels_build.config.parse import KERNEL_DEPENDS
from kernels_build.deps import build_requirements, library_for, resolve_dependencies
from kernels_build.deps.catalog import SYCL_TLA_BY_DPCPP
from kernels_build.deps.fetch import SOURCE_RECORD
from kernels_build.deps.probe import cutlass_version
from kernels_build.errors import ConfigError, DependencyError
from kernels_build.plan import BuildPlan, make_plan, source_hash
from kernels_build.project import render_cmakelists
from kernels_build.settings import BuildSettings
from kernels.variants import ArchVariant
from test_project import NVCC, fake_torch

CUTLASS_WHEELS = os.environ.get("KERNELS_TEST_CUTLASS_WHEELS")
needs_cutlass_wheels = pytest.mark.skipif(
    not CUTLASS_WHEELS, reason="KERNELS_TEST_CUTLASS_WHEELS (NVIDIA's nvidia-cutlass wheels) is not set"
)

#: The contract's pins (CONTRACT.md §1.4).
CONTRACT_VERSIONS = {
    "cutlass_2_10": "2.10.0", "cutlass_3_5": "3.5.1", "cutlass_3_6": "3.6.0", "cutlass_3_8": "3.8.0",
    "cutlass_3_9": "3.9.2", "cutlass_4_0": "4.0.0", "cutlass_4_4": "4.4.2", "cutlass_4_5": "4.5.2",
}


# --------------------------------------------------------------------------- helpers


def fake_cutlass(root: Path, version: str, cmake_only: bool = False) -> Path:
    """A CUTLASS-shaped tree stating ``version`` (in version.h, or like 2.x only in CMakeLists)."""
    (root / "include" / "cutlass").mkdir(parents=True, exist_ok=True)
    (root / "tools" / "util" / "include" / "cutlass" / "util").mkdir(parents=True, exist_ok=True)
    (root / "include" / "cutlass" / "cutlass.h").write_text("#pragma once\n")
    major, minor, patch = version.split(".")
    if cmake_only:
        (root / "CMakeLists.txt").write_text(f"cmake_minimum_required(VERSION 3.12)\nproject(CUTLASS VERSION {version} LANGUAGES CXX)\n")
    else:
        (root / "include" / "cutlass" / "version.h").write_text(
            f"#pragma once\n#define CUTLASS_MAJOR {major}\n#define CUTLASS_MINOR {minor}\n#define CUTLASS_PATCH {patch} \n"
        )
    return root


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd,
                   check=True, capture_output=True)


def upstream_repo(path: Path, tags: Dict[str, str]) -> Path:
    """A git repository standing in for github.com/NVIDIA/cutlass: tag -> stated version."""
    path.mkdir(parents=True)
    git("init", "-q", cwd=path)
    for tag, version in tags.items():
        fake_cutlass(path, version)
        git("add", "-A", cwd=path)
        git("commit", "-q", "-m", f"release {tag}", cwd=path)
        git("tag", tag, cwd=path)
    return path


def write_kernel(root: Path, kernels: str, backends: str = '["cuda"]') -> Path:
    """A kernel repository whose [kernel.*] sections are ``kernels`` (sources are stubs)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "build.toml").write_text(textwrap.dedent(f"""\
        [general]
        name = "deps-demo"
        version = 1
        edition = 5
        license = "MIT"
        backends = {backends}

        [torch]
        src = ["torch-ext/torch_binding.cpp"]
        """) + textwrap.dedent(kernels))
    (root / "torch-ext" / "deps_demo").mkdir(parents=True)
    (root / "torch-ext" / "deps_demo" / "__init__.py").write_text("")
    (root / "torch-ext" / "torch_binding.cpp").write_text("// binding\n")
    config = load_build_config(root)
    for kernel in config.kernels:
        for src in kernel.src:
            (root / src).parent.mkdir(parents=True, exist_ok=True)
            (root / src).write_text(f"// {src}\n")
    return root


TWO_CUDA_KERNELS = """
    [kernel.uses_cutlass]
    backend = "cuda"
    depends = ["torch", "cutlass_3_8"]
    src = ["a/a.cu"]

    [kernel.plain]
    backend = "cuda"
    depends = ["torch"]
    src = ["b/b.cu"]
"""


def settings(tmp_path: Path, **config: str) -> BuildSettings:
    """Settings as -C would give them, with a private dependency cache."""
    values = {"kernels.deps-cache": str(tmp_path / "deps-cache"), **{f"kernels.{k}": v for k, v in config.items()}}
    return BuildSettings.from_config_settings(values)


def cuda_plan(root: Path, tmp_path: Path, build: BuildSettings) -> BuildPlan:
    torch = fake_torch(tmp_path / "torch", "2.13.0+cu130", cuda=(13, 0))
    plan = make_plan(load_build_config(root), build, torch=torch, nvcc=NVCC)
    return plan.with_dependencies(resolve_dependencies(plan.kernels, plan.backend, build))


def component(cmakelists: str, name: str) -> str:
    start = cmakelists.index(f"kernel_add_component({name}\n")
    return cmakelists[start:cmakelists.index("\n)", start)]


@pytest.fixture(autouse=True)
def _no_upstream_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CUTLASS_SRC_DIR", "SYCL_TLA_SRC_DIR", "KERNELS_BUILD_CUTLASS_DIR", "KERNELS_BUILD_CUTLASS_URL",
                "KERNELS_BUILD_DEPS_CACHE"):
        monkeypatch.delenv(var, raising=False)


def resolve_script(root: Path, cache: Path, url: Path) -> str:
    """Python code that resolves the cuda kernels' libraries of ``root`` as a build would and
    prints ``name version|origin|root`` per library (run in a process of its own)."""
    return textwrap.dedent(f"""
        from pathlib import Path
        from kernels_build.config import load_build_config
        from kernels_build.deps import resolve_dependencies
        from kernels_build.settings import BuildSettings
        config = load_build_config(Path({str(root)!r}))
        settings = BuildSettings.from_config_settings({{"kernels.deps-cache": {str(cache)!r},
                                                        "kernels.cutlass-url": {str(url)!r}}})
        for d in resolve_dependencies(config.kernels_for("cuda"), "cuda", settings):
            print("RESOLVED", d.library.name, "|".join([d.version, d.origin, str(d.root)]))
    """)


def resolved(output: str) -> Dict[str, List[str]]:
    """``name -> [version, origin, root]`` from the lines :func:`resolve_script` prints."""
    return {line.split()[1]: line.split(" ", 2)[2].split("|")
            for line in output.splitlines() if line.startswith("RESOLVED ")}


def unpack_cutlass_wheel(version: str, into: Path) -> Path:
    """The ``cutlass_library/source`` tree of NVIDIA's nvidia-cutlass ``version`` wheel."""
    (wheel,) = Path(CUTLASS_WHEELS).glob(f"nvidia_cutlass-{version}*.whl")  # type: ignore[arg-type]
    with zipfile.ZipFile(wheel) as archive:
        members = [n for n in archive.namelist() if n.startswith("cutlass_library/source/")]
        archive.extractall(into, members)
    return into / "cutlass_library" / "source"


# --------------------------------------------------------------------------- catalog and probe


def test_every_accepted_name_is_a_library_with_the_contract_version() -> None:
    libraries = {name: library_for(name, (2026, 0)) for name in KERNEL_DEPENDS}
    assert libraries.pop("torch") is None
    assert {n: lib.version for n, lib in libraries.items() if n.startswith("cutlass")} == CONTRACT_VERSIONS
    for name, lib in libraries.items():
        assert lib is not None and lib.name == name
    assert {libraries[n].backend for n in CONTRACT_VERSIONS} == {"cuda"}
    assert libraries["sycl_tla"].backend == "xpu" and libraries["metal-cpp"].backend == "metal"
    cutlass = libraries["cutlass_3_8"]
    assert cutlass.git_tag == "v3.8.0" and cutlass.include_dirs == ("include", "tools/util/include")
    assert cutlass.upstream_env == "CUTLASS_SRC_DIR"
    assert {n for n, lib in libraries.items() if lib.pypi} == {"cutlass_3_5", "cutlass_3_6", "cutlass_3_8"}


def test_sycl_tla_release_follows_the_dpcpp_compiler() -> None:
    assert library_for("sycl_tla", (2025, 3)).git_tag == "v0.8"
    assert library_for("sycl_tla", (2026, 0)).git_tag == "v0.9.2"
    assert SYCL_TLA_BY_DPCPP[(2026, 1)] == "0.9.2"
    with pytest.raises(ConfigError, match=r"DPC\+\+ 2024\.2.*kernels\.sycl-tla-dir"):
        library_for("sycl_tla", (2024, 2))


def test_cutlass_version_from_version_h_and_from_2x_cmakelists(tmp_path: Path) -> None:
    assert cutlass_version(fake_cutlass(tmp_path / "three", "3.8.0")) == "3.8.0"
    assert cutlass_version(fake_cutlass(tmp_path / "two", "2.10.0", cmake_only=True)) == "2.10.0"
    assert cutlass_version(tmp_path) is None


@needs_cutlass_wheels
@pytest.mark.parametrize("version", ["3.6.0", "3.8.0", "4.2.0"])
def test_cutlass_version_of_nvidias_headers(version: str, tmp_path: Path) -> None:
    assert cutlass_version(unpack_cutlass_wheel(version, tmp_path)) == version


# --------------------------------------------------------------------------- a) explicit trees


def test_explicit_setting_is_used_and_reaches_only_the_declaring_kernel(tmp_path: Path, capfd) -> None:
    tree = fake_cutlass(tmp_path / "my-cutlass", "3.8.0")
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    plan = cuda_plan(root, tmp_path, settings(tmp_path, **{"cutlass-dir": str(tree)}))
    (dep,) = plan.dependencies
    assert (dep.library.name, dep.version, dep.kernels) == ("cutlass_3_8", "3.8.0", ("uses_cutlass",))
    assert dep.origin == "kernels.cutlass-dir (explicit directory)"
    assert "dependency cutlass_3_8: CUTLASS 3.8.0 from kernels.cutlass-dir" in capfd.readouterr().err
    cmake = render_cmakelists(plan)
    uses = component(cmake, "uses_cutlass")
    assert f'"{tree / "include"}"' in uses and f'"{tree / "tools" / "util" / "include"}"' in uses
    assert str(tree) not in component(cmake, "plain")
    assert str(tree) not in cmake.split("kernel_add_extension(")[1]


def test_upstream_variable_and_environment_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    upstream = fake_cutlass(tmp_path / "upstream-var", "3.8.0")
    ours = fake_cutlass(tmp_path / "ours", "3.8.0")
    monkeypatch.setenv("CUTLASS_SRC_DIR", str(upstream))
    (dep,) = cuda_plan(root, tmp_path, settings(tmp_path)).dependencies
    assert dep.root == upstream and dep.origin.startswith("CUTLASS_SRC_DIR")
    # The setting (here from its environment variable, which the origin names) wins over the existing builder's variable.
    monkeypatch.setenv("KERNELS_BUILD_CUTLASS_DIR", str(ours))
    (dep,) = cuda_plan(root, tmp_path, settings(tmp_path)).dependencies
    assert dep.root == ours and dep.origin.startswith("KERNELS_BUILD_CUTLASS_DIR")


def test_explicit_tree_of_another_version_is_used_with_a_warning(tmp_path: Path, capfd) -> None:
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    tree = fake_cutlass(tmp_path / "newer", "4.2.0")
    plan = cuda_plan(root, tmp_path, settings(tmp_path, **{"cutlass-dir": str(tree)}))
    assert plan.dependencies[0].version == "4.2.0"
    err = capfd.readouterr().err
    assert "warning: kernels.cutlass-dir holds CUTLASS 4.2.0, but kernel.uses_cutlass declares cutlass_3_8 (3.8.0)" in err
    # The version recorded is the one built with.
    assert plan.metadata().provenance["dependencies"]["cutlass_3_8"]["version"] == "4.2.0"


@pytest.mark.parametrize("problem", ["missing", "not-cutlass"])
def test_explicit_tree_that_is_not_cutlass_is_refused(problem: str, tmp_path: Path) -> None:
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    bad = tmp_path / "bad"
    if problem == "not-cutlass":
        bad.mkdir()
    with pytest.raises(DependencyError) as err:
        cuda_plan(root, tmp_path, settings(tmp_path, **{"cutlass-dir": str(bad)}))
    message = str(err.value)
    assert f"kernels.cutlass-dir={bad} is not a CUTLASS source tree" in message
    assert ("does not exist" if problem == "missing" else "has no include/cutlass/cutlass.h") in message
    assert "kernel.uses_cutlass declares cutlass_3_8 (CUTLASS 3.8.0)" in message


# --------------------------------------------------------------------------- b) PyPI


@needs_cutlass_wheels
def test_installed_nvidia_cutlass_of_the_right_version_is_used(tmp_path: Path) -> None:
    site = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site),
         str(next(Path(CUTLASS_WHEELS).glob("nvidia_cutlass-3.8.0*.whl")))], cwd=tmp_path)
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS + """
    [kernel.older]
    backend = "cuda"
    depends = ["cutlass_3_6"]
    src = ["c/c.cu"]
    """)
    upstream = upstream_repo(tmp_path / "cutlass.git", {"v3.6.0": "3.6.0"})
    script = resolve_script(root, tmp_path / "cache", upstream)
    proc = run([sys.executable, "-c", script], cwd=tmp_path, env={"PYTHONPATH": f"{site}{os.pathsep}{Path(__file__).parents[1] / 'src'}"})
    found = resolved(proc.stdout)
    # 3.8 from the installed distribution (exactly its version), 3.6 (another version) fetched.
    assert found["cutlass_3_8"][:2] == ["3.8.0", "PyPI nvidia-cutlass 3.8.0.0"]
    assert found["cutlass_3_8"][2] == str((site / "cutlass_library" / "source").resolve())
    assert found["cutlass_3_6"][:2] == ["3.6.0", f"git {upstream} tag v3.6.0 (cache)"]


def test_build_requirements_ask_pip_for_the_headers(tmp_path: Path) -> None:
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    kernels = load_build_config(root).kernels
    assert build_requirements(kernels, settings(tmp_path)) == ["nvidia-cutlass==3.8.0.*"]
    # An explicit tree makes the package unnecessary.
    tree = fake_cutlass(tmp_path / "t", "3.8.0")
    assert build_requirements(kernels, settings(tmp_path, **{"cutlass-dir": str(tree)})) == []
    # Versions without a PyPI package are fetched instead.
    other = write_kernel(tmp_path / "k2", TWO_CUDA_KERNELS.replace("cutlass_3_8", "cutlass_4_0"))
    assert build_requirements(load_build_config(other).kernels, settings(tmp_path)) == []


def test_get_requires_hook_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernels_build import backend

    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS, backends='["cpu", "cuda"]')
    monkeypatch.chdir(root)
    assert "nvidia-cutlass==3.8.0.*" in backend.get_requires_for_build_wheel({"kernels.backend": "cuda"})
    assert "nvidia-cutlass==3.8.0.*" not in backend.get_requires_for_build_wheel({"kernels.backend": "cpu"})


# --------------------------------------------------------------------------- c) fetch, d) error


def test_fetch_once_into_the_cache_then_reuse(tmp_path: Path, capfd) -> None:
    upstream = upstream_repo(tmp_path / "cutlass.git", {"v3.6.0": "3.6.0", "v3.8.0": "3.8.0", "v4.0.0": "4.0.0"})
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    build = settings(tmp_path, **{"cutlass-url": str(upstream)})
    (dep,) = cuda_plan(root, tmp_path, build).dependencies
    cache = tmp_path / "deps-cache"
    assert dep.root == cache / "cutlass-3.8.0" and dep.version == "3.8.0"
    assert cutlass_version(dep.root) == "3.8.0"  # the tag's tree, not the newest commit's
    assert not (dep.root / ".git").exists()
    record = json.loads((dep.root / SOURCE_RECORD).read_text())
    assert record["url"] == str(upstream) and record["tag"] == "v3.8.0"
    assert "fetching CUTLASS v3.8.0 from" in capfd.readouterr().err
    # Second build: from the cache, without the upstream repository.
    upstream.rename(tmp_path / "gone")
    (again,) = cuda_plan(root, tmp_path, build).dependencies
    assert again.root == dep.root
    assert "fetching" not in capfd.readouterr().err
    assert sorted(p.name for p in cache.iterdir()) == ["cutlass-3.8.0", "cutlass-3.8.0.lock"]


def test_a_tag_with_another_version_is_refused_and_nothing_cached(tmp_path: Path) -> None:
    upstream = upstream_repo(tmp_path / "cutlass.git", {"v3.8.0": "3.7.9"})
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    with pytest.raises(DependencyError) as err:
        cuda_plan(root, tmp_path, settings(tmp_path, **{"cutlass-url": str(upstream)}))
    assert "holds CUTLASS 3.7.9, not 3.8.0" in str(err.value)
    assert [p.name for p in (tmp_path / "deps-cache").iterdir()] == ["cutlass-3.8.0.lock"]


def test_nothing_found_names_kernel_library_and_the_three_ways(tmp_path: Path) -> None:
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    unreachable = "file://" + str(tmp_path / "no-such-repo")
    with pytest.raises(DependencyError) as err:
        cuda_plan(root, tmp_path, settings(tmp_path, **{"cutlass-url": unreachable}))
    message = str(err.value)
    assert message.startswith("kernel.uses_cutlass depends on cutlass_3_8 (CUTLASS 3.8.0), which could not be provided")
    assert "a) a source tree: -C kernels.cutlass-dir=DIR or CUTLASS_SRC_DIR=DIR" in message
    assert "b) install nvidia-cutlass==3.8.0.* into the build environment" in message
    assert f"c) let the build fetch tag v3.8.0 of {unreachable}" in message
    assert "-C kernels.cutlass-url=URL" in message and "that failed:" in message


def test_a_library_of_another_backend_is_ignored_with_a_warning(tmp_path: Path, capfd) -> None:
    from kernels_build.deps import declared_libraries

    root = write_kernel(tmp_path / "k", """
        [kernel.cpu_part]
        backend = "cpu"
        depends = ["torch", "cutlass_2_10"]
        src = ["a/a.cpp"]
    """, backends='["cpu"]')
    assert declared_libraries(load_build_config(root).kernels, "cpu") == {}
    assert "kernel.cpu_part (backend cpu) declares cutlass_2_10, a cuda library: ignored" in capfd.readouterr().err


def test_two_builds_fetch_at_once_one_fetch(tmp_path: Path) -> None:
    upstream = upstream_repo(tmp_path / "cutlass.git", {"v3.8.0": "3.8.0"})
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    script = resolve_script(root, tmp_path / "shared-cache", upstream)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    roots = {resolved(out)["cutlass_3_8"][2] for out, _ in outputs}
    assert roots == {str(tmp_path / "shared-cache" / "cutlass-3.8.0")}
    fetches = sum(err.count("fetching CUTLASS v3.8.0") for _, err in outputs)
    assert fetches == 1, outputs
    assert cutlass_version(tmp_path / "shared-cache" / "cutlass-3.8.0") == "3.8.0"


def test_missing_git_is_said_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DependencyError, match="fetching CUTLASS needs git, which is not installed"):
        cuda_plan(root, tmp_path, settings(tmp_path))


# --------------------------------------------------------------------------- op id, metadata


def test_library_version_enters_the_op_id_and_provenance(tmp_path: Path) -> None:
    root = write_kernel(tmp_path / "k", TWO_CUDA_KERNELS)
    without = source_hash(load_build_config(root))
    v38 = cuda_plan(root, tmp_path, settings(tmp_path, **{"cutlass-dir": str(fake_cutlass(tmp_path / "a", "3.8.0"))}))
    v42 = cuda_plan(root, tmp_path, settings(tmp_path, **{"cutlass-dir": str(fake_cutlass(tmp_path / "b", "4.2.0"))}))
    assert len({without, v38.unique_id, v42.unique_id}) == 3
    metadata = Metadata.from_bytes(v38.metadata().to_json().encode())
    assert metadata.provenance["dependencies"] == {
        "cutlass_3_8": {"version": "3.8.0", "source": "kernels.cutlass-dir (explicit directory)"}
    }


def test_kernels_without_libraries_keep_their_op_ids() -> None:
    """The ids of our examples before libraries existed (item 6 of the issue)."""
    examples = Path(__file__).parents[1] / "examples"
    ids = {name: source_hash(load_build_config(examples / name))
           for name in ("relu", "rmsnorm-silu", "silu-and-mul", "relu-stable-abi")}
    assert ids == {"relu": "188d93a061", "rmsnorm-silu": "f04c4211f0", "silu-and-mul": "415a93d459",
                   "relu-stable-abi": "20a57e4ef1"}


# --------------------------------------------------------------------------- sycl-tla, metal-cpp


def test_sycl_tla_include_paths_and_definitions_in_the_xpu_project(tmp_path: Path) -> None:
    tree = tmp_path / "sycl-tla"
    fake_cutlass(tree, "3.9.2")
    (tree / "include" / "cute").mkdir(parents=True)
    (tree / "include" / "cute" / "tensor.hpp").write_text("")
    root = write_kernel(tmp_path / "k", """
        [kernel.gemm_xpu]
        backend = "xpu"
        depends = ["torch", "sycl_tla"]
        src = ["x/gemm.cpp"]

        [kernel.other_xpu]
        backend = "xpu"
        depends = ["torch"]
        src = ["x/other.cpp"]
    """, backends='["xpu"]')
    build = settings(tmp_path, **{"sycl-tla-dir": str(tree)})
    torch = fake_torch(tmp_path / "torch", "2.13.0+xpu", xpu=(2025, 3))
    plan = make_plan(load_build_config(root), build, torch=torch)
    plan = plan.with_dependencies(resolve_dependencies(plan.kernels, plan.backend, build, plan.variant.backend_version))
    (dep,) = plan.dependencies
    assert (dep.library.name, dep.version) == ("sycl_tla", "0.8")  # DPC++ 2025.3's release
    cmake = render_cmakelists(plan)
    gemm = cmake[cmake.index("kernel_add_sycl_component(gemm_xpu"):]
    gemm = gemm[:gemm.index("\n)")]
    assert f'INCLUDE "{tree / "include"}" "{tree / "tools" / "util" / "include"}"' in gemm
    assert 'DEFINITIONS "CUTLASS_ENABLE_SYCL=1" "SYCL_INTEL_TARGET=1"' in gemm
    other = cmake[cmake.index("kernel_add_sycl_component(other_xpu"):]
    assert str(tree) not in other[:other.index("\n)")]


def test_metal_cpp_include_path_in_the_metal_project(tmp_path: Path) -> None:
    """Metal builds need macOS, so the plan is made for a darwin variant by hand."""
    tree = tmp_path / "metal-cpp"
    (tree / "Metal").mkdir(parents=True)
    (tree / "Metal" / "Metal.hpp").write_text("")
    root = write_kernel(tmp_path / "k", """
        [kernel.relu_metal]
        backend = "metal"
        depends = ["torch", "metal-cpp"]
        src = ["m/relu.mm"]
    """, backends='["metal"]')
    config = load_build_config(root)
    build = settings(tmp_path, **{"metal-cpp-dir": str(tree)})
    torch = fake_torch(tmp_path / "torch", "2.13.0")
    plan = BuildPlan(config, build, ArchVariant("torch", (2, 13), "metal", None, "aarch64", "darwin"), "metal",
                     "0123456789", torch, kernels=config.kernels_for("metal"))
    plan = plan.with_dependencies(resolve_dependencies(plan.kernels, "metal", build))
    (dep,) = plan.dependencies
    assert (dep.library.name, dep.version, dep.root) == ("metal-cpp", "26", tree)
    assert f'INCLUDE "{tree}"' in component(render_cmakelists(plan), "relu_metal")


def test_metal_cpp_is_fetched_as_an_archive(tmp_path: Path) -> None:
    archive = tmp_path / "metal-cpp_26.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("metal-cpp/Metal/Metal.hpp", "// Metal\n")
        zf.writestr("metal-cpp/Foundation/Foundation.hpp", "// Foundation\n")
    root = write_kernel(tmp_path / "k", """
        [kernel.relu_metal]
        backend = "metal"
        depends = ["torch", "metal-cpp"]
        src = ["m/relu.mm"]
    """, backends='["metal"]')
    build = settings(tmp_path, **{"metal-cpp-url": str(archive)})
    (dep,) = resolve_dependencies(load_build_config(root).kernels, "metal", build)
    assert dep.root == tmp_path / "deps-cache" / "metal-cpp-26"
    assert (dep.root / "Foundation" / "Foundation.hpp").is_file()
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../escape.hpp", "")
    with pytest.raises(DependencyError, match="unsafe path"):
        resolve_dependencies(load_build_config(root).kernels, "metal",
                             settings(tmp_path / "other", **{"metal-cpp-url": str(bad)}))
    assert not (tmp_path / "escape.hpp").exists()
