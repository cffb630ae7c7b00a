#!/usr/bin/env python3
"""Install size: ``pip install kernels`` of this repository against the released 0.17.2.

In one run, two fresh virtual environments (``python -m venv``, same interpreter) get:

- **ours**: this repository's wheel (``python -m pip wheel --no-deps``, with build isolation,
  of a copy of the working tree without build output and venvs), installed with its
  dependencies from the package index;
- **0.17.2**: ``kernels==0.17.2`` (``--theirs``) from the package index, with its dependencies.

What a fresh venv already holds (pip, and setuptools on older Pythons) is left out: the
distributions listed before the install are the baseline. For each side the script prints
the number of distributions the install added, their installed size (every file of their
RECORD, bytecode compiled at install included; console scripts too), the growth of the
venv's directory on disk as a cross-check, the size of the kernels distribution itself, and
the largest distributions. The last line is::

    ratio size=<ours/theirs> packages=<ours/theirs>

Nothing is imported from the installed packages and nothing is installed outside the
temporary directory. Needs a reachable package index (exits 1 with a message otherwise).

    python benchmarks/install_size.py [--theirs kernels==0.17.2] [--top 5] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[1]
RELEASED = "kernels==0.17.2"

#: Run inside a venv: every installed distribution with the size of the files of its RECORD.
LIST_DISTRIBUTIONS = textwrap.dedent("""
    import json, os
    from importlib import metadata
    out = []
    for dist in metadata.distributions():
        size = 0
        for f in dist.files or ():
            try:
                size += os.path.getsize(dist.locate_file(f))
            except OSError:
                pass
        out.append({"name": dist.metadata["Name"], "version": dist.version, "size": size})
    print(json.dumps(out))
""")


class BenchError(Exception):
    """A step failed; the message says which and why."""


@dataclass
class Installed:
    label: str
    version: str  # of kernels
    dists: Dict[str, tuple]  # added distribution name -> (version, bytes)
    growth: int  # bytes the venv directory grew by

    @property
    def size(self) -> int:
        return sum(size for _, size in self.dists.values())


def _env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _run(cmd: Sequence[str], what: str, cwd: Path) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BenchError(f"{what} failed (exit status {proc.returncode}):\n{tail}")
    return proc.stdout


def _disk_usage(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _distributions(python: Path, cwd: Path) -> Dict[str, tuple]:
    out = _run([python, "-c", LIST_DISTRIBUTIONS], "listing the venv's distributions", cwd)
    return {d["name"].lower().replace("_", "-"): (d["version"], d["size"]) for d in json.loads(out)}


def install(label: str, requirement: str, work: Path) -> Installed:
    """A fresh venv under ``work``, ``pip install requirement`` into it; what it added."""
    venv = work / f"venv-{label}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_env())
    python = venv / "bin" / "python"
    before = _distributions(python, work)
    size_before = _disk_usage(venv)
    print(f"[{label}] pip install {requirement} ...", file=sys.stderr, flush=True)
    try:
        _run([python, "-m", "pip", "install", "--quiet", requirement], f"pip install {requirement}", work)
    except BenchError as exc:
        raise BenchError(f"{exc}\n(is the package index reachable? this benchmark installs from it)") from None
    after = _distributions(python, work)
    added = {name: info for name, info in after.items() if name not in before}
    if "kernels" not in added:
        raise BenchError(f"pip install {requirement} did not install kernels")
    return Installed(label, added["kernels"][0], added, _disk_usage(venv) - size_before)


#: Not part of the distribution, or stale build output that an in-tree setuptools build could
#: pick up (``build/lib``): the wheel is built from a copy of the repository without them.
_NOT_COPIED = shutil.ignore_patterns(".git", ".nox-venvs", ".bench-venvs", ".corpus", ".whl", ".pytest_cache",
                                     "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".kernels_build",
                                     ".kernels_release")


def build_ours(work: Path) -> Path:
    """This repository's wheel, built by its own build backend (setuptools, isolated) from a
    clean copy of the working tree."""
    source, dist = work / "kernels-src", work / "dist"
    shutil.copytree(ROOT, source, ignore=_NOT_COPIED, symlinks=True)
    print(f"building the kernels wheel of {ROOT} ...", file=sys.stderr, flush=True)
    try:
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, source],
             f"pip wheel {ROOT}", work)
    except BenchError as exc:
        raise BenchError(f"{exc}\n(a build with isolation gets setuptools from the package index: is it "
                         "reachable?)") from None
    wheels = sorted(dist.glob("kernels-*.whl"))
    if len(wheels) != 1:
        raise BenchError(f"expected one kernels wheel in {dist}, found {[w.name for w in wheels]}")
    return wheels[0]


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def report(results: List[Installed], top: int) -> None:
    print(f"{'impl':<8} {'kernels':<14} {'packages':>8} {'installed':>12} {'venv growth':>12} {'kernels itself':>15}")
    for r in results:
        print(f"{r.label:<8} {r.version:<14} {len(r.dists):>8} {_mb(r.size):>12} {_mb(r.growth):>12} "
              f"{_mb(r.dists['kernels'][1]):>15}")
    for r in results:
        largest = sorted(r.dists.items(), key=lambda item: -item[1][1])[:top]
        print(f"{r.label} largest: " + ", ".join(f"{name} {version} {_mb(size)}"
                                                 for name, (version, size) in largest))
        print(f"{r.label} packages: " + " ".join(sorted(r.dists)))
    ours, theirs = results
    print(f"ratio size={ours.size / theirs.size:.3f} packages={len(ours.dists) / len(theirs.dists):.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--theirs", default=RELEASED, help=f"the release to compare with (default: {RELEASED})")
    parser.add_argument("--top", type=int, default=5, help="largest distributions to list per side (default: 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary venvs and print where")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kernels-install-size-"))
    try:
        wheel = build_ours(work)
        theirs = args.theirs.split("==", 1)[1] if "==" in args.theirs else "theirs"
        results = [install("ours", str(wheel), work), install(theirs, args.theirs, work)]
        report(results, args.top)
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
