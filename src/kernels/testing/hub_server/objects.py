"""Git-like objects of a repository: blobs, LFS objects, trees and commits, written once and
read back by id (see :mod:`.storage` for the layout on disk)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from .errors import HubError, InvalidNameError
from .names import SHA1_RE, SHA256_RE, URL_PREFIXES, parse_namespace, parse_repo_name, parse_repo_type, parse_sha256

LFS_POINTER_TEMPLATE = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
#: Object kinds under ``objects/`` and the form of their ids.
OBJECT_KINDS = {"blob": SHA1_RE, "tree": SHA1_RE, "commit": SHA1_RE, "lfs": SHA256_RE}


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob with content ``data``."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file that stands for an LFS object in git."""
    return LFS_POINTER_TEMPLATE.format(oid=sha256, size=size).encode()


def iso_time(ts: float) -> str:
    """``ts`` (seconds since the epoch) as the Hub writes dates: ``2024-01-31T12:00:00.000Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".000Z"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and move it in place (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def json_bytes(obj: Any) -> bytes:
    """``obj`` as stable, indented JSON (sorted keys)."""
    return json.dumps(obj, indent=1, sort_keys=True).encode()


class Repo:
    """A repository on disk (it may not exist yet: see :meth:`exists`).

    Raises:
        InvalidNameError: (a ``ValueError``) for an invalid type, namespace or name: no path is
            ever made from one.
    """

    def __init__(self, storage: "ObjectStore", repo_type: str, namespace: str, name: str):
        self.storage = storage
        self.type = parse_repo_type(repo_type)
        self.namespace = parse_namespace(namespace)
        self.name = parse_repo_name(name)
        self.path = storage.root / "repos" / self.type / self.namespace / self.name

    @property
    def id(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def url_path(self) -> str:
        """The repository's URL path: ``id`` behind its type's prefix (``kernels/org/name``)."""
        return URL_PREFIXES[self.type] + self.id

    def exists(self) -> bool:
        """Whether the repository was created (its ``repo.json`` is written last)."""
        return (self.path / "repo.json").is_file()

    def meta(self) -> Dict[str, Any]:
        """The repository's metadata (``repo.json``)."""
        return json.loads((self.path / "repo.json").read_text())

    def require(self) -> None:
        """Raise HubError 404 ``RepoNotFound`` unless the repository exists."""
        if not self.exists():
            raise HubError(404, f"Repository not found: {self.type} {self.id}", "RepoNotFound")

    def object_path(self, kind: str, oid: str) -> Path:
        """Where the object ``oid`` of ``kind`` (``blob``, ``tree``, ``commit``, ``lfs``) is stored.

        Raises:
            InvalidNameError: for an unknown kind or an oid that is not a lower-case hex id
                of the kind's length.
        """
        form = OBJECT_KINDS.get(kind)
        if form is None:
            raise InvalidNameError(f"Invalid object kind {kind!r}")
        if not isinstance(oid, str) or not form.fullmatch(oid):
            raise InvalidNameError(f"Invalid {kind} object id {oid!r}")
        return self.path / "objects" / kind / oid[:2] / oid[2:]


class ObjectStore:
    """Reading and writing the objects of repositories (the base of :class:`.HubStorage`).

    Attributes:
        root: the storage directory.
        lock: serializes every mutation.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.lock = threading.RLock()
        self._cache: Dict[Tuple[str, str, str], Any] = {}  # immutable objects, keyed by (repo path, kind, oid)

    def _write_object(self, repo: Repo, kind: str, oid: str, data: bytes) -> None:
        path = repo.object_path(kind, oid)
        if not path.exists():
            atomic_write(path, data)

    def _read_json_object(self, repo: Repo, kind: str, oid: str) -> Any:
        key = (str(repo.path), kind, oid)
        cached = self._cache.get(key)
        if cached is None:
            cached = json.loads(repo.object_path(kind, oid).read_bytes())
            if len(self._cache) > 20000:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def put_blob(self, repo: Repo, data: bytes) -> str:
        """Store ``data`` as a blob of ``repo``; returns its git blob sha1."""
        oid = git_blob_sha1(data)
        with self.lock:
            self._write_object(repo, "blob", oid, data)
        return oid

    def has_lfs(self, repo: Repo, sha256: str, size: Optional[int] = None) -> bool:
        """Whether ``repo`` holds the LFS object ``sha256`` (of ``size`` bytes, if given)."""
        path = repo.object_path("lfs", sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def put_lfs_stream(self, repo: Repo, sha256: str, size: Optional[int], chunks: Iterable[bytes]) -> None:
        """Store the LFS object ``sha256`` of ``repo`` from ``chunks``.

        Raises:
            InvalidNameError: for a malformed sha256 or size.
            HubError: 404 if ``repo`` does not exist; 400 if the content's sha256 or size
                differ from the declared ones (nothing is kept then).
        """
        sha256 = parse_sha256(sha256)
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise InvalidNameError(f"Invalid LFS object size {size!r}")
        repo.require()
        final = repo.object_path("lfs", sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=str(final.parent), prefix=".upload.", suffix=".tmp")
        digest = hashlib.sha256()
        total = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    digest.update(chunk)
                    total += len(chunk)
                    fh.write(chunk)
            if digest.hexdigest() != sha256:
                raise HubError(400, f"sha256 mismatch: expected {sha256}, got {digest.hexdigest()}")
            if size is not None and total != size:
                raise HubError(400, f"size mismatch: expected {size}, got {total}")
            with self.lock:
                os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _file_entry_regular(self, repo: Repo, data: bytes) -> Dict[str, Any]:
        return {"type": "file", "oid": self.put_blob(repo, data), "size": len(data)}

    def _file_entry_lfs(self, sha256: str, size: int) -> Dict[str, Any]:
        pointer = lfs_pointer(sha256, size)
        return {"type": "file", "oid": git_blob_sha1(pointer), "size": size,
                "lfs": {"oid": sha256, "size": size, "pointerSize": len(pointer)}}

    def _write_tree(self, repo: Repo, files: Dict[str, Dict[str, Any]]) -> str:
        """Write the nested trees for a flat ``{path: file entry}`` mapping; return the root tree id."""
        nested: Dict[str, Any] = {}
        for path, entry in files.items():
            node = nested
            parts = path.split("/")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
                if "type" in node and isinstance(node.get("type"), str):
                    raise HubError(400, f"'{path}' conflicts with the file '{part}'")
            if parts[-1] in node and not isinstance(node[parts[-1]].get("type"), str):
                raise HubError(400, f"'{path}' conflicts with a folder of the same name")
            node[parts[-1]] = entry
        return self._write_tree_node(repo, nested)

    def _write_tree_node(self, repo: Repo, node: Dict[str, Any]) -> str:
        entries = []
        for name, child in node.items():
            if isinstance(child.get("type"), str):  # a file entry
                entries.append(dict(child, name=name))
            else:
                entries.append({"name": name, "type": "directory", "oid": self._write_tree_node(repo, child)})
        entries.sort(key=lambda e: (e["name"] + ("/" if e["type"] == "directory" else "")).encode())
        body = b"".join(
            (b"40000 " if e["type"] == "directory" else b"100644 ")
            + e["name"].encode()
            + b"\x00"
            + bytes.fromhex(e["oid"])
            for e in entries
        )
        oid = hashlib.sha1(b"tree %d\x00" % len(body) + body).hexdigest()
        with self.lock:
            self._write_object(repo, "tree", oid, json_bytes({"entries": entries}))
        return oid

    def read_tree(self, repo: Repo, oid: str) -> List[Dict[str, Any]]:
        return self._read_json_object(repo, "tree", oid)["entries"]

    def _write_commit(self, repo: Repo, tree: str, parents: List[str], title: str, description: str, ts: float,
                      user: str) -> str:
        message = title if not description else f"{title}\n\n{description}"
        author = f"{user} <{user}@users.noreply.localhost> {int(ts)} +0000"
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {author}\ncommitter {author}\n\n{message}\n"
        raw = text.encode()
        oid = hashlib.sha1(b"commit %d\x00" % len(raw) + raw).hexdigest()
        data = {"id": oid, "tree": tree, "parents": parents, "title": title, "description": description,
                "message": message, "timestamp": int(ts), "date": iso_time(int(ts)), "author": user}
        with self.lock:
            self._write_object(repo, "commit", oid, json_bytes(data))
        return oid

    def read_commit(self, repo: Repo, oid: str) -> Dict[str, Any]:
        return self._read_json_object(repo, "commit", oid)

    def flatten(self, repo: Repo, tree_oid: str, prefix: str = "") -> Dict[str, Dict[str, Any]]:
        """All files of a tree as ``{path: entry}``."""
        files: Dict[str, Dict[str, Any]] = {}
        for entry in self.read_tree(repo, tree_oid):
            path = prefix + entry["name"]
            if entry["type"] == "directory":
                files.update(self.flatten(repo, entry["oid"], path + "/"))
            else:
                files[path] = {k: v for k, v in entry.items() if k != "name"}
        return files

    def entry_at(self, repo: Repo, commit: str, path: str) -> Optional[Dict[str, Any]]:
        """The tree entry (with ``name``) at ``path`` in ``commit``; the root for an empty path."""
        entry: Dict[str, Any] = {"name": "", "type": "directory", "oid": self.read_commit(repo, commit)["tree"]}
        for part in [p for p in path.split("/") if p]:
            if entry["type"] != "directory":
                return None
            for child in self.read_tree(repo, entry["oid"]):
                if child["name"] == part:
                    entry = child
                    break
            else:
                return None
        return entry

    def history(self, repo: Repo, commit: str) -> Iterator[Dict[str, Any]]:
        """Commits reachable from ``commit`` by first parents, newest first."""
        oid: Optional[str] = commit
        while oid:
            data = self.read_commit(repo, oid)
            yield data
            oid = data["parents"][0] if data["parents"] else None

    def last_commit(self, repo: Repo, commit: str, path: str) -> Dict[str, Any]:
        """The most recent commit (from ``commit``, first parents) that changed ``path``."""
        target = self.entry_at(repo, commit, path)
        target_oid = target["oid"] if target else None
        current = self.read_commit(repo, commit)
        while current["parents"]:
            parent = current["parents"][0]
            entry = self.entry_at(repo, parent, path)
            if (entry["oid"] if entry else None) != target_oid:
                break
            current = self.read_commit(repo, parent)
        return current

