"""A small Hugging Face Hub compatible HTTP server, for tests and offline use.

The server speaks the subset of the Hub's HTTP API that ``huggingface_hub``'s client uses to
create repositories, commit files (regular and LFS), manage branches and tags, list trees and
download files. It is written with the standard library only (``http.server``), keeps a
git-like history on disk and survives restarts::

    python -m kernels.testing.hub_server --root /tmp/hub --port 8080

or from Python::

    from kernels.testing.hub_server import HubServer

    with HubServer(tmp_path / "hub") as server:
        api = HfApi(endpoint=server.url, token="hf_dummy")
        api.create_repo("my-org/relu", repo_type="kernel")

Storage layout (under ``root``)::

    repos/<type>/<namespace>/<name>/repo.json      repository metadata (private, createdAt)
    repos/<type>/<namespace>/<name>/refs.json      branches, tags and pull-request refs
    repos/<type>/<namespace>/<name>/objects/blob/  regular file contents, named by git blob sha1
    repos/<type>/<namespace>/<name>/objects/lfs/   LFS file contents, named by sha256
    repos/<type>/<namespace>/<name>/objects/tree/  tree objects (JSON), named by git tree sha1
    repos/<type>/<namespace>/<name>/objects/commit/ commit objects (JSON), named by git commit sha1
    orgs.json                                      organization settings (trusted publishers)

Object ids follow git: a regular file's oid is its git blob sha1, an LFS file's oid is the git
blob sha1 of its LFS pointer file (its ``lfs.oid`` is the sha256 of the content), directory oids
are git tree ids and commit ids are sha1 over a git commit object (tree, parents, author, time,
message). Every write goes to a temporary file first and is moved in place with ``os.replace``;
all mutations of a server's storage are serialized by one lock.

Endpoints (``{type}s`` is ``models``, ``datasets``, ``spaces`` or ``kernels``; ``{prefix}`` is the
repo type's URL prefix: empty, ``datasets/``, ``spaces/`` or ``kernels/``):

- ``POST /api/repos/create``, ``DELETE /api/repos/delete``, ``PUT /api/{type}s/{repo}/settings``
- ``GET /api/{type}s`` (listing, ``author``/``search``/``limit``)
- ``GET /api/{type}s/{repo}`` and ``GET /api/{type}s/{repo}/revision/{rev}``
- ``GET /api/{type}s/{repo}/refs``, ``GET /api/{type}s/{repo}/commits/{rev}``
- ``POST|DELETE /api/{type}s/{repo}/branch/{branch}``, ``POST /api/{type}s/{repo}/tag/{rev}``,
  ``DELETE /api/{type}s/{repo}/tag/{tag}``
- ``GET /api/{type}s/{repo}/tree/{rev}[/{path}]`` (``recursive``, ``expand``, paginated with a
  ``Link: <...>; rel="next"`` header), ``POST /api/{type}s/{repo}/paths-info/{rev}``
- ``POST /api/{type}s/{repo}/preupload/{rev}``, ``POST /api/{type}s/{repo}/commit/{rev}``
- ``POST /{prefix}{repo}.git/info/lfs/objects/batch`` and the upload/verify/download URLs it
  hands out (``/{prefix}{repo}.git/info/lfs/objects/{sha256}[/verify]``)
- ``HEAD|GET /{prefix}{repo}/resolve/{rev}/{path}`` (``Range`` supported)
- ``GET /api/whoami-v2``, ``GET /api/organizations/{org}/overview``, ``POST /api/validate-yaml``

Xet is never advertised: no ``X-Xet-*`` headers, no ``xetHash`` fields, and the
``xet-*-token`` routes answer 404. Note that ``huggingface_hub`` >= 1.x decides to upload files
in "lfs" mode through Xet as soon as ``hf_xet`` is installed, unless ``HF_HUB_DISABLE_XET=1`` was
set before ``huggingface_hub`` was imported; a server created with ``lfs=False`` answers
"regular" to every preupload request, which keeps such clients working (all files are then
committed inline).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import http.server
import json
import os
import posixpath
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

__all__ = ["HubServer", "HubStorage", "RequestLog", "main"]

REPO_TYPES = ("model", "dataset", "space", "kernel")
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/", "kernel": "kernels/"}
PREFIX_TO_TYPE = {"datasets": "dataset", "spaces": "space", "kernels": "kernel"}
PLURAL_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}

DEFAULT_BRANCH = "main"
DEFAULT_LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub's limit for regular (inline) files
DEFAULT_PAGE_SIZE = 1000
DEFAULT_USER = "testuser"
LFS_POINTER_TEMPLATE = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
COPY_CHUNK = 1024 * 1024
#: The largest request body the server reads into memory by default (413 beyond it).
DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024

#: ``.gitattributes`` of a new repository (initial commit), like the Hub creates one.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.gz", "*.h5", "*.msgpack", "*.npy",
        "*.npz", "*.onnx", "*.parquet", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar",
        "*.safetensors", "*.tar", "*.tar.*", "*.tgz", "*.xz", "*.zip", "*.zst", "*tfevents*",
    )
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-f]{7,40}$")
_LFS_ROUTE_RE = re.compile(
    r"^/(?:(datasets|spaces|kernels)/)?([^/]+)/([^/]+)\.git/info/lfs/objects/(batch|[0-9a-f]{64})(/verify)?$"
)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob with content ``data``."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file that stands for an LFS object in git."""
    return LFS_POINTER_TEMPLATE.format(oid=sha256, size=size).encode()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".000Z"


def _atomic_write(path: Path, data: bytes) -> None:
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


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True).encode()


def _valid_ref_name(name: str) -> bool:
    if not name or len(name) > 255 or name.startswith(("/", "-", "refs/")) or name.endswith(("/", ".lock", ".")):
        return False
    if ".." in name or "//" in name or "@{" in name:
        return False
    return re.fullmatch(r"[A-Za-z0-9._/+-]+", name) is not None


def _looks_binary(sample: bytes) -> bool:
    """Whether a file's first bytes look like binary content (NUL byte or not UTF-8)."""
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may cut a multi-byte character at its end.
        return not (exc.reason == "unexpected end of data" and exc.start >= len(sample) - 3)
    return False


def _gitattributes_lfs_patterns(text: str) -> List[str]:
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def _gitattributes_match(pattern: str, path: str) -> bool:
    if "/" not in pattern.rstrip("/"):
        return fnmatchcase(posixpath.basename(path), pattern)
    pattern = pattern.lstrip("/")
    if "**" in pattern:
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        return re.fullmatch(regex, path) is not None
    return fnmatchcase(path, pattern)


class HubError(Exception):
    """An error answered as JSON ``{"error": message}`` with ``X-Error-Code``/``X-Error-Message``."""

    def __init__(self, status: int, message: str, code: Optional[str] = None, headers: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.body: Dict[str, Any] = {}


# --------------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------------


class Repo:
    """A repository on disk."""

    def __init__(self, storage: "HubStorage", repo_type: str, namespace: str, name: str):
        self.storage = storage
        self.type = repo_type
        self.namespace = namespace
        self.name = name
        self.path = storage.root / "repos" / repo_type / namespace / name

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def url_path(self) -> str:
        return URL_PREFIXES[self.type] + self.id

    def exists(self) -> bool:
        return (self.path / "repo.json").is_file()

    def meta(self) -> Dict[str, Any]:
        return json.loads((self.path / "repo.json").read_text())

    def object_path(self, kind: str, oid: str) -> Path:
        return self.path / "objects" / kind / oid[:2] / oid[2:]


class HubStorage:
    """Persistent, git-like storage of repositories (see the module docstring for the layout)."""

    def __init__(self, root: Path, *, user: str = DEFAULT_USER):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.lock = threading.RLock()
        self._cache: Dict[Tuple[str, str, str], Any] = {}  # immutable objects, keyed by (repo path, kind, oid)

    # -- repositories ---------------------------------------------------------------------

    def repo(self, repo_type: str, namespace: str, name: str) -> Repo:
        return Repo(self, repo_type, namespace, name)

    def list_repos(self, repo_type: str) -> List[Repo]:
        base = self.root / "repos" / repo_type
        repos = []
        if base.is_dir():
            for ns in sorted(p for p in base.iterdir() if p.is_dir()):
                for name in sorted(p for p in ns.iterdir() if p.is_dir()):
                    repo = self.repo(repo_type, ns.name, name.name)
                    if repo.exists():
                        repos.append(repo)
        return repos

    def create_repo(self, repo: Repo, *, private: bool = False) -> bool:
        """Create ``repo`` with an initial commit on ``main``; False if it already exists."""
        with self.lock:
            if repo.exists():
                return False
            now = time.time()
            files = {
                ".gitattributes": self._file_entry_regular(repo, DEFAULT_GITATTRIBUTES.encode()),
            }
            tree = self._write_tree(repo, files)
            commit = self._write_commit(repo, tree, [], "initial commit", "", now)
            refs = {"branches": {DEFAULT_BRANCH: commit}, "tags": {}, "pulls": {}}
            _atomic_write(repo.path / "refs.json", _json_bytes(refs))
            meta = {"type": repo.type, "id": repo.id, "private": bool(private), "gated": False, "createdAt": _iso(now),
                    "_id": uuid.uuid4().hex[:24]}
            _atomic_write(repo.path / "repo.json", _json_bytes(meta))  # written last: marks the repo as existing
            return True

    def delete_repo(self, repo: Repo) -> bool:
        with self.lock:
            if not repo.exists():
                return False
            trash = self.root / "trash" / uuid.uuid4().hex
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(repo.path, trash)
            self._cache = {k: v for k, v in self._cache.items() if k[0] != str(repo.path)}
            shutil.rmtree(trash, ignore_errors=True)
            return True

    def update_meta(self, repo: Repo, **changes: Any) -> Dict[str, Any]:
        with self.lock:
            meta = repo.meta()
            meta.update(changes)
            _atomic_write(repo.path / "repo.json", _json_bytes(meta))
            return meta

    # -- refs -----------------------------------------------------------------------------

    def refs(self, repo: Repo) -> Dict[str, Dict[str, str]]:
        data = json.loads((repo.path / "refs.json").read_text())
        data.setdefault("branches", {})
        data.setdefault("tags", {})
        data.setdefault("pulls", {})
        return data

    def write_refs(self, repo: Repo, refs: Dict[str, Dict[str, str]]) -> None:
        with self.lock:
            _atomic_write(repo.path / "refs.json", _json_bytes(refs))

    def resolve(self, repo: Repo, revision: str) -> Optional[str]:
        """Commit id of a branch, tag, ``refs/...`` name or (abbreviated) commit id."""
        refs = self.refs(repo)
        if revision.startswith("refs/heads/"):
            return refs["branches"].get(revision[len("refs/heads/"):])
        if revision.startswith("refs/tags/"):
            return refs["tags"].get(revision[len("refs/tags/"):])
        if revision.startswith("refs/pr/"):
            return refs["pulls"].get(revision[len("refs/pr/"):])
        if revision in refs["branches"]:
            return refs["branches"][revision]
        if revision in refs["tags"]:
            return refs["tags"][revision]
        rev = revision.lower()
        if _SHA1_RE.match(rev):
            return rev if repo.object_path("commit", rev).is_file() else None
        if _HEX_RE.match(rev):
            folder = repo.path / "objects" / "commit" / rev[:2]
            if folder.is_dir():
                matches = [rev[:2] + p.name for p in folder.iterdir() if (rev[:2] + p.name).startswith(rev)]
                if len(matches) == 1:
                    return matches[0]
        return None

    # -- objects --------------------------------------------------------------------------

    def _write_object(self, repo: Repo, kind: str, oid: str, data: bytes) -> None:
        path = repo.object_path(kind, oid)
        if not path.exists():
            _atomic_write(path, data)

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
        oid = git_blob_sha1(data)
        with self.lock:
            self._write_object(repo, "blob", oid, data)
        return oid

    def has_lfs(self, repo: Repo, sha256: str, size: Optional[int] = None) -> bool:
        path = repo.object_path("lfs", sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def put_lfs_stream(self, repo: Repo, sha256: str, size: Optional[int], chunks: Iterable[bytes]) -> None:
        """Store an LFS object from ``chunks``; raise HubError(400) if sha256/size do not match."""
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
            self._write_object(repo, "tree", oid, _json_bytes({"entries": entries}))
        return oid

    def read_tree(self, repo: Repo, oid: str) -> List[Dict[str, Any]]:
        return self._read_json_object(repo, "tree", oid)["entries"]

    def _write_commit(self, repo: Repo, tree: str, parents: List[str], title: str, description: str, ts: float) -> str:
        message = title if not description else f"{title}\n\n{description}"
        author = f"{self.user} <{self.user}@users.noreply.localhost> {int(ts)} +0000"
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {author}\ncommitter {author}\n\n{message}\n"
        raw = text.encode()
        oid = hashlib.sha1(b"commit %d\x00" % len(raw) + raw).hexdigest()
        data = {"id": oid, "tree": tree, "parents": parents, "title": title, "description": description,
                "message": message, "timestamp": int(ts), "date": _iso(int(ts)), "author": self.user}
        with self.lock:
            self._write_object(repo, "commit", oid, _json_bytes(data))
        return oid

    def read_commit(self, repo: Repo, oid: str) -> Dict[str, Any]:
        return self._read_json_object(repo, "commit", oid)

    # -- reading trees --------------------------------------------------------------------

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

    # -- committing -----------------------------------------------------------------------

    def commit(
        self,
        repo: Repo,
        branch_ref: Tuple[str, str],
        operations: List[Tuple[str, Dict[str, Any]]],
        title: str,
        description: str = "",
        parent_commit: Optional[str] = None,
    ) -> str:
        """Apply ``operations`` on top of a branch (``("branches"|"pulls", name)``); return the commit id.

        Operations are ``("file", {"path", "content": bytes})``, ``("lfsFile", {"path", "oid", "size"})``,
        ``("deletedFile", {"path"})`` and ``("deletedFolder", {"path"})``, applied in order.
        """
        kind, name = branch_ref
        with self.lock:
            refs = self.refs(repo)
            head = refs[kind].get(name)
            if head is None:
                raise HubError(404, f"Invalid rev id: {name}", "RevisionNotFound")
            if parent_commit is not None and not head.startswith(parent_commit.lower()):
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = self.flatten(repo, self.read_commit(repo, head)["tree"])
            for op, value in operations:
                path = value["path"]
                if op == "file":
                    files[path] = self._file_entry_regular(repo, value["content"])
                elif op == "lfsFile":
                    if not self.has_lfs(repo, value["oid"]):
                        raise HubError(
                            400,
                            "Your push was rejected because an LFS pointer pointed to a file that does not"
                            f" exist: {path} (oid {value['oid']})",
                        )
                    size = repo.object_path("lfs", value["oid"]).stat().st_size
                    if value.get("size") is not None and int(value["size"]) != size:
                        raise HubError(400, f"LFS object size mismatch for {path}")
                    files[path] = self._file_entry_lfs(value["oid"], size)
                elif op == "deletedFile":
                    if path not in files:
                        raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                    del files[path]
                elif op == "deletedFolder":
                    folder = path.strip("/")
                    for existing in [p for p in files if folder == "" or p.startswith(folder + "/")]:
                        del files[existing]
            tree = self._write_tree(repo, files)
            commit = self._write_commit(repo, tree, [head], title, description, time.time())
            refs[kind][name] = commit
            self.write_refs(repo, refs)
            return commit

    def new_pull_request(self, repo: Repo, base_commit: str) -> str:
        with self.lock:
            refs = self.refs(repo)
            num = str(max([int(n) for n in refs["pulls"]] + [0]) + 1)
            refs["pulls"][num] = base_commit
            self.write_refs(repo, refs)
            return num

    # -- organizations --------------------------------------------------------------------

    def orgs(self) -> Dict[str, Dict[str, Any]]:
        path = self.root / "orgs.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def set_org(self, org: str, **settings: Any) -> None:
        with self.lock:
            orgs = self.orgs()
            orgs.setdefault(org, {}).update(settings)
            _atomic_write(self.root / "orgs.json", _json_bytes(orgs))


# --------------------------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------------------------


class RequestLog(list):
    """``(method, path)`` of every request the server answered (path without the query string)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.append((method, path))

    def matching(self, method: Optional[str] = None, contains: Optional[str] = None) -> List[Tuple[str, str]]:
        """Entries with this method (if given) whose path contains ``contains`` (if given)."""
        with self._lock:
            return [
                (m, p) for m, p in self if (method is None or m == method) and (contains is None or contains in p)
            ]


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: Tuple[str, int], hub: "HubServer"):
        self.hub = hub
        self.open_sockets: set = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):  # noqa: D401 - socketserver API
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.hub.verbose:
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kernels-hub-server/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid delayed-ACK stalls
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: _HTTPServer

    # -- plumbing -------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        if self.server.hub.verbose:
            sys.stderr.write(f"[hub-server] {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    @property
    def hub(self) -> "HubServer":
        return self.server.hub

    @property
    def storage(self) -> HubStorage:
        return self.server.hub.storage

    def _iter_body(self) -> Iterator[bytes]:
        """The request body, chunk by chunk (Content-Length or chunked transfer encoding)."""
        if self._body_consumed:
            return
        self._body_consumed = True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise HubError(400, "truncated chunked body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, COPY_CHUNK))
                    if not data:
                        raise HubError(400, "truncated chunked body")
                    remaining -= len(data)
                    yield data
                self.rfile.readline()
        else:
            declared = (self.headers.get("Content-Length") or "0").strip()
            if not declared.isdigit():
                self.close_connection = True
                raise HubError(400, f"Invalid Content-Length: {declared!r}")
            remaining = int(declared)
            while remaining > 0:
                data = self.rfile.read(min(remaining, COPY_CHUNK))
                if not data:
                    raise HubError(400, "truncated body")
                remaining -= len(data)
                yield data

    def _body(self) -> bytes:
        """The whole request body, at most ``max_body_bytes`` (413 before reading when the
        declared length is larger, or as soon as a chunked body grows past it)."""
        if self._body_cache is None:
            limit = self.server.hub.max_body_bytes
            declared = self.headers.get("Content-Length")
            if declared is not None and declared.strip().isdigit() and int(declared) > limit:
                self.close_connection = True  # the unread body must not be taken for a request
                raise HubError(413, f"Request body of {int(declared)} bytes exceeds the limit of {limit} bytes")
            parts, total = [], 0
            for part in self._iter_body():
                total += len(part)
                if total > limit:
                    self.close_connection = True
                    raise HubError(413, f"Request body exceeds the limit of {limit} bytes")
                parts.append(part)
            self._body_cache = b"".join(parts)
        return self._body_cache

    def _json_body(self) -> Dict[str, Any]:
        raw = self._body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise HubError(400, "Invalid JSON body") from None
        if not isinstance(data, dict):
            raise HubError(400, "Expected a JSON object")
        return data

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json; charset=utf-8",
              headers: Optional[Dict[str, str]] = None, length: Optional[int] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_json(self, obj: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def _send_error(self, err: HubError) -> None:
        headers = dict(err.headers)
        message = err.message.encode("latin-1", "replace").decode("latin-1").replace("\n", " ")
        headers["X-Error-Message"] = message
        if err.code:
            headers["X-Error-Code"] = err.code
        self._send_json(dict(err.body, error=err.message), status=err.status, headers=headers)

    def _dispatch(self) -> None:
        self._body_consumed = False
        self._body_cache: Optional[bytes] = None
        split = urlsplit(self.path)
        self.query = {k: v for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self.hub.request_log.record(self.command, split.path)
        try:
            try:
                self._route(split.path)
            finally:
                # Keep the connection usable: consume what the handler did not read (unless
                # the connection is closing anyway, e.g. after a 413 for a huge body).
                if not self.close_connection:
                    for _ in self._iter_body():
                        pass
        except HubError as err:
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # never crash the server on a bad request
            if self.hub.verbose:
                import traceback

                traceback.print_exc()
            try:
                self._send_error(HubError(500, f"Internal server error: {type(exc).__name__}: {exc}"))
            except OSError:
                self.close_connection = True

    def _q(self, name: str, default: Optional[str] = None) -> Optional[str]:
        values = self.query.get(name)
        return values[-1] if values else default

    def _qbool(self, name: str) -> bool:
        return (self._q(name, "") or "").lower() in ("1", "true", "yes", "on")

    @property
    def base_url(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.hub.url

    def _user(self) -> Optional[str]:
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer ") and auth[7:].strip():
            return self.hub.user
        return None

    def _require_user(self) -> str:
        user = self._user()
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    # -- routing --------------------------------------------------------------------------

    def _route(self, path: str) -> None:
        segments = [unquote(s) for s in path.split("/")[1:]]
        method = self.command
        if segments and segments[-1] == "" and len(segments) > 1:
            segments = segments[:-1]
        if segments[:1] == ["api"]:
            return self._route_api(segments[1:], method)
        match = _LFS_ROUTE_RE.match(path)
        if match:
            prefix, namespace, name, what, verify = match.groups()
            repo = self._repo(PREFIX_TO_TYPE[prefix] if prefix else "model", unquote(namespace), unquote(name))
            if what == "batch" and method == "POST":
                return self._lfs_batch(repo)
            if what != "batch" and verify and method == "POST":
                return self._lfs_verify(repo, what)
            if what != "batch" and not verify and method == "PUT":
                return self._lfs_put(repo, what)
            if what != "batch" and not verify and method in ("GET", "HEAD"):
                return self._lfs_get(repo, what)
            raise HubError(405, "Method not allowed")
        repo_type = "model"
        rest = segments
        if rest and rest[0] in PREFIX_TO_TYPE and len(rest) >= 4:
            repo_type = PREFIX_TO_TYPE[rest[0]]
            rest = rest[1:]
        if len(rest) >= 5 and rest[2] == "resolve" and method in ("GET", "HEAD"):
            repo = self._repo(repo_type, rest[0], rest[1])
            return self._resolve_file(repo, rest[3], "/".join(rest[4:]))
        raise HubError(404, f"Not Found: {method} {path}")

    def _route_api(self, seg: List[str], method: str) -> None:
        if seg == ["whoami-v2"] and method == "GET":
            return self._whoami()
        if seg == ["repos", "create"] and method == "POST":
            return self._create_repo()
        if seg == ["repos", "delete"] and method == "DELETE":
            return self._delete_repo()
        if seg == ["agent-harnesses"] and method == "GET":  # huggingface_hub >= 2 fetches it once a day
            return self._send_json({"standardEnvVars": [], "harnesses": {}})
        if seg == ["validate-yaml"] and method == "POST":
            self._body()
            return self._send_json({"errors": [], "warnings": []})
        if len(seg) == 3 and seg[0] == "organizations" and seg[2] == "overview" and method == "GET":
            return self._org_overview(seg[1])
        if not seg or seg[0] not in PLURAL_TO_TYPE:
            raise HubError(404, f"Not Found: {method} /api/{'/'.join(seg)}")
        repo_type = PLURAL_TO_TYPE[seg[0]]
        if len(seg) == 1 and method == "GET":
            return self._list_repos(repo_type)
        if len(seg) < 3:
            raise HubError(404, f"Not Found: {method} /api/{'/'.join(seg)}")
        repo = self._repo(repo_type, seg[1], seg[2])
        action, args = (seg[3], seg[4:]) if len(seg) > 3 else ("", [])
        if action == "" and method == "GET":
            return self._repo_info(repo, DEFAULT_BRANCH)
        if action == "revision" and len(args) >= 1 and method == "GET":
            return self._repo_info(repo, "/".join(args))
        if action == "refs" and not args and method == "GET":
            return self._list_refs(repo)
        if action == "commits" and method == "GET":
            return self._list_commits(repo, "/".join(args) or DEFAULT_BRANCH)
        if action == "tree" and args and method == "GET":
            return self._list_tree(repo, args[0], "/".join(args[1:]))
        if action == "paths-info" and len(args) >= 1 and method == "POST":
            return self._paths_info(repo, "/".join(args))
        if action == "preupload" and len(args) >= 1 and method == "POST":
            return self._preupload(repo, "/".join(args))
        if action == "commit" and len(args) >= 1 and method == "POST":
            return self._commit(repo, "/".join(args))
        if action == "branch" and len(args) >= 1 and method in ("POST", "DELETE"):
            return self._branch(repo, "/".join(args), method)
        if action == "tag" and len(args) >= 1 and method in ("POST", "DELETE"):
            return self._tag(repo, "/".join(args), method)
        if action == "settings" and method == "PUT":
            return self._settings(repo)
        if action.startswith("xet-"):
            raise HubError(404, "Xet storage is not supported by this server (set HF_HUB_DISABLE_XET=1 on the client)")
        raise HubError(404, f"Not Found: {method} /api/{'/'.join(seg)}")

    # -- repository access ----------------------------------------------------------------

    def _repo(self, repo_type: str, namespace: str, name: str) -> Repo:
        if not (_NAME_RE.match(namespace) and _NAME_RE.match(name)):
            raise HubError(404, f"Repository not found: {namespace}/{name}", "RepoNotFound")
        return self.storage.repo(repo_type, namespace, name)

    def _readable(self, repo: Repo) -> Dict[str, Any]:
        if not repo.exists():
            raise HubError(404, f"Repository not found: {repo.type} {repo.id}", "RepoNotFound")
        meta = repo.meta()
        if meta.get("private") and self._user() is None:
            raise HubError(401, f"Repository not found: {repo.type} {repo.id}", "RepoNotFound")
        return meta

    def _readable_as_owner(self, repo: Repo) -> Dict[str, Any]:
        if not repo.exists():
            raise HubError(404, f"Repository not found: {repo.type} {repo.id}", "RepoNotFound")
        return repo.meta()

    def _writable(self, repo: Repo) -> Dict[str, Any]:
        self._require_user()
        return self._readable(repo)

    def _resolve(self, repo: Repo, revision: str, extra: Optional[Dict[str, str]] = None) -> str:
        commit = self.storage.resolve(repo, revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound", headers=extra)
        return commit

    # -- endpoints: account ----------------------------------------------------------------

    def _whoami(self) -> None:
        user = self._require_user()
        orgs = [
            {"type": "org", "name": org, "fullname": org, "roleInOrg": "admin", "isEnterprise": False}
            for org in sorted(self.storage.orgs())
        ]
        self._send_json({
            "type": "user", "id": hashlib.sha1(user.encode()).hexdigest()[:24], "name": user, "fullname": "Test User",
            "email": f"{user}@users.noreply.localhost", "emailVerified": True, "canPay": False, "isPro": False,
            "periodEnd": None, "avatarUrl": "", "orgs": orgs,
            "auth": {"type": "access_token", "accessToken": {"displayName": "test token", "role": "write"}},
        })

    def _org_overview(self, org: str) -> None:
        settings = self.storage.orgs().get(org)
        known = settings is not None or any(
            (self.storage.root / "repos" / t / org).is_dir() for t in REPO_TYPES
        )
        if not known or org == self.hub.user:
            raise HubError(404, f"Organization not found: {org}")
        settings = settings or {}
        self._send_json({
            "_id": hashlib.sha1(org.encode()).hexdigest()[:24], "name": org, "fullname": settings.get("fullname", org),
            "avatarUrl": "", "type": "org", "isVerified": False, "isFollowing": False, "numUsers": 1,
            "numModels": len([r for r in self.storage.list_repos("model") if r.namespace == org]),
            "numDatasets": len([r for r in self.storage.list_repos("dataset") if r.namespace == org]),
            "numSpaces": len([r for r in self.storage.list_repos("space") if r.namespace == org]),
            "numFollowers": 0, "numPapers": 0,
            "trustedKernelPublisher": bool(settings.get("trustedKernelPublisher", False)),
        })

    # -- endpoints: repositories ----------------------------------------------------------

    def _repo_from_payload(self, payload: Dict[str, Any]) -> Repo:
        repo_type = payload.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise HubError(400, f"Invalid repo type: {repo_type}")
        name = payload.get("name")
        namespace = payload.get("organization") or self.hub.user
        if (not isinstance(name, str) or not _NAME_RE.match(name) or "--" in name or ".." in name
                or name.endswith(".git")):
            raise HubError(400, f"Invalid repo name: {name!r}")
        if not _NAME_RE.match(namespace):
            raise HubError(400, f"Invalid namespace: {namespace!r}")
        return self.storage.repo(repo_type, namespace, name)

    def _create_repo(self) -> None:
        self._require_user()
        payload = self._json_body()
        repo = self._repo_from_payload(payload)
        private = payload.get("private")
        if private is None:
            private = payload.get("visibility") == "private"
        url = f"{self.base_url}/{repo.url_path}"
        if not self.storage.create_repo(repo, private=bool(private)):
            err = HubError(409, f"You already created this {repo.type} repo: {repo.id}")
            err.body = {"url": url}
            raise err
        self._send_json({"url": url, "name": repo.id, "id": repo.meta()["_id"]})

    def _delete_repo(self) -> None:
        self._require_user()
        repo = self._repo_from_payload(self._json_body())
        if not self.storage.delete_repo(repo):
            raise HubError(404, f"Repository not found: {repo.type} {repo.id}", "RepoNotFound")
        self._send(200, b"", content_type="text/plain; charset=utf-8")

    def _settings(self, repo: Repo) -> None:
        self._writable(repo)
        payload = self._json_body()
        changes = {}
        if "private" in payload:
            changes["private"] = bool(payload["private"])
        if payload.get("visibility") in ("private", "public"):
            changes["private"] = payload["visibility"] == "private"
        if "gated" in payload:
            changes["gated"] = payload["gated"]
        meta = self.storage.update_meta(repo, **changes)
        self._send_json({"private": meta["private"], "gated": meta.get("gated", False)})

    def _list_repos(self, repo_type: str) -> None:
        author = self._q("author")
        search = (self._q("search") or "").lower()
        limit = int(self._q("limit") or 0)
        result = []
        for repo in self.storage.list_repos(repo_type):
            meta = repo.meta()
            if meta.get("private") and self._user() is None:
                continue
            if author and repo.namespace != author:
                continue
            if search and search not in repo.id.lower():
                continue
            head = self.storage.resolve(repo, DEFAULT_BRANCH)
            last = self.storage.read_commit(repo, head)["date"] if head else meta["createdAt"]
            result.append({"_id": meta["_id"], "id": repo.id, "author": repo.namespace, "private": meta["private"],
                           "lastModified": last, "createdAt": meta["createdAt"], "likes": 0, "downloads": 0,
                           "tags": []})
            if limit and len(result) >= limit:
                break
        self._send_json(result)

    def _repo_info(self, repo: Repo, revision: str) -> None:
        meta = self._readable(repo)
        commit_id = self._resolve(repo, revision)
        commit = self.storage.read_commit(repo, commit_id)
        files = self.storage.flatten(repo, commit["tree"])
        siblings = []
        for path in sorted(files):
            entry = files[path]
            sibling: Dict[str, Any] = {"rfilename": path, "size": entry["size"], "blobId": entry["oid"]}
            if "lfs" in entry:
                sibling["lfs"] = {"sha256": entry["lfs"]["oid"], "size": entry["lfs"]["size"],
                                  "pointerSize": entry["lfs"]["pointerSize"]}
            siblings.append(sibling)
        info: Dict[str, Any] = {
            "_id": meta["_id"], "id": repo.id, "modelId": repo.id, "author": repo.namespace, "sha": commit_id,
            "lastModified": commit["date"], "createdAt": meta["createdAt"], "private": meta["private"],
            "gated": meta.get("gated", False), "disabled": False, "downloads": 0, "likes": 0, "tags": [],
            "siblings": siblings, "usedStorage": sum(f["size"] for f in files.values()),
        }
        if repo.type != "model":
            info.pop("modelId")
        if repo.type == "space":
            info.update({"sdk": "static", "runtime": {"stage": "RUNNING"}})
        self._send_json(info)

    # -- endpoints: refs and history ------------------------------------------------------

    def _list_refs(self, repo: Repo) -> None:
        self._readable(repo)
        refs = self.storage.refs(repo)
        data: Dict[str, Any] = {
            "branches": [
                {"name": n, "ref": f"refs/heads/{n}", "targetCommit": c} for n, c in sorted(refs["branches"].items())
            ],
            "converts": [],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": c} for n, c in sorted(refs["tags"].items())],
        }
        if self._qbool("include_prs"):
            data["pullRequests"] = [
                {"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": c}
                for n, c in sorted(refs["pulls"].items(), key=lambda kv: int(kv[0]))
            ]
        self._send_json(data)

    def _branch(self, repo: Repo, branch: str, method: str) -> None:
        self._writable(repo)
        with self.storage.lock:
            refs = self.storage.refs(repo)
            if method == "DELETE":
                if branch not in refs["branches"]:
                    raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
                if branch == DEFAULT_BRANCH:
                    raise HubError(403, "You cannot delete the default branch")
                del refs["branches"][branch]
                self.storage.write_refs(repo, refs)
                return self._send_json({"success": True})
            payload = self._json_body()
            if not _valid_ref_name(branch):
                raise HubError(400, f"Invalid branch name: {branch!r}")
            if branch in refs["branches"]:
                raise HubError(409, f"Reference already exists: refs/heads/{branch}")
            start = payload.get("startingPoint") or payload.get("revision") or DEFAULT_BRANCH
            refs["branches"][branch] = self._resolve(repo, start)
            self.storage.write_refs(repo, refs)
        self._send_json({"success": True})

    def _tag(self, repo: Repo, arg: str, method: str) -> None:
        self._writable(repo)
        with self.storage.lock:
            refs = self.storage.refs(repo)
            if method == "DELETE":
                if arg not in refs["tags"]:
                    raise HubError(404, f"Invalid rev id: {arg}", "RevisionNotFound")
                del refs["tags"][arg]
                self.storage.write_refs(repo, refs)
                return self._send_json({"success": True})
            payload = self._json_body()
            tag = payload.get("tag")
            if not isinstance(tag, str) or not _valid_ref_name(tag):
                raise HubError(400, f"Invalid tag name: {tag!r}")
            if tag in refs["tags"]:
                raise HubError(409, f"Tag already exists: {tag}")
            refs["tags"][tag] = self._resolve(repo, arg)
            self.storage.write_refs(repo, refs)
        self._send_json({"success": True})

    def _paginate(self, items: List[Any], default_limit: int, render: Any = None) -> None:
        """Answer one page of ``items`` (``cursor``/``limit`` query), with a ``Link: rel="next"`` header."""
        try:
            start = max(0, int(self._q("cursor") or 0))
            limit = max(1, int(self._q("limit") or default_limit))
        except ValueError:
            raise HubError(400, "Invalid cursor or limit") from None
        page = items[start:start + limit]
        if render is not None:
            page = [render(item) for item in page]
        headers = {}
        if start + limit < len(items):
            params = [(k, v) for k, values in self.query.items() if k != "cursor" for v in values]
            params.append(("cursor", str(start + limit)))
            next_url = f"{self.base_url}{urlsplit(self.path).path}?{urlencode(params)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        self._send_json(page, headers=headers)

    def _list_commits(self, repo: Repo, revision: str) -> None:
        self._readable(repo)
        commit_id = self._resolve(repo, revision)
        items = [
            {"id": c["id"], "title": c["title"], "message": c["message"], "date": c["date"],
             "authors": [{"user": c["author"], "avatar": ""}],
             "formatted": {"title": c["title"], "message": c["message"]}}
            for c in self.storage.history(repo, commit_id)
        ]
        self._paginate(items, self.hub.page_size)

    # -- endpoints: trees -----------------------------------------------------------------

    def _entry_json(self, repo: Repo, commit_id: str, path: str, entry: Dict[str, Any], expand: bool) -> Dict[str, Any]:
        if entry["type"] == "directory":
            data: Dict[str, Any] = {"type": "directory", "oid": entry["oid"], "size": 0, "path": path}
        else:
            data = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": path}
            if "lfs" in entry:
                data["lfs"] = dict(entry["lfs"])
        if expand:
            last = self.storage.last_commit(repo, commit_id, path)
            data["lastCommit"] = {"id": last["id"], "title": last["title"], "date": last["date"]}
        return data

    def _walk(self, repo: Repo, tree_oid: str, prefix: str, recursive: bool) -> Iterator[Tuple[str, Dict[str, Any]]]:
        entries = self.storage.read_tree(repo, tree_oid)
        ordered = [e for e in entries if e["type"] == "directory"] + [e for e in entries if e["type"] != "directory"]
        for entry in ordered:
            path = prefix + entry["name"]
            yield path, entry
            if recursive and entry["type"] == "directory":
                yield from self._walk(repo, entry["oid"], path + "/", recursive)

    def _list_tree(self, repo: Repo, revision: str, path: str) -> None:
        self._readable(repo)
        commit_id = self._resolve(repo, revision)
        path = path.strip("/")
        entry = self.storage.entry_at(repo, commit_id, path)
        if entry is None or entry["type"] != "directory":
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", headers={"X-Repo-Commit": commit_id})
        expand = self._qbool("expand")
        items = list(self._walk(repo, entry["oid"], path + "/" if path else "", self._qbool("recursive")))
        self._paginate(items, 50 if expand else self.hub.page_size,
                       render=lambda item: self._entry_json(repo, commit_id, item[0], item[1], expand))

    def _paths_info(self, repo: Repo, revision: str) -> None:
        self._readable(repo)
        commit_id = self._resolve(repo, revision)
        body = self._body()
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type:
            payload = json.loads(body or b"{}")
            paths = payload.get("paths", [])
            expand = bool(payload.get("expand"))
        else:
            form = parse_qs(body.decode(), keep_blank_values=True)
            paths = form.get("paths", [])
            expand = (form.get("expand", ["false"])[-1]).lower() in ("1", "true")
        if isinstance(paths, str):
            paths = [paths]
        result = []
        for path in paths:
            path = path.strip("/")
            entry = self.storage.entry_at(repo, commit_id, path) if path else None
            if entry is not None:
                result.append(self._entry_json(repo, commit_id, path, entry, expand))
        self._send_json(result)

    # -- endpoints: uploads ---------------------------------------------------------------

    def _branch_ref(self, repo: Repo, revision: str) -> Tuple[str, str]:
        refs = self.storage.refs(repo)
        if revision.startswith("refs/pr/") and revision[len("refs/pr/"):] in refs["pulls"]:
            return ("pulls", revision[len("refs/pr/"):])
        name = revision[len("refs/heads/"):] if revision.startswith("refs/heads/") else revision
        if name in refs["branches"]:
            return ("branches", name)
        if self.storage.resolve(repo, revision) is not None:
            raise HubError(400, f"Cannot commit to '{revision}': not a branch")
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _upload_mode(self, path: str, size: int, sample: bytes, lfs_patterns: List[str]) -> str:
        if not self.hub.lfs or size == 0:
            return "regular"
        if size > self.hub.lfs_threshold or _looks_binary(sample):
            return "lfs"
        if any(_gitattributes_match(p, path) for p in lfs_patterns):
            return "lfs"
        return "regular"

    def _preupload(self, repo: Repo, revision: str) -> None:
        self._writable(repo)
        payload = self._json_body()
        commit_id = self._resolve(repo, revision)
        files = self.storage.flatten(repo, self.storage.read_commit(repo, commit_id)["tree"])
        attributes = files.get(".gitattributes")
        patterns: List[str] = []
        if attributes is not None and "lfs" not in attributes:
            text = repo.object_path("blob", attributes["oid"]).read_text(errors="replace")
            patterns = _gitattributes_lfs_patterns(text)
        answer = []
        for item in payload.get("files", []):
            path = item.get("path")
            if not isinstance(path, str):
                raise HubError(400, "Invalid preupload payload")
            try:
                sample = base64.b64decode(item.get("sample") or "")
            except (binascii.Error, ValueError):
                raise HubError(400, f"Invalid sample for {path}") from None
            mode = self._upload_mode(path, int(item.get("size") or 0), sample, patterns)
            info: Dict[str, Any] = {"path": path, "uploadMode": mode, "shouldIgnore": False}
            existing = files.get(path)
            if existing is not None:
                info["oid"] = existing["lfs"]["oid"] if "lfs" in existing else existing["oid"]
            answer.append(info)
        self._send_json({"files": answer, "commitOid": commit_id})

    def _commit(self, repo: Repo, revision: str) -> None:
        self._writable(repo)
        create_pr = self._qbool("create_pr")
        header: Optional[Dict[str, Any]] = None
        operations: List[Tuple[str, Dict[str, Any]]] = []
        for number, line in enumerate(self._body().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError):
                raise HubError(400, f"Invalid commit payload (line {number})") from None
            if key == "header":
                header = value
                continue
            path = value.get("path") if isinstance(value, dict) else None
            if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
                raise HubError(400, f"Invalid path in commit payload (line {number}): {path!r}")
            if key == "file":
                encoding = value.get("encoding", "base64")
                content = value.get("content", "")
                try:
                    data = base64.b64decode(content) if encoding == "base64" else content.encode()
                except (binascii.Error, ValueError):
                    raise HubError(400, f"Invalid base64 content for {path}") from None
                operations.append(("file", {"path": path, "content": data}))
            elif key == "lfsFile":
                oid = str(value.get("oid", "")).lower()
                if value.get("algo", "sha256") != "sha256" or not _SHA256_RE.match(oid):
                    raise HubError(400, f"Invalid LFS oid for {path}")
                operations.append(("lfsFile", {"path": path, "oid": oid, "size": value.get("size")}))
            elif key in ("deletedFile", "deletedFolder"):
                operations.append((key, {"path": path}))
            else:
                raise HubError(400, f"Unknown commit operation: {key!r}")
        if header is None:
            raise HubError(400, "Commit payload has no header")
        title = header.get("summary") or ""
        if not title:
            raise HubError(400, "Commit summary is required")
        parent = header.get("parentCommit")
        branch_ref = self._branch_ref(repo, revision)
        pr_num = None
        if create_pr:
            base = self.storage.refs(repo)[branch_ref[0]][branch_ref[1]]
            pr_num = self.storage.new_pull_request(repo, base)
            branch_ref = ("pulls", pr_num)
        commit_id = self.storage.commit(repo, branch_ref, operations, title, header.get("description") or "", parent)
        answer = {"success": True, "commitOid": commit_id, "hookOutput": "",
                  "commitUrl": f"{self.base_url}/{repo.url_path}/commit/{commit_id}"}
        if pr_num is not None:
            answer["pullRequestUrl"] = f"{self.base_url}/{repo.url_path}/discussions/{pr_num}"
        self._send_json(answer)

    # -- endpoints: LFS -------------------------------------------------------------------

    def _lfs_signature(self, repo: Repo, oid: str) -> str:
        message = f"{repo.type}/{repo.id}/{oid}".encode()
        return hmac.new(self.hub.secret, message, hashlib.sha256).hexdigest()

    def _lfs_href(self, repo: Repo, oid: str, suffix: str = "") -> str:
        # huggingface_hub PUTs to this URL without its Authorization header (it is meant to be a
        # presigned storage URL): authorize the upload with a signature in the query string.
        base = f"{self.base_url}/{quote(repo.url_path)}.git/info/lfs/objects/{oid}{suffix}"
        return f"{base}?sig={self._lfs_signature(repo, oid)}"

    def _lfs_authorized(self, repo: Repo, oid: str) -> bool:
        sig = self._q("sig") or ""
        return self._user() is not None or hmac.compare_digest(sig, self._lfs_signature(repo, oid))

    def _lfs_batch(self, repo: Repo) -> None:
        payload = self._json_body()
        operation = payload.get("operation")
        if operation == "upload":
            self._writable(repo)
        else:
            self._readable(repo)
        objects = []
        for obj in payload.get("objects", []):
            oid = str(obj.get("oid", ""))
            size = obj.get("size")
            if not _SHA256_RE.match(oid) or not isinstance(size, int) or size < 0:
                objects.append({"oid": oid, "size": size if isinstance(size, int) else 0,
                                "error": {"code": 422, "message": "Invalid object"}})
                continue
            present = self.storage.has_lfs(repo, oid, size)
            entry: Dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            href = self._lfs_href(repo, oid)
            if operation == "upload":
                if not present:
                    entry["actions"] = {"upload": {"href": href, "header": {}},
                                        "verify": {"href": self._lfs_href(repo, oid, "/verify"), "header": {}}}
            elif operation == "download":
                if present:
                    entry["actions"] = {"download": {"href": href, "header": {}}}
                else:
                    entry["error"] = {"code": 404, "message": "Object does not exist"}
            else:
                raise HubError(400, f"Unknown LFS operation: {operation!r}")
            objects.append(entry)
        body = json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode()
        self._send(200, body, content_type="application/vnd.git-lfs+json")

    def _lfs_put(self, repo: Repo, oid: str) -> None:
        if not self._lfs_authorized(repo, oid):
            raise HubError(401, "Invalid credentials in Authorization header")
        self._readable_as_owner(repo)
        length = self.headers.get("Content-Length")
        self.storage.put_lfs_stream(repo, oid, int(length) if length is not None else None, self._iter_body())
        self._send(200, b"", content_type="text/plain; charset=utf-8")

    def _lfs_verify(self, repo: Repo, oid: str) -> None:
        if not self._lfs_authorized(repo, oid):
            raise HubError(401, "Invalid credentials in Authorization header")
        self._readable_as_owner(repo)
        payload = self._json_body()
        size = payload.get("size")
        if not self.storage.has_lfs(repo, oid, size if isinstance(size, int) else None):
            raise HubError(404, f"LFS object not found: {oid}")
        self._send_json({"success": True})

    def _lfs_get(self, repo: Repo, oid: str) -> None:
        if self._lfs_authorized(repo, oid):
            self._readable_as_owner(repo)
        else:
            self._readable(repo)
        if not self.storage.has_lfs(repo, oid):
            raise HubError(404, f"LFS object not found: {oid}")
        self._send_file(repo.object_path("lfs", oid), {"ETag": f'"{oid}"'})

    # -- endpoints: downloads -------------------------------------------------------------

    def _send_file(self, path: Path, headers: Dict[str, str]) -> None:
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        headers = dict(headers, **{"Accept-Ranges": "bytes"})
        range_header = self.headers.get("Range")
        if range_header:
            match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", range_header)
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                else:
                    start = max(0, size - int(match.group(2)))
                if start >= size or start > end:
                    headers["Content-Range"] = f"bytes */{size}"
                    self._send(416, b"", content_type="text/plain", headers=headers)
                    return
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(0, end - start + 1)
        self._send(status, b"", content_type="application/octet-stream", headers=headers, length=length)
        if self.command == "HEAD" or length == 0:
            return
        rate = self.hub.download_rate
        chunk_size = COPY_CHUNK if not rate else max(1, min(COPY_CHUNK, rate // 20))
        with open(path, "rb") as fh:
            fh.seek(start)
            remaining = length
            while remaining:
                chunk = fh.read(min(chunk_size, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)
                if rate:
                    self.wfile.flush()
                    time.sleep(len(chunk) / rate)

    def _resolve_file(self, repo: Repo, revision: str, path: str) -> None:
        self._readable(repo)
        commit_id = self._resolve(repo, revision)
        entry = self.storage.entry_at(repo, commit_id, path) if path else None
        if entry is None or entry["type"] != "file":
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", headers={"X-Repo-Commit": commit_id})
        name = posixpath.basename(path)
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
        headers = {"X-Repo-Commit": commit_id,
                   "Content-Disposition": f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}
        if "lfs" in entry:
            sha = entry["lfs"]["oid"]
            headers.update({"ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"',
                            "X-Linked-Size": str(entry["lfs"]["size"])})
            self._send_file(repo.object_path("lfs", sha), headers)
        else:
            headers["ETag"] = f'"{entry["oid"]}"'
            self._send_file(repo.object_path("blob", entry["oid"]), headers)


# --------------------------------------------------------------------------------------------
# Public server object
# --------------------------------------------------------------------------------------------


class HubServer:
    """A Hub-compatible HTTP server over :class:`HubStorage`, served from a background thread.

    Args:
        root: storage directory (created if needed; data persists across instances).
        host, port: address to bind; ``port=0`` picks a free port (see :attr:`url`).
        lfs: answer "lfs" to preupload requests for binary/large files (like the Hub). With
            ``False`` every file is committed inline ("regular"), which clients that would upload
            LFS files through Xet need (see the module docstring).
        lfs_threshold: files larger than this many bytes are uploaded as LFS.
        page_size: default page size of paginated listings (tree, commits).
        verbose: log requests and errors to stderr.
        user: name of the fake user every token authenticates as.
        max_body_bytes: the largest request body read into memory (JSON, inline commits);
            larger ones are answered 413 before they are read. LFS uploads stream to disk.
    """

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, *, lfs: bool = True,
                 lfs_threshold: int = DEFAULT_LFS_THRESHOLD, page_size: int = DEFAULT_PAGE_SIZE,
                 verbose: bool = False, user: str = DEFAULT_USER, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.max_body_bytes = max_body_bytes
        self.root = Path(root)
        self.host = host
        self.port = port
        self.lfs = lfs
        self.lfs_threshold = lfs_threshold
        self.page_size = page_size
        self.verbose = verbose
        self.user = user
        self.storage = HubStorage(self.root, user=user)
        self.secret = os.urandom(32)  # signs the LFS upload/download URLs handed out by the batch API
        self.request_log = RequestLog()
        #: Bytes per second file downloads are served at (None: as fast as possible). Tests set it
        #: to catch a client in the middle of a download (e.g. to kill it there).
        self.download_rate: Optional[int] = None
        #: Set by the pytest fixtures: the cache directory and token the client side should use.
        self.cache_dir: Optional[Path] = None
        self.token: Optional[str] = None
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("HubServer is not started")
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> "HubServer":
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), self)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"hub-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_open_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (used by the command line)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- helpers for tests ----------------------------------------------------------------

    def set_trusted_publisher(self, org: str, trusted: bool = True) -> None:
        """Mark ``org`` as a trusted kernel publisher (``trustedKernelPublisher`` in its overview)."""
        self.storage.set_org(org, trustedKernelPublisher=bool(trusted))

    def add_organization(self, org: str) -> None:
        """Make ``org`` known (its overview answers 200) without repositories."""
        self.storage.set_org(org)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels.testing.hub_server",
                                     description="Hugging Face Hub compatible HTTP server for tests and offline use.")
    parser.add_argument("--root", required=True, type=Path, help="storage directory (persistent)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--lfs-threshold", type=int, default=DEFAULT_LFS_THRESHOLD,
                        help="files above this size are uploaded as LFS (bytes)")
    parser.add_argument("--no-lfs", action="store_true", help="answer 'regular' to every preupload request")
    parser.add_argument("--trusted-publisher", action="append", default=[], metavar="ORG",
                        help="mark ORG as a trusted kernel publisher (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    server = HubServer(args.root, host=args.host, port=args.port, lfs=not args.no_lfs,
                       lfs_threshold=args.lfs_threshold, verbose=args.verbose)
    for org in args.trusted_publisher:
        server.set_trusted_publisher(org, True)
    server.start()
    print(f"Serving Hub API on {server.url} (root: {args.root})", flush=True)

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
