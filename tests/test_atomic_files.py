"""The one way the runtime writes files other processes read (kernels/atomic_files.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kernels.atomic_files import remember, remember_in_json, write_text_atomically


def test_a_file_is_replaced_whole_and_its_folder_made(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "memory.json"
    write_text_atomically(target, "one")
    write_text_atomically(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["memory.json"]  # no temporary left


def test_a_failed_write_raises_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a directory where the file should go: os.replace fails
    with pytest.raises(OSError):
        write_text_atomically(target, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert remember(target, "x") is False


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_not_an_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        assert remember(tmp_path / "stamp", "key") is False
    finally:
        tmp_path.chmod(0o700)


def test_json_memory_keeps_other_keys_and_survives_garbage(tmp_path: Path) -> None:
    path = tmp_path / "memory.json"
    path.write_text("not json")
    assert remember_in_json(path, "a", 1)
    assert remember_in_json(path, "b", {"c": None})
    assert json.loads(path.read_text()) == {"a": 1, "b": {"c": None}}
    path.write_text("[1, 2]")  # valid JSON, not an object
    assert remember_in_json(path, "z", True)
    assert json.loads(path.read_text()) == {"z": True}
