"""The kernel wheel format (kernels.wheels) and the converters (kernels.convert).

Built wheels come from the session fixtures of conftest.py (``relu_cpu_wheel``: compiled,
``silu_noarch_wheel``: py3-none-any); hostile wheels are made by hand with zipfile from them.
Every failing conversion must leave its output directory untouched. Tests that need a built
wheel are marked ``slow`` (the first one builds examples/relu: about a minute).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import os
import shutil
import stat
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from conftest import install_target, run

from kernels.convert import from_wheel, to_wheel
from kernels.errors import KernelsError, KernelTreeError, KernelWheelError
from kernels.metadata import BackendInfo, Metadata
from kernels.python_depends import PYTHON_DEPENDS_PIP
from kernels.variants import host_cpu, parse_variant
from kernels.wheels import (
    VARIANT_FILE,
    package_digest,
    read_kernel_wheel,
    requirements_for,
    write_kernel_wheel,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux wheels: Linux only")

Member = Tuple[str, bytes, int]  # name, content, external_attr


# --------------------------------------------------------------------------- helpers


def _variant_of(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(f".dist-info/{VARIANT_FILE}")]
        return archive.read(name).decode().strip()


def _snapshot(directory: Path) -> Dict[str, bytes]:
    """Every entry below ``directory`` (files with content, directories and links marked)."""
    if not directory.exists():
        return {}
    out: Dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_symlink():
            out[rel] = b"link:" + os.readlink(path).encode()
        elif path.is_dir():
            out[rel + "/"] = b""
        else:
            out[rel] = path.read_bytes()
    return out


def _members(wheel: Path) -> List[Member]:
    with zipfile.ZipFile(wheel) as archive:
        return [(i.filename, archive.read(i), i.external_attr) for i in archive.infolist()]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _rezip(
    source: Path,
    destination: Path,
    edit: Callable[[List[Member]], List[Member]],
    fix_record: bool = True,
) -> Path:
    """Copy a wheel member by member through ``edit``; rewrite RECORD to match unless told not to."""
    members = edit(_members(source))
    if fix_record:
        (record,) = [m for m in members if m[0].endswith(".dist-info/RECORD")]
        others = [m for m in members if m is not record]
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        for name, data, _ in others:
            writer.writerow([name, _record_hash(data), len(data)])
        writer.writerow([record[0], "", ""])
        members = others + [(record[0], text.getvalue().encode(), record[2])]
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, attr in members:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr = attr
            info.create_system = 3
            archive.writestr(info, data)
    return destination


def _replace(suffix: str, content: bytes) -> Callable[[List[Member]], List[Member]]:
    def edit(members: List[Member]) -> List[Member]:
        hits = [m for m in members if m[0].endswith(suffix)]
        assert len(hits) == 1, (suffix, [m[0] for m in members])
        return [(n, content if n.endswith(suffix) else d, a) for n, d, a in members]
    return edit


def _add(name: str, content: bytes = b"x", attr: int = (stat.S_IFREG | 0o644) << 16):
    return lambda members: members[:1] + [(name, content, attr)] + members[1:]


def _drop(suffix: str):
    return lambda members: [m for m in members if not m[0].endswith(suffix)]


def _modified_copy(wheel: Path, out_dir: Path, *, variant: Optional[str] = None,
                   init_suffix: bytes = b"") -> Path:
    """Rewrite a kernel wheel through write_kernel_wheel: another variant (label and variant
    file follow) and/or an edited ``__init__.py`` (the metadata digest follows)."""
    contents = read_kernel_wheel(wheel)
    files = dict(contents.files)
    files["__init__.py"] = files["__init__.py"].read() + init_suffix
    metadata = dataclasses.replace(contents.metadata, digest=package_digest(files))
    files["metadata.json"] = metadata.to_json().encode()
    target = parse_variant(variant) if variant else contents.variant
    base = contents.version.partition("+")[0]
    return write_kernel_wheel(
        out_dir, name=contents.name, version=f"{base}+{target.wheel_label}", tag=contents.tag,
        module=contents.module, variant=target, package_files=files,
        requires=requirements_for(target, metadata), summary=contents.summary,
    )


@pytest.fixture
def relu_variant(relu_cpu_wheel: Path) -> str:
    return _variant_of(relu_cpu_wheel)


@pytest.fixture
def relu_tree(relu_cpu_wheel: Path, tmp_path: Path) -> Path:
    """A Hub tree (``<dir>/build/<variant>/``) made from the relu wheel."""
    from_wheel([relu_cpu_wheel], tmp_path / "tree")
    return tmp_path / "tree"


# --------------------------------------------------------------------------- format units


def _synthetic_files(name: str = "demo", backend: str = "cpu", depends=()) -> Dict[str, bytes]:
    module = name.replace("-", "_")
    files = {"__init__.py": b"from ._ops import ops\n", "_ops.py": b"ops = None\n",
             f"_{module}_{backend}_0123456789.abi3.so": b"\x7fELF fake", "sub/data.txt": b"data\n"}
    metadata = Metadata(name=name, id=f"_{module}_{backend}_0123456789", version=1,
                        license="Apache-2.0", python_depends=tuple(depends),
                        backend=BackendInfo(backend), digest=package_digest(files))
    files["metadata.json"] = metadata.to_json().encode()
    return files


def _write_synthetic(out: Path, **overrides) -> Path:
    args = dict(name="demo-kernel", version="1.0.0+torch213cpucxx11",
                tag="cp39-abi3-manylinux_2_28_x86_64", module="demo_kernel",
                variant="torch213-cxx11-cpu-x86_64-linux",
                package_files=_synthetic_files("demo-kernel"), requires=["torch==2.13.*"],
                summary="demo-kernel kernel for PyTorch")
    args.update(overrides)
    return write_kernel_wheel(out, **args)


def test_write_is_deterministic_and_canonical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = _write_synthetic(tmp_path / "a")
    second = _write_synthetic(tmp_path / "b")
    assert first.name == "demo_kernel-1.0.0+torch213cpucxx11-cp39-abi3-manylinux_2_28_x86_64.whl"
    assert first.read_bytes() == second.read_bytes()
    assert [p.name for p in (tmp_path / "a").iterdir()] == [first.name]  # no temporary left

    with zipfile.ZipFile(first) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        dist_info = "demo_kernel-1.0.0+torch213cpucxx11.dist-info"
        assert names == [
            "demo_kernel/__init__.py", "demo_kernel/_demo_kernel_cpu_0123456789.abi3.so",
            "demo_kernel/_ops.py", "demo_kernel/metadata.json", "demo_kernel/sub/data.txt",
            f"{dist_info}/METADATA", f"{dist_info}/WHEEL", f"{dist_info}/{VARIANT_FILE}",
            f"{dist_info}/RECORD",
        ]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
        assert modes["demo_kernel/_demo_kernel_cpu_0123456789.abi3.so"] == 0o755
        assert modes["demo_kernel/__init__.py"] == 0o644
        assert all(stat.S_ISREG(i.external_attr >> 16) for i in infos)
        assert archive.read(f"{dist_info}/METADATA").decode() == textwrap.dedent("""\
            Metadata-Version: 2.1
            Name: demo-kernel
            Version: 1.0.0+torch213cpucxx11
            Summary: demo-kernel kernel for PyTorch
            Requires-Python: >=3.9
            Requires-Dist: torch==2.13.*
            """)
        wheel_text = archive.read(f"{dist_info}/WHEEL").decode()
        assert "Root-Is-Purelib: false\nTag: cp39-abi3-manylinux_2_28_x86_64\n" in wheel_text
        assert wheel_text.startswith("Wheel-Version: 1.0\nGenerator: kernels ")
        assert archive.read(f"{dist_info}/{VARIANT_FILE}") == b"torch213-cxx11-cpu-x86_64-linux\n"

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    third = _write_synthetic(tmp_path / "c")
    assert third.read_bytes() != first.read_bytes()
    with zipfile.ZipFile(third) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}

    contents = read_kernel_wheel(first)
    assert (contents.name, contents.module, contents.variant.name) == (
        "demo-kernel", "demo_kernel", "torch213-cxx11-cpu-x86_64-linux")
    assert contents.requires == ("torch==2.13.*",)
    assert contents.summary == "demo-kernel kernel for PyTorch"
    assert contents.files["sub/data.txt"].read() == b"data\n"


def test_write_noarch_is_purelib(tmp_path: Path) -> None:
    files = _synthetic_files("demo-kernel")
    wheel = _write_synthetic(tmp_path, version="1.0.0+torchcpu", tag="py3-none-any", variant="torch-cpu",
                             package_files=files, requires=["torch"])
    assert wheel.name == "demo_kernel-1.0.0+torchcpu-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        assert "Root-Is-Purelib: true" in archive.read(
            "demo_kernel-1.0.0+torchcpu.dist-info/WHEEL").decode()
    assert read_kernel_wheel(wheel).variant.name == "torch-cpu"


def test_write_refuses_an_inconsistent_description(tmp_path: Path) -> None:
    with pytest.raises(KernelWheelError, match="name variant torch213-cxx11-cpu-x86_64-linux, not torch-cuda"):
        _write_synthetic(tmp_path, variant="torch-cuda")
    with pytest.raises(KernelWheelError, match="lack metadata.json"):
        files = _synthetic_files("demo-kernel")
        del files["metadata.json"]
        _write_synthetic(tmp_path, package_files=files)
    with pytest.raises(KernelWheelError, match=r"'\.\./evil'.*'\.\.' component"):
        _write_synthetic(tmp_path, package_files={**_synthetic_files("demo-kernel"), "../evil": b""})
    assert not list(tmp_path.iterdir())


def test_requirements_for() -> None:
    meta = Metadata.from_dict({"name": "kern", "id": "_kern_cuda_1", "version": 1, "license": "MIT",
                               "python-depends": ["einops", "tvm-ffi", "unknown"],
                               "backend": {"type": "cuda"}})
    assert requirements_for(parse_variant("torch213-cxx11-cu130-x86_64-linux"), meta) == [
        "torch==2.13.*", "einops", "apache-tvm-ffi"]
    assert requirements_for(parse_variant("torch-stable-abi210-cu130-x86_64-linux"), meta)[0] == "torch>=2.10"
    assert requirements_for(parse_variant("torch-cuda"), meta) == ["torch", "einops", "apache-tvm-ffi"]
    assert requirements_for(parse_variant("tvm-ffi01-cu130-x86_64-linux"), meta) == [
        "apache-tvm-ffi==0.1.*", "einops"]
    assert requirements_for(parse_variant("torch-cpu")) == ["torch"]
    assert PYTHON_DEPENDS_PIP["onednn"] == "onednn-devel"


def test_project_imports_the_shared_pip_names() -> None:
    from kernels_build import project

    assert project.PYTHON_DEPENDS_PIP is PYTHON_DEPENDS_PIP


# --------------------------------------------------------------------------- from_wheel


@pytest.mark.slow
@linux_only
def test_from_wheel_layout(relu_cpu_wheel: Path, tmp_path: Path, torch_label: str) -> None:
    variant = f"torch{torch_label}-cxx11-cpu-{host_cpu()}-linux"
    out = tmp_path / "out"
    dirs = from_wheel([relu_cpu_wheel], out)
    assert dirs == [out / "build" / variant]
    files = sorted(p.name for p in dirs[0].iterdir())
    assert len(files) == 4, files
    (so,) = [f for f in files if f.endswith(".abi3.so")]
    assert so.startswith("_relu_cpu_")
    assert files == sorted(["__init__.py", "_ops.py", so, "metadata.json"])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(
        ["build", f"build/{variant}"] + [f"build/{variant}/{f}" for f in files])
    metadata = Metadata.read_from_file(dirs[0] / "metadata.json")
    assert metadata.id == so[: -len(".abi3.so")]
    assert metadata.verify_digest(dirs[0]) == []
    assert os.access(dirs[0] / so, os.X_OK)


@pytest.mark.slow
def test_from_wheel_noarch_layout(silu_noarch_wheel: Path, tmp_path: Path) -> None:
    (directory,) = from_wheel([silu_noarch_wheel], tmp_path / "out")
    assert directory == tmp_path / "out" / "build" / "torch-cpu"
    names = {p.name for p in directory.iterdir()}
    assert {"__init__.py", "_ops.py", "layers.py", "metadata.json"} <= names
    assert not [n for n in names if n.endswith((".so", ".pyc")) or n == "__pycache__"]
    assert Metadata.read_from_file(directory / "metadata.json").verify_digest(directory) == []


@pytest.mark.slow
@linux_only
def test_round_trip_is_byte_identical(relu_cpu_wheel: Path, silu_noarch_wheel: Path, tmp_path: Path) -> None:
    for wheel in (relu_cpu_wheel, silu_noarch_wheel):
        base = tmp_path / wheel.name.split("-")[0]
        from_wheel([wheel], base / "tree")
        (rebuilt,) = to_wheel(base / "tree", 1, base / "dist")
        assert rebuilt.name == wheel.name
        assert rebuilt.read_bytes() == wheel.read_bytes(), wheel.name
        # The build dir itself and a single variant dir are accepted as trees too.
        (again,) = to_wheel(base / "tree" / "build", 1, base / "dist2")
        (variant_dir,) = (base / "tree" / "build").iterdir()
        (single,) = to_wheel(variant_dir, 1, base / "dist3")
        assert again.read_bytes() == single.read_bytes() == wheel.read_bytes()


@pytest.mark.slow
@linux_only
def test_same_variant_twice_and_idempotence(relu_cpu_wheel: Path, relu_tree: Path, tmp_path: Path,
                                            relu_variant: str) -> None:
    (copy,) = to_wheel(relu_tree, 1, tmp_path / "copy")
    out = tmp_path / "out"
    dirs = from_wheel([relu_cpu_wheel, copy], out)
    assert dirs == [out / "build" / relu_variant]
    before = _snapshot(out)
    assert from_wheel([copy], out) == dirs  # again, into the filled tree: nothing changes
    assert _snapshot(out) == before
    assert _snapshot(out) == _snapshot(relu_tree)
    assert not [p for p in (out / "build").iterdir() if p.name.startswith(".")]  # no staging left


@pytest.mark.slow
@linux_only
def test_several_variants_of_one_kernel(relu_cpu_wheel: Path, tmp_path: Path, relu_variant: str) -> None:
    other = _modified_copy(relu_cpu_wheel, tmp_path / "other", variant="torch212-cxx11-cpu-x86_64-linux")
    out = tmp_path / "out"
    dirs = from_wheel([relu_cpu_wheel, other], out)
    assert [d.name for d in dirs] == sorted([relu_variant, "torch212-cxx11-cpu-x86_64-linux"])
    wheels = to_wheel(out, 1, tmp_path / "dist")
    assert sorted(w.name for w in wheels) == sorted([relu_cpu_wheel.name, other.name])
    (only,) = to_wheel(out, 1, tmp_path / "dist-one", variants=["torch212-cxx11-cpu-x86_64-linux"])
    assert only.read_bytes() == other.read_bytes()
    assert read_kernel_wheel(only).requires == ("torch==2.12.*",)
    with pytest.raises(KernelTreeError, match="has no variant torch-cuda"):
        to_wheel(out, 1, tmp_path / "dist-none", variants=["torch-cuda"])
    assert not (tmp_path / "dist-none").exists()


@pytest.mark.slow
def test_different_kernels_are_refused(relu_cpu_wheel: Path, silu_noarch_wheel: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KernelWheelError) as err:
        from_wheel([relu_cpu_wheel, silu_noarch_wheel], out)
    assert "one tree takes the wheels of one kernel" in str(err.value)
    assert "'silu-and-mul'" in str(err.value) and "'relu'" in str(err.value)
    assert not out.exists()


@pytest.mark.slow
def test_same_variant_with_different_content_is_refused(relu_cpu_wheel: Path, tmp_path: Path,
                                                        relu_variant: str) -> None:
    changed = _modified_copy(relu_cpu_wheel, tmp_path / "changed", init_suffix=b"\n# edited\n")
    out = tmp_path / "out"
    with pytest.raises(KernelWheelError) as err:
        from_wheel([relu_cpu_wheel, changed], out)
    message = str(err.value)
    assert relu_variant in message and "changed file: __init__.py" in message
    assert str(changed) in message and str(relu_cpu_wheel) in message
    assert not out.exists()


@pytest.mark.slow
def test_existing_variant_with_different_content_is_refused(relu_cpu_wheel: Path, tmp_path: Path,
                                                            relu_variant: str) -> None:
    changed = _modified_copy(relu_cpu_wheel, tmp_path / "changed", init_suffix=b"\n# edited\n")
    out = tmp_path / "out"
    from_wheel([relu_cpu_wheel], out)
    (out / "keep.txt").write_text("mine")
    before = _snapshot(out)
    with pytest.raises(KernelTreeError) as err:
        from_wheel([changed], out)
    message = str(err.value)
    assert relu_variant in message and "remove it or choose another output directory" in message
    assert _snapshot(out) == before


@pytest.mark.slow
def test_existing_tree_of_another_kernel_is_refused(relu_cpu_wheel: Path, silu_noarch_wheel: Path,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "out"
    from_wheel([silu_noarch_wheel], out)
    before = _snapshot(out)
    with pytest.raises(KernelTreeError, match="already holds torch-cpu of kernel 'silu-and-mul'"):
        from_wheel([relu_cpu_wheel], out)
    assert _snapshot(out) == before


@pytest.mark.slow
@linux_only
def test_pip_installs_a_to_wheel_wheel(relu_tree: Path, tmp_path: Path) -> None:
    (wheel,) = to_wheel(relu_tree, 1, tmp_path / "dist")
    target = install_target(wheel, tmp_path / "target")
    check = textwrap.dedent(
        """
        import sys, torch, relu
        assert relu.__file__.startswith(sys.argv[1]), relu.__file__
        x = torch.randn(1031) * 4
        torch.testing.assert_close(relu.relu(x), torch.relu(x), rtol=0, atol=0)
        print("relu ok")
        """
    )
    result = run([sys.executable, "-c", check, str(target)], cwd=tmp_path, env={"PYTHONPATH": str(target)})
    assert "relu ok" in result.stdout


# --------------------------------------------------------------------------- hostile wheels


def _dist_info_name(members: List[Member]) -> str:
    return next(m[0].split("/")[0] for m in members if ".dist-info/" in m[0])


HOSTILE_WHEELS = {
    "absolute path": (_add("/etc/evil.py"), True, r"member '/etc/evil\.py' is an absolute path"),
    "parent component": (_add("../evil.py"), True, r"member '\.\./evil\.py' has a '\.\.' component"),
    "nested parent": (_add("relu/../../evil.py"), True, r"'\.\.' component"),
    "backslash": (_add("relu\\evil.py"), True, r"contains a backslash"),
    "symlink member": (_add("relu/evil.py", b"/etc/passwd", (stat.S_IFLNK | 0o777) << 16), True,
                       r"member 'relu/evil\.py' is a symbolic link"),
    "no variant file": (_drop(VARIANT_FILE), True,
                        r"not a kernel wheel: .* has no kernels-variant\.txt \(built by kernels_build\?\)"),
    "no WHEEL": (_drop(".dist-info/WHEEL"), True, r"no .*/WHEEL: not a wheel"),
    "invalid variant": (_replace(VARIANT_FILE, b"banana\n"), True,
                        r"kernels-variant\.txt does not hold a valid variant: invalid variant 'banana'"),
    "variant mismatch": (_replace(VARIANT_FILE, b"torch212-cxx11-cpu-x86_64-linux\n"), True,
                         r"variant mismatch: kernels-variant\.txt says torch212-cxx11-cpu-x86_64-linux, "
                         r"but the version label \+torch2\d+cpucxx11"),
    "broken metadata.json": (_replace("relu/metadata.json", b'{"name": "relu",'), True,
                             r"invalid metadata\.json: relu/metadata\.json: invalid JSON"),
    "metadata.json missing": (_drop("relu/metadata.json"), True, r"no package directory with metadata\.json"),
    "file outside the package": (_add("evil.py"), True, r"evil\.py lie outside relu/ and relu-"),
    "RECORD mismatch": (_replace("relu/__init__.py", b"import os\n"), False,
                        r"relu/__init__\.py does not match its RECORD hash"),
    "digest mismatch": (_replace("relu/__init__.py", b"import os\n"), True,
                        r"do not match the digest in relu/metadata\.json: changed file: __init__\.py"),
}


@pytest.mark.slow
@linux_only
@pytest.mark.parametrize("case", sorted(HOSTILE_WHEELS))
def test_hostile_wheels_are_refused(case: str, relu_cpu_wheel: Path, tmp_path: Path) -> None:
    edit, fix_record, pattern = HOSTILE_WHEELS[case]
    bad = _rezip(relu_cpu_wheel, tmp_path / "bad" / relu_cpu_wheel.name, edit, fix_record)
    with pytest.raises(KernelWheelError, match=pattern) as err:
        read_kernel_wheel(bad)
    assert str(err.value).startswith(f"{bad}: ")
    assert isinstance(err.value, KernelsError) and isinstance(err.value, ValueError)

    # A good wheel next to the bad one: still nothing written.
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KernelWheelError, match=pattern):
        from_wheel([relu_cpu_wheel, bad], out)
    assert list(out.iterdir()) == []


@pytest.mark.slow
@linux_only
def test_untouched_rezip_is_accepted(relu_cpu_wheel: Path, tmp_path: Path) -> None:
    # The hostile cases above differ from this copy only by their one defect.
    good = _rezip(relu_cpu_wheel, tmp_path / relu_cpu_wheel.name, lambda m: m)
    assert read_kernel_wheel(good).files == read_kernel_wheel(relu_cpu_wheel).files


def test_non_zip_and_missing_files(tmp_path: Path) -> None:
    fake = tmp_path / "relu-1.0.0+torch213cpucxx11-cp39-abi3-manylinux_2_28_x86_64.whl"
    fake.write_bytes(b"this is not a zip archive")
    out = tmp_path / "out"
    with pytest.raises(KernelWheelError, match=r"not a zip archive"):
        from_wheel([fake], out)
    with pytest.raises(KernelWheelError, match=r"cannot be read"):
        from_wheel([tmp_path / "missing.whl"], out)
    assert not out.exists()


@pytest.mark.slow
@linux_only
def test_renamed_wheel_is_refused(relu_cpu_wheel: Path, tmp_path: Path) -> None:
    renamed = tmp_path / relu_cpu_wheel.name.replace("manylinux_2_28", "manylinux_2_17")
    shutil.copy(relu_cpu_wheel, renamed)
    with pytest.raises(KernelWheelError, match="file name does not match"):
        read_kernel_wheel(renamed)


# --------------------------------------------------------------------------- hostile trees


def _variant_dir(tree: Path) -> Path:
    (directory,) = (tree / "build").iterdir()
    return directory


def _refused(tree: Path, out: Path, pattern: str, version: int = 1, **kwargs) -> KernelTreeError:
    with pytest.raises(KernelTreeError, match=pattern) as err:
        to_wheel(tree, version, out, **kwargs)
    assert not out.exists()
    return err.value


@pytest.mark.slow
@linux_only
def test_tree_symlink_outside_is_refused(relu_tree: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    variant = _variant_dir(relu_tree)
    link = variant / "evil.py"
    link.symlink_to(os.path.relpath(secret, variant))
    err = _refused(relu_tree, tmp_path / "dist", r"evil\.py: is a symbolic link pointing outside")
    assert "secret.txt" in str(err)
    link.unlink()
    link.symlink_to(secret)
    _refused(relu_tree, tmp_path / "dist", r"evil\.py: is a symbolic link to an absolute path")


@pytest.mark.slow
@linux_only
def test_tree_symlinks_into_a_trusted_cache(relu_cpu_wheel: Path, relu_tree: Path, tmp_path: Path) -> None:
    """Like the Hub cache: snapshot files are relative links into blobs/."""
    variant = _variant_dir(relu_tree)
    blobs = relu_tree / "blobs"
    blobs.mkdir()
    for path in sorted(variant.iterdir()):
        blob = blobs / hashlib.sha256(path.read_bytes()).hexdigest()
        shutil.move(path, blob)
        path.symlink_to(os.path.relpath(blob, variant))
    _refused(relu_tree, tmp_path / "dist", "pointing outside")
    (wheel,) = to_wheel(relu_tree, 1, tmp_path / "dist", symlink_root=relu_tree)
    assert wheel.read_bytes() == relu_cpu_wheel.read_bytes()


@pytest.mark.slow
@linux_only
def test_tree_without_or_with_broken_metadata(relu_tree: Path, tmp_path: Path) -> None:
    variant = _variant_dir(relu_tree)
    metadata = (variant / "metadata.json").read_bytes()
    (variant / "metadata.json").write_text('{"python-depends": [], "version": 1}')
    _refused(relu_tree, tmp_path / "dist", r"invalid metadata\.json: .*missing required keys")
    (variant / "metadata.json").unlink()
    _refused(relu_tree, tmp_path / "dist", r"missing metadata\.json")
    (variant / "metadata.json").write_bytes(metadata)
    (variant / "__init__.py").write_text("import os\n")
    _refused(relu_tree, tmp_path / "dist", r"do not match the digest in metadata\.json: changed file: __init__\.py")


@pytest.mark.slow
@linux_only
def test_tree_version_must_match(relu_tree: Path, tmp_path: Path) -> None:
    err = _refused(relu_tree, tmp_path / "dist", r"says version 1, but version 2 was asked for", version=2)
    assert "metadata.json" in str(err)


@pytest.mark.slow
@linux_only
def test_tree_invalid_variant_names(relu_tree: Path, tmp_path: Path) -> None:
    variant = _variant_dir(relu_tree)
    bad = relu_tree / "build" / "banana"
    shutil.copytree(variant, bad)
    _refused(relu_tree, tmp_path / "dist", r"banana: holds metadata\.json but its name is not a variant")
    shutil.rmtree(bad)
    # Non-variant folders without metadata.json (benchmarks/) and files (CARD.md) are ignored.
    (relu_tree / "build" / "benchmarks").mkdir()
    (relu_tree / "build" / "CARD.md").write_text("# relu\n")
    assert len(to_wheel(relu_tree, 1, tmp_path / "dist")) == 1


@pytest.mark.slow
@linux_only
def test_tree_non_linux_variant_not_supported(relu_tree: Path, tmp_path: Path) -> None:
    variant = _variant_dir(relu_tree)
    variant.rename(relu_tree / "build" / "torch213-cpu-aarch64-darwin")
    _refused(relu_tree, tmp_path / "dist", r"darwin wheels are not supported yet")


@pytest.mark.slow
@linux_only
def test_tree_nested_layout_is_flattened(relu_cpu_wheel: Path, relu_tree: Path, tmp_path: Path) -> None:
    variant = _variant_dir(relu_tree)
    package = variant / "relu"
    package.mkdir()
    for path in sorted(variant.iterdir()):
        if path.is_file() and path.name != "metadata.json":
            path.rename(package / path.name)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "_ops.cpython-311.pyc").write_bytes(b"bytecode")
    (variant / "metadata.json.sigstore").write_text("{}")
    (wheel,) = to_wheel(relu_tree, 1, tmp_path / "dist")
    assert wheel.read_bytes() == relu_cpu_wheel.read_bytes()


@pytest.mark.slow
@linux_only
def test_to_wheel_leaves_existing_output_alone_on_error(relu_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    (out / "other.whl").write_bytes(b"not mine")
    (_variant_dir(relu_tree) / "metadata.json").unlink()
    before = _snapshot(out)
    with pytest.raises(KernelTreeError):
        to_wheel(relu_tree, 1, out)
    assert _snapshot(out) == before
