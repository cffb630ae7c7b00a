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
