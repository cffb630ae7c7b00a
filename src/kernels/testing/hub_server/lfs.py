"""The git-lfs batch API and the upload, verify and download URLs it hands out."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Dict
from urllib.parse import quote

from .errors import HubError
from .names import SHA256_RE
from .payloads import field, require
from .storage import Repo

class LfsRoutes:
    """LFS endpoints (mixed into the handler).

    The batch API checks the token (write for uploads, read for downloads) and hands out URLs
    back to this server signed with an HMAC (``?sig=``): ``huggingface_hub`` PUTs to them
    without its Authorization header, as to a presigned storage URL. Without a valid signature,
    the upload/verify URLs need a token that may write to the repository.
    """

    def _lfs_signature(self, repo: Repo, oid: str) -> str:
        """HMAC of the repository and oid with the server's secret (for the URLs handed out)."""
        message = f"{repo.type}/{repo.id}/{oid}".encode()
        return hmac.new(self.hub.secret, message, hashlib.sha256).hexdigest()

    def _lfs_href(self, repo: Repo, oid: str, suffix: str = "") -> str:
        # huggingface_hub PUTs to this URL without its Authorization header (it is meant to be a
        # presigned storage URL): authorize the upload with a signature in the query string.
        base = f"{self.base_url}/{quote(repo.url_path)}.git/info/lfs/objects/{oid}{suffix}"
        return f"{base}?sig={self._lfs_signature(repo, oid)}"

    def _lfs_signed(self, repo: Repo, oid: str) -> bool:
        """Whether the request carries the signature the batch API put in the URL it handed out."""
        sig = self._q("sig") or ""
        return hmac.compare_digest(sig, self._lfs_signature(repo, oid))

    def _lfs_batch(self, repo: Repo) -> None:
        where = "LFS batch request"
        payload = self._json_body(where)
        operation = field(payload, "operation", "string", where, required=True, choices=["upload", "download"])
        field(payload, "transfers", "array", where)
        field(payload, "ref", "object", where)
        field(payload, "hash_algo", "string", where, choices=["sha256"])
        items = field(payload, "objects", "array", where, default=[])
        if operation == "upload":
            self._writable(repo, f"upload LFS objects to {repo.type} {repo.id}")
        else:
            self._readable(repo)
        objects = []
        for number, obj in enumerate(items):
            obj_where = f"'objects[{number}]' of the {where}"
            require(obj, "object", obj_where)
            oid = field(obj, "oid", "string", obj_where, required=True)
            size = field(obj, "size", "integer", obj_where, required=True)
            if not SHA256_RE.fullmatch(oid) or size < 0:  # well-typed but invalid: per object, as git-lfs says
                objects.append({"oid": oid, "size": size, "error": {"code": 422, "message": "Invalid object"}})
                continue
            present = self.storage.has_lfs(repo, oid, size)
            entry: Dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            href = self._lfs_href(repo, oid)
            if operation == "upload":
                if not present:
                    entry["actions"] = {"upload": {"href": href, "header": {}},
                                        "verify": {"href": self._lfs_href(repo, oid, "/verify"), "header": {}}}
            elif present:
                entry["actions"] = {"download": {"href": href, "header": {}}}
            else:
                entry["error"] = {"code": 404, "message": "Object does not exist"}
            objects.append(entry)
        body = json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode()
        self._send(200, body, content_type="application/vnd.git-lfs+json")

    def _lfs_put(self, repo: Repo, oid: str) -> None:
        if self._lfs_signed(repo, oid):
            self._readable_as_owner(repo)
        else:
            self._writable(repo, f"upload LFS objects to {repo.type} {repo.id}")
        self.storage.put_lfs_stream(repo, oid, self._content_length(), self._iter_body())
        self._send(200, b"", content_type="text/plain; charset=utf-8")

    def _lfs_verify(self, repo: Repo, oid: str) -> None:
        if self._lfs_signed(repo, oid):
            self._readable_as_owner(repo)
        else:
            self._writable(repo, f"upload LFS objects to {repo.type} {repo.id}")
        where = "LFS verify request"
        payload = self._json_body(where)
        claimed = field(payload, "oid", "string", where)
        if claimed is not None and claimed.lower() != oid:
            raise HubError(400, f"'oid' in {where} ({claimed!r}) differs from the URL's ({oid})")
        size = field(payload, "size", "integer", where, minimum=0)
        if not self.storage.has_lfs(repo, oid, size):
            raise HubError(404, f"LFS object not found: {oid}")
        self._send_json({"success": True})

    def _lfs_get(self, repo: Repo, oid: str) -> None:
        if self._lfs_signed(repo, oid):
            self._readable_as_owner(repo)
        else:
            self._readable(repo)
        if not self.storage.has_lfs(repo, oid):
            raise HubError(404, f"LFS object not found: {oid}")
        self._send_file(repo.object_path("lfs", oid), {"ETag": f'"{oid}"'})
