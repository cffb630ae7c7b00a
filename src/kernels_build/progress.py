"""What the build backend tells the user, on stderr (pip shows it with ``-v``, and all of it
when the build fails; ``python -m build`` always shows it)."""

import sys


def progress(message: str) -> None:
    """One line of our own: ``kernels_build: <message>``."""
    print(f"kernels_build: {message}", file=sys.stderr, flush=True)


def show(line: str) -> None:
    """One line of another tool's output (a compiler's message), verbatim."""
    print(line, file=sys.stderr, flush=True)
