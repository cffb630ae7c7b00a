"""Archives and files written to exhaust or block a reader: zip bombs, too many members,
members under files, oversized or special metadata and lock files (``kernels.limits``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from kernels.errors import KernelWheelError, LockError, MetadataError
from kernels.metadata import Metadata
from kernels.wheels import read_kernel_wheel

SRC = Path(__file__).resolve().parents[1] / "src"


def _wheel(path: Path, members: dict) -> Path:
    """A zip named like a kernel wheel holding ``members`` (name -> bytes or a size of zeros)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            if isinstance(content, int):
                with archive.open(name, "w", force_zip64=True) as out:
                    block = b"\0" * (1 << 20)
                    for _ in range(content >> 20):
                        out.write(block)
            else:
                archive.writestr(name, content)
    return path


def test_a_zip_bomb_is_refused_from_its_headers_with_flat_memory(tmp_path: Path) -> None:
    bomb = _wheel(tmp_path / "relu-1.0.0+torchcpu-py3-none-any.whl", {"relu/__init__.py": b"", "relu/big.bin": 256 << 20})
    assert bomb.stat().st_size < 2 << 20  # 256 MiB of zeros in well under 2 MiB
    code = textwrap.dedent(f"""
        import resource
        from kernels.convert import from_wheel
        from kernels.errors import KernelWheelError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            from_wheel([{str(bomb)!r}], {str(tmp_path / 'tree')!r})
        except KernelWheelError as exc:
            print("REFUSED", exc)
        print("GREW_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "REFUSED" in proc.stdout and "'relu/big.bin' inflates" in proc.stdout and "zip bomb" in proc.stdout
    grew_kb = int(proc.stdout.split("GREW_KB")[1].split()[0])
    assert grew_kb < 64 * 1024, proc.stdout  # nothing near the 256 MiB was inflated
    assert not (tmp_path / "tree").exists()


def test_archive_bounds_are_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = _wheel(tmp_path / "relu-1.0.0+torchcpu-py3-none-any.whl",
                   {f"relu/f{i}.py": b"x = 1\n" for i in range(20)})
    monkeypatch.setenv("KERNELS_MAX_ARCHIVE_MEMBERS", "10")
    with pytest.raises(KernelWheelError, match=r"holds 20 members, more than 10 \(KERNELS_MAX_ARCHIVE_MEMBERS\)"):
        read_kernel_wheel(wheel)
    monkeypatch.delenv("KERNELS_MAX_ARCHIVE_MEMBERS")
    monkeypatch.setenv("KERNELS_MAX_MEMBER_BYTES", "3")
    with pytest.raises(KernelWheelError, match=r"inflates to 6 bytes, more than 3 \(KERNELS_MAX_MEMBER_BYTES\)"):
        read_kernel_wheel(wheel)
    monkeypatch.delenv("KERNELS_MAX_MEMBER_BYTES")
    monkeypatch.setenv("KERNELS_MAX_ARCHIVE_BYTES", "50")
    with pytest.raises(KernelWheelError, match=r"inflates to more than 50 \(KERNELS_MAX_ARCHIVE_BYTES\)"):
        read_kernel_wheel(wheel)


def test_a_member_under_a_file_is_one_clear_error(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "relu-1.0.0+torchcpu-py3-none-any.whl",
                   {"pkg/x.py": b"a = 1\n", "pkg/x.py/y": b"b = 2\n"})
    with pytest.raises(KernelWheelError, match=r"member 'pkg/x.py/y' lies under 'pkg/x.py', which is a file"):
        read_kernel_wheel(wheel)


def test_oversized_metadata_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps({"name": "x" * 5000}))
    monkeypatch.setenv("KERNELS_MAX_METADATA_BYTES", "1000")
    with pytest.raises(MetadataError, match=r"more than 1000 \(KERNELS_MAX_METADATA_BYTES\)"):
        Metadata.read_from_file(path)
    with pytest.raises(MetadataError, match="KERNELS_MAX_METADATA_BYTES"):
        Metadata.from_bytes(path.read_bytes())


def test_special_files_are_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "metadata.json"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(MetadataError, match="not a regular file"):
        Metadata.read_from_file(fifo)
    from kernels.lock import read_project_lock

    os.mkfifo(tmp_path / "kernels.lock")
    with pytest.raises(LockError, match="not a regular file"):
        read_project_lock(tmp_path)


def test_oversized_lock_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernels.lock import read_project_lock

    (tmp_path / "kernels.lock").write_text("[" + " " * 5000 + "]")
    monkeypatch.setenv("KERNELS_MAX_LOCKFILE_BYTES", "100")
    with pytest.raises(LockError, match=r"more than 100 \(KERNELS_MAX_LOCKFILE_BYTES\)"):
        read_project_lock(tmp_path)


def test_a_fifo_in_a_variant_is_refused_not_read(tmp_path: Path) -> None:
    from kernels.metadata import compute_digest

    variant = tmp_path / "torch-cpu"
    variant.mkdir()
    (variant / "__init__.py").write_text("")
    os.mkfifo(variant / "evil")
    with pytest.raises(MetadataError, match="evil is not a regular file"):
        compute_digest(variant)


def test_a_valid_wheel_with_a_huge_member_converts_both_ways_with_flat_memory(tmp_path: Path) -> None:
    """A member that the bounds allow (here 384 MiB, RECORD and digest right) is hashed and
    copied a chunk at a time: writing the wheel, ``from_wheel`` and ``to_wheel`` each grow the
    process by a small fraction of the member, and the round trip gives the same wheel."""
    size = 384 << 20
    code = textwrap.dedent(f"""
        import json, resource, sys
        from pathlib import Path
        from kernels.convert import from_wheel, to_wheel
        from kernels.metadata import Metadata
        from kernels.package_files import CHUNK_BYTES, PackageFile
        from kernels.variants import parse_variant
        from kernels.wheels import package_digest, write_kernel_wheel

        class Zeros(PackageFile):
            def __init__(self, size):
                super().__init__()
                self.size = size
            def chunks(self):
                block = bytes(CHUNK_BYTES)
                for start in range(0, self.size, CHUNK_BYTES):
                    yield block[: min(CHUNK_BYTES, self.size - start)]

        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        tmp = Path({str(tmp_path)!r})
        files = {{"__init__.py": b"", "big.bin": Zeros({size})}}
        meta = {{"name": "relu", "version": 1, "license": "MIT", "id": "_relu_0123456", "python-depends": [],
                 "backend": {{"type": "cpu"}}, "digest": package_digest(files)}}
        files["metadata.json"] = json.dumps(meta).encode()
        Metadata.from_bytes(files["metadata.json"])
        base = peak()
        wheel = write_kernel_wheel(tmp / "dist", name="relu", version="1.0.0+torchcpu", tag="py3-none-any",
                                   module="relu", variant=parse_variant("torch-cpu"), package_files=files,
                                   requires=["torch"], summary="relu kernel for PyTorch")
        print("WRITE_KB", peak() - base)
        base = peak()
        (variant_dir,) = from_wheel([wheel], tmp / "tree")
        print("FROM_KB", peak() - base)
        assert (variant_dir / "big.bin").stat().st_size == {size}
        base = peak()
        (again,) = to_wheel(tmp / "tree", 1, tmp / "again")
        print("TO_KB", peak() - base)
        print("SAME", again.read_bytes() == wheel.read_bytes())
    """)
    env = {**os.environ, "PYTHONPATH": str(SRC), "KERNELS_MAX_COMPRESSION_RATIO": "100000"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    grown = {key: int(proc.stdout.split(key)[1].split()[0]) for key in ("WRITE_KB", "FROM_KB", "TO_KB")}
    assert all(kb < 48 * 1024 for kb in grown.values()), proc.stdout  # the member is 384 MiB
    assert "SAME True" in proc.stdout


def test_a_special_file_in_a_variant_directory_is_refused_by_to_wheel(tmp_path: Path) -> None:
    from kernels.convert import to_wheel
    from kernels.errors import KernelTreeError

    variant = tmp_path / "build" / "torch-cpu"
    variant.mkdir(parents=True)
    (variant / "metadata.json").write_text(json.dumps({"name": "relu", "version": 1, "license": "MIT", "python-depends": [], "backend": {"type": "cpu"}}))
    os.mkfifo(variant / "pipe")
    with pytest.raises(KernelTreeError, match="pipe: is not a regular file"):
        to_wheel(tmp_path, 1, tmp_path / "dist")
    assert not (tmp_path / "dist").exists()


def test_a_fifo_or_a_link_to_a_device_in_a_cached_variant_is_refused_not_read(tmp_path: Path) -> None:
    from kernels.errors import KernelIntegrityError
    from kernels.integrity import local_variant_hash

    variant = tmp_path / "torch-cpu"
    variant.mkdir()
    (variant / "__init__.py").write_text("")
    (variant / "zero").symlink_to("/dev/zero")  # reading it never ends
    with pytest.raises(KernelIntegrityError, match="zero is not a regular file"):
        local_variant_hash(variant)
    (variant / "zero").unlink()
    os.mkfifo(variant / "pipe")
    with pytest.raises(KernelIntegrityError, match="pipe is not a regular file"):
        local_variant_hash(variant)
