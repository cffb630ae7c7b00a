"""Keep the whole output of the CMake build in a log file; show the user a condensed view.

The driver (:mod:`kernels_build.driver`) runs scikit-build-core in a child process whose
stdout and stderr come back through one pipe; every line goes to :class:`BuildOutput`, which

- writes it to the build log (``.kernels_build/<variant>/build.log``), flushed line by line,
  so a build that is killed still leaves its log;
- shows one line per finished ninja step (``kernels_build: [3/5] relu_cpu/relu_cpu.cpp``);
  ninja, writing into a pipe, prints a step's status line when the step finishes;
- shows the compiler's messages of a failed step (ninja's ``FAILED:`` block, without the
  command line, which is in the log), at most :data:`MAX_ERROR_LINES` lines in all;
- keeps CMake's configure output, scikit-build-core's own lines and compiler warnings of
  successful steps in the log only, unless ``echo_all`` (the user asked scikit-build-core for
  verbose output): then every line is shown as it comes, as without this module;
- notes what the driver's one-line error needs: a tool that could not write for lack of space
  (``No space left on device``), CMake's errors about a compiler it cannot find or use, and a
  log that could not be written (a full disk: the log is given up, not the build).

The build runs with ninja's ``-v`` (the driver sets ``VERBOSE=1`` for ``cmake --build``), so the
log holds every compiler command line and a status line is ``[n/m] <command>``; the condensed
line names the command's source file (``-c <file>``) or its output (``-o <file>``).
"""

from __future__ import annotations

import collections
import os
import re
import shlex
from pathlib import Path
from typing import Callable, Deque, Dict, List, Optional, Sequence, TextIO, Tuple

from .errors import NO_SPACE_MESSAGES
from .progress import progress, show

#: Compiler messages shown for the failed steps of one build; the rest is in the log.
MAX_ERROR_LINES = 60
#: Lines shown when the build failed outside a ninja step (CMake configure, scikit-build-core).
MAX_EXCERPT_LINES = 40
#: Longest line shown on the terminal (template errors can be kilobytes long).
MAX_LINE_CHARS = 400

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: ninja's status line, as set by the driver's ``NINJA_STATUS="[%f/%t] "``; make's ``[ 50%]``.
_STATUS = re.compile(r"^\[(\d+/\d+|\s*\d+%)\] (.*)$")
#: ``FAILED: [code=1] <outputs>`` (ninja 1.12+) or ``FAILED: <outputs>``.
_FAILED = re.compile(r"^FAILED: (?:\[code=-?\d+\] )?(.*?)\s*$")
#: What ninja says without ``-v`` (a generator that ignores ``VERBOSE``): CMake's descriptions.
_BUILDING = re.compile(r"^Building \w+ object (\S+)$")
_LINKING = re.compile(r"^Linking \w+ .*?(\S+)$")
_OBJECT = re.compile(r"^(?:.*/)?CMakeFiles/[^/]+\.dir/(.+)$")
#: CMake's errors about a compiler it cannot find or use (matched on the errors' words joined
#: by single spaces): which language, and the compiler named.
_COMPILER_FROM_ENV = re.compile(r"Could not find the compiler specified in the environment variable "
                                r"(CC|CXX|CUDACXX|HIPCXX): (\S+?)\.?(?= |$)")
_COMPILER_NOT_FOUND = re.compile(r"The CMAKE_(C|CXX|CUDA|HIP)_COMPILER: (\S+) is not a full path")
_NO_COMPILER = re.compile(r"No CMAKE_(C|CXX|CUDA|HIP)_COMPILER could be found")
_COMPILER_NOT_SET = re.compile(r"CMAKE_(C|CXX|CUDA|HIP)_COMPILER not set, after EnableLanguage")
_COMPILER_BROKEN = re.compile(r'The (C|C\+\+|CUDA|HIP) compiler "([^"]+)" is not able to compile a simple test program')
_ENV_LANGUAGE = {"CC": "C", "CXX": "CXX", "CUDACXX": "CUDA", "HIPCXX": "HIP"}
_LINKED_SUFFIXES = {".so", ".dylib", ".dll", ".pyd", ".a", ".lib", ".o", ".obj", ".exe", ""}
_SOURCE_SUFFIXES = {".c", ".cc", ".cpp", ".cxx", ".c++", ".cu", ".hip", ".m", ".mm", ".s", ".S",
                    ".f", ".f90", ".F90", ".ispc", ".metal", ".sycl"}


class BuildOutput:
    """Consumes the build's output line by line (:meth:`feed`); see the module docstring.

    ``roots`` are the directories that paths are shown relative to, first match wins (the
    generated CMake project, then the kernel repository). ``emit`` and ``emit_raw`` print a
    condensed line and a verbatim line (tests may replace them).
    """

    def __init__(
        self,
        log: Optional[TextIO],
        roots: Sequence[Path],
        echo_all: bool = False,
        emit: Callable[[str], None] = progress,
        emit_raw: Callable[[str], None] = show,
    ) -> None:
        self._log = log
        self._roots = [Path(r) for r in roots]
        self.echo_all = echo_all
        self._emit = emit
        self._emit_raw = emit_raw
        self._state = "idle"  # idle | step (after a status line) | command | failed (messages)
        self.failed_steps: List[str] = []
        self.ninja_errors: List[str] = []
        self.error_lines_shown = 0
        self.error_lines_cut = 0
        self.steps_with_output = 0
        self._step_had_output = False
        self.configure_failed = False
        # For a failure outside ninja: CMake's errors, else the last lines of the output.
        self._cmake_errors: List[str] = []
        self._tail: Deque[str] = collections.deque(maxlen=MAX_EXCERPT_LINES)
        #: how a tool said that a write failed for lack of space (``No space left on device``)
        self.no_space: Optional[str] = None
        #: why the build log could not be written (it is cut short there), if it could not
        self.log_error: Optional[OSError] = None

    # ------------------------------------------------------------------ input

    def feed(self, raw: str) -> None:
        """One line of output (with or without its newline)."""
        raw = raw.rstrip("\r\n")
        self.write_log(raw)
        line = _ANSI.sub("", raw)
        if self.echo_all:
            self._emit_raw(raw)
        self._remember(line)
        if self.no_space is None:
            self.no_space = next((message for message in NO_SPACE_MESSAGES if message in line), None)

        status = _STATUS.match(line)
        failed = _FAILED.match(line)
        if status:
            self._end_step()
            self._state = "step"
            if not self.echo_all:
                self._emit(f"[{status.group(1)}] {self.describe(status.group(2))}")
        elif failed:
            self._end_step()
            self._state = "command"
            self.failed_steps.append(self._object_name(failed.group(1)))
        elif self._state == "command":
            # The failed step's command line: long, and in the log. Name its source instead.
            self._state = "failed"
            self.failed_steps[-1] = self.describe(line, fallback=self.failed_steps[-1])
            if not self.echo_all:
                self._emit(f"FAILED: {self.failed_steps[-1]} (command line in the build log)")
        elif line.startswith("ninja: "):
            self._end_step()
            self._state = "idle"
            if line.startswith("ninja: error:"):
                self.ninja_errors.append(line)
                if not self.echo_all:
                    self._emit(line)
            elif line.startswith("ninja: no work to do") and not self.echo_all:
                self._emit("nothing to compile: the build directory is up to date")
        elif line.startswith(("***", "-- ")):  # scikit-build-core's or CMake's own lines
            self._end_step()
            self._state = "idle"
            if "CMake configuration failed" in line:
                self.configure_failed = True
        elif self._state == "failed":
            self._show_error_line(line)
        elif self._state == "step" and line.strip():
            self._step_had_output = True  # compiler warnings of a step that succeeded
        elif line.startswith("WARNING:") and not self.echo_all:
            self._emit_raw(_clip(line))  # scikit-build-core's warnings (deprecated settings...)

    def write_log(self, text: str) -> None:
        """One line into the build log, flushed as it goes (a killed build still leaves its
        log). A log that cannot be written (a full disk) is given up, not the build:
        :attr:`log_error` says why."""
        if self._log is None or self.log_error is not None:
            return
        try:
            self._log.write(text + "\n")
            self._log.flush()
        except OSError as exc:
            self.log_error = exc

    def close_log(self) -> None:
        """Close the build log (a failure to is kept in :attr:`log_error`, like a failed write)."""
        if self._log is None:
            return
        try:
            self._log.close()
        except OSError as exc:
            if self.log_error is None:
                self.log_error = exc
            try:
                self._log.close()  # the buffer that could not be flushed is dropped
            except OSError:
                pass

    def finish(self) -> None:
        """The output has ended."""
        self._end_step()
        if self.error_lines_cut and not self.echo_all:
            self._emit(f"... {self.error_lines_cut} more lines of compiler messages are in the build log")

    # ------------------------------------------------------------------ results

    def excerpt(self) -> Tuple[str, List[str]]:
        """What to show when the build failed without a failed ninja step (CMake configure,
        scikit-build-core): a title and CMake's errors when it printed any, else the last lines."""
        if self._cmake_errors:
            return "CMake's errors:", _squeeze_blank(self._cmake_errors)
        return "the last lines of the build output:", list(self._tail)

    def compiler_problems(self) -> Tuple[Dict[str, Tuple[Optional[str], bool]], List[Tuple[str, str]]]:
        """What CMake's errors say about the compilers: the languages (``C``, ``CXX``,
        ``CUDA``, ``HIP``) without a compiler, each with ``(the compiler named or None, whether
        an environment variable named it)``, and the ``(language, compiler)`` pairs that could
        not compile a test program."""
        text = " ".join(" ".join(line.split()) for line in self._cmake_errors if line.strip())
        missing: Dict[str, Tuple[Optional[str], bool]] = {}
        for variable, name in _COMPILER_FROM_ENV.findall(text):
            missing[_ENV_LANGUAGE[variable]] = (name, True)
        for language, name in _COMPILER_NOT_FOUND.findall(text):
            missing.setdefault(language, (name, False))
        for language in _NO_COMPILER.findall(text) + _COMPILER_NOT_SET.findall(text):
            missing.setdefault(language, (None, False))
        broken = [("CXX" if language == "C++" else language, path) for language, path in _COMPILER_BROKEN.findall(text)]
        return missing, broken

    def describe(self, text: str, fallback: Optional[str] = None) -> str:
        """A short name for a build step, from its command line or ninja's description."""
        building = _BUILDING.match(text)
        if building:
            return self._object_name(building.group(1))
        linking = _LINKING.match(text)
        if linking:
            return "link " + os.path.basename(linking.group(1))
        if "--regenerate-during-build" in text:
            return "re-running CMake"
        try:
            words = shlex.split(text)
        except ValueError:  # unbalanced quotes: good enough for finding -c and -o
            words = text.split()
        source = _argument(words, "-c")
        if source is not None and os.path.splitext(source)[1] in _SOURCE_SUFFIXES:
            return self._show_path(source)
        output = _argument(words, "-o")
        if output is not None:
            name = os.path.basename(output)
            linked = os.path.splitext(name)[1] in _LINKED_SUFFIXES or ".so." in name
            return "link " + name if linked else name
        return fallback if fallback is not None else _clip(text, 100)

    # ------------------------------------------------------------------ helpers

    def _remember(self, line: str) -> None:
        if len(self._cmake_errors) < MAX_EXCERPT_LINES and (self._cmake_errors or line.startswith("CMake Error")):
            self._cmake_errors.append(_clip(line))
        if line.strip():
            self._tail.append(_clip(line))

    def _show_error_line(self, line: str) -> None:
        if self.echo_all:
            return
        if self.error_lines_shown < MAX_ERROR_LINES:
            self.error_lines_shown += 1
            self._emit_raw(_clip(line))
        else:
            self.error_lines_cut += 1

    def _end_step(self) -> None:
        if self._step_had_output:
            self.steps_with_output += 1
        self._step_had_output = False

    def _object_name(self, target: str) -> str:
        """``CMakeFiles/relu_cpu.dir/<repo>/relu_cpu/relu_cpu.cpp.o`` -> ``relu_cpu/relu_cpu.cpp``
        (CMake names an object after its source: relative to the project, else the absolute
        path without its leading ``/``)."""
        name = target.split()[0] if target.split() else target
        stem, suffix = os.path.splitext(name)
        source = _OBJECT.match(stem) if suffix in (".o", ".obj") else None
        if source is None:
            return os.path.basename(name)
        shown = self._show_path("/" + source.group(1))
        if "/" not in shown and self._roots and (self._roots[0] / source.group(1)).exists():
            return source.group(1)
        return shown

    def _show_path(self, path: str) -> str:
        """A source path relative to the first root holding it, else its file name."""
        candidate = Path(path)
        if not candidate.is_absolute():
            return path
        for root in self._roots:
            try:
                return candidate.relative_to(root).as_posix()
            except ValueError:
                continue
        return candidate.name


def _argument(words: List[str], flag: str) -> Optional[str]:
    """The word after the last ``flag``."""
    for index in range(len(words) - 2, -1, -1):
        if words[index] == flag:
            return words[index + 1]
    return None


def _squeeze_blank(lines: Sequence[str]) -> List[str]:
    """``lines`` without leading, trailing and repeated blank lines."""
    kept: List[str] = []
    for line in lines:
        if line.strip() or (kept and kept[-1].strip()):
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def _clip(line: str, limit: int = MAX_LINE_CHARS) -> str:
    return line if len(line) <= limit else line[: limit - 3] + "..."
