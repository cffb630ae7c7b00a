"""Publishing tvm-ffi kernels (``[tvm-ffi]``, issue 18): wheels, Hub trees, checks, uploads and
the build matrix.

A tvm-ffi variant (``tvm-ffi01-cpu-x86_64-linux``) holds a library ``_<module>_<backend>_<uid>.so``
that links libtvm_ffi and uses no Python C API, so its wheel is tagged
``py3-none-manylinux_2_28_<cpu>`` and requires ``apache-tvm-ffi==M.m.*``. Built wheels come from
the ``relu_tvm_ffi_cpu_wheel`` fixture (examples/relu-tvm-ffi, cpu) and, for a torch extension
in the wrong place, ``relu_cpu_wheel``; the Hub is the local server of
:mod:`kernels.testing.fixtures`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from conftest import EXAMPLES, copy_example

from kernels.testing.fixtures import DUMMY_TOKEN  # noqa: F401  (sets HF_HUB_DISABLE_XET first)

from kernels.author.build_matrix import KEYS, matrix_entries  # noqa: E402
from kernels.author.requirements import load_config, required_variants  # noqa: E402
from kernels.check import check_tree  # noqa: E402
from kernels.convert import from_wheel, wheel_tag  # noqa: E402
from kernels.errors import KernelWheelError  # noqa: E402
from kernels.metadata import BackendInfo, Metadata  # noqa: E402
from kernels.variants import host_cpu, parse_variant  # noqa: E402
from kernels.wheels import (  # noqa: E402
    default_summary,
    package_digest,
    python_abi_tag,
    read_kernel_wheel,
    write_kernel_wheel,
)

pytest_plugins = ["kernels.testing.fixtures"]

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux wheels: Linux only")

KERNELS = [sys.executable, "-m", "kernels.cli"]
CUDA = ("cu126", "cu130", "cu132")
REPO = "kernels-test/relu-tvm-ffi"  # [general.hub] repo-id of examples/relu-tvm-ffi


# --------------------------------------------------------------------------- helpers


def _kernels(*args: str, env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None
             ) -> subprocess.CompletedProcess:
    return subprocess.run([*KERNELS, *args], capture_output=True, text=True, env=env, cwd=cwd)


def _hub_env(server, tmp_path: Path) -> Dict[str, str]:
    """The environment of a subprocess talking to the local Hub server (huggingface_hub reads
    it at import time)."""
    return {**os.environ, "HF_ENDPOINT": server.url, "HF_TOKEN": server.token, "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_CACHE": str(tmp_path / "cache"), "KERNELS_CACHE": str(tmp_path / "cache")}


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """A failed command said why in one clear message, without a traceback."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def _tvm_ffi_variant(wheel: Path) -> str:
    return read_kernel_wheel(wheel).variant.name


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _retag(wheel: Path, old: str, new: str, out_dir: Path) -> Path:
    """A copy of ``wheel`` whose ``WHEEL`` tag (and file name) say ``new`` instead of ``old``,
    RECORD rewritten to match: a wheel with an inconsistent tag but nothing else wrong."""
    with zipfile.ZipFile(wheel) as archive:
        members = [(i.filename, archive.read(i), i.external_attr) for i in archive.infolist()]
    edited = []
    for name, data, attr in members:
        if name.endswith(".dist-info/WHEEL"):
            assert f"Tag: {old}-".encode() in data
            data = data.replace(f"Tag: {old}-".encode(), f"Tag: {new}-".encode())
        edited.append((name, data, attr))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data, _ in edited:
        if not name.endswith(".dist-info/RECORD"):
            writer.writerow([name, _record_hash(data), len(data)])
    (record_name,) = [n for n, _, _ in edited if n.endswith(".dist-info/RECORD")]
    writer.writerow([record_name, "", ""])
    edited = [(n, record.getvalue().encode() if n == record_name else d, a) for n, d, a in edited]
    out_dir.mkdir(parents=True, exist_ok=True)
    destination = out_dir / wheel.name.replace(f"-{old}-", f"-{new}-")
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, attr in edited:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr, info.create_system = attr, 3
            archive.writestr(info, data)
    return destination


def _refresh_digest(variant_dir: Path) -> None:
    """Rewrite ``metadata.json``'s digest over the variant's current files, so that a test's
    edit shows up as the problem it tests and not as a digest mismatch."""
    metadata = Metadata.read_from_file(variant_dir / "metadata.json")
    metadata.with_digest(variant_dir).write_to_file(variant_dir / "metadata.json")


def _tree(wheel: Path, root: Path) -> Path:
    """``root/build/<variant>/`` from ``wheel``; returns the variant directory."""
    (variant_dir,) = from_wheel([wheel], root)
    return variant_dir


# --------------------------------------------------------------------------- wheel format (no build)


def test_tag_and_summary_of_tvm_ffi_variants() -> None:
    tvm_cpu = parse_variant("tvm-ffi01-cpu-x86_64-linux")
    tvm_cuda = parse_variant("tvm-ffi01-cu130-aarch64-linux")
    torch_cpu = parse_variant("torch213-cxx11-cpu-x86_64-linux")
    assert wheel_tag(tvm_cpu) == "py3-none-manylinux_2_28_x86_64"
    assert wheel_tag(tvm_cuda) == "py3-none-manylinux_2_28_aarch64"
    assert wheel_tag(torch_cpu) == "cp39-abi3-manylinux_2_28_x86_64"  # unchanged
    assert wheel_tag(parse_variant("torch-cuda")) == "py3-none-any"
    assert [python_abi_tag(v) for v in (tvm_cpu, torch_cpu, parse_variant("torch-cpu"))] == [
        "py3-none", "cp39-abi3", "py3-none"]
    assert default_summary("relu-tvm-ffi", tvm_cpu) == "relu-tvm-ffi kernel for TVM FFI"
    assert default_summary("relu", torch_cpu) == "relu kernel for PyTorch"


def _synthetic_tvm_ffi_files() -> Dict[str, bytes]:
    files = {"__init__.py": b"from ._ops import ops\n", "_ops.py": b"ops = None\n",
             "_demo_cpu_0123456789.so": b"\x7fELF fake"}
    metadata = Metadata(name="demo", id="_demo_cpu_0123456789", version=1, license="Apache-2.0",
                        python_depends=(), backend=BackendInfo("cpu"), digest=package_digest(files))
    return {**files, "metadata.json": metadata.to_json().encode()}


def _write(out: Path, variant: str, tag: str) -> Path:
    v = parse_variant(variant)
    return write_kernel_wheel(out, name="demo", version=f"1.0.0+{v.wheel_label}", tag=tag, module="demo",
                              variant=v, package_files=_synthetic_tvm_ffi_files(),
                              requires=["apache-tvm-ffi==0.1.*"], summary="demo kernel for TVM FFI")


def test_tvm_ffi_wheel_is_platlib_without_python_abi(tmp_path: Path) -> None:
    wheel = _write(tmp_path, "tvm-ffi01-cpu-x86_64-linux", "py3-none-manylinux_2_28_x86_64")
    assert wheel.name == "demo-1.0.0+tvmffi01cpu-py3-none-manylinux_2_28_x86_64.whl"
    contents = read_kernel_wheel(wheel)
    assert contents.variant.name == "tvm-ffi01-cpu-x86_64-linux" and not contents.is_purelib
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read("demo-1.0.0+tvmffi01cpu.dist-info/WHEEL").decode()
    assert "Root-Is-Purelib: false\nTag: py3-none-manylinux_2_28_x86_64\n" in text


def test_write_refuses_a_tag_that_does_not_fit_the_variant(tmp_path: Path) -> None:
    with pytest.raises(KernelWheelError, match=r"tag cp39-abi3-manylinux_2_28_x86_64 does not fit variant "
                                               r"tvm-ffi01-cpu-x86_64-linux: a tvm-ffi variant's wheel is "
                                               r"tagged py3-none-<platform>, not cp39-abi3-<platform>"):
        _write(tmp_path, "tvm-ffi01-cpu-x86_64-linux", "cp39-abi3-manylinux_2_28_x86_64")
    with pytest.raises(KernelWheelError, match=r"a torch variant's wheel is tagged cp39-abi3-<platform>, "
                                               r"not py3-none-<platform>"):
        _write(tmp_path, "torch213-cxx11-cpu-x86_64-linux", "py3-none-manylinux_2_28_x86_64")
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary left


# --------------------------------------------------------------------------- built wheel <-> tree


@pytest.mark.slow
@linux_only
def test_built_wheel_reads_and_round_trips_byte_identical(relu_tvm_ffi_cpu_wheel: Path, tmp_path: Path) -> None:
    import tvm_ffi  # the fixture skips without it

    major, minor = (int(p) for p in tvm_ffi.__version__.split(".")[:2])
    variant = f"tvm-ffi{major}{minor}-cpu-{host_cpu()}-linux"
    wheel = relu_tvm_ffi_cpu_wheel
    assert wheel.name == (f"relu_tvm_ffi-1.0.0+tvmffi{major}{minor}cpu-"
                          f"py3-none-manylinux_2_28_{host_cpu()}.whl")
    contents = read_kernel_wheel(wheel)
    assert (contents.variant.name, contents.module, contents.is_purelib) == (variant, "relu_tvm_ffi", False)
    assert contents.requires[0] == f"apache-tvm-ffi=={major}.{minor}.*"
    assert not any(r.startswith("torch") for r in contents.requires)

    tree = tmp_path / "tree"
    made = _kernels("from-wheel", str(wheel), "-o", str(tree))
    assert made.returncode == 0, made.stderr
    variant_dir = tree / "build" / variant
    metadata = Metadata.read_from_file(variant_dir / "metadata.json")
    library = f"{metadata.id}.so"
    assert metadata.id.startswith("_relu_tvm_ffi_cpu_")
    assert sorted(p.name for p in variant_dir.iterdir()) == sorted(
        ["__init__.py", "_ops.py", library, "metadata.json"])
    assert os.access(variant_dir / library, os.X_OK)

    back = _kernels("to-wheel", str(tree), "1", "-o", str(tmp_path / "dist"))
    assert back.returncode == 0, back.stderr
    (rebuilt,) = (tmp_path / "dist").iterdir()
    assert rebuilt.name == wheel.name
    assert rebuilt.read_bytes() == wheel.read_bytes()


@pytest.mark.slow
@linux_only
def test_wheels_with_inconsistent_tags_are_refused(relu_tvm_ffi_cpu_wheel: Path, relu_cpu_wheel: Path,
                                                   tmp_path: Path) -> None:
    tvm_abi3 = _retag(relu_tvm_ffi_cpu_wheel, "py3-none", "cp39-abi3", tmp_path / "a")
    variant = _tvm_ffi_variant(relu_tvm_ffi_cpu_wheel)
    with pytest.raises(KernelWheelError, match=rf"does not fit variant {variant}: a tvm-ffi variant's wheel "
                                               r"is tagged py3-none-<platform>, not cp39-abi3-<platform>"):
        read_kernel_wheel(tvm_abi3)
    proc = _kernels("from-wheel", str(tvm_abi3), "-o", str(tmp_path / "out"))
    _one_line_error(proc, str(tvm_abi3), "a tvm-ffi variant's wheel is tagged py3-none-<platform>")
    assert not (tmp_path / "out").exists()

    torch_none = _retag(relu_cpu_wheel, "cp39-abi3", "py3-none", tmp_path / "b")
    with pytest.raises(KernelWheelError, match=r"a torch variant's wheel is tagged cp39-abi3-<platform>, "
                                               r"not py3-none-<platform>"):
        read_kernel_wheel(torch_none)
    # The untouched wheels still read (the retagging is the only defect).
    assert read_kernel_wheel(relu_tvm_ffi_cpu_wheel).tag.startswith("py3-none-manylinux_2_28_")
    assert read_kernel_wheel(relu_cpu_wheel).tag.startswith("cp39-abi3-manylinux_2_28_")


# --------------------------------------------------------------------------- kernels check


@pytest.mark.slow
@linux_only
def test_check_passes_a_tvm_ffi_tree(relu_tvm_ffi_cpu_wheel: Path, tmp_path: Path) -> None:
    variant_dir = _tree(relu_tvm_ffi_cpu_wheel, tmp_path / "tree")
    proc = _kernels("check", str(tmp_path / "tree"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"OK   {variant_dir.name}" in proc.stdout
    assert "no Python ABI" in proc.stdout and "abi3 (Python" not in proc.stdout


@pytest.mark.slow
@linux_only
def test_check_fails_a_tvm_ffi_tree_holding_a_torch_extension(relu_tvm_ffi_cpu_wheel: Path, relu_cpu_wheel: Path,
                                                              tmp_path: Path) -> None:
    variant_dir = _tree(relu_tvm_ffi_cpu_wheel, tmp_path / "tree")
    library = variant_dir / f"{Metadata.read_from_file(variant_dir / 'metadata.json').id}.so"
    torch_dir = _tree(relu_cpu_wheel, tmp_path / "torch-tree")
    (extension,) = torch_dir.glob("*.abi3.so")
    shutil.copy(extension, library)  # a torch extension under the tvm-ffi library's name
    _refresh_digest(variant_dir)

    proc = _kernels("check", str(tmp_path / "tree"))
    assert proc.returncode == 1, proc.stdout
    assert f"FAIL {variant_dir.name}" in proc.stdout and library.name in proc.stdout
    assert "[python-abi] Py" in proc.stdout  # the extension calls the Python C API
    assert "[library] libtorch" in proc.stdout or "[library] libc10" in proc.stdout
    assert "layout: ok" in proc.stdout  # digest and layout are fine: only the library is wrong

    # The torch tree itself is judged as before: abi3 and the torch libraries are fine there.
    torch_check = _kernels("check", str(tmp_path / "torch-tree"))
    assert torch_check.returncode == 0, torch_check.stdout
    assert "abi3 (Python 3.9)" in torch_check.stdout and "[library]" not in torch_check.stdout


@pytest.mark.slow
@linux_only
def test_check_wants_the_tvm_ffi_library_by_its_name(relu_tvm_ffi_cpu_wheel: Path, tmp_path: Path) -> None:
    variant_dir = _tree(relu_tvm_ffi_cpu_wheel, tmp_path / "tree")
    metadata = Metadata.read_from_file(variant_dir / "metadata.json")
    (variant_dir / f"{metadata.id}.so").rename(variant_dir / f"{metadata.id}.abi3.so")
    _refresh_digest(variant_dir)
    (verdict,) = check_tree(tmp_path / "tree").variants
    assert not verdict.ok
    assert verdict.problems == [
        f"the tvm-ffi library {metadata.id}.so is missing (metadata.json's id names it)",
        f"a tvm-ffi variant holds no Python extension module: {metadata.id}.abi3.so",
    ]


# --------------------------------------------------------------------------- kernels upload


@pytest.mark.slow
@linux_only
def test_upload_then_load_and_convert_back_from_the_hub(hub_server, relu_tvm_ffi_cpu_wheel: Path,
                                                        tmp_path: Path) -> None:
    from huggingface_hub import HfApi

    env = _hub_env(hub_server, tmp_path)
    root = tmp_path / "relu-tvm-ffi"
    variant_dir = _tree(relu_tvm_ffi_cpu_wheel, root)
    shutil.copy(EXAMPLES / "relu-tvm-ffi" / "build.toml", root / "build.toml")  # the repo id
    (root / "CARD.md").write_text("# {{ name }}\n\n{{ functions }}\n")

    up = _kernels("upload", str(root), env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert up.stdout.startswith(f"{REPO}@v1: ")
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    files = set(api.list_repo_files(REPO, repo_type="kernel", revision="v1"))
    variant = variant_dir.name
    expected = {f"build/{variant}/{p.name}" for p in variant_dir.iterdir()}
    assert {f for f in files if f.startswith("build/")} == expected
    assert any(f.endswith(".so") and not f.endswith(".abi3.so") for f in expected)
    readme = api.hf_hub_download(REPO, "README.md", repo_type="kernel", cache_dir=tmp_path / "readme-cache")
    assert Path(readme).read_text() == "# relu-tvm-ffi\n\n- `relu`\n- `relu_jax`\n"

    # get_kernel finds the variant and runs it (through tvm_ffi, on torch tensors via DLPack).
    code = ("import torch; from kernels import get_kernel; k = get_kernel('%s', version=1, trust_remote_code=True); "
            "x = torch.randn(1000); out = torch.empty_like(x); k.relu(x, out); "
            "assert torch.equal(out, torch.relu(x)); print('ok')" % REPO)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr[-3000:]

    check = _kernels("check", REPO, env=env)
    assert check.returncode == 0 and f"OK   {variant}" in check.stdout, check.stdout + check.stderr
    back = _kernels("to-wheel", REPO, "1", "-o", str(tmp_path / "wheels"), env=env)
    assert back.returncode == 0, back.stderr
    (wheel,) = (tmp_path / "wheels").iterdir()
    assert wheel.read_bytes() == relu_tvm_ffi_cpu_wheel.read_bytes()  # the very same wheel came back


# --------------------------------------------------------------------------- list-variants, build-matrix


def _tvm_ffi_names() -> List[str]:
    names = []
    for cpu in ("x86_64", "aarch64"):
        names += [f"tvm-ffi01-cpu-{cpu}-linux"] + [f"tvm-ffi01-{cu}-{cpu}-linux" for cu in CUDA]
    return names


def _edited_example(tmp_path: Path, old: str, new: str) -> Path:
    root = copy_example("relu-tvm-ffi", tmp_path)
    text = (root / "build.toml").read_text()
    assert old in text
    (root / "build.toml").write_text(text.replace(old, new))
    return root


def test_tvm_ffi_kernel_needs_tvm_ffi_variants_only() -> None:
    required = required_variants(load_config(EXAMPLES / "relu-tvm-ffi"))
    assert sorted(r.name for r in required) == sorted(_tvm_ffi_names())
    assert [r.backend for r in required][:2] == ["cpu", "cpu"]  # build.toml's backend order
    assert all(parse_variant(r.name).framework == "tvm-ffi" for r in required)


def test_tvm_ffi_build_matrix_installs_tvm_ffi_instead_of_torch(tmp_path: Path) -> None:
    root = copy_example("relu-tvm-ffi", tmp_path)
    proc = _kernels("build-matrix", "--format", "github", cwd=root)
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)["include"]
    assert sorted(e["variant"] for e in entries) == sorted(_tvm_ffi_names())
    for e in entries:
        assert list(e) == list(KEYS)
        assert (e["torch"], e["torch_spec"], e["torch_index"]) == ("", "apache-tvm-ffi==0.1.*",
                                                                   "https://pypi.org/simple")
        assert "torch-version" not in e["config_settings"]
        assert e["config_settings"].startswith(f"-C kernels.backend={e['backend']}")
        assert e["image"] == f"quay.io/pypa/manylinux_2_28_{e['arch']}" and e["os"] == "linux"
    cu130 = next(e for e in entries if e["variant"] == "tvm-ffi01-cu130-x86_64-linux")
    assert "kernels.cuda-toolchain=pip" in cu130["config_settings"] and cu130["toolkit"] == "13.0"
    assert "nvidia-cuda-nvcc==13.0.*" in cu130["toolkit_setup"]
    cpu = matrix_entries(load_config(root), backends=["cpu"])
    assert [e["config_settings"] for e in cpu] == ["-C kernels.backend=cpu"] * 2


def test_tvm_ffi_cuda_bounds_narrow_the_matrix(tmp_path: Path) -> None:
    root = _edited_example(tmp_path, "[general.hub]", '[general.cuda]\nmaxver = "12.8"\n\n[general.hub]')
    names = [r.name for r in required_variants(load_config(root))]
    assert [n for n in names if "-cu" in n] == ["tvm-ffi01-cu126-x86_64-linux", "tvm-ffi01-cu126-aarch64-linux"]
    bounded = _edited_example(tmp_path / "b", "[general.hub]", '[general.cuda]\nminver = "14.0"\n\n[general.hub]')
    out = _kernels("list-variants", cwd=bounded).stdout.splitlines()
    assert out[out.index("cuda:") + 1].strip() == "(none: build.toml's [general.cuda] bounds exclude every " \
                                                   "required toolkit)"


def test_list_variants_lists_tvm_ffi_variants(tmp_path: Path) -> None:
    import tvm_ffi

    pytest.importorskip("tvm_ffi")
    root = copy_example("relu-tvm-ffi", tmp_path)
    proc = _kernels("list-variants", cwd=root)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "cpu:" and "cuda:" in lines
    listed = [line[4:] for line in lines if line.startswith("  ")]
    assert sorted(listed) == sorted(_tvm_ffi_names())
    major, minor = tvm_ffi.__version__.split(".")[:2]
    current = f"tvm-ffi{major}{minor}-cpu-{host_cpu()}-linux"
    assert [line for line in lines if line.startswith("  * ")] == [f"  * {current}"]

    data = json.loads(_kernels("list-variants", str(root), "--json", cwd=tmp_path).stdout)
    assert sorted(r["variant"] for r in data["required"]) == sorted(_tvm_ffi_names())
    assert data["current"] == {"variant": current, "required": True, "reason": None}


def test_backends_without_tvm_ffi_variants_are_said(tmp_path: Path) -> None:
    """A declared backend the tvm-ffi matrix does not cover lists none, with the reason."""
    root = _edited_example(tmp_path, 'backends = ["cpu", "cuda"]', 'backends = ["cpu", "cuda", "rocm"]')
    assert not [r for r in required_variants(load_config(root)) if r.backend == "rocm"]
    proc = _kernels("list-variants", cwd=root)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[lines.index("rocm:") + 1] == "    (none: tvm-ffi kernels are built for cpu and cuda only)"
