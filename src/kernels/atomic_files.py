"""Files that readers see whole or not at all: a temporary file next to the target, then
``os.replace`` (atomic on POSIX within one filesystem). Used for everything the runtime keeps
on disk between processes (cache memories, lock files, verification stamps)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8), creating its folder; concurrent readers see the
    old or the new content, never part of one. Raises :class:`OSError` (the temporary file is
    removed then)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def remember(path: Path, text: str) -> bool:
    """:func:`write_text_atomically`, best effort: False when the file could not be written
    (a read-only cache only means asking or checking again next time)."""
    try:
        write_text_atomically(path, text)
        return True
    except OSError:
        return False


def remember_in_json(path: Path, key: str, value: Any) -> bool:
    """Set ``key`` of the JSON object kept in ``path`` (a missing or unreadable file counts as
    ``{}``), best effort as :func:`remember`. Two processes updating at once may lose one
    update; both files stay whole."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[key] = value
    return remember(path, json.dumps(data, sort_keys=True))
