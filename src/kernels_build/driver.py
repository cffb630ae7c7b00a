"""Run scikit-build-core on a generated project. Knows nothing of build.toml."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator, List, Mapping, Union

from .errors import BuildFailedError


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    # scikit-build-core reads pyproject.toml from the current directory.
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def build_with_scikit_build(
    project_dir: Path,
    wheel_dir: Path,
    settings: Mapping[str, Union[str, List[str]]],
) -> Path:
    """Build the wheel of ``project_dir`` into ``wheel_dir``; return its path.

    ``settings`` are scikit-build-core config settings (``cmake.define.X``, ``build.verbose``...),
    passed through untouched from the user's ``-C`` options.
    """
    from scikit_build_core.build import build_wheel  # noqa: PLC0415 - heavy, only when building
    from scikit_build_core.errors import FailedProcessError, ScikitBuildError  # noqa: PLC0415

    wheel_dir.mkdir(parents=True, exist_ok=True)
    with _cwd(project_dir):
        try:
            name = build_wheel(str(wheel_dir), dict(settings))
        except SystemExit as exc:  # scikit-build-core has already printed CMake's output
            sys.stdout.flush()
            raise BuildFailedError(
                f"the CMake build failed (exit status {exc.code}); the compiler output is above. "
                f"The generated project is in {project_dir}."
            ) from None
        except (ScikitBuildError, FailedProcessError) as exc:
            # Its own diagnosis of the environment or settings (CMake/ninja not found, a
            # -C setting it rejects): show it as one line, like our own errors.
            raise BuildFailedError(f"scikit-build-core: {exc}") from None
    return wheel_dir / name
