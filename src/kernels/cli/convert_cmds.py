"""``kernels from-wheel`` and ``kernels to-wheel``: between variant wheels and Hub trees."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "from-wheel",
        help="repackage kernel wheels into a Hub tree (DIR/build/<variant>/)",
        description="Repackage variant wheels built by kernels_build into DIR/build/<variant>/, "
        "the layout of a Hub kernel repository. Nothing is written when any wheel is invalid.",
    )
    p.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    p.add_argument("-o", "--output", type=Path, default=Path("."), metavar="DIR",
                   help="directory that receives build/<variant>/ (default: .)")
    p.set_defaults(handler=_from_wheel)

    p = subparsers.add_parser(
        "to-wheel",
        help="turn a Hub tree or repository into one wheel per variant",
        description="Build one installable wheel per variant from a local tree (DIR/build/<variant>/) "
        "or a Hub repository (branch v<VERSION>, or --revision).",
    )
    p.add_argument("source", metavar="REPO_OR_DIR", help="a local directory or a Hub repo id (org/name)")
    p.add_argument("version", type=int, metavar="VERSION", help="the kernel's major version")
    p.add_argument("--revision", help="Hub revision instead of the v<VERSION> branch")
    p.add_argument("-o", "--output", type=Path, default=Path("."), metavar="DIR",
                   help="directory for the wheels (default: .)")
    p.set_defaults(handler=_to_wheel)


def _from_wheel(args: argparse.Namespace) -> int:
    from ..convert import from_wheel

    for variant_dir in from_wheel(args.wheels, args.output):
        print(f"wrote {variant_dir}")
    return 0


def _to_wheel(args: argparse.Namespace) -> int:
    from ..convert import to_wheel

    source = Path(args.source)
    symlink_root = None
    if not source.exists():
        from ..hub import download_tree  # noqa: PLC0415 - only Hub sources need the Hub

        source = download_tree(args.source, version=args.version, revision=args.revision)
        if source.parent.name == "snapshots":
            # Hub cache: snapshot files are relative links into the repo folder's blobs/.
            symlink_root = source.parent.parent
    for wheel in to_wheel(source, args.version, args.output, symlink_root=symlink_root):
        print(f"wrote {wheel}", file=sys.stdout)
    return 0
