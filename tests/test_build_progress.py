"""What a build shows while it runs and when it fails (kernels_build.driver, build_log).

Real builds of a copy of examples/relu with ``pip wheel --no-build-isolation``: one line per
finished ninja step (``kernels_build: [n/m] relu_cpu/relu_cpu.cpp``) under ``pip -v``, CMake's
configure output only in ``.kernels_build/<variant>/build.log``, and on a compile error the
compiler's messages (capped), the log's path and our one-line error, without a traceback.
Two builds; the ``python -m build`` and ``build.verbose`` case is marked slow.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import List

import pytest

from conftest import copy_example, only_wheel, pip_wheel, run

from kernels_build.build_log import MAX_ERROR_LINES, BuildOutput

#: ``kernels_build: [3/5] relu_cpu/relu_cpu.cpp`` (pip -v indents the backend's lines).
PROGRESS = re.compile(r"^\s*kernels_build: \[(\d+)/(\d+)\] (\S.*)$", re.MULTILINE)
#: A line of CMake's configure output, which stays in the log unless asked for.
CONFIGURE = "-- Configuring done"


def _progress(output: str) -> List[tuple]:
    return [(int(n), int(m), what) for n, m, what in PROGRESS.findall(output)]


def _build_log(repo: Path) -> Path:
    (log,) = list((repo / ".kernels_build").glob("*/build.log"))
    return log


def test_pip_verbose_shows_one_line_per_step_and_keeps_a_full_log(tmp_path: Path) -> None:
    repo = copy_example("relu", tmp_path / "src")
    result = pip_wheel(repo, tmp_path / "dist", env={"PIP_VERBOSE": "1"})
    output = result.stdout
    only_wheel(tmp_path / "dist")

    steps = _progress(output)
    assert steps, output[-6000:]
    total = steps[0][1]
    assert [n for n, _, _ in steps] == list(range(1, total + 1)), steps  # one line per step
    assert all(m == total for _, m, _ in steps)
    names = [what for _, _, what in steps]
    assert "relu_cpu/relu_cpu.cpp" in names and "torch-ext/torch_binding.cpp" in names, names
    assert any(name.startswith("link _relu_cpu_") and name.endswith(".abi3.so") for name in names), names

    # Configure output and compiler command lines went to the log, not to the terminal.
    log = _build_log(repo)
    assert log.parent.name.startswith("torch") and log.parent.parent == repo / ".kernels_build"
    assert f"full log: {log}" in output
    assert CONFIGURE not in output and " -isystem " not in output, output[-6000:]
    backend_lines = [line for line in output.splitlines() if "kernels_build:" in line]
    assert len(backend_lines) < total + 12, "\n".join(backend_lines)

    text = log.read_text()
    assert CONFIGURE in text
    assert re.search(r"^\[\d+/\d+\] \S*(g\+\+|c\+\+|clang\+\+)\S* .* -c \S*/relu_cpu/relu_cpu\.cpp$", text,
                     re.MULTILINE), text[-4000:]
    assert re.search(r"-o _relu_cpu_\w+\.abi3\.so", text)  # the link command too
    assert "*** Created " in text  # scikit-build-core's own lines


def test_compile_error_shows_the_compiler_messages_and_the_log(tmp_path: Path) -> None:
    repo = copy_example("relu", tmp_path / "src")
    source = repo / "relu_cpu" / "relu_cpu.cpp"
    # A syntax error, then more errors than are shown (each undeclared name: 3 lines of gcc).
    undeclared = "".join(f"static int broken_{i} = not_declared_{i};\n" for i in range(40))
    source.write_text(source.read_text() + "\nstatic int syntax_error = ;\n" + undeclared)

    result = pip_wheel(repo, tmp_path / "dist", check=False)  # plain pip: shows all on failure
    output = result.stdout
    assert result.returncode != 0, output[-6000:]
    assert not list((tmp_path / "dist").glob("*.whl"))

    log = _build_log(repo)
    assert re.search(r"relu_cpu\.cpp:\d+:\d+: error: expected primary-expression before", output), output[-6000:]
    assert "kernels_build: FAILED: relu_cpu/relu_cpu.cpp" in output
    assert f"kernels_build: full build log: {log}" in output
    assert re.search(rf"kernels_build error: compiling relu_cpu/relu_cpu\.cpp failed .*{re.escape(str(log))}", output)
    assert "Traceback" not in output
    # Bounded: the capped messages, not the command line; the rest is in the log.
    assert " -isystem " not in output
    cut = re.search(r"kernels_build: \.\.\. (\d+) more lines of compiler messages are in the build log", output)
    assert cut, output[-6000:]
    shown = [line for line in output.splitlines() if "not_declared_" in line or "relu_cpu.cpp:" in line]
    assert len(shown) <= MAX_ERROR_LINES
    assert len(output.splitlines()) < MAX_ERROR_LINES + 40, output

    text = log.read_text()
    assert "FAILED: " in text and " -c " in text and "not_declared_39" in text  # everything is kept
    assert text.count("error:") > output.count("error:")


@pytest.mark.slow
def test_python_m_build_shows_progress_and_verbose_shows_everything(tmp_path: Path) -> None:
    repo = copy_example("relu", tmp_path / "src")
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(tmp_path / "dist")]
    output = run([*build, str(repo)], cwd=tmp_path).stdout
    steps = _progress(output)
    assert steps and steps[-1][0] == steps[-1][1], output[-6000:]
    assert CONFIGURE not in output

    # -C build.verbose=true: scikit-build-core's and CMake's lines reach the terminal again.
    verbose = run([*build, "-C", "build.verbose=true", str(repo)], cwd=tmp_path).stdout
    assert CONFIGURE in verbose and "*** Making wheel..." in verbose, verbose[-6000:]
    assert CONFIGURE in _build_log(repo).read_text()


def test_step_names_from_command_lines(tmp_path: Path) -> None:
    """The condensed names of compile and link commands of the compilers we use (no build)."""
    repo = tmp_path / "repo"
    project = repo / ".kernels_build" / "v" / "project"
    shown: List[str] = []
    output = BuildOutput(None, [project, repo], emit=shown.append, emit_raw=shown.append)
    for line in [
        f"[1/4] /usr/bin/ccache /usr/bin/g++ -DX -I{repo} -o CMakeFiles/k.dir{repo}/a/b.cpp.o -c {repo}/a/b.cpp",
        f"[2/4] /usr/local/cuda/bin/nvcc -forward-unknown-to-host-compiler -x cu -c {repo}/relu_cuda/relu.cu "
        f"-o CMakeFiles/relu_cuda.dir{repo}/relu_cuda/relu.cu.o",
        f"[3/4] /usr/bin/g++ -o CMakeFiles/e.dir/generated/init.cpp.o -c {project}/generated/init.cpp",
        "[4/4] : && /usr/bin/g++ -fPIC -shared -o _relu_cuda_1.abi3.so CMakeFiles/a.o && :",
        "FAILED: [code=1] CMakeFiles/k.dir/x/y.cu.o ",
        "/usr/bin/nvcc -c /elsewhere/y.cu -o CMakeFiles/k.dir/x/y.cu.o",
        *[f"/elsewhere/y.cu({i}): error: identifier \"z{i}\" is undefined" for i in range(MAX_ERROR_LINES + 5)],
        "ninja: build stopped: subcommand failed.",
    ]:
        output.feed(line + "\n")
    output.finish()
    assert shown[:5] == ["[1/4] a/b.cpp", "[2/4] relu_cuda/relu.cu", "[3/4] generated/init.cpp",
                         "[4/4] link _relu_cuda_1.abi3.so", "FAILED: y.cu (command line in the build log)"]
    assert len(shown) == 5 + MAX_ERROR_LINES + 1 and shown[-1].startswith("... 5 more lines")
    assert output.failed_steps == ["y.cu"]
