"""The shared copy of site-packages' headers that compile commands name (kernels_build/header_mirror.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

from kernels_build.header_mirror import mirrored_path, shared_copy


def _tree(root: Path, files: Dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


HEADERS = {"torch/include/a.h": "int a;\n", "torch/include/torch/csrc/api/include/b.h": "int b;\n",
           "torch/include/c10/c.h": "int c;\n", "nvidia/cu13/include/d.h": "int d;\n"}


def test_the_same_headers_anywhere_share_one_copy(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _tree(tmp_path / "env1" / "site", HEADERS)
    dirs = [first / "torch/include", first / "torch/include/torch/csrc/api/include", first / "nvidia/cu13/include"]
    copy = shared_copy(dirs, first, cache, tmp_path / "build1" / "headers.json")
    assert copy is not None and copy.parent == cache
    # The nested directory is copied with its parent; the layout of site-packages is kept.
    assert mirrored_path(dirs[1], first, copy) == copy / "site-packages/torch/include/torch/csrc/api/include"
    assert (copy / "site-packages/torch/include/torch/csrc/api/include/b.h").read_text() == "int b;\n"
    assert (copy / "site-packages/nvidia/cu13/include/d.h").read_text() == "int d;\n"
    made = (copy / "site-packages/torch/include/a.h").stat().st_mtime_ns

    # The same headers installed elsewhere (new files, new times), from another checkout: the
    # same copy, untouched.
    second = _tree(tmp_path / "env2" / "site", HEADERS)
    again = shared_copy([second / "torch/include", second / "nvidia/cu13/include"], second, cache,
                        tmp_path / "build2" / "headers.json")
    assert again == copy
    assert (copy / "site-packages/torch/include/a.h").stat().st_mtime_ns == made
    assert sorted(p.name for p in cache.iterdir()) == [copy.name]  # nothing half-written left

    # Other headers (another torch): another copy; the first stays for whoever uses it.
    (second / "torch/include/c10/c.h").write_text("long c;\n")
    other = shared_copy([second / "torch/include"], second, cache, tmp_path / "build2" / "headers.json")
    assert other is not None and other != copy
    assert (other / "site-packages/torch/include/c10/c.h").read_text() == "long c;\n"
    assert (copy / "site-packages/torch/include/c10/c.h").read_text() == "int c;\n"
    assert json.loads((tmp_path / "build2" / "headers.json").read_text())["digest"] == other.name


def test_unchanged_headers_are_not_hashed_again_and_outside_directories_are_left_alone(tmp_path: Path) -> None:
    site = _tree(tmp_path / "site", HEADERS)
    cache, stamp = tmp_path / "cache", tmp_path / "build" / "headers.json"
    elsewhere = _tree(tmp_path / "usr" / "include", {"z.h": "int z;\n"})
    assert shared_copy([elsewhere, tmp_path / "site" / "missing"], site, cache, stamp) is None
    copy = shared_copy([site / "torch/include", elsewhere], site, cache, stamp)
    assert copy is not None and mirrored_path(elsewhere, site, copy) == elsewhere
    assert not (copy / "site-packages" / "usr").exists()
    # While the listing (names, sizes, times) is unchanged the stamp's digest is trusted...
    remembered = json.loads(stamp.read_text())
    assert shared_copy([site / "torch/include"], site, cache, stamp) == copy
    assert json.loads(stamp.read_text()) == remembered
    # ...and a header that changed in place is seen by its listing, and hashed again.
    (site / "torch/include/a.h").write_text("int aa;\n")
    changed = shared_copy([site / "torch/include"], site, cache, stamp)
    assert changed != copy and (changed / "site-packages/torch/include/a.h").read_text() == "int aa;\n"
