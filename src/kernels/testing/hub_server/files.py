"""Endpoints that read files: trees, paths-info and downloads (``resolve``, ranges)."""

from __future__ import annotations

import posixpath
import re
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple
from urllib.parse import parse_qs, quote

from .errors import HubError
from .names import parse_read_path
from .payloads import field, parse_json_object, require
from .storage import COPY_CHUNK, Repo


class FileRoutes:
    """Tree, paths-info and download endpoints (mixed into the handler)."""

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
        path = parse_read_path(path)
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
        where = "paths-info payload"
        if "json" in content_type:
            payload = parse_json_object(body, where)
            paths = payload.get("paths")
            if isinstance(paths, str):  # one path may come alone
                paths = [paths]
            paths = [] if paths is None else require(paths, "array", f"'paths' in {where}")
            expand = field(payload, "expand", "boolean", where, default=False)
        else:
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise HubError(400, f"Invalid UTF-8 in {where}") from None
            paths = form.get("paths", [])
            expand = (form.get("expand", ["false"])[-1]).lower() in ("1", "true")
        result = []
        for number, item in enumerate(paths):
            path = parse_read_path(require(item, "string", f"'paths[{number}]' in {where}"))
            entry = self.storage.entry_at(repo, commit_id, path) if path else None
            if entry is not None:
                result.append(self._entry_json(repo, commit_id, path, entry, expand))
        self._send_json(result)

    # -- downloads ------------------------------------------------------------------------

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
        path = parse_read_path(path)
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
