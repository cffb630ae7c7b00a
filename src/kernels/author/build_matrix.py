"""The CI job matrix that builds every variant a kernel must ship.

One entry per required variant (noarch variants included), with everything a job needs:
the runner, the container image, the torch to install and where from, the compiler setup
and the ``-C`` settings of ``pip wheel``. ``kernels build-matrix --format github`` prints it
as ``{"include": [...]}`` for ``strategy.matrix`` (see ``examples/ci/build-kernel.yml``).

Entries of a tvm-ffi kernel (``[tvm-ffi]``) have ``torch`` empty: ``torch_spec`` and
``torch_index`` then install apache-tvm-ffi from PyPI (``apache-tvm-ffi==0.1.*``), and the
``-C`` settings name no torch version.

Example::

    >>> from kernels.author.build_matrix import matrix_entries       # doctest: +SKIP
    >>> [e["variant"] for e in matrix_entries(config)][:2]             # doctest: +SKIP
    ['torch212-cxx11-cpu-x86_64-linux', 'torch212-cxx11-cpu-aarch64-linux']
"""

from __future__ import annotations

import json
from typing import Dict, Iterable, List, Optional

from .requirements import RequiredVariant, required_variants
from .variant_matrix import IMAGES, PYTHON_IN_IMAGE, RUNNERS, TVM_FFI_INDEX, torch_index, toolkit_setup, tvm_ffi_spec

__all__ = ["matrix_entries", "entry_for", "render"]

#: Keys of every entry, in output order (GitHub reads them as ``matrix.<key>``).
KEYS = ("variant", "torch", "backend", "toolkit", "arch", "os", "runner", "image", "python",
        "torch_spec", "torch_index", "toolkit_setup", "config_settings")


def _dotted(version) -> str:
    return f"{version[0]}.{version[1]}" if version else ""


def entry_for(required: RequiredVariant) -> Dict[str, str]:
    """The matrix entry that builds one required variant."""
    build = required.build
    if build is None:
        # Python-only variant: any Linux machine and any torch build it.
        return {
            "variant": required.name, "torch": "", "backend": required.backend, "toolkit": "",
            "arch": "x86_64", "os": "linux", "runner": RUNNERS[("x86_64", "linux")],
            "image": IMAGES[("x86_64", "linux")], "python": PYTHON_IN_IMAGE, "torch_spec": "torch",
            "torch_index": torch_index("cpu", None), "toolkit_setup": "",
            "config_settings": f"-C kernels.backend={required.backend}",
        }
    platform = (build.cpu, build.os)
    settings = [f"-C kernels.backend={build.backend}"]
    if build.tvm_ffi is None:
        settings.append(f"-C kernels.torch-version={_dotted(build.torch)}")
    if build.backend == "cuda" and build.toolkit and build.toolkit >= (13, 0):
        settings.append("-C kernels.cuda-toolchain=pip")
    return {
        "variant": required.name,
        "torch": _dotted(build.torch),
        "backend": build.backend,
        "toolkit": _dotted(build.toolkit),
        "arch": build.cpu,
        "os": build.os,
        "runner": RUNNERS[platform],
        "image": IMAGES[platform],
        "python": PYTHON_IN_IMAGE if build.os == "linux" else "python3",
        # A tvm-ffi variant is built against apache-tvm-ffi (from PyPI) instead of torch.
        "torch_spec": f"torch=={_dotted(build.torch)}.*" if build.tvm_ffi is None else tvm_ffi_spec(build.tvm_ffi),
        "torch_index": torch_index(build.backend, build.toolkit, build.os) if build.tvm_ffi is None
        else TVM_FFI_INDEX,
        "toolkit_setup": toolkit_setup(build.backend, build.toolkit, build.cpu) if build.os == "linux" else "",
        "config_settings": " ".join(settings),
    }


def matrix_entries(config, *, os: Optional[str] = None, backends: Iterable[str] = ()) -> List[Dict[str, str]]:
    """Entries for every required variant of ``config``; ``os`` and ``backends`` filter them."""
    wanted = set(backends)
    entries = [entry_for(r) for r in required_variants(config)]
    return [e for e in entries if (os is None or e["os"] == os) and (not wanted or e["backend"] in wanted)]


def render(entries: List[Dict[str, str]], fmt: str) -> str:
    """``github``: one line ``{"include": [...]}`` (for ``$GITHUB_OUTPUT``); ``json``: the
    entries as an indented list."""
    if fmt == "github":
        return json.dumps({"include": entries}, separators=(",", ":"))
    if fmt == "json":
        return json.dumps(entries, indent=2)
    raise ValueError(f"unknown format {fmt!r}")
