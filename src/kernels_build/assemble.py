"""Turn scikit-build-core's raw wheel into the final kernel wheel.

The raw wheel holds the package (``<module>/``: Python files, ``_ops.py``, the ``.abi3.so``)
tagged ``cp39-abi3-linux_<arch>``. Here we run the compliance gate on its extensions, add
``metadata.json`` (with the digest of the package files), choose the platform tag the
extensions meet, and write the final wheel with :func:`kernels.wheels.write_kernel_wheel`:
the one writer of the kernel wheel format, shared with ``kernels to-wheel``, so a wheel built
here and one rebuilt from its Hub tree are byte for byte the same.
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Dict, List, Set

from kernels.variants import host_cpu
from kernels.package_files import DiskFile
from kernels.wheels import write_kernel_wheel

from .dist_info import lock_file, python_tags, wheel_description
from .progress import progress
from .errors import KernelBuildError
from .plan import BuildPlan

__all__ = ["finalize_wheel"]


def finalize_wheel(raw_wheel: Path, plan: BuildPlan, out_dir: Path) -> Path:
    """Check, complete and retag ``raw_wheel``; return the final wheel in ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="kernels-wheel-") as tmp:
        tree = Path(tmp) / "tree"
        with zipfile.ZipFile(raw_wheel) as archive:
            archive.extractall(tree)
        package = tree / plan.module
        if not package.is_dir():
            raise KernelBuildError(f"the build produced no package directory {plan.module}/")
        stray = sorted(p.name for p in tree.iterdir() if p.name != plan.module and not p.name.endswith(".dist-info"))
        if stray:
            raise KernelBuildError(f"the build installed files outside {plan.module}/: {', '.join(stray)}")

        tag = _platform_tag(plan, package)
        metadata = plan.metadata().with_digest(package)
        metadata.write_to_file(package / "metadata.json")

        wheel = wheel_description(plan, tag)
        try:
            return write_kernel_wheel(
                out_dir,
                name=wheel.name,
                version=wheel.version,
                tag=wheel.tag,
                module=wheel.module,
                variant=wheel.variant,
                package_files=_package_files(package),
                requires=wheel.requires,
                summary=wheel.summary,
                extra_dist_info=lock_file(plan),
            )  # atomically: under a temporary name, renamed at the end, removed on failure
        except OSError as exc:
            if not exc.filename:  # a failed write (a full disk) names no file: it was the wheel's
                exc.filename = str(Path(out_dir) / wheel.filename)
            raise


def _package_files(package: Path) -> Dict[str, DiskFile]:
    """The package's files (POSIX paths relative to it), without bytecode; copied into the
    wheel a chunk at a time."""
    files: Dict[str, DiskFile] = {}
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        rel_dir = Path(dirpath).relative_to(package)
        for filename in filenames:
            if not filename.endswith(".pyc"):
                files[PurePosixPath(*rel_dir.parts, filename).as_posix()] = DiskFile(Path(dirpath, filename))
    return files


def _platform_tag(plan: BuildPlan, package: Path) -> str:
    """``cp39-abi3-manylinux_2_28_x86_64`` for compiled kernels (``py3-none-manylinux_2_28_x86_64``
    for a TVM FFI library, which uses no Python API), ``py3-none-any`` otherwise."""
    if plan.is_noarch:
        return "py3-none-any"
    # The gate's tools (auditwheel, abi3audit) are build requirements of compiled kernels only.
    from .compliance import (  # noqa: PLC0415
        DEFAULT_ALLOWED_LIBRARIES,
        TVM_FFI_ALLOWED_LIBRARIES,
        ExtensionReport,
        check_extension,
        enforce,
        failure_message,
        wheel_platform_tag,
    )

    extensions = sorted(package.rglob("*.so"))
    if not extensions:
        raise KernelBuildError(f"the build produced no extension module in {plan.module}/")
    policy = plan.settings.policy
    passed = _passed_before(plan, policy)
    reports: List[ExtensionReport] = []
    for path in extensions:
        digest = DiskFile(path).digest("sha256").hex()
        if digest in passed:  # a no-change rebuild: this exact file already passed the gate
            progress(f"compliance: {path.name}: ok (unchanged)")
            continue
        if plan.is_tvm_ffi:
            report = check_extension(path, policy=policy, python_abi=None, allowed_libraries=TVM_FFI_ALLOWED_LIBRARIES)
        else:
            report = check_extension(path, policy=policy, allowed_libraries=DEFAULT_ALLOWED_LIBRARIES)
        progress(f"compliance: {path.name}: " + ("ok" if report.ok else "violations"))
        reports.append(report)
        if report.ok:
            passed.add(digest)
    _remember_passed(plan, policy, passed)
    if not all(r.ok for r in reports):
        if plan.settings.compliance == "error":
            enforce(reports)
        print(failure_message(reports), file=sys.stderr)
        platform = wheel_platform_tag(reports, host_cpu(), policy=None)
        progress(f"compliance gate downgraded to a warning: tagging the wheel {platform}")
    else:
        platform = f"{policy}_{host_cpu()}"
    return f"{python_tags(plan)}-{platform}"


def _gate_cache(plan: BuildPlan, policy: str) -> Path:
    return plan.work_dir / f"compliance-passed-{policy}.txt"


def _passed_before(plan: BuildPlan, policy: str) -> Set[str]:
    """SHA-256 digests of extensions that passed the gate for ``policy`` in earlier builds."""
    try:
        return set(_gate_cache(plan, policy).read_text().split())
    except OSError:
        return set()


def _remember_passed(plan: BuildPlan, policy: str, digests: Set[str]) -> None:
    path = _gate_cache(plan, policy)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sorted(digests)[-64:]) + "\n")



