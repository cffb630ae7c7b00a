"""``kernels lock`` and ``kernels download``: pin a project's kernels and fetch them ahead."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lock",
        help="resolve [tool.kernels.dependencies] of a project and write kernels.lock",
        description="Resolve each kernel of [tool.kernels.dependencies] in PROJECT/pyproject.toml (and the "
        "kernel-depends of every variant) to a commit and write PROJECT/kernels.lock with a hash of every "
        "variant's files. Kernels of publishers that the Hub does not mark as trusted are locked only "
        "when named with --trust (or with --trust-remote-code); the code that loads them passes "
        "trust_remote_code as well.",
    )
    p.add_argument("project", nargs="?", default=".", type=Path, metavar="PROJECT",
                   help="project directory with pyproject.toml (default: .)")
    p.add_argument("--format", choices=("hashes", "0.17"), default="hashes",
                   help="hashes (default): commit + per-variant hashes; 0.17: the hash-less format kernels 0.17 reads")
    p.add_argument("--trust", action="append", default=[], metavar="ORG/NAME",
                   help="lock this kernel although its publisher is not a trusted one (repeatable; "
                   "kernel-depends included), like trust_remote_code=[...]")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="lock kernels of any publisher, like trust_remote_code=True")
    p.set_defaults(handler=_lock)

    p = subparsers.add_parser(
        "download",
        help="download the kernels of a project's kernels.lock into the cache",
        description="Fetch every kernel of PROJECT/kernels.lock at its locked commit (the best variant for "
        "this environment, or all of them) and check the files against the lock, so that load_kernel and "
        "HF_HUB_OFFLINE=1 work later.",
    )
    p.add_argument("project", nargs="?", default=".", type=Path, metavar="PROJECT",
                   help="project directory with kernels.lock (default: .)")
    p.add_argument("--all-variants", action="store_true", help="download every variant, not only the best one")
    p.set_defaults(handler=_download)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("kernels")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _lock(args: argparse.Namespace) -> int:
    from ..lock import lock_project

    _log_to_stderr()
    trust = True if args.trust_remote_code else list(args.trust)
    path, locks = lock_project(args.project, fmt=args.format, trust_remote_code=trust)
    print(f"wrote {path} ({len(locks)} kernel{'s' if len(locks) != 1 else ''})")
    return 0


def _download(args: argparse.Namespace) -> int:
    from ..lock import download_locked

    _log_to_stderr()  # "<repo>@<commit>" as each kernel starts
    for variant_dir in download_locked(args.project, all_variants=args.all_variants):
        print(variant_dir)
    return 0
