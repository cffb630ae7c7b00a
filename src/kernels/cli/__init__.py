"""The ``kernels`` command line: one subcommand module per job.

Every failure a user can meet ends in one ``kernels <cmd>: error: ...`` line on stderr and a
non-zero exit status, never a traceback: the project's errors, Hub and network failures
(translated by :mod:`kernels.hub.failures`), files that are missing or unwritable, a full
disk. Ctrl-C exits with 130; a closed stdout (``kernels ... | head``) ends quietly. Anything
else is a bug in kernels and says so. ``KERNELS_DEBUG=1`` shows the traceback of any error,
for bug reports.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, List, Optional

from .. import __version__
from . import author_cmds, benchmark_cmds, check_cmds, convert_cmds, hub_cmds, info_cmds, lock_cmds, verify_cmds

#: Subcommand modules; each has ``register(subparsers)`` adding its commands.
COMMAND_MODULES = (convert_cmds, hub_cmds, check_cmds, verify_cmds, info_cmds, lock_cmds, benchmark_cmds,
                   author_cmds)


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
    """Entry point of the ``kernels`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    restore = _on_interrupt_leave_at_once(args.command)
    try:
        status = handler(args) or 0
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        if _debug():
            raise
        print(f"kernels {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every error becomes one line (see the module docstring)
        if _debug():
            raise
        print(f"kernels {args.command}: error: {describe_error(exc, args.command)}", file=sys.stderr)
        return 1
    finally:
        restore()


def describe_error(exc: BaseException, command: str) -> str:
    """The one line a failure of ``kernels <command>`` is reported with (without the prefix)."""
    import errno  # noqa: PLC0415

    from ..errors import KernelsError  # noqa: PLC0415
    from ..hub.failures import translate  # noqa: PLC0415

    if isinstance(exc, KernelsError):
        return str(exc)
    ours = translate(exc, None, action=f"run `kernels {command}`")
    if ours is not None:
        return str(ours)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        where = f" writing {exc.filename}" if exc.filename else ""
        why = "the file size limit (ulimit -f) was reached" if exc.errno == errno.EFBIG else \
            "no space left on the device"
        return (f"{why}{where}: free some space, or move the cache (KERNELS_CACHE / HF_HUB_CACHE) or the "
                "output elsewhere")
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return str(exc)
    return (f"internal error: {type(exc).__name__}: {exc}. This is a bug in kernels: run again with "
            "KERNELS_DEBUG=1 and report the traceback")


def _debug() -> bool:
    return os.environ.get("KERNELS_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def _on_interrupt_leave_at_once(command: str) -> Callable[[], None]:
    """Make Ctrl-C end the command now, also while downloads run in worker threads.

    A ``KeyboardInterrupt`` reaches the main thread only, and huggingface_hub's thread pool
    then waits for the running downloads to finish. So when other threads run, the handler
    leaves at once (exit status 130); their partial files stay ``.incomplete``, which the cache
    never serves. Otherwise Ctrl-C raises ``KeyboardInterrupt`` as usual. Returns the undo."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    def on_interrupt(signum, frame):  # type: ignore[no-untyped-def]
        others = [t for t in threading.enumerate() if t is not threading.current_thread() and t.is_alive()]
        if not others or _debug():
            raise KeyboardInterrupt
        # A progress bar may hold the line: start a fresh one.
        print(f"\nkernels {command}: interrupted", file=sys.stderr, flush=True)
        os._exit(130)

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread (main() called from a thread): leave signals alone
        return lambda: None
    return lambda: signal.signal(signal.SIGINT, previous)


def _silence_stdout() -> None:
    """The reader of stdout went away: point stdout at /dev/null so that the flush at exit
    does not raise again (the recipe of Python's signal module documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
