"""benchmarks/build_time.py without building anything: ``--default-archs`` (the copy whose
components declare no ``cuda-capabilities``) and the refusal of bad arguments. The full run is
``python benchmarks/build_time.py``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import build_time  # noqa: E402

from kernels_build.config import load_build_config  # noqa: E402
from kernels_build.cuda_archs import default_capabilities  # noqa: E402

TWO_COMPONENTS = """\
[general]
name = "two"
version = 1
edition = 5
license = "Apache-2.0"
backends = ["cuda"]

[torch]
src = ["torch-ext/torch_binding.cpp"]

[kernel.a]
backend = "cuda"
depends = ["torch"]
cuda-capabilities = [
    "8.0",
    "9.0",
]
src = ["a/a.cu"]

[kernel.b]
backend = "cuda"
depends = ["torch"]
cuda-capabilities = ["9.0a"]  # an arch-specific one
cuda-flags = ["-lineinfo"]
src = ["b/b.cu"]
"""


def test_default_archs_copy_drops_every_components_list(tmp_path: Path) -> None:
    kernel = tmp_path / "two"
    kernel.mkdir()
    (kernel / "build.toml").write_text(TWO_COMPONENTS)
    copy = build_time.without_cuda_capabilities(kernel, tmp_path / "copy")
    specs = {k.name: k for k in load_build_config(copy).kernels}
    assert {name: spec.cuda_capabilities for name, spec in specs.items()} == {"a": None, "b": None}
    assert specs["b"].cuda_flags == ("-lineinfo",)  # nothing else of the file changes
    assert (kernel / "build.toml").read_text() == TWO_COMPONENTS  # the original stays as it was
    assert (copy / "pyproject.toml").is_file()  # the 3-line pyproject of a corpus kernel


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_default_archs_both_sides_get_the_builders_default_list(tmp_path: Path) -> None:
    from kernels_build.toolchain import find_nvcc

    copy = build_time.without_cuda_capabilities(build_time.EXAMPLE, tmp_path / "relu")
    nvcc = find_nvcc()
    wanted = [c for c in default_capabilities(nvcc.version) if c.split("+")[0] in nvcc.supported_archs]
    assert build_time.cuda_arch_list(copy).split(";") == wanted
    assert build_time.cuda_arch_list(build_time.EXAMPLE) == "8.0;9.0+PTX"  # the example's own


def test_bad_arguments_are_one_line_and_status_2(tmp_path: Path) -> None:
    for args, message in ((["--phase", "bake"], "unknown --phase step(s) bake"),
                          (["--kernel", str(tmp_path)], "no build.toml there")):
        proc = subprocess.run([sys.executable, str(BENCH / "build_time.py"), *args],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
