"""Persistent, git-like storage of repositories: objects, trees, commits, refs, organisations.

Layout under ``root``::

    repos/<type>/<namespace>/<name>/repo.json      repository metadata (private, createdAt)
    repos/<type>/<namespace>/<name>/refs.json      branches, tags and pull-request refs
    repos/<type>/<namespace>/<name>/objects/blob/  regular file contents, named by git blob sha1
    repos/<type>/<namespace>/<name>/objects/lfs/   LFS file contents, named by sha256
    repos/<type>/<namespace>/<name>/objects/tree/  tree objects (JSON), named by git tree sha1
    repos/<type>/<namespace>/<name>/objects/commit/ commit objects (JSON), named by git commit sha1
    orgs.json                                      organization settings (trusted publishers)
    trash/                                         deleted repositories, removed right away

Object ids follow git: a regular file's oid is its git blob sha1, an LFS file's oid is the git
blob sha1 of its LFS pointer file (its ``lfs.oid`` is the sha256 of the content), directory oids
are git tree ids and commit ids are sha1 over a git commit object (tree, parents, author, time,
message). Every write goes to a temporary file first and is moved in place with ``os.replace``;
all mutations of a storage are serialized by one lock.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .errors import HubError, InvalidNameError
from .names import (DEFAULT_BRANCH, HEX_RE, SHA1_RE, parse_commit_id, parse_namespace, parse_path_in_repo,
                    parse_ref_name, parse_repo_type, parse_sha256)
from .objects import ObjectStore, Repo, atomic_write, git_blob_sha1, iso_time, json_bytes, lfs_pointer

__all__ = ["DEFAULT_GITATTRIBUTES", "DEFAULT_USER", "HubStorage", "Repo", "git_blob_sha1", "lfs_pointer"]

DEFAULT_USER = "testuser"
COPY_CHUNK = 1024 * 1024
#: Values of a repository's ``gated`` setting.
GATED_VALUES = (False, "auto", "manual")

#: ``.gitattributes`` of a new repository (initial commit), like the Hub creates one.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.gz", "*.h5", "*.msgpack", "*.npy",
        "*.npz", "*.onnx", "*.parquet", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar",
        "*.safetensors", "*.tar", "*.tar.*", "*.tgz", "*.xz", "*.zip", "*.zst", "*tfevents*",
    )
)


class HubStorage(ObjectStore):
    """Persistent, git-like storage of repositories (see the module docstring for the layout).

    Args:
        root: the storage directory (created if needed).
        user: the author of commits made without an explicit author.

    Every name that becomes a path or a tree entry is checked first (:mod:`.names`):
    methods raise :class:`InvalidNameError` (a ``ValueError``, HTTP 400) for bad ones and
    :class:`HubError` for other refusals (404 missing repository or revision, 409 existing ref,
    412 stale parent commit, 400 conflicting paths or missing LFS objects).
    """

    def __init__(self, root: Path, *, user: str = DEFAULT_USER):
        self.user = parse_namespace(user)
        super().__init__(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- repositories ---------------------------------------------------------------------

    def repo(self, repo_type: str, namespace: str, name: str) -> Repo:
        """The repository ``namespace/name`` of ``repo_type`` (validated; it may not exist)."""
        return Repo(self, repo_type, namespace, name)

    def list_repos(self, repo_type: str) -> List[Repo]:
        """Existing repositories of ``repo_type``, by namespace and name (folders with names
        the server would refuse are skipped)."""
        base = self.root / "repos" / parse_repo_type(repo_type)
        repos = []
        if base.is_dir():
            for ns in sorted(p for p in base.iterdir() if p.is_dir()):
                for name in sorted(p for p in ns.iterdir() if p.is_dir()):
                    try:
                        repo = self.repo(repo_type, ns.name, name.name)
                    except InvalidNameError:
                        continue
                    if repo.exists():
                        repos.append(repo)
        return repos

    def create_repo(self, repo: Repo, *, private: bool = False, author: Optional[str] = None) -> bool:
        """Create ``repo`` with an initial commit on ``main`` by ``author`` (default: ``user``);
        False if it already exists."""
        if not isinstance(private, bool):
            raise InvalidNameError(f"private must be a boolean, got {type(private).__name__}")
        author = self.user if author is None else parse_namespace(author)
        with self.lock:
            if repo.exists():
                return False
            now = time.time()
            files = {
                ".gitattributes": self._file_entry_regular(repo, DEFAULT_GITATTRIBUTES.encode()),
            }
            tree = self._write_tree(repo, files)
            commit = self._write_commit(repo, tree, [], "initial commit", "", now, author)
            refs = {"branches": {DEFAULT_BRANCH: commit}, "tags": {}, "pulls": {}}
            atomic_write(repo.path / "refs.json", json_bytes(refs))
            meta = {"type": repo.type, "id": repo.id, "private": private, "gated": False, "createdAt": iso_time(now),
                    "_id": uuid.uuid4().hex[:24]}
            atomic_write(repo.path / "repo.json", json_bytes(meta))  # written last: marks the repo as existing
            return True

    def delete_repo(self, repo: Repo) -> bool:
        """Delete ``repo`` and its objects; False if it does not exist."""
        with self.lock:
            if not repo.exists():
                return False
            trash = self.root / "trash" / uuid.uuid4().hex
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(repo.path, trash)
            self._cache = {k: v for k, v in self._cache.items() if k[0] != str(repo.path)}
            shutil.rmtree(trash, ignore_errors=True)
            return True

    def update_meta(self, repo: Repo, *, private: Optional[bool] = None, gated: Any = None) -> Dict[str, Any]:
        """Change the settings of ``repo`` (``None``: unchanged); returns its metadata.

        Args:
            private: whether the repository is private.
            gated: ``False``, ``"auto"`` or ``"manual"``.

        Raises:
            InvalidNameError: for a value of the wrong type.
            HubError: 404 if the repository does not exist.
        """
        changes: Dict[str, Any] = {}
        if private is not None:
            if not isinstance(private, bool):
                raise InvalidNameError(f"private must be a boolean, got {type(private).__name__}")
            changes["private"] = private
        if gated is not None:
            if not any(gated is v or (isinstance(gated, str) and gated == v) for v in GATED_VALUES):
                raise InvalidNameError(f"gated must be false, 'auto' or 'manual', got {gated!r}")
            changes["gated"] = gated
        with self.lock:
            repo.require()
            meta = repo.meta()
            meta.update(changes)
            atomic_write(repo.path / "repo.json", json_bytes(meta))
            return meta

    # -- refs -----------------------------------------------------------------------------

    def refs(self, repo: Repo) -> Dict[str, Dict[str, str]]:
        """``{"branches": {name: commit}, "tags": {...}, "pulls": {number: commit}}``."""
        data = json.loads((repo.path / "refs.json").read_text())
        data.setdefault("branches", {})
        data.setdefault("tags", {})
        data.setdefault("pulls", {})
        return data

    def write_refs(self, repo: Repo, refs: Dict[str, Dict[str, str]]) -> None:
        """Replace the refs of ``repo`` (see :meth:`refs`); prefer :meth:`create_ref`/:meth:`delete_ref`."""
        with self.lock:
            atomic_write(repo.path / "refs.json", json_bytes(refs))

    def create_ref(self, repo: Repo, kind: str, name: str, commit: str) -> None:
        """Point the new branch or tag ``name`` (``kind``: ``"branches"`` or ``"tags"``) at ``commit``.

        Raises:
            InvalidNameError: for an invalid name or commit id.
            HubError: 404 for a missing repository or commit, 409 if the ref exists.
        """
        what = {"branches": "branch name", "tags": "tag name"}.get(kind)
        if what is None:
            raise InvalidNameError(f"Invalid ref kind {kind!r}")
        parse_ref_name(name, what)
        with self.lock:
            repo.require()
            if not repo.object_path("commit", commit).is_file():
                raise HubError(404, f"Invalid rev id: {commit}", "RevisionNotFound")
            refs = self.refs(repo)
            if name in refs[kind]:
                prefix = "refs/heads/" if kind == "branches" else "refs/tags/"
                raise HubError(409, f"Reference already exists: {prefix}{name}")
            refs[kind][name] = commit
            self.write_refs(repo, refs)

    def delete_ref(self, repo: Repo, kind: str, name: str) -> None:
        """Delete the branch or tag ``name`` (``kind``: ``"branches"`` or ``"tags"``).

        Raises:
            HubError: 404 if it does not exist, 403 for the default branch.
        """
        if kind not in ("branches", "tags"):
            raise InvalidNameError(f"Invalid ref kind {kind!r}")
        with self.lock:
            repo.require()
            refs = self.refs(repo)
            if not isinstance(name, str) or name not in refs[kind]:
                raise HubError(404, f"Invalid rev id: {name}", "RevisionNotFound")
            if kind == "branches" and name == DEFAULT_BRANCH:
                raise HubError(403, "You cannot delete the default branch")
            del refs[kind][name]
            self.write_refs(repo, refs)

    def resolve(self, repo: Repo, revision: str) -> Optional[str]:
        """Commit id of a branch, tag, ``refs/...`` name or (abbreviated) commit id; None if
        ``revision`` names nothing in ``repo`` (or ``repo`` does not exist)."""
        if not isinstance(revision, str) or not repo.exists():
            return None
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
        if SHA1_RE.fullmatch(rev):
            return rev if repo.object_path("commit", rev).is_file() else None
        if HEX_RE.fullmatch(rev):
            folder = repo.path / "objects" / "commit" / rev[:2]
            if folder.is_dir():
                matches = [rev[:2] + p.name for p in folder.iterdir() if (rev[:2] + p.name).startswith(rev)]
                if len(matches) == 1:
                    return matches[0]
        return None

    # -- committing -----------------------------------------------------------------------

    def commit(
        self,
        repo: Repo,
        branch_ref: Tuple[str, str],
        operations: List[Tuple[str, Dict[str, Any]]],
        title: str,
        description: str = "",
        parent_commit: Optional[str] = None,
        author: Optional[str] = None,
    ) -> str:
        """Apply ``operations`` on top of a branch and move it; returns the new commit id.

        Args:
            repo: an existing repository.
            branch_ref: ``("branches", name)`` or ``("pulls", number)``.
            operations: applied in order: ``("file", {"path", "content": bytes})``,
                ``("lfsFile", {"path", "oid": sha256, "size": int or None})`` (the LFS object must
                have been uploaded), ``("deletedFile", {"path"})`` and ``("deletedFolder",
                {"path"})`` (one trailing ``/`` allowed). Paths follow :func:`.parse_path_in_repo`.
            title, description: the commit message (a title is required).
            parent_commit: refuse (412) unless the branch head starts with this commit id.
            author: the commit's author (default: ``user``).

        Raises:
            InvalidNameError: (400) for a malformed operation, path, oid, title or commit id.
            HubError: 404 for a missing repository, branch or deleted file; 412 for a stale
                ``parent_commit``; 400 for a missing LFS object, a size mismatch or a path
                that conflicts with a file or folder. Nothing is written then.
        """
        kind, name = branch_ref
        if kind not in ("branches", "pulls") or not isinstance(name, str):
            raise InvalidNameError(f"Invalid branch reference {branch_ref!r}")
        if not isinstance(title, str) or not title:
            raise InvalidNameError("A commit needs a non-empty title (string)")
        if not isinstance(description, str):
            raise InvalidNameError("A commit description must be a string")
        if parent_commit is not None:
            parent_commit = parse_commit_id(parent_commit, "parent commit")
        author = self.user if author is None else parse_namespace(author)
        checked = [self._check_operation(op, value) for op, value in operations]
        with self.lock:
            repo.require()
            refs = self.refs(repo)
            head = refs[kind].get(name)
            if head is None:
                raise HubError(404, f"Invalid rev id: {name}", "RevisionNotFound")
            if parent_commit is not None and not head.startswith(parent_commit):
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = self.flatten(repo, self.read_commit(repo, head)["tree"])
            for op, value in checked:
                path = value["path"]
                if op == "file":
                    files[path] = self._file_entry_regular(repo, value["content"])
                elif op == "lfsFile":
                    if not self.has_lfs(repo, value["oid"]):
                        raise HubError(
                            400,
                            "Your push was rejected because an LFS pointer pointed to a file that does not"
                            f" exist: {path!r} (oid {value['oid']})",
                        )
                    size = repo.object_path("lfs", value["oid"]).stat().st_size
                    if value.get("size") is not None and value["size"] != size:
                        raise HubError(400, f"LFS object size mismatch for {path!r}: {value['size']} != {size}")
                    files[path] = self._file_entry_lfs(value["oid"], size)
                elif op == "deletedFile":
                    if path not in files:
                        raise HubError(404, f"A file with this name doesn't exist: {path!r}", "EntryNotFound")
                    del files[path]
                else:  # deletedFolder
                    for existing in [p for p in files if p.startswith(path + "/")]:
                        del files[existing]
            tree = self._write_tree(repo, files)
            commit = self._write_commit(repo, tree, [head], title, description, time.time(), author)
            refs[kind][name] = commit
            self.write_refs(repo, refs)
            return commit

    @staticmethod
    def _check_operation(op: Any, value: Any) -> Tuple[str, Dict[str, Any]]:
        """One commit operation, validated (see :meth:`commit`); paths normalized."""
        if op not in ("file", "lfsFile", "deletedFile", "deletedFolder") or not isinstance(value, dict):
            raise InvalidNameError(f"Invalid commit operation {op!r}")
        path = value.get("path")
        if op == "deletedFolder" and isinstance(path, str) and path.endswith("/"):
            path = path[:-1]
        checked: Dict[str, Any] = {"path": parse_path_in_repo(path)}
        if op == "file":
            if not isinstance(value.get("content"), bytes):
                raise InvalidNameError(f"The content of {path!r} must be bytes")
            checked["content"] = value["content"]
        elif op == "lfsFile":
            checked["oid"] = parse_sha256(value.get("oid"))
            size = value.get("size")
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise InvalidNameError(f"Invalid LFS size for {path!r}: {size!r}")
            checked["size"] = size
        return op, checked

    def new_pull_request(self, repo: Repo, base_commit: str) -> str:
        """Open a pull request ref ``refs/pr/<n>`` at ``base_commit``; returns ``n``."""
        with self.lock:
            repo.require()
            refs = self.refs(repo)
            num = str(max([int(n) for n in refs["pulls"]] + [0]) + 1)
            refs["pulls"][num] = base_commit
            self.write_refs(repo, refs)
            return num

    # -- organizations --------------------------------------------------------------------

    def orgs(self) -> Dict[str, Dict[str, Any]]:
        """Settings of the known organizations, by name."""
        path = self.root / "orgs.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def set_org(self, org: str, **settings: Any) -> None:
        """Make ``org`` known and update its settings (e.g. ``trustedKernelPublisher=True``).

        Raises:
            InvalidNameError: for an invalid organization name.
        """
        parse_namespace(org)
        with self.lock:
            orgs = self.orgs()
            orgs.setdefault(org, {}).update(settings)
            atomic_write(self.root / "orgs.json", json_bytes(orgs))

