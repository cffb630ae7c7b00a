"""What a kernel wheel says about itself (``.dist-info``), known from the plan before compiling.

Two users, one source of truth, so they cannot disagree:

- :func:`kernels_build.assemble.finalize_wheel` writes the wheel with it;
- the ``prepare_metadata_for_build_wheel`` / ``_editable`` hooks (PEP 517 / PEP 660) write the
  ``.dist-info`` directory with it, in seconds and without compiling, for frontends that only
  want metadata (``pip install --dry-run``, resolvers, ``pip download``). pip checks that the
  built wheel's ``METADATA`` names the same distribution and version.

Only the platform tag is a prediction here: the compliance gate may lower it when it is set to
``warn`` (it never changes ``METADATA``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict

from kernels.variants import host_cpu
from kernels.wheels import VARIANT_FILE, KernelWheel, default_summary, python_abi_tag

from .errors import KernelBuildError
from .plan import BuildPlan

__all__ = ["lock_file", "predicted_tag", "python_tags", "wheel_description", "write_dist_info"]


def python_tags(plan: BuildPlan) -> str:
    """The Python and ABI tags of a compiled kernel's wheel: ``cp39-abi3`` for a torch extension
    (the stable ABI of Python 3.9 and later), ``py3-none`` for a TVM FFI library (no Python ABI);
    the converter's rule (:func:`kernels.wheels.python_abi_tag`)."""
    return python_abi_tag(plan.variant)


def predicted_tag(plan: BuildPlan) -> str:
    """``py3-none-any`` for noarch kernels, else ``cp39-abi3-<policy>_<arch>`` (``py3-none-...``
    for a TVM FFI library): the tag the wheel
    gets when its extensions pass the compliance gate."""
    if plan.is_noarch:
        return "py3-none-any"
    return f"{python_tags(plan)}-{plan.settings.policy}_{host_cpu()}"


def wheel_description(plan: BuildPlan, tag: str) -> KernelWheel:
    """Name, version (with the variant's local label), tag, module, variant, ``Requires-Dist``
    and summary of the kernel wheel ``plan`` builds.

    Raises:
        ConfigError: the kernel's own ``pyproject.toml`` ``[project]`` table is not usable.
    """
    from .project import project_table  # noqa: PLC0415

    project = project_table(plan)
    name = str(project["name"])
    return KernelWheel(
        name=name,
        version=str(project["version"]),
        tag=tag,
        module=plan.module,
        variant=plan.variant,
        requires=tuple(str(r) for r in project["dependencies"]),  # type: ignore[union-attr]
        summary=str(project.get("description") or default_summary(name, plan.variant)),
    )


def lock_file(plan: BuildPlan) -> Dict[str, bytes]:
    """``kernels.lock`` for the wheel's ``.dist-info``, when the kernel locks the kernels it uses
    (``[tool.kernels.dependencies]``), so ``get_locked_kernel(..., lockfile=None)`` finds it.

    Raises:
        KernelBuildError: the kernel declares dependencies but has no ``kernels.lock``.
    """
    from kernels.errors import LockError  # noqa: PLC0415
    from kernels.lock import LOCK_FILENAME, read_dependencies  # noqa: PLC0415

    try:
        read_dependencies(plan.config.root)
    except LockError:
        return {}
    lock = plan.config.root / LOCK_FILENAME
    if not lock.is_file():
        raise KernelBuildError(f"{plan.config.root / 'pyproject.toml'} has [tool.kernels.dependencies] but there "
                               f"is no {LOCK_FILENAME}: run `kernels lock {plan.config.root}` first")
    return {LOCK_FILENAME: lock.read_bytes()}


def write_dist_info(plan: BuildPlan, directory: Path) -> Path:
    """Write ``<dist>-<version>.dist-info/`` (``METADATA``, ``WHEEL``, ``kernels-variant.txt``
    and ``kernels.lock`` when the kernel has one) into ``directory``; return it. The files are
    those the built wheel holds, byte for byte (the ``WHEEL`` tag is :func:`predicted_tag`)."""
    wheel = wheel_description(plan, predicted_tag(plan))
    files = {
        "METADATA": wheel.metadata_text().encode("utf-8"),
        "WHEEL": wheel.wheel_text().encode("utf-8"),
        VARIANT_FILE: f"{wheel.variant.name}\n".encode("utf-8"),
        **lock_file(plan),
    }
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dist-info-", dir=directory))
    for name, data in files.items():
        (staging / name).write_bytes(data)
    final = directory / wheel.dist_info
    if final.exists():  # a frontend calling the hook twice: replace, never merge
        import shutil  # noqa: PLC0415

        shutil.rmtree(final)
    os.rename(staging, final)
    return final
