"""Turn scikit-build-core's raw wheel into the final kernel wheel.

The raw wheel holds the package (``<module>/``: Python files, ``_ops.py``, the ``.abi3.so``)
tagged ``cp39-abi3-linux_<arch>``. Here we run the compliance gate on its extensions, add
``metadata.json`` (with the digest of the package files) and the variant marker, set the
platform tag to the policy the extensions meet, and write the wheel atomically.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import List, Set

from kernels.variants import host_cpu

from .compliance import ExtensionReport, check_extension, enforce, failure_message, wheel_platform_tag
from .errors import KernelBuildError
from .plan import BuildPlan

#: Name of the file in ``.dist-info`` that records the variant a kernel wheel was built for.
VARIANT_FILE = "kernels-variant.txt"


def finalize_wheel(raw_wheel: Path, plan: BuildPlan, out_dir: Path) -> Path:
    """Check, complete and retag ``raw_wheel``; return the final wheel in ``out_dir``."""
    from wheel.wheelfile import WheelFile  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="kernels-wheel-") as tmp:
        tree = Path(tmp) / "tree"
        with zipfile.ZipFile(raw_wheel) as archive:
            archive.extractall(tree)
        package = tree / plan.module
        dist_info = next(tree.glob("*.dist-info"))

        tag = _platform_tag(plan, package)
        metadata = plan.metadata().with_digest(package)
        (package / "metadata.json").write_text(metadata.to_json())
        (dist_info / VARIANT_FILE).write_text(plan.variant.name + "\n")
        (dist_info / "RECORD").unlink()
        _retag(dist_info / "WHEEL", tag)

        dist, version = dist_info.name[: -len(".dist-info")].split("-", 1)
        name = f"{dist}-{version}-{tag}.whl"
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = Path(tmp) / name
        with WheelFile(partial, "w") as wheel:
            wheel.write_files(str(tree))
        final = out_dir / name
        shutil.move(str(partial), final)  # whole file or nothing in the output directory
    return final


def _platform_tag(plan: BuildPlan, package: Path) -> str:
    """``cp39-abi3-manylinux_2_28_x86_64`` for compiled kernels, ``py3-none-any`` otherwise."""
    if plan.is_noarch:
        return "py3-none-any"
    extensions = sorted(package.rglob("*.so"))
    if not extensions:
        raise KernelBuildError(f"the build produced no extension module in {plan.module}/")
    policy = plan.settings.policy
    passed = _passed_before(plan, policy)
    reports: List[ExtensionReport] = []
    for path in extensions:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in passed:  # a no-change rebuild: this exact file already passed the gate
            _progress(f"compliance: {path.name}: ok (unchanged)")
            continue
        report = check_extension(path, policy=policy)
        _progress(f"compliance: {path.name}: " + ("ok" if report.ok else "violations"))
        reports.append(report)
        if report.ok:
            passed.add(digest)
    _remember_passed(plan, policy, passed)
    if not all(r.ok for r in reports):
        if plan.settings.compliance == "error":
            enforce(reports)
        print(failure_message(reports), file=sys.stderr)
        platform = wheel_platform_tag(reports, host_cpu(), policy=None)
        _progress(f"compliance gate downgraded to a warning: tagging the wheel {platform}")
    else:
        platform = f"{policy}_{host_cpu()}"
    return f"cp39-abi3-{platform}"


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


def _retag(wheel_file: Path, tag: str) -> None:
    # WHEEL is an email-style header block: keep it free of blank lines, or readers stop early.
    lines = [
        line for line in wheel_file.read_text().splitlines()
        if line.strip() and not line.startswith(("Tag:", "Root-Is-Purelib:"))
    ]
    lines.append(f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}")
    lines.append(f"Tag: {tag}")
    wheel_file.write_text("\n".join(lines) + "\n")


def _progress(message: str) -> None:
    print(f"kernels_build: {message}", file=sys.stderr, flush=True)


