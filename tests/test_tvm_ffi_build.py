"""Building ``[tvm-ffi]`` kernels: real pip builds of examples/relu-tvm-ffi and of the corpus's
relu-tvm-ffi-compiler-flags, against apache-tvm-ffi (not torch).

A tvm-ffi cpu build takes seconds (no torch headers), so these run by default; the CUDA build
needs nvcc (``cuda_compile``); running it on a GPU is tests/test_gpu.py's.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import (
    REPO_ROOT,
    build_example_wheel,
    copy_example,
    extract_wheel,
    host_arch,
    install_target,
    pip_wheel,
    run,
)

pytest.importorskip("tvm_ffi", reason="apache-tvm-ffi is not installed")

from elftools.elf.elffile import ELFFile  # noqa: E402

from kernels_build.compliance import TVM_FFI_ALLOWED_LIBRARIES, check_extension  # noqa: E402

CORPUS = Path(os.environ.get("KERNELS_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))
THREE_LINE_PYPROJECT = (REPO_ROOT / "examples" / "relu" / "pyproject.toml").read_text()


def _tvm_ffi_label() -> str:
    """``01`` for apache-tvm-ffi 0.1.x: the digits of the variant name."""
    major, minor = importlib.metadata.version("apache-tvm-ffi").split(".")[:2]
    return f"{major}{minor}"


def _needed(library: Path) -> list:
    with library.open("rb") as stream:
        dynamic = ELFFile(stream).get_section_by_name(".dynamic")
        return [tag.needed for tag in dynamic.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]


def _built_library(wheel: Path, tmp_path: Path, module: str) -> Path:
    tree = extract_wheel(wheel, tmp_path / "unpacked")
    libraries = sorted((tree / module).glob("*.so"))
    assert len(libraries) == 1, libraries
    return libraries[0]


# --------------------------------------------------------------------------- the cpu wheel


def test_cpu_wheel_follows_the_contract(relu_tvm_ffi_cpu_wheel: Path, tmp_path: Path) -> None:
    label = _tvm_ffi_label()
    assert relu_tvm_ffi_cpu_wheel.name == (
        f"relu_tvm_ffi-1.0.0+tvmffi{label}cpu-py3-none-manylinux_2_28_{host_arch()}.whl"
    )
    with zipfile.ZipFile(relu_tvm_ffi_cpu_wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"relu_tvm_ffi-1.0.0+tvmffi{label}cpu.dist-info"
        metadata_text = archive.read(f"{dist_info}/METADATA").decode()
        variant = archive.read(f"{dist_info}/kernels-variant.txt").decode().strip()
        wheel_text = archive.read(f"{dist_info}/WHEEL").decode()
    assert variant == f"tvm-ffi{label}-cpu-{host_arch()}-linux"
    assert f"Tag: py3-none-manylinux_2_28_{host_arch()}" in wheel_text
    assert "Root-Is-Purelib: false" in wheel_text
    requires = re.findall(r"^Requires-Dist: (.*)$", metadata_text, re.M)
    major, minor = label[0], label[1:]
    assert requires == [f"apache-tvm-ffi=={major}.{minor}.*"]  # and no torch

    library = _built_library(relu_tvm_ffi_cpu_wheel, tmp_path, "relu_tvm_ffi")
    # The library is named after the op namespace, without the abi3 suffix or a lib prefix.
    assert re.fullmatch(r"_relu_tvm_ffi_cpu_[0-9a-f]{10}\.so", library.name)
    assert {"relu_tvm_ffi/__init__.py", "relu_tvm_ffi/_ops.py", "relu_tvm_ffi/metadata.json",
            f"relu_tvm_ffi/{library.name}"} <= names
    import json

    metadata = json.loads((library.parent / "metadata.json").read_text())
    assert metadata["id"] == library.stem and metadata["backend"] == {"type": "cpu"}

    needed = _needed(library)
    assert "libtvm_ffi.so" in needed
    assert not [n for n in needed if n.startswith(("libtorch", "libc10", "libpython"))], needed
    report = check_extension(library, python_abi=None, allowed_libraries=TVM_FFI_ALLOWED_LIBRARIES)
    assert report.ok, report.describe()
    assert "no Python ABI" in report.describe()

    ops_py = (library.parent / "_ops.py").read_text()
    assert f'OPS_NAME = "{library.stem}"' in ops_py and "tvm_ffi.load_module" in ops_py
    assert "import torch" not in ops_py


def test_installed_wheel_passes_the_example_tests(relu_tvm_ffi_cpu_wheel: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    site = install_target(relu_tvm_ffi_cpu_wheel, tmp_path / "site")
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "kernels_ci",
                str(REPO_ROOT / "examples" / "relu-tvm-ffi" / "tests")],
               cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert re.search(r"\b5 passed\b", proc.stdout), proc.stdout


def test_a_torch_extension_fails_the_tvm_ffi_rules(relu_cpu_wheel: Path, tmp_path: Path) -> None:
    """The gate of a tvm-ffi library refuses what a torch extension does: Python symbols, torch."""
    extension = _built_library(relu_cpu_wheel, tmp_path, "relu")
    report = check_extension(extension, python_abi=None, allowed_libraries=TVM_FFI_ALLOWED_LIBRARIES)
    rules = {(v.rule, v.symbol) for v in report.violations}
    assert any(rule == "python-abi" and symbol.startswith("Py") for rule, symbol in rules), rules
    assert any(rule == "library" and symbol.startswith("libtorch") for rule, symbol in rules), rules


# --------------------------------------------------------------------------- the corpus kernel


def _corpus_copy(tmp_path: Path) -> Path:
    source = CORPUS / "relu-tvm-ffi-compiler-flags"
    if not source.is_dir():
        pytest.skip(f"the corpus is not at {CORPUS} (set KERNELS_CORPUS)")
    repo = tmp_path / source.name
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns("build", "__pycache__"))
    (repo / "pyproject.toml").write_text(THREE_LINE_PYPROJECT)
    return repo


def test_corpus_kernel_builds_with_the_three_line_pyproject_and_loads(tmp_path: Path) -> None:
    """Its sources #error unless the framework's cxx-flags reach the binding and each kernel's
    flags reach its own sources; it then loads and runs through torch tensors and its layer."""
    pytest.importorskip("torch")
    repo = _corpus_copy(tmp_path)
    wheel = build_example_wheel(repo, tmp_path / "wheelhouse", ["kernels.backend=cpu"])
    assert wheel.name.startswith(f"relu_tvm_ffi_compiler_flags-1.0.0+tvmffi{_tvm_ffi_label()}cpu-py3-none-")
    site = install_target(wheel, tmp_path / "site")
    script = (
        "import torch, relu_tvm_ffi_compiler_flags as k\n"
        "x = torch.randn(3, 33)\n"
        "out = torch.empty_like(x)\n"
        "k.relu(x, out)\n"
        "assert torch.equal(out, torch.relu(x))\n"
        "assert torch.equal(k.layers.ReLU()(x), torch.relu(x))\n"
        "print('ran', k._ops.OPS_NAME)\n"
    )
    proc = run([sys.executable, "-c", script], cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert "ran _relu_tvm_ffi_compiler_flags_cpu_" in proc.stdout


def test_corpus_kernel_without_its_framework_flags_stops_at_its_canary(tmp_path: Path) -> None:
    repo = _corpus_copy(tmp_path)
    toml = repo / "build.toml"
    toml.write_text(toml.read_text().replace('cxx-flags = ["-DCANARY_IN_THE_KERNEL"]\n', ""))
    proc = pip_wheel(repo, tmp_path / "wheelhouse", ["kernels.backend=cpu"], check=False)
    assert proc.returncode != 0
    assert "Framework cxx-flags are not correctly handled." in proc.stdout + (proc.stderr or "")


# --------------------------------------------------------------------------- bad input


def _failure(proc: subprocess.CompletedProcess) -> str:
    output = proc.stdout + (proc.stderr or "")
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    return output


def test_a_tvm_ffi_kernel_that_includes_torch_is_refused(tmp_path: Path) -> None:
    repo = copy_example("relu-tvm-ffi", tmp_path)
    source = repo / "relu_cpu" / "relu_cpu.cpp"
    source.write_text("#include <torch/all.h>\n" + source.read_text())
    output = _failure(pip_wheel(repo, tmp_path / "wheelhouse", ["kernels.backend=cpu"], check=False))
    assert "kernels_build error:" in output
    assert "sources include torch headers" in output
    assert "relu_cpu/relu_cpu.cpp:1: #include <torch/all.h>" in output
    assert not list((tmp_path / "wheelhouse").glob("*.whl"))


def test_a_backend_without_tvm_ffi_support_is_refused(tmp_path: Path) -> None:
    repo = copy_example("relu-tvm-ffi", tmp_path)
    toml = repo / "build.toml"
    toml.write_text(toml.read_text().replace('backends = ["cpu", "cuda"]', 'backends = ["cpu", "cuda", "xpu"]'))
    output = _failure(pip_wheel(repo, tmp_path / "wheelhouse", ["kernels.backend=xpu"], check=False))
    assert "a [tvm-ffi] kernel cannot be built for xpu here" in output
    assert "cpu and cuda" in output


def test_missing_tvm_ffi_is_one_clear_error(tmp_path: Path) -> None:
    """The backend's own hook, in a Python without site-packages (so without apache-tvm-ffi)."""
    repo = copy_example("relu-tvm-ffi", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-S", "-c",
         "import kernels_build; kernels_build.build_wheel('out', {'kernels.backend': 'cpu'})"],
        cwd=repo, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")},
    )
    output = _failure(proc)
    assert "building a [tvm-ffi] kernel needs apache-tvm-ffi in the build environment" in output
    assert "pip install apache-tvm-ffi" in output


def test_build_requirements_name_tvm_ffi_not_torch(tmp_path: Path) -> None:
    repo = copy_example("relu-tvm-ffi", tmp_path)
    script = "import kernels_build, json; print(json.dumps(kernels_build.get_requires_for_build_wheel({})))"
    proc = run([sys.executable, "-c", script], cwd=repo, env={"PYTHONPATH": str(REPO_ROOT / "src")})
    import json

    requires = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "apache-tvm-ffi" in requires
    assert not [r for r in requires if r.startswith("torch")], requires


# --------------------------------------------------------------------------- CUDA


@pytest.mark.cuda_compile
def test_cuda_wheel_compiles_here(tmp_path: Path) -> None:
    """nvcc and apache-tvm-ffi are all a tvm-ffi CUDA build needs (no CUDA build of torch)."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH")
    repo = copy_example("relu-tvm-ffi", tmp_path)
    wheel = build_example_wheel(repo, tmp_path / "wheelhouse",
                                ["kernels.backend=cuda", "kernels.cuda-capabilities=9.0"])
    assert re.fullmatch(
        rf"relu_tvm_ffi-1\.0\.0\+tvmffi{_tvm_ffi_label()}cu\d+-py3-none-manylinux_2_28_{host_arch()}\.whl",
        wheel.name,
    )
    library = _built_library(wheel, tmp_path, "relu_tvm_ffi")
    assert library.name.startswith("_relu_tvm_ffi_cuda_")
    needed = _needed(library)
    assert "libtvm_ffi.so" in needed and any(n.startswith("libcudart.so") for n in needed), needed
    report = check_extension(library, python_abi=None, allowed_libraries=TVM_FFI_ALLOWED_LIBRARIES)
    assert report.ok, report.describe()


# --------------------------------------------------------------------------- kernels check-config / build


def test_check_config_accepts_a_tvm_ffi_kernel_and_refuses_torch_includes(tmp_path: Path) -> None:
    repo = copy_example("relu-tvm-ffi", tmp_path)
    cli = [sys.executable, "-m", "kernels.cli", "check-config", str(repo)]
    proc = run(cli, cwd=tmp_path, env={"PYTHONPATH": str(REPO_ROOT / "src")})
    assert "ok (relu-tvm-ffi v1; backends cpu, cuda; bound through TVM FFI;" in proc.stdout
    binding = repo / "tvm-ffi-ext" / "tvm_ffi_binding.cpp"
    binding.write_text("#include <ATen/ATen.h>\n" + binding.read_text())
    proc = run(cli, cwd=tmp_path, env={"PYTHONPATH": str(REPO_ROOT / "src")}, check=False)
    output = _failure(proc)
    assert "tvm-ffi-ext/tvm_ffi_binding.cpp:1: #include <ATen/ATen.h>" in output


def test_kernels_build_puts_the_tvm_ffi_variant_into_build(tmp_path: Path) -> None:
    """``kernels build`` (pip wheel, then the Hub layout in <repo>/build/) for a tvm-ffi kernel."""
    repo = copy_example("relu-tvm-ffi", tmp_path)
    run([sys.executable, "-m", "kernels.cli", "build", str(repo), "-C", "kernels.backend=cpu"],
        cwd=tmp_path, env={"PYTHONPATH": str(REPO_ROOT / "src")})
    variant = repo / "build" / f"tvm-ffi{_tvm_ffi_label()}-cpu-{host_arch()}-linux"
    assert (variant / "_ops.py").is_file() and (variant / "metadata.json").is_file()
    assert len(list(variant.glob("_relu_tvm_ffi_cpu_*.so"))) == 1


def test_editable_install_of_a_tvm_ffi_kernel_follows_python_edits(tmp_path: Path) -> None:
    """``pip install -e``: imports read tvm-ffi-ext/<module>/ live; the library comes from the build."""
    from test_build_cpu import _venv_on_top_of_this_one

    repo = copy_example("relu-tvm-ffi", tmp_path / "src")
    python = _venv_on_top_of_this_one(tmp_path / "venv")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-build-isolation", "--no-deps",
         "--no-index", "-e", repo], cwd=tmp_path)
    pytest.importorskip("torch")
    check = "import relu_tvm_ffi as k, torch\n" + (
        "x = torch.tensor([-1.0, 2.0]); out = torch.empty_like(x); k.relu(x, out)\n"
        "print(k.__file__, out.tolist(), getattr(k, 'hello', lambda: None)())\n")
    first = run([python, "-c", check], cwd=tmp_path)
    live = repo / "tvm-ffi-ext" / "relu_tvm_ffi"
    assert f"{live / '__init__.py'} [0.0, 2.0] None" in first.stdout, first.stdout
    init = live / "__init__.py"
    init.write_text(init.read_text() + '\n\ndef hello() -> str:\n    return "edited"\n')
    assert "[0.0, 2.0] edited" in run([python, "-c", check], cwd=tmp_path).stdout
