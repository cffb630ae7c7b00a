"""End-to-end builds of examples/relu for the CPU backend through real PEP 517 frontends.

Most tests inspect one wheel built once per session (``relu_cpu_wheel`` in conftest.py);
the frontend tests (``python -m build``, PEP 660 editable installs, build isolation) each
build a fresh copy of the example, because that is what they test.
"""

from __future__ import annotations

import email.parser
import json
import re
import shutil
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import (
    REPO_ROOT,
    copy_example,
    extract_wheel,
    host_arch,
    only_wheel,
    pip_wheel,
    run,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux wheels: Linux only"),
]

ARCH = host_arch()
OPS_SO = re.compile(r"relu/(_relu_cpu_[0-9a-f]{10})\.abi3\.so")


def _expected_name(torch_label: str) -> str:
    # torch wheels for Linux use the C++11 ABI since torch 2.7, hence always cxx11 here.
    return f"relu-1.0.0+torch{torch_label}cpucxx11-cp39-abi3-manylinux_2_28_{ARCH}.whl"


def _members(wheel: Path) -> List[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def _read(wheel: Path, member: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member).decode("utf-8")


def _dist_info(wheel: Path, name: str) -> str:
    matches = [m for m in _members(wheel) if re.fullmatch(r"[^/]+\.dist-info/" + re.escape(name), m)]
    assert len(matches) == 1, f"{wheel.name}: expected one .dist-info/{name}, found {matches}"
    return _read(wheel, matches[0])


def _ops_name(wheel: Path) -> str:
    found = [m.group(1) for m in map(OPS_SO.fullmatch, _members(wheel)) if m]
    assert len(found) == 1, f"{wheel.name}: expected one relu/_relu_cpu_<10 hex>.abi3.so: {_members(wheel)}"
    return found[0]


# --------------------------------------------------------------------------- the shared wheel


def test_wheel_file_name(relu_cpu_wheel: Path, torch_label: str) -> None:
    assert relu_cpu_wheel.name == _expected_name(torch_label)


def test_wheel_file_headers(relu_cpu_wheel: Path) -> None:
    # Read WHEEL the way installers do: as an email-style header block.
    text = _dist_info(relu_cpu_wheel, "WHEEL")
    headers = email.parser.Parser().parsestr(text)
    assert headers.get_all("Tag") == [f"cp39-abi3-manylinux_2_28_{ARCH}"], text
    assert headers.get("Root-Is-Purelib") == "false", text
    assert headers.get("Wheel-Version") == "1.0", text
    assert not headers.get_payload().strip(), f"WHEEL has a body after its headers:\n{text}"


def test_wheel_file_lines(relu_cpu_wheel: Path) -> None:
    lines = _dist_info(relu_cpu_wheel, "WHEEL").splitlines()
    assert [l for l in lines if l.startswith("Tag:")] == [f"Tag: cp39-abi3-manylinux_2_28_{ARCH}"]
    assert [l for l in lines if l.startswith("Root-Is-Purelib:")] == ["Root-Is-Purelib: false"]


def test_package_holds_one_extension_and_ops(relu_cpu_wheel: Path) -> None:
    members = _members(relu_cpu_wheel)
    extensions = [m for m in members if m.endswith(".so")]
    assert len(extensions) == 1 and OPS_SO.fullmatch(extensions[0]), members
    ops_name = _ops_name(relu_cpu_wheel)
    assert {"relu/__init__.py", "relu/_ops.py", "relu/metadata.json"} <= set(members)
    assert not [m for m in members if "__pycache__" in m or m.endswith(".pyc")], members

    ops_py = _read(relu_cpu_wheel, "relu/_ops.py")
    assert f"from . import {ops_name}" in ops_py
    assert f"torch.ops.{ops_name}" in ops_py
    assert f'"{ops_name}::' in ops_py  # add_op_namespace_prefix


def test_metadata_json(relu_cpu_wheel: Path, tmp_path: Path) -> None:
    from kernels.metadata import Metadata

    import kernels_build

    ops_name = _ops_name(relu_cpu_wheel)
    metadata = Metadata.from_bytes(_read(relu_cpu_wheel, "relu/metadata.json").encode(), source="metadata.json")
    assert metadata.name == "relu"
    assert metadata.id == ops_name
    assert metadata.version == 1
    assert metadata.license == "Apache-2.0"
    assert metadata.backend.type == "cpu"
    assert metadata.backend.archs is None
    assert metadata.python_depends == ()
    assert metadata.provenance is not None
    assert metadata.provenance["kernel-builder"]["version"] == f"kernels_build-{kernels_build.__version__}"

    tree = extract_wheel(relu_cpu_wheel, tmp_path / "tree")
    assert metadata.digest is not None
    assert set(metadata.digest["files"]) == {"__init__.py", "_ops.py", f"{ops_name}.abi3.so"}
    assert metadata.verify_digest(tree / "relu") == []


def test_dist_info_variant_and_requirements(relu_cpu_wheel: Path, torch_label: str) -> None:
    variant = _dist_info(relu_cpu_wheel, "kernels-variant.txt")
    assert variant == f"torch{torch_label}-cxx11-cpu-{ARCH}-linux\n"

    metadata = email.parser.Parser().parsestr(_dist_info(relu_cpu_wheel, "METADATA"))
    assert metadata["Name"] == "relu"
    assert metadata["Version"] == f"1.0.0+torch{torch_label}cpucxx11"
    major, minor = torch_label[0], torch_label[1:]
    assert metadata.get_all("Requires-Dist") == [f"torch=={major}.{minor}.*"]


def test_extension_is_abi3_manylinux_2_28(relu_cpu_wheel: Path, tmp_path: Path) -> None:
    from elftools.elf.elffile import ELFFile

    from kernels_build.compliance import check_extension

    tree = extract_wheel(relu_cpu_wheel, tmp_path / "tree")
    (extension,) = (tree / "relu").glob("*.abi3.so")
    report = check_extension(extension, policy="manylinux_2_28")
    assert report.ok, report.describe()

    with extension.open("rb") as stream:
        dynsym = ELFFile(stream).get_section_by_name(".dynsym")
        assert dynsym is not None
        symbols = {symbol.name for symbol in dynsym.iter_symbols()}
    # glibc 2.32's __libc_single_threaded (read by GCC >= 11 libstdc++ inline code) must be
    # renamed by the backend's compat header, or the extension needs GLIBC_2.32.
    assert "__libc_single_threaded" not in symbols
    assert not [s for s in symbols if s.startswith("__libc_single_threaded")]


RELU_CHECK = textwrap.dedent(
    """
    import sys
    import torch
    import relu

    assert relu.__file__.startswith(sys.argv[1]), relu.__file__
    torch.manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(1031, dtype=dtype) * 4
        assert (x < 0).any() and (x > 0).any()
        y = relu.relu(x)
        assert y.dtype == dtype
        torch.testing.assert_close(y, torch.relu(x), rtol=0, atol=0)
        out = torch.full_like(x, 7.0)
        assert relu.relu(x, out=out) is out
        torch.testing.assert_close(out, torch.relu(x), rtol=0, atol=0)
    print("relu ok")
    """
)


def test_installed_wheel_computes_relu(relu_cpu_target: Path, tmp_path: Path) -> None:
    result = run([sys.executable, "-c", RELU_CHECK, str(relu_cpu_target)], cwd=tmp_path,
                 env={"PYTHONPATH": str(relu_cpu_target)})
    assert "relu ok" in result.stdout


# --------------------------------------------------------------------------- other frontends


def test_pypa_build_sdist_then_wheel_from_it(relu_cpu_wheel: Path, tmp_path: Path) -> None:
    """``python -m build`` makes the sdist, then builds the wheel from the unpacked sdist."""
    repo = copy_example("relu", tmp_path / "src")
    out = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(repo)], cwd=tmp_path)
    (sdist,) = list(out.glob("*.tar.gz"))
    assert sdist.name == "relu-1.0.0.tar.gz"
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    for member in ("PKG-INFO", "pyproject.toml", "build.toml", "relu_cpu/relu_cpu.cpp", "torch-ext/relu/__init__.py"):
        assert f"relu-1.0.0/{member}" in names, sorted(names)
    assert not any(".kernels_build" in n or "__pycache__" in n for n in names), sorted(names)
    wheel = only_wheel(out)
    assert wheel.name == relu_cpu_wheel.name
    # Same sources, same op namespace, whatever the frontend and wherever the sources lie.
    assert _ops_name(wheel) == _ops_name(relu_cpu_wheel)


def _venv_on_top_of_this_one(path: Path) -> Path:
    """A venv without pip that also sees this environment's packages (torch, kernels_build).

    ``--system-site-packages`` would expose the base interpreter's packages, not this venv's,
    so a ``.pth`` file adds this environment's site directories (with their own .pth files).
    """
    run([sys.executable, "-m", "venv", "--without-pip", str(path)], cwd=path.parent)
    python = path / "bin" / "python"
    site_packages = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=path).stdout.strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(ours))
    (site_packages / "zz_outer_env.pth").write_text(lines)
    return python


EDITABLE_CHECK = RELU_CHECK + textwrap.dedent(
    """
    print("hello:", getattr(relu, "hello", lambda: None)())
    """
)


def test_editable_install_follows_python_edits(tmp_path: Path) -> None:
    repo = copy_example("relu", tmp_path / "src")
    python = _venv_on_top_of_this_one(tmp_path / "venv")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-build-isolation", "--no-deps",
         "--no-index", "-e", repo], cwd=tmp_path)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()

    live = repo / "torch-ext" / "relu"
    result = run([python, "-c", EDITABLE_CHECK, str(live)], cwd=workdir)
    assert "relu ok" in result.stdout
    assert "hello: None" in result.stdout

    # Python edits are live: no reinstall.
    init = live / "__init__.py"
    init.write_text(init.read_text() + '\n\ndef hello() -> str:\n    return "edited"\n')
    result = run([python, "-c", EDITABLE_CHECK, str(live)], cwd=workdir)
    assert "relu ok" in result.stdout
    assert "hello: edited" in result.stdout

    # The dev environment running the tests is untouched.
    run([sys.executable, "-c", "import importlib.util, sys; "
         "spec = importlib.util.find_spec('relu'); "
         f"sys.exit(spec is not None and str(spec.origin).startswith({str(tmp_path)!r}))"], cwd=workdir)


# --------------------------------------------------------------------------- build isolation


def _source_copy_of_this_project(destination: Path) -> Path:
    """What building our distribution needs (top-level files, src/, cmake/), without build state."""
    destination.mkdir()
    for entry in REPO_ROOT.iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            shutil.copy2(entry, destination / entry.name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in ("src", "cmake"):
        shutil.copytree(REPO_ROOT / folder, destination / folder, ignore=ignore)
    return destination


@pytest.fixture(scope="module")
def kernels_distribution(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our own distribution's wheel, built from a clean copy of the project."""
    base = tmp_path_factory.mktemp("kernels-dist")
    project = _source_copy_of_this_project(base / "project")
    out = base / "wheelhouse"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", out, project], cwd=base)
    return only_wheel(out)


def _missing_cmake_files(wheel: Path) -> List[str]:
    shipped = {m for m in _members(wheel) if m.startswith("kernels_build/cmake/")}
    wanted = sorted(
        f"kernels_build/cmake/{p.name}" for p in (REPO_ROOT / "cmake").iterdir() if p.is_file()
    )
    return [w for w in wanted if w not in shipped]


def test_distribution_ships_all_cmake_files(kernels_distribution: Path) -> None:
    assert _missing_cmake_files(kernels_distribution) == []


def _find_links() -> List[str]:
    result = run([sys.executable, "-m", "pip", "config", "list"], cwd=REPO_ROOT, check=False)
    dirs: List[str] = []
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith("find-links"):
            dirs += value.strip().strip("'\"").split()
    return dirs


def _local_torch_wheel(torch_version: str) -> List[str]:
    """find-links directories holding a wheel of exactly ``torch_version``."""
    filename = f"torch-{torch_version}-"
    return [
        d for d in _find_links()
        if Path(d).is_dir() and any(p.name.startswith(filename) for p in Path(d).glob("torch-*.whl"))
    ]


def test_build_isolation_installs_the_backend(
    kernels_distribution: Path, relu_cpu_wheel: Path, torch_label: str, tmp_path: Path
) -> None:
    assert _missing_cmake_files(kernels_distribution) == []
    torch_version = dist_version("torch")
    links = _local_torch_wheel(torch_version)
    if "+" in torch_version and not links:
        pytest.skip(f"no local wheel of torch {torch_version} in pip's find-links; an isolated "
                    "build would fetch another torch")

    # Pin the build environment to this torch (not a multi-GB CUDA build from PyPI) and to our
    # distribution (not an older `kernels` release from PyPI).
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"torch=={torch_version}\nkernels=={dist_version('kernels')}\n")
    repo = copy_example("relu", tmp_path / "src")
    out = tmp_path / "wheelhouse"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out,
           "--find-links", kernels_distribution.parent]
    for link in links:
        cmd += ["--find-links", link]
    cmd += ["-C", f"kernels.torch-version={torch_label[0]}.{torch_label[1:]}", repo]
    run(cmd, cwd=tmp_path, env={"PIP_CONSTRAINT": str(constraints),
                                "PIP_BUILD_CONSTRAINT": str(constraints)})
    wheel = only_wheel(out)
    assert wheel.name == relu_cpu_wheel.name
    assert _ops_name(wheel) == _ops_name(relu_cpu_wheel)


def test_gate_fails_then_warns_with_the_real_policy(tmp_path: Path) -> None:
    """A policy the extension cannot meet (manylinux_2_5 predates the C++11 std::string of
    GLIBCXX_3.4.21) fails the build listing the symbols; the warn setting then builds the
    wheel anyway, tagged with the policy it really meets."""
    repo = copy_example("relu", tmp_path / "src")
    out = tmp_path / "dist"
    failed = pip_wheel(repo, out, ["kernels.policy=manylinux_2_5"], check=False)
    assert failed.returncode != 0
    assert "kernels_build error: compliance check failed" in failed.stdout, failed.stdout[-4000:]
    assert re.search(r"\[manylinux\] \S+: GLIBCXX_3\.4\.\d+", failed.stdout), failed.stdout[-4000:]
    assert "kernels.compliance=warn" in failed.stdout
    assert not list(out.glob("*.whl"))

    # pip shows a successful backend's output only when verbose.
    warned = pip_wheel(repo, out, ["kernels.policy=manylinux_2_5", "kernels.compliance=warn", "build.verbose=true"],
                       env={"PIP_VERBOSE": "1"})
    wheel = only_wheel(out)
    tag = re.search(r"-cp39-abi3-(manylinux_2_(\d+)_\w+)\.whl$", wheel.name)
    assert tag and 5 < int(tag.group(2)) <= 28, wheel.name
    assert f"tagging the wheel {tag.group(1)}" in warned.stdout, warned.stdout[-4000:]
