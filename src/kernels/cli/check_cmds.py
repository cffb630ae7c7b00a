"""``kernels check``: layout, metadata and compliance verdicts for every variant."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check",
        help="check every variant of a kernel tree or Hub repository",
        description="For each build/<variant>/: metadata.json and layout validity, and for each "
        "compiled extension the ABI3 and manylinux verdicts of the build backend's gate (the library of "
        "a tvm-ffi variant: no Python symbols at all, only libtvm_ffi and CUDA libraries). "
        "Exits non-zero on any violation.",
    )
    p.add_argument("source", metavar="REPO_OR_DIR", help="a local tree/build dir/variant dir, or a Hub repo id")
    p.add_argument("--revision", help="Hub revision (default: the highest v<N> branch, else main)")
    p.add_argument("--manylinux", default="manylinux_2_28", metavar="POLICY", help="default: manylinux_2_28")
    p.add_argument("--python-abi", default="3.9", metavar="M.m",
                   help="oldest Python of the stable ABI (default 3.9; torch variants only)")
    p.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from ..check import check_tree
    from ..errors import KernelsError

    try:
        major, minor = (int(x) for x in args.python_abi.split("."))
    except ValueError:
        raise KernelsError(f"--python-abi {args.python_abi!r} is not a version such as 3.9") from None
    source = Path(args.source)
    from_hub = not source.exists()
    if from_hub:
        from .. import hub  # noqa: PLC0415 - only Hub sources need the Hub

        hub.check_local_or_repo_id(args.source)
        source = hub.download_tree(args.source, revision=args.revision)
        if not (source / "build").is_dir():
            raise KernelsError(f"{args.source} ({args.revision or 'the highest v<N> branch, else main'}) has no "
                               "build/ folder: nothing to check (give --revision of a branch with variants)")
    report = check_tree(source, policy=args.manylinux, python_abi=(major, minor), hub_snapshot=from_hub)
    print(report.describe())
    return 0 if report.ok else 1
