"""``python -m kernels.testing.hub_server``: see :func:`kernels.testing.hub_server.cli.main`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
