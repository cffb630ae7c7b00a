"""The ``kernels`` command line."""

import sys


def main(argv=None) -> int:
    print("kernels: no commands yet", file=sys.stderr)
    return 1
