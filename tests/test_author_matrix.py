"""``kernels list-variants`` and ``kernels build-matrix``: the required variants of a kernel,
the one this environment builds, and the CI matrix; the shipped workflow passes the GitHub
workflow schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, copy_example, run

from kernels.author.build_matrix import KEYS, matrix_entries
from kernels.author.requirements import current_variant, load_config, required_variants
from kernels.author.variant_matrix import REQUIRED_BUILDS
from kernels.errors import AuthoringError

KERNELS = [sys.executable, "-m", "kernels.cli"]
WORKFLOW = Path(__file__).resolve().parents[1] / "examples" / "ci" / "build-kernel.yml"

CUDA = ("cu126", "cu130", "cu132")


def _names(root: Path) -> list:
    return [r.name for r in required_variants(load_config(root))]


def _write(tmp_path: Path, build_toml: str) -> Path:
    shutil.copytree(EXAMPLES / "relu", tmp_path / "k", ignore=shutil.ignore_patterns(".kernels_build", "__pycache__"))
    (tmp_path / "k" / "build.toml").write_text(build_toml)
    return tmp_path / "k"


RELU = (EXAMPLES / "relu" / "build.toml").read_text()


def test_the_matrix_is_the_contracts() -> None:
    cells = {(b.torch, b.backend, b.toolkit, b.cpu, b.os) for b in REQUIRED_BUILDS}
    assert len(cells) == len(REQUIRED_BUILDS) == 2 * 13
    assert ((2, 12), "xpu", (2025, 3), "x86_64", "linux") in cells
    assert ((2, 13), "xpu", (2026, 0), "x86_64", "linux") in cells
    assert ((2, 13), "rocm", (7, 2), "x86_64", "linux") in cells
    assert ((2, 13), "metal", None, "aarch64", "darwin") in cells
    assert not any(b.backend == "rocm" and b.cpu == "aarch64" for b in REQUIRED_BUILDS)


def test_relu_needs_cpu_and_cuda_variants_of_both_torch_versions() -> None:
    names = _names(EXAMPLES / "relu")
    expected = []
    for torch in ("212", "213"):
        expected += [f"torch{torch}-cxx11-cpu-x86_64-linux", f"torch{torch}-cxx11-cpu-aarch64-linux",
                     f"torch{torch}-cpu-aarch64-darwin"]
        expected += [f"torch{torch}-cxx11-{cu}-{cpu}-linux" for cpu in ("x86_64", "aarch64") for cu in CUDA]
    assert sorted(names) == sorted(expected) and len(names) == 18


def test_noarch_kernel_needs_one_variant_per_backend() -> None:
    assert _names(EXAMPLES / "silu-and-mul") == ["torch-cpu", "torch-cuda"]


def test_stable_abi_kernel_needs_one_variant_per_platform() -> None:
    names = _names(EXAMPLES / "relu-stable-abi")
    assert sorted(names) == sorted([
        "torch-stable-abi210-cpu-x86_64-linux", "torch-stable-abi210-cpu-aarch64-linux",
        "torch-stable-abi210-cpu-aarch64-darwin"])
    entries = matrix_entries(load_config(EXAMPLES / "relu-stable-abi"))
    assert {e["torch"] for e in entries} == {"2.13"}  # built with the newest torch


def test_bounds_of_build_toml_narrow_the_matrix(tmp_path: Path) -> None:
    text = RELU.replace('[torch]\n', '[torch]\nmaxver = "2.12"\n').replace(
        "[general.hub]", '[general.cuda]\nmaxver = "12.8"\n\n[general.hub]')
    names = _names(_write(tmp_path, text))
    assert all(n.startswith("torch212-") for n in names)
    assert [n for n in names if "-cu" in n] == ["torch212-cxx11-cu126-x86_64-linux", "torch212-cxx11-cu126-aarch64-linux"]


def test_all_backends_of_a_generated_kernel(tmp_path: Path) -> None:
    from kernels.author.scaffold import init_kernel

    init_kernel("org/kk", ["all"], target=tmp_path / "k", git=False)
    names = _names(tmp_path / "k")
    assert {"torch-npu", "torch-neuron", "torch-tpu"} <= set(names)  # no compiled code: noarch
    assert "torch213-cxx11-rocm72-x86_64-linux" in names and "torch212-cxx11-xpu20253-x86_64-linux" in names
    assert "torch213-metal-aarch64-darwin" in names and len(names) == 3 + 2 * 13


def test_current_variant_is_what_pip_wheel_builds_here() -> None:
    from importlib.metadata import version

    mm = "".join(version("torch").split("+")[0].split(".")[:2])
    assert current_variant(EXAMPLES / "relu").variant == f"torch{mm}-cxx11-cpu-x86_64-linux"
    assert current_variant(EXAMPLES / "silu-and-mul").variant == "torch-cpu"
    missing = current_variant(EXAMPLES / "relu", {"kernels.backend": "cuda"})
    assert missing.variant is None and "cuda" in missing.reason


def test_list_variants_cli_marks_the_current_variant(tmp_path: Path) -> None:
    root = copy_example("relu", tmp_path)
    out = run([*KERNELS, "list-variants"], cwd=root).stdout
    assert out.splitlines()[0] == "cpu:" and "cuda:" in out.splitlines()
    marked = [line for line in out.splitlines() if line.startswith("  * ")]
    assert len(marked) == 1 and marked[0].endswith("-cxx11-cpu-x86_64-linux")
    data = json.loads(run([*KERNELS, "list-variants", str(root), "--json"], cwd=tmp_path).stdout)
    assert data["kernel"] == "relu" and len(data["required"]) == 18
    assert [r["variant"] for r in data["required"] if r["current"]] == [data["current"]["variant"]]
    assert data["current"]["required"] is True  # torch 2.13 is in the matrix


def test_list_variants_without_build_toml_is_one_line(tmp_path: Path) -> None:
    proc = run([*KERNELS, "list-variants"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and len(proc.stdout.strip().splitlines()) == 1
    assert "no build.toml" in proc.stdout
    with pytest.raises(AuthoringError):
        load_config(tmp_path)


def test_build_matrix_github_format_covers_every_required_variant(tmp_path: Path) -> None:
    root = copy_example("relu", tmp_path)
    out = run([*KERNELS, "build-matrix", "--format", "github"], cwd=root).stdout
    matrix = json.loads(out)
    assert list(matrix) == ["include"] and len(out.strip().splitlines()) == 1
    entries = matrix["include"]
    assert sorted(e["variant"] for e in entries) == sorted(_names(root))
    for e in entries:
        assert list(e) == list(KEYS)
        if e["os"] == "linux":
            assert e["image"] == f"quay.io/pypa/manylinux_2_28_{e['arch']}"
            assert e["runner"] == ("ubuntu-24.04" if e["arch"] == "x86_64" else "ubuntu-24.04-arm")
            assert f"-C kernels.torch-version={e['torch']}" in e["config_settings"]
        else:
            assert e["runner"].startswith("macos") and e["image"] == ""
    cu130 = next(e for e in entries if e["variant"] == "torch213-cxx11-cu130-x86_64-linux")
    assert cu130["torch_index"] == "https://download.pytorch.org/whl/cu130"
    assert cu130["torch_spec"] == "torch==2.13.*" and "kernels.cuda-toolchain=pip" in cu130["config_settings"]
    assert "nvidia-cuda-nvcc==13.0.*" in cu130["toolkit_setup"]
    cu126 = next(e for e in entries if e["variant"] == "torch213-cxx11-cu126-aarch64-linux")
    assert "repos/rhel8/sbsa" in cu126["toolkit_setup"] and "cuda-nvcc-12-6" in cu126["toolkit_setup"]

    linux = json.loads(run([*KERNELS, "build-matrix", "--os", "linux"], cwd=root).stdout)["include"]
    darwin = json.loads(run([*KERNELS, "build-matrix", "--os", "darwin", "--backends", "cpu"], cwd=root).stdout)
    assert len(linux) == 16 and [e["variant"] for e in darwin["include"]] == [
        "torch212-cpu-aarch64-darwin", "torch213-cpu-aarch64-darwin"]
    as_json = json.loads(run([*KERNELS, "build-matrix", "--format", "json"], cwd=root).stdout)
    assert as_json == entries


def test_noarch_matrix_builds_each_backend_once() -> None:
    entries = matrix_entries(load_config(EXAMPLES / "silu-and-mul"))
    assert [(e["variant"], e["config_settings"]) for e in entries] == [
        ("torch-cpu", "-C kernels.backend=cpu"), ("torch-cuda", "-C kernels.backend=cuda")]


def test_workflow_passes_the_github_workflow_schema() -> None:
    pytest.importorskip("check_jsonschema")
    exe = Path(sys.executable).parent / "check-jsonschema"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "check_jsonschema"]
    proc = subprocess.run([*cmd, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_uses_the_matrix_keys_and_our_commands() -> None:
    text = WORKFLOW.read_text()
    used = set(re.findall(r"(?<![.\w])matrix\.([a-z_]+)", text))
    assert used and used <= set(KEYS), used - set(KEYS)
    for command in ("kernels build-matrix --format github", "pip wheel --no-build-isolation",
                    "kernels from-wheel dist/*.whl", "kernels check .", "kernels upload ."):
        assert command in text, command
    assert "container: ${{ matrix.image }}" in text


def test_bounds_that_exclude_everything_are_said(tmp_path: Path) -> None:
    root = _write(tmp_path, RELU.replace('[torch]\n', '[torch]\nminver = "2.14"\n'))
    assert _names(root) == []
    out = run([*KERNELS, "list-variants"], cwd=root).stdout.splitlines()
    assert out[0] == "cpu:" and out[1].strip().startswith("(none: build.toml's torch/toolkit bounds")
    assert out[-1].startswith("this environment builds no variant: ") and "torch.minver" in out[-1]
