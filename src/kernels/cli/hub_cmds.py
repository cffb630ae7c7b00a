"""``kernels upload``: publish variants to a Hub kernel repository."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "upload",
        help="upload build/<variant>/ directories to a Hub kernel repository",
        description="Upload every variant (build/<variant>/ with metadata.json) in one commit to the "
        "branch v<version> (or --branch). Stale files of the uploaded variants are removed. CARD.md, "
        "when the kernel has one, is filled and uploaded as README.md on main.",
    )
    p.add_argument("path", nargs="?", default=".", type=Path, metavar="DIR",
                   help="kernel repo, its build/ directory, or a tree from `kernels from-wheel` (default: .)")
    p.add_argument("--repo-id", help="ORG/NAME (default: [general.hub] repo-id of build.toml)")
    p.add_argument("--branch", help="branch (default: [general.hub] branch, else v<version>)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.set_defaults(handler=_upload)


def _upload(args: argparse.Namespace) -> int:
    from ..upload import upload_tree

    result = upload_tree(args.path, repo_id=args.repo_id, branch=args.branch, private=args.private)
    print(f"{result.repo_id}@{result.branch}: {result.commit}")
    return 0
