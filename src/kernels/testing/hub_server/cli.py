"""The command line: ``python -m kernels.testing.hub_server --root DIR [--port N] ...``."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any, List, Optional

from .server import DEFAULT_LFS_THRESHOLD, HubServer


def main(argv: Optional[List[str]] = None) -> int:
    """Run the server in the foreground until SIGINT/SIGTERM; returns the exit status (0)."""
    parser = argparse.ArgumentParser(prog="python -m kernels.testing.hub_server",
                                     description="Hugging Face Hub compatible HTTP server for tests and offline use.")
    parser.add_argument("--root", required=True, type=Path, help="storage directory (persistent)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--lfs-threshold", type=int, default=DEFAULT_LFS_THRESHOLD,
                        help="files above this size are uploaded as LFS (bytes)")
    parser.add_argument("--no-lfs", action="store_true", help="answer 'regular' to every preupload request")
    parser.add_argument("--trusted-publisher", action="append", default=[], metavar="ORG",
                        help="mark ORG as a trusted kernel publisher (repeatable)")
    parser.add_argument("--token", action="append", default=[], metavar="TOKEN[:ROLE[:ORG,...]]",
                        help="register a token with role read or write (default read), limited to its user's"
                             " namespace and the listed organisations when ORGs are given (repeatable)")
    parser.add_argument("--reject-unknown-tokens", action="store_true",
                        help="answer 401 to tokens not given with --token (default: any token writes anywhere)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    server = HubServer(args.root, host=args.host, port=args.port, lfs=not args.no_lfs,
                       lfs_threshold=args.lfs_threshold, verbose=args.verbose,
                       accept_any_token=not args.reject_unknown_tokens)
    try:
        for spec in args.token:
            token, _, rest = spec.partition(":")
            role, _, orgs = rest.partition(":")
            server.add_token(token, role=role or "read", orgs=[o for o in orgs.split(",") if o] if orgs else None)
        for org in args.trusted_publisher:
            server.set_trusted_publisher(org, True)
    except ValueError as exc:
        parser.error(str(exc))
    server.start()
    print(f"Serving Hub API on {server.url} (root: {args.root})", flush=True)

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
