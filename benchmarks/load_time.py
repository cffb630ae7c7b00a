"""Load time: our ``kernels`` runtime against the released ``kernels`` 0.17.2, side by side.

One run builds examples/relu with our backend (or takes ``--wheel``), converts it, uploads it
with ``kernels upload`` to a local Hub-compatible server, and then, for each implementation in
its own interpreter (ours: this Python with ``src/`` on the path; theirs: a virtual environment
with ``kernels==0.17.2``, created under ``.bench-venvs/`` unless ``--theirs-python`` is given):

- ``import``: a fresh process timing ``import kernels``;
- ``cold``: a fresh process and an empty cache timing ``get_kernel(repo, version=1)``;
- ``warm``: a fresh process and the cache the cold call filled, same call;
- ``pinned``: the same with ``revision=<commit sha>`` (a commit cannot change, so a complete
  cached copy needs no request).

Every figure is the median of ``--repeat`` runs (ours and theirs take turns in each, so a
drifting machine load hits both alike); the server counts the HTTP requests of each call. The last line is::

    ratio warm=<ours/theirs> cold=<ours/theirs> import=<ours/theirs> warm_requests=<n>

``warm_requests`` is the number of requests of our warm call pinned to the commit sha.

    python benchmarks/load_time.py [--repeat 5] [--wheel relu-....whl] [--theirs-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ["HF_HUB_DISABLE_XET"] = "1"  # the local server speaks LFS, not Xet

from kernels.testing.hub_server import HubServer  # noqa: E402

REPO = "bench-org/relu"
RELEASED = "kernels==0.17.2"

IMPORT = """
import time
t0 = time.perf_counter()
import kernels
print(time.perf_counter() - t0)
"""

LOAD = """
import json, sys, time
import torch
t0 = time.perf_counter()
import kernels
t1 = time.perf_counter()
relu = kernels.get_kernel({repo!r}, **json.loads(sys.argv[1]))
t2 = time.perf_counter()
x = torch.randn(1000)
assert torch.equal(relu.relu(x), torch.relu(x)), "wrong result"
print(t2 - t1, t2 - t0)
"""


def _run(python: str, code: str, env: Dict[str, str], *args: str) -> Tuple[float, float]:
    """(seconds of the measured call, seconds from ``import kernels`` to the loaded kernel)."""
    proc = subprocess.run([python, "-c", textwrap.dedent(code), *args], env=env, capture_output=True,
                          text=True, cwd="/")
    if proc.returncode != 0:
        raise SystemExit(f"{python} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    values = [float(v) for v in proc.stdout.strip().splitlines()[-1].split()]
    return values[0], values[-1]


def _theirs_python(path: str) -> str:
    if path:
        return path
    venv = ROOT / ".bench-venvs" / "kernels-0.17.2"
    python = venv / "bin" / "python"
    if not python.exists():
        import torch  # the same torch as ours, so only the runtime differs

        print(f"creating {venv} with {RELEASED} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", RELEASED,
                        f"torch=={torch.__version__}"], check=True)
    return str(python)


def _kernel_tree(wheel: str, work: Path) -> Path:
    """examples/relu built by our backend (or ``wheel``), as a Hub tree."""
    if not wheel:
        print("building examples/relu with the kernels_build backend ...", file=sys.stderr)
        import shutil

        src = work / "relu-src"
        shutil.copytree(ROOT / "examples" / "relu", src, ignore=shutil.ignore_patterns(".kernels_build", "__pycache__"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                        "-w", str(work / "dist"), str(src)], check=True)
        wheel = str(next((work / "dist").glob("relu-*.whl")))
    tree = work / "tree"
    subprocess.run([sys.executable, "-m", "kernels.cli", "from-wheel", wheel, "-o", str(tree)], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, stdout=subprocess.DEVNULL)
    return tree


def measure(impls: Dict[str, Tuple[str, Dict[str, str]]], server: HubServer, commit: str, work: Path,
            repeat: int) -> Dict[str, Dict[str, Tuple[float, float, int]]]:
    """Per implementation (``name -> (python, extra environment)``) and kind (import / cold /
    warm / pinned): median seconds of the call, median seconds from ``import kernels`` to the
    loaded kernel, and the most requests one call made.

    The implementations take turns within each repetition, so a machine whose load drifts
    during the run slows both alike rather than whichever happened to run later."""
    drop = ("PYTHONPATH", "HF_HUB_DISABLE_TELEMETRY", "PYTHONDONTWRITEBYTECODE")
    load = LOAD.format(repo=REPO)
    samples: Dict[str, Dict[str, List[Tuple[float, float, int]]]] = {
        name: {"import": [], "cold": [], "warm": [], "pinned": []} for name in impls}
    for i in range(repeat):
        for name, (python, extra_env) in impls.items():
            base = {k: v for k, v in os.environ.items() if k not in drop}
            base.update({"HF_ENDPOINT": server.url, "HF_TOKEN": "hf_bench", "HF_HUB_DISABLE_XET": "1",
                         "HF_HUB_DISABLE_PROGRESS_BARS": "1", **extra_env})
            cache = work / f"cache-{name}-{i}"
            env = {**base, "HF_HUB_CACHE": str(cache), "KERNELS_CACHE": str(cache),
                   "HF_HOME": str(work / "hf-home")}
            for kind, code, args in (("import", IMPORT, ()), ("cold", load, ('{"version": 1}',)),
                                     ("warm", load, ('{"version": 1}',)),
                                     ("pinned", load, (json.dumps({"revision": commit}),))):
                server.request_log.clear()
                call, total = _run(python, code, env, *args)
                samples[name][kind].append((call, total, len(server.request_log)))
    return {name: {kind: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values),
                          max(v[2] for v in values))
                   for kind, values in per_kind.items()}
            for name, per_kind in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--wheel", default="", help="a relu wheel built by our backend (default: build one)")
    parser.add_argument("--theirs-python", default="", help=f"a Python with {RELEASED} and torch installed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kernels-load-bench-") as tmp:
        work = Path(tmp)
        theirs = _theirs_python(args.theirs_python)
        tree = _kernel_tree(args.wheel, work)
        # Installed packages come with bytecode; give our source tree the same.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        server = HubServer(work / "hub").start()
        try:
            server.set_trusted_publisher(REPO.split("/")[0])
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_ENDPOINT": server.url, "HF_TOKEN": "hf_bench"}
            upload = subprocess.run([sys.executable, "-m", "kernels.cli", "upload", str(tree), "--repo-id", REPO],
                                    env=env, capture_output=True, text=True, check=True)
            commit = upload.stdout.strip().rsplit(" ", 1)[-1]
            results = measure({"ours": (sys.executable, {"PYTHONPATH": str(ROOT / "src")}), "theirs": (theirs, {})},
                              server, commit, work, args.repeat)
        finally:
            server.stop()
    for name, result in results.items():
        print(f"impl={name} import={result['import'][0] * 1000:.1f}ms " + " ".join(
            f"{kind}={call * 1000:.1f}ms(+import={total * 1000:.1f}ms)/{requests}req"
            for kind, (call, total, requests) in result.items() if kind != "import"))
    ours, theirs_r = results["ours"], results["theirs"]
    print(f"call-only ratio warm={ours['warm'][0] / theirs_r['warm'][0]:.3f} "
          f"cold={ours['cold'][0] / theirs_r['cold'][0]:.3f} pinned={ours['pinned'][0] / theirs_r['pinned'][0]:.3f}")
    # warm and cold compare what a program waits for in a fresh process: `import kernels` plus
    # the get_kernel call (ours defers importing huggingface_hub to the first call; theirs
    # imports it with the package, so the call alone would compare different work).
    print(f"ratio warm={ours['warm'][1] / theirs_r['warm'][1]:.3f} cold={ours['cold'][1] / theirs_r['cold'][1]:.3f} "
          f"import={ours['import'][0] / theirs_r['import'][0]:.3f} warm_requests={ours['pinned'][2]}")


if __name__ == "__main__":
    main()
