"""Endpoints about accounts, repositories, refs and history."""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List
from urllib.parse import urlencode, urlsplit

from .auth import check_read
from .errors import HubError
from .names import DEFAULT_BRANCH, REPO_TYPES, parse_namespace, parse_ref_name, parse_repo_name, parse_repo_type
from .payloads import field
from .storage import Repo


class RepoRoutes:
    """Account, repository, ref and history endpoints (mixed into the handler)."""

    # -- account --------------------------------------------------------------------------

    def _whoami(self) -> None:
        token = self._require_user()
        names = sorted(self.storage.orgs()) if token.orgs is None else sorted(token.orgs)
        role_in_org = "admin" if token.role == "write" else "read"
        orgs = [{"type": "org", "name": org, "fullname": org, "roleInOrg": role_in_org, "isEnterprise": False}
                for org in names]
        user = token.user
        self._send_json({
            "type": "user", "id": hashlib.sha1(user.encode()).hexdigest()[:24], "name": user, "fullname": "Test User",
            "email": f"{user}@users.noreply.localhost", "emailVerified": True, "canPay": False, "isPro": False,
            "periodEnd": None, "avatarUrl": "", "orgs": orgs,
            "auth": {"type": "access_token", "accessToken": {"displayName": token.display_name, "role": token.role}},
        })

    def _auth_check(self, repo, write: bool) -> None:  # type: ignore[no-untyped-def]
        """``GET /api/{type}s/{id}/auth-check[/write]``: 200 when the token may read (write to)
        the repository. For writes, a repository that does not exist yet is judged by its
        namespace (whether the token could create it there) rather than answered with 404."""
        if not write:
            self._readable(repo)
        elif repo.exists():
            self._writable(repo)
        else:
            self._require_user()
            self._may_write(repo.namespace, f"create a {repo.type}")
        self._send_json({})

    def _org_overview(self, org: str) -> None:
        parse_namespace(org)
        settings = self.storage.orgs().get(org)
        known = settings is not None or any(
            (self.storage.root / "repos" / t / org).is_dir() for t in REPO_TYPES
        )
        if not known or org in self.hub.tokens.users():
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

    # -- repositories ---------------------------------------------------------------------

    def _repo_from_payload(self, payload: Dict[str, Any], where: str) -> Repo:
        """The repository a create/delete payload names (``type``, ``organization``, ``name``);
        the namespace defaults to the token's user. 400 for wrong types or invalid names."""
        repo_type = parse_repo_type(field(payload, "type", "string", where, default="model"))
        name = parse_repo_name(field(payload, "name", "string", where, required=True))
        namespace = field(payload, "organization", "string", where)
        namespace = self._require_user().user if namespace is None else parse_namespace(namespace)
        return self.storage.repo(repo_type, namespace, name)

    def _create_repo(self) -> None:
        self._require_user()
        where = "create-repo payload"
        payload = self._json_body(where)
        repo = self._repo_from_payload(payload, where)
        private = field(payload, "private", "boolean", where)
        visibility = field(payload, "visibility", "string", where, choices=["public", "private", "protected"])
        if private is None:
            private = visibility == "private"
        token = self._may_write(repo.namespace, f"create a {repo.type}")
        url = f"{self.base_url}/{repo.url_path}"
        if not self.storage.create_repo(repo, private=private, author=token.user):
            err = HubError(409, f"You already created this {repo.type} repo: {repo.id}")
            err.body = {"url": url}
            raise err
        self._send_json({"url": url, "name": repo.id, "id": repo.meta()["_id"]})

    def _delete_repo(self) -> None:
        self._require_user()
        where = "delete-repo payload"
        repo = self._repo_from_payload(self._json_body(where), where)
        action = f"delete {repo.type} {repo.id}"
        if repo.exists():
            self._writable(repo, action)  # 404 for a private repository the token cannot see
        else:
            self._may_write(repo.namespace, action)
        if not self.storage.delete_repo(repo):
            raise HubError(404, f"Repository not found: {repo.type} {repo.id}", "RepoNotFound")
        self._send(200, b"", content_type="text/plain; charset=utf-8")

    def _settings(self, repo: Repo) -> None:
        self._writable(repo, f"change the settings of {repo.type} {repo.id}")
        where = "settings payload"
        payload = self._json_body(where)
        private = field(payload, "private", "boolean", where)
        visibility = field(payload, "visibility", "string", where, choices=["public", "private"])
        if visibility is not None:
            private = visibility == "private"
        gated = payload.get("gated")
        if gated is not None and gated is not False and gated not in ("auto", "manual"):
            raise HubError(400, f"'gated' in {where} must be false, 'auto' or 'manual', got {gated!r}")
        meta = self.storage.update_meta(repo, private=private, gated=gated)
        self._send_json({"private": meta["private"], "gated": meta.get("gated", False)})

    def _list_repos(self, repo_type: str) -> None:
        author = self._q("author")
        if author:
            parse_namespace(author)
        search = (self._q("search") or "").lower()
        limit = self._qint("limit", 0)
        result = []
        for repo in self.storage.list_repos(repo_type):
            meta = repo.meta()
            if author and repo.namespace != author:
                continue
            if search and search not in repo.id.lower():
                continue
            try:
                check_read(self.token, repo.type, repo.id, repo.namespace, bool(meta.get("private")))
            except HubError:
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

    # -- refs and history -----------------------------------------------------------------

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
        if method == "DELETE":
            self._writable(repo, f"delete a branch of {repo.type} {repo.id}")
            self.storage.delete_ref(repo, "branches", branch)
            return self._send_json({"success": True})
        self._writable(repo, f"create a branch in {repo.type} {repo.id}")
        parse_ref_name(branch, "branch name")
        where = "create-branch payload"
        payload = self._json_body(where)
        start = (field(payload, "startingPoint", "string", where) or field(payload, "revision", "string", where)
                 or DEFAULT_BRANCH)
        self.storage.create_ref(repo, "branches", branch, self._resolve(repo, start))
        self._send_json({"success": True})

    def _tag(self, repo: Repo, arg: str, method: str) -> None:
        if method == "DELETE":
            self._writable(repo, f"delete a tag of {repo.type} {repo.id}")
            self.storage.delete_ref(repo, "tags", arg)
            return self._send_json({"success": True})
        self._writable(repo, f"create a tag in {repo.type} {repo.id}")
        where = "create-tag payload"
        payload = self._json_body(where)
        tag = parse_ref_name(field(payload, "tag", "string", where, required=True), "tag name")
        field(payload, "message", "string", where)
        self.storage.create_ref(repo, "tags", tag, self._resolve(repo, arg))
        self._send_json({"success": True})

    def _paginate(self, items: List[Any], default_limit: int, render: Any = None) -> None:
        """Answer one page of ``items`` (``cursor``/``limit`` query), with a ``Link: rel="next"`` header."""
        start = self._qint("cursor", 0)
        limit = self._qint("limit", default_limit, minimum=1)
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

