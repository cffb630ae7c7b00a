"""The distribution installs light and the backend gets its own tools (issue 13).

- ``prepare_metadata_for_build_wheel`` / ``_editable`` write, without compiling, the very
  ``.dist-info`` files the built wheel holds; pip's ``--dry-run`` uses them.
- ``get_requires_for_build_*`` ask for the build tools (the ``build`` extra), so a plain
  ``pip install kernels`` brings the runtime only: in a fresh venv holding just that, the
  runtime imports and its commands run, and build-only work names the extra to install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import clean_env, copy_example

import kernels_build
from kernels_build.backend import BUILD_TOOLS, COMPLIANCE_TOOLS, EDITABLE_TOOLS

try:  # Python >= 3.11
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]


def _dist_info(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as archive:
        return {n.split("/", 1)[1]: archive.read(n) for n in archive.namelist()
                if n.split("/")[0].endswith(".dist-info") and not n.endswith("RECORD")}


@pytest.mark.parametrize("example,fixture", [("relu", "relu_cpu_wheel"), ("silu-and-mul", "silu_noarch_wheel")])
@pytest.mark.parametrize("hook", ["prepare_metadata_for_build_wheel", "prepare_metadata_for_build_editable"])
def test_prepared_metadata_is_the_built_wheels_without_compiling(example, fixture, hook, request, tmp_path,
                                                                 monkeypatch) -> None:
    wheel: Path = request.getfixturevalue(fixture)
    repo = copy_example(example, tmp_path)
    monkeypatch.chdir(repo)
    name = getattr(kernels_build, hook)(str(tmp_path / "meta"))
    assert name == wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"
    prepared = {p.name: p.read_bytes() for p in (tmp_path / "meta" / name).iterdir()}
    assert prepared == _dist_info(wheel)
    assert not (repo / ".kernels_build").exists()  # nothing was configured or compiled
    assert getattr(kernels_build, hook)(str(tmp_path / "meta")) == name  # a second call replaces


def test_pip_dry_run_resolves_the_variant_from_metadata_alone(tmp_path) -> None:
    repo = copy_example("relu", tmp_path)
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-build-isolation", "--no-deps",
                    "--quiet", "--report", str(report), str(repo)], check=True, env=clean_env(), timeout=120)
    (item,) = json.loads(report.read_text())["install"]
    assert item["metadata"]["name"] == "relu"
    assert item["metadata"]["version"].startswith("1.0.0+torch") and item["metadata"]["version"].endswith("cpucxx11")
    assert not (repo / ".kernels_build").exists()


def test_build_requirements_are_the_build_extra(monkeypatch) -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert sorted(extras["build"]) == sorted([*BUILD_TOOLS, *COMPLIANCE_TOOLS, *EDITABLE_TOOLS, "torch", "numpy"])
    assert sorted(extras["build-tvm-ffi"]) == sorted([*BUILD_TOOLS, *COMPLIANCE_TOOLS, *EDITABLE_TOOLS,
                                                      "apache-tvm-ffi"])
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    heavy = ("torch", "cmake", "ninja", "scikit-build-core", "auditwheel", "abi3audit", "wheel")
    assert not [d for d in dependencies if d.split(">")[0].split("=")[0].split(";")[0].strip() in heavy]

    monkeypatch.chdir(ROOT / "examples" / "relu")
    assert kernels_build.get_requires_for_build_wheel({"kernels.torch-version": "2.13"}) == [
        *BUILD_TOOLS, *COMPLIANCE_TOOLS, "torch==2.13.*"]
    assert kernels_build.get_requires_for_build_editable(None) == [
        *BUILD_TOOLS, *COMPLIANCE_TOOLS, *EDITABLE_TOOLS, "torch"]
    monkeypatch.chdir(ROOT / "examples" / "silu-and-mul")  # Python only: no compliance gate
    assert kernels_build.get_requires_for_build_wheel(None) == [*BUILD_TOOLS, "torch"]


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory) -> Path:
    """A fresh venv with ``pip install <this repo>`` and nothing else (dependencies from the
    package index, as a user gets them)."""
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", str(ROOT)], check=True,
                   env=clean_env(), timeout=600)
    return python


def test_pip_install_kernels_brings_the_runtime_only(light_venv: Path) -> None:
    listed = subprocess.run([str(light_venv), "-m", "pip", "list", "--format", "json"], check=True,
                            capture_output=True, text=True, env=clean_env()).stdout
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert {"kernels", "huggingface-hub", "packaging"} <= installed
    assert not installed & {"torch", "cmake", "ninja", "scikit-build-core", "auditwheel", "abi3audit", "wheel",
                            "sigstore"}

    code = ("import kernels, kernels.lock, kernels.layer, kernels.selection, kernels.convert, kernels.upload; "
            "from kernels import get_kernel, has_kernel, kernelize, LayerRepository; print('ok')")
    proc = subprocess.run([str(light_venv), "-c", code], capture_output=True, text=True, env=clean_env())
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    kernels_cli = light_venv.parent / "kernels"
    for args in (["--help"], ["list-variants", "--help"], ["from-wheel", "--help"]):
        proc = subprocess.run([str(kernels_cli), *args], capture_output=True, text=True, env=clean_env())
        assert proc.returncode == 0, (args, proc.stderr)


def test_build_only_work_without_the_build_extra_names_it(light_venv: Path, relu_cpu_wheel: Path,
                                                          tmp_path: Path) -> None:
    repo = copy_example("silu-and-mul", tmp_path)
    # A system cmake older than scikit-build-core accepts counts as missing, not as present.
    old_tools = tmp_path / "old-tools"
    old_tools.mkdir()
    (old_tools / "cmake").write_text("#!/bin/sh\necho 'cmake version 3.25.1'\n")
    (old_tools / "cmake").chmod(0o755)
    env = clean_env({"PATH": f"{old_tools}{os.pathsep}{os.environ['PATH']}"})
    proc = subprocess.run([str(light_venv), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w",
                           str(tmp_path / "dist"), str(repo)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "kernels_build error: missing build tools: scikit-build-core>=0.11, cmake>=3.26" in output, output
    assert "pip install 'kernels[build]'" in output and "Traceback" not in output

    kernels_cli = light_venv.parent / "kernels"
    subprocess.run([str(kernels_cli), "from-wheel", str(relu_cpu_wheel), "-o", str(tmp_path / "tree")], check=True,
                   env=clean_env(), capture_output=True)
    proc = subprocess.run([str(kernels_cli), "check", str(tmp_path / "tree")], capture_output=True, text=True,
                          env=clean_env())
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "needs auditwheel, abi3audit" in proc.stderr + proc.stdout and "kernels[build]" in proc.stderr + proc.stdout
    assert os.path.isdir(tmp_path / "tree" / "build")
    for args in (["verify-signature", "--all-variants", str(tmp_path / "tree")], ["sign", str(tmp_path / "tree")]):
        proc = subprocess.run([str(kernels_cli), *args], capture_output=True, text=True, env=clean_env())
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "pip install 'kernels[sigstore]'" in proc.stderr, proc.stderr
