"""Endpoints that write files: preupload (upload mode of each file) and commits."""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from fnmatch import fnmatchcase
from typing import Any, Dict, List, Optional, Tuple

from .errors import HubError, InvalidNameError
from .names import parse_commit_id, parse_path_in_repo, parse_revision, parse_sha256
from .payloads import field, parse_json, require
from .storage import Repo


def looks_binary(sample: bytes) -> bool:
    """Whether a file's first bytes look like binary content (NUL byte or not UTF-8)."""
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may cut a multi-byte character at its end.
        return not (exc.reason == "unexpected end of data" and exc.start >= len(sample) - 3)
    return False


def gitattributes_lfs_patterns(text: str) -> List[str]:
    """The patterns of ``.gitattributes`` lines that set ``filter=lfs``."""
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def gitattributes_match(pattern: str, path: str) -> bool:
    """Whether a ``.gitattributes`` ``pattern`` matches ``path`` (basename patterns, ``**``)."""
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


class UploadRoutes:
    """Preupload and commit endpoints (mixed into the handler)."""

    def _branch_ref(self, repo: Repo, revision: str) -> Tuple[str, str]:
        """``("branches", name)`` or ``("pulls", n)`` that ``revision`` names; 400 for a tag or
        a commit (one commits to a branch), 404 for nothing."""
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
        if size > self.hub.lfs_threshold or looks_binary(sample):
            return "lfs"
        if any(gitattributes_match(p, path) for p in lfs_patterns):
            return "lfs"
        return "regular"

    def _preupload(self, repo: Repo, revision: str) -> None:
        self._writable(repo, f"upload to {repo.type} {repo.id}")
        where = "preupload payload"
        payload = self._json_body(where)
        items = field(payload, "files", "array", where, default=[])
        commit_id = self._resolve(repo, revision)
        files = self.storage.flatten(repo, self.storage.read_commit(repo, commit_id)["tree"])
        attributes = files.get(".gitattributes")
        patterns: List[str] = []
        if attributes is not None and "lfs" not in attributes:
            text = repo.object_path("blob", attributes["oid"]).read_text(errors="replace")
            patterns = gitattributes_lfs_patterns(text)
        answer = []
        for number, item in enumerate(items):
            item_where = f"'files[{number}]' of the {where}"
            require(item, "object", item_where)
            path = parse_path_in_repo(field(item, "path", "string", item_where, required=True))
            size = field(item, "size", "integer", item_where, default=0, minimum=0)
            sample = _b64decode(field(item, "sample", "string", item_where, default=""), f"sample of {path!r}")
            mode = self._upload_mode(path, size, sample, patterns)
            info: Dict[str, Any] = {"path": path, "uploadMode": mode, "shouldIgnore": False}
            existing = files.get(path)
            if existing is not None:
                info["oid"] = existing["lfs"]["oid"] if "lfs" in existing else existing["oid"]
            answer.append(info)
        self._send_json({"files": answer, "commitOid": commit_id})

    def _commit(self, repo: Repo, revision: str) -> None:
        self._writable(repo, f"commit to {repo.type} {repo.id}")
        token = self._require_user()
        parse_revision(revision)
        create_pr = self._qbool("create_pr")
        header, operations = parse_commit_payload(self._body())
        branch_ref = self._branch_ref(repo, revision)
        pr_num = None
        if create_pr:
            base = self.storage.refs(repo)[branch_ref[0]][branch_ref[1]]
            pr_num = self.storage.new_pull_request(repo, base)
            branch_ref = ("pulls", pr_num)
        commit_id = self.storage.commit(repo, branch_ref, operations, header["summary"], header["description"],
                                        header["parentCommit"], author=token.user)
        answer = {"success": True, "commitOid": commit_id, "hookOutput": "",
                  "commitUrl": f"{self.base_url}/{repo.url_path}/commit/{commit_id}"}
        if pr_num is not None:
            answer["pullRequestUrl"] = f"{self.base_url}/{repo.url_path}/discussions/{pr_num}"
        self._send_json(answer)


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidNameError(f"Invalid base64 in the {what}") from None


def parse_commit_payload(body: bytes) -> Tuple[Dict[str, Any], List[Tuple[str, Dict[str, Any]]]]:
    """The header and operations of a commit request (NDJSON, one ``{"key", "value"}`` per line).

    Returns:
        ``({"summary", "description", "parentCommit"}, operations)`` with operations as
        :meth:`.HubStorage.commit` takes them (contents decoded, paths and oids checked).

    Raises:
        InvalidNameError: (400) naming the line for invalid JSON, a wrong type, an unknown key,
            an invalid path, oid or encoding, a missing or repeated header.
    """
    header: Optional[Dict[str, Any]] = None
    operations: List[Tuple[str, Dict[str, Any]]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"commit payload (line {number})"
        item = require(parse_json(line, where), "object", where)
        key = field(item, "key", "string", where, required=True)
        value = require(item.get("value"), "object", f"'value' in {where}")
        where = f"{key} of the {where}"
        if key == "header":
            if header is not None:
                raise InvalidNameError(f"The commit payload has more than one header (line {number})")
            summary = field(value, "summary", "string", where, required=True)
            if not summary.strip():
                raise InvalidNameError("The commit summary (title) must not be empty")
            parent = field(value, "parentCommit", "string", where)
            header = {"summary": summary, "description": field(value, "description", "string", where, default=""),
                      "parentCommit": None if parent is None else parse_commit_id(parent, "parent commit")}
            continue
        if key not in ("file", "lfsFile", "deletedFile", "deletedFolder"):
            raise InvalidNameError(f"Unknown commit operation {key!r} (line {number})")
        path = field(value, "path", "string", where, required=True)
        if key == "deletedFolder" and path.endswith("/"):
            path = path[:-1]
        path = parse_path_in_repo(path, f"path (line {number})")
        if key == "file":
            encoding = field(value, "encoding", "string", where, default="base64", choices=["base64", "utf-8"])
            content = field(value, "content", "string", where, required=True)
            data = _b64decode(content, f"content of {path!r}") if encoding == "base64" else content.encode()
            operations.append(("file", {"path": path, "content": data}))
        elif key == "lfsFile":
            field(value, "algo", "string", where, default="sha256", choices=["sha256"])
            oid = parse_sha256(field(value, "oid", "string", where, required=True), f"LFS oid of {path!r}")
            size = field(value, "size", "integer", where, minimum=0)
            operations.append(("lfsFile", {"path": path, "oid": oid, "size": size}))
        else:
            operations.append((key, {"path": path}))
    if header is None:
        raise InvalidNameError("The commit payload has no header")
    return header, operations
