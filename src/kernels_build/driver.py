"""Run scikit-build-core on a generated project. Knows nothing of build.toml.

scikit-build-core runs in a child Python process (this interpreter, this ``sys.path``) whose
stdout and stderr come back through one pipe. scikit-build-core itself runs CMake and ninja
with inherited output, so in this process their output would go straight to the terminal (or
to pip); through the pipe, :class:`~kernels_build.build_log.BuildOutput` writes all of it to the
build log and shows the user one line per finished compile step and, when a step fails, the
compiler's messages. The child also keeps scikit-build-core's working-directory change and
logging setup out of the backend's process.

Two environment variables of the child shape ninja's output: ``VERBOSE=1`` makes
``cmake --build`` run ``ninja -v`` (every compiler command line reaches the log) and
``NINJA_STATUS`` pins the ``[n/m] `` prefix that the condensed lines are made from. With
``-C build.verbose=true`` (or scikit-build-core's ``logging.level`` INFO/DEBUG) every line is
shown as well, as scikit-build-core shows it.

A failed build becomes one error (:func:`_failure`), the first that applies: the disk ran
full (a tool said so, or the log could not be written), CMake found no usable C/C++ compiler,
a compile or link step failed, CMake's configure failed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from .build_log import BuildOutput
from .errors import NO_SPACE_ERRNOS, BuildFailedError, FileSystemError, KernelBuildError, ToolchainError
from .progress import progress, show

Settings = Mapping[str, Union[str, List[str]]]

#: The child: this process's import path, then :func:`_child_main` with the request file.
_CHILD = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
          "from kernels_build.driver import _child_main; _child_main(sys.argv[2])")

_TRUE = ("1", "true", "yes", "on", "y")


def build_with_scikit_build(
    project_dir: Path,
    wheel_dir: Path,
    settings: Settings,
    log_path: Optional[Path] = None,
) -> Path:
    """Build the wheel of ``project_dir`` into ``wheel_dir``; return its path.

    ``settings`` are scikit-build-core config settings (``cmake.define.X``, ``build.verbose``...),
    passed through untouched from the user's ``-C`` options. ``log_path`` (default: ``build.log``
    next to ``project_dir``, i.e. in ``.kernels_build/<variant>/``) receives everything CMake,
    ninja and the compilers print; it is overwritten by each build.
    """
    project_dir = Path(project_dir).resolve()
    log_path = Path(log_path if log_path is not None else project_dir.parent / "build.log").resolve()
    wheel_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    echo_all = verbose_requested(settings)
    # Paths in the condensed lines: relative to the generated project, else to the kernel
    # repository (the frontend runs the backend in it).
    roots = [project_dir, Path.cwd().resolve()]

    progress(f"running CMake and ninja; full log: {log_path}")
    with tempfile.TemporaryDirectory(prefix="kernels-skbuild-") as tmp:
        request = Path(tmp) / "request.json"
        result_file = Path(tmp) / "result.json"
        request.write_text(json.dumps({"project": str(project_dir), "wheel_dir": str(wheel_dir.resolve()),
                                       "settings": dict(settings), "result": str(result_file)}))
        try:
            log = open(log_path, "w", encoding="utf-8", errors="replace")
        except OSError as exc:
            raise FileSystemError.from_os_error(exc, "cannot write the build log") or exc
        output = BuildOutput(log, roots, echo_all=echo_all)
        try:
            output.write_log(f"# kernels_build: scikit-build-core on {project_dir}, "
                             f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
            output.write_log(f"# settings: {json.dumps(dict(settings), sort_keys=True)}")
            returncode = _run_child(request, output)
            output.finish()
        finally:
            output.close_log()
        result = json.loads(result_file.read_text()) if result_file.exists() else {}

    if returncode == 0 and "wheel" in result:
        if output.log_error is not None:  # the build itself got by: say what the log lacks
            progress(f"warning: the build log {log_path} is incomplete: {output.log_error.strerror}")
        if output.steps_with_output and not echo_all:
            progress(f"{output.steps_with_output} compile step(s) printed warnings; see {log_path}")
        return wheel_dir / result["wheel"]
    if "error" in result:
        # scikit-build-core's own diagnosis of the environment or settings (CMake/ninja not
        # found, a -C setting it rejects): one line, like our own errors.
        raise BuildFailedError(f"scikit-build-core: {result['error']}")
    raise _failure(output, returncode, log_path)


def keep_objects_across_environments(build_dir: Path) -> None:
    """Let a build from another build environment reuse ``build_dir``'s compiled objects.

    scikit-build-core records the environment it ran from (``.skbuild-info.json``) and, when
    the next build runs from another one (every isolated build does), deletes CMake's cache
    *and* ``CMakeFiles/``, which holds the objects: everything would be recompiled. Only the
    cache names that environment (its cmake, ninja, Python), so when scikit-build-core comes from
    elsewhere this removes the cache and the record instead: CMake configures afresh, and
    ninja, whose compile commands name nothing of the environment
    (:mod:`kernels_build.header_mirror`), recompiles what changed and nothing else.
    """
    record = build_dir / ".skbuild-info.json"
    try:
        previous = json.loads(record.read_text()).get("skbuild_path")
    except (OSError, ValueError, AttributeError):
        return  # no record (a first build), or one scikit-build-core will judge itself
    spec = importlib.util.find_spec("scikit_build_core")
    current = Path(spec.origin).parent.resolve() if spec is not None and spec.origin else None
    if previous is None or current is None or Path(previous) == current:
        return
    progress("the build environment changed since the last build: CMake configures afresh; "
             "compiled objects are kept")
    (build_dir / "CMakeCache.txt").unlink(missing_ok=True)
    record.unlink(missing_ok=True)


def verbose_requested(settings: Settings) -> bool:
    """Whether the user asked scikit-build-core for verbose output (setting or ``SKBUILD_*``)."""

    def value(key: str) -> str:
        found = settings.get(key, os.environ.get("SKBUILD_" + key.upper().replace(".", "_").replace("-", "_"), ""))
        return (found[-1] if isinstance(found, list) and found else str(found or "")).strip()

    return (value("build.verbose").lower() in _TRUE or value("cmake.verbose").lower() in _TRUE
            or value("logging.level").upper() in ("INFO", "DEBUG"))


def _run_child(request: Path, output: BuildOutput) -> int:
    """Run scikit-build-core in the child, feeding its output to ``output``; its exit status."""
    env = dict(os.environ)
    env.update({
        "VERBOSE": "1",  # cmake --build -> ninja -v: the log gets every command line
        "NINJA_STATUS": "[%f/%t] ",  # the status prefix BuildOutput reads, whatever the user's
        "PYTHONUNBUFFERED": "1",  # scikit-build-core's lines in order with CMake's
    })
    command: Sequence[str] = [sys.executable, "-c", _CHILD, json.dumps(sys.path), str(request)]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            output.feed(raw.decode("utf-8", errors="replace"))
        return proc.wait()
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C): do not leave the build running
            proc.kill()
            proc.wait()


#: How to name a CMake language, and the variable that chooses its compiler.
_LANGUAGES = {"C": ("C", "CC"), "CXX": ("C++", "CXX"), "CUDA": ("CUDA", "CUDACXX"), "HIP": ("HIP", "HIPCXX")}


def _failure(output: BuildOutput, returncode: int, log_path: Path) -> KernelBuildError:
    """Show what explains a failed build (unless all was shown) and make the one-line error:
    out of disk space, no usable compiler, a failed compile step, CMake's configure errors."""
    log_note = f"full build log: {log_path}"
    if output.log_error is not None:
        log_note += f" (cut short: writing it failed: {output.log_error.strerror})"
    out_of_space = output.no_space
    if out_of_space is None and output.log_error is not None and output.log_error.errno in NO_SPACE_ERRNOS:
        out_of_space = output.log_error.strerror
    missing, broken = output.compiler_problems()
    if not output.failed_steps:
        title, excerpt = output.excerpt()
        if excerpt and not output.echo_all:
            progress(title)
            for line in excerpt:
                show(line)
    progress(log_note)
    if out_of_space is not None:
        return FileSystemError(f"the build ran out of disk space ({out_of_space}: see the messages above); "
                               f"free some space on the file system of {log_path.parent}; {log_note}", "no-space")
    if missing:
        return ToolchainError(_no_compiler(missing) + f"; {log_note}")
    if broken:
        language, path = broken[0]
        name, variable = _LANGUAGES[language]
        return ToolchainError(
            f"the {name} compiler {path} does not work: CMake could not compile a test program with it "
            f"(its errors are above); repair or install it, or set {variable} to another {name} "
            f"compiler; {log_note}")
    if output.failed_steps:
        steps = [s if s.startswith("link ") else "compiling " + s for s in dict.fromkeys(output.failed_steps)]
        what = f"{', '.join(steps)} failed (the compiler's messages are above)"
    elif output.configure_failed:
        what = "CMake configuration failed (its errors are above)"
    elif output.ninja_errors:
        what = output.ninja_errors[-1]
    else:
        what = f"scikit-build-core failed (exit status {returncode}; its last lines are above)"
    return BuildFailedError(f"{what}; {log_note}")


def _no_compiler(missing: Mapping[str, Tuple[Optional[str], bool]]) -> str:
    """``no C++ compiler: CMake did not find g++ (named by $CXX); install one ...`` for the
    languages CMake has no compiler for (``missing``: see ``BuildOutput.compiler_problems``)."""
    languages = [language for language in _LANGUAGES if language in missing]
    found = []
    for language in languages:
        name, variable = _LANGUAGES[language]
        compiler, from_env = missing[language]
        if compiler is None:
            found.append(f"a {name} compiler")
        elif from_env and os.environ.get(variable):
            found.append(f"{compiler} (named by ${variable})")
        elif from_env:  # scikit-build-core fills an unset CC/CXX from Python's sysconfig
            found.append(f"{compiler} (Python's default {name} compiler; ${variable} is unset)")
        else:
            found.append(compiler)
    variables = " and ".join(_LANGUAGES[language][1] for language in languages)
    install = ("install one (e.g. apt install g++, or dnf install gcc-c++)" if set(languages) <= {"C", "CXX"}
               else "install it")
    plural = "s" if len(languages) > 1 else ""
    return (f"no {' and '.join(_LANGUAGES[language][0] for language in languages)} compiler{plural}: CMake did not "
            f"find {' nor '.join(found)}; {install}, or set {variables} to "
            f"{'its' if len(languages) == 1 else 'their'} full path")


def _child_main(request_path: str) -> None:
    """The child process: build the wheel, write the outcome to the request's result file."""
    from scikit_build_core.build import build_wheel  # noqa: PLC0415 - heavy, only when building
    from scikit_build_core.errors import FailedProcessError, ScikitBuildError  # noqa: PLC0415

    request = json.loads(Path(request_path).read_text())
    os.chdir(request["project"])  # scikit-build-core reads pyproject.toml from the current directory
    result = {}
    code = 0
    try:
        result["wheel"] = build_wheel(request["wheel_dir"], request["settings"])
    except SystemExit as exc:  # scikit-build-core has printed why (CMake failed, bad setting)
        code = exc.code if isinstance(exc.code, int) and exc.code else 1
    except (ScikitBuildError, FailedProcessError) as exc:
        result["error"] = str(exc)
        code = 1
    Path(request["result"]).write_text(json.dumps(result))
    sys.stdout.flush()
    sys.exit(code)
