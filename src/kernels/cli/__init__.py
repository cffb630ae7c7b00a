"""The ``kernels`` command line: one subcommand module per job.

Every subcommand turns the project's user-facing errors into one line on stderr and exit
status 1; a traceback means a bug in kernels, not a mistake of the user.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Optional

from .. import __version__
from . import author_cmds, benchmark_cmds, check_cmds, convert_cmds, hub_cmds, info_cmds, lock_cmds

#: Subcommand modules; each has ``register(subparsers)`` adding its commands.
COMMAND_MODULES = (convert_cmds, hub_cmds, check_cmds, info_cmds, lock_cmds, benchmark_cmds, author_cmds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kernels",
        description="Build, ship and load compute kernels for PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"kernels {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``kernels`` console script."""
    from ..errors import KernelsError

    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args) or 0
    except KernelsError as exc:
        print(f"kernels {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kernels {args.command}: interrupted", file=sys.stderr)
        return 130


