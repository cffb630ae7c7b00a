"""The build directory's copies of site-packages' headers (kernels_build/header_mirror.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict

from kernels_build.header_mirror import mirrored_path, sync_mirror


def _tree(root: Path, files: Dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _mtimes(root: Path) -> Dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


HEADERS = {"torch/include/a.h": "int a;\n", "torch/include/torch/csrc/api/include/b.h": "int b;\n",
           "torch/include/c10/c.h": "int c;\n"}


def test_same_headers_in_another_environment_keep_the_copies_untouched(tmp_path: Path) -> None:
    first = _tree(tmp_path / "env1" / "site", HEADERS)
    mirror = tmp_path / "build" / "site-packages"
    include = first / "torch" / "include"
    dirs = [include, include / "torch" / "csrc" / "api" / "include"]
    # The nested directory is copied with its parent, once.
    assert sync_mirror(dirs, first, mirror) == [include]
    copy = mirror / "torch" / "include"
    assert (copy / "torch/csrc/api/include/b.h").read_text() == "int b;\n"
    assert mirrored_path(dirs[1], first, mirror) == copy / "torch/csrc/api/include"
    before = _mtimes(copy)

    # The same torch, freshly installed elsewhere (new modification times, as in a new isolated
    # environment): nothing is rewritten, so ninja has nothing to recompile.
    second = _tree(tmp_path / "env2" / "site", HEADERS)
    sync_mirror([second / "torch" / "include"], second, mirror)
    assert _mtimes(copy) == before
    stamp = json.loads(next((mirror / ".stamps").iterdir()).read_text())
    assert stamp["source"] == str(second / "torch" / "include")

    # Another torch: the changed header is rewritten, a removed one removed, a new one added.
    (second / "torch/include/c10/c.h").write_text("long c;\n")
    (second / "torch/include/a.h").unlink()
    (second / "torch/include/d.h").write_text("int d;\n")
    sync_mirror([second / "torch" / "include"], second, mirror)
    after = _mtimes(copy)
    assert sorted(after) == ["c10/c.h", "d.h", "torch/csrc/api/include/b.h"]
    assert (copy / "c10/c.h").read_text() == "long c;\n"
    assert after["torch/csrc/api/include/b.h"] == before["torch/csrc/api/include/b.h"]


def test_a_stopped_copy_is_redone_and_outside_directories_are_left_alone(tmp_path: Path) -> None:
    site = _tree(tmp_path / "site", HEADERS)
    elsewhere = _tree(tmp_path / "usr" / "include", {"z.h": "int z;\n"})
    mirror = tmp_path / "site-packages"
    assert sync_mirror([site / "torch" / "include", elsewhere, tmp_path / "site" / "missing"], site, mirror) == [
        site / "torch" / "include"]
    assert mirrored_path(elsewhere, site, mirror) == elsewhere
    assert not (mirror / "usr").exists()
    # A copy stopped half way has no stamp (it is removed before the copy is touched): the next
    # build compares every file again and mends the copy.
    for stamp in (mirror / ".stamps").iterdir():
        stamp.unlink()
    (mirror / "torch/include/c10/c.h").write_text("garbage")
    sync_mirror([site / "torch" / "include"], site, mirror)
    assert (mirror / "torch/include/c10/c.h").read_text() == "int c;\n"
