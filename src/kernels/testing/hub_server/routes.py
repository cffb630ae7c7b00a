"""URL dispatch: which endpoint answers a method and path."""

from __future__ import annotations

import re
from typing import List
from urllib.parse import unquote

from .errors import HubError
from .names import DEFAULT_BRANCH, PLURAL_TO_TYPE, PREFIX_TO_TYPE

LFS_ROUTE_RE = re.compile(
    r"^/(?:(datasets|spaces|kernels)/)?([^/]+)/([^/]+)\.git/info/lfs/objects/(batch|[0-9a-f]{64})(/verify)?$"
)


class Router:
    """Dispatch of a request path to the endpoint methods (mixed into the handler)."""

    def _route(self, path: str) -> None:
        """Answer ``self.command`` on ``path`` (percent-decoded per segment): 404 for unknown
        routes, 405 for a known LFS URL with the wrong method, 400 for invalid repo names."""
        segments = [unquote(s) for s in path.split("/")[1:]]
        method = self.command
        if segments and segments[-1] == "" and len(segments) > 1:
            segments = segments[:-1]
        if segments[:1] == ["api"]:
            return self._route_api(segments[1:], method)
        match = LFS_ROUTE_RE.match(path)
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
            self._json_body("validate-yaml payload")  # the README is accepted as it is
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
        if action == "auth-check" and args in ([], ["write"]) and method == "GET":
            return self._auth_check(repo, write=bool(args))
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
