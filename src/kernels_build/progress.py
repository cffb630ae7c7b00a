"""Progress lines of the build backend, on stderr (pip shows them with ``-v``)."""

import sys


def progress(message: str) -> None:
    print(f"kernels_build: {message}", file=sys.stderr, flush=True)
