"""A small Hugging Face Hub compatible HTTP server, for tests and offline use.

The server speaks the subset of the Hub's HTTP API that ``huggingface_hub``'s client uses to
create repositories, commit files (regular and LFS), manage branches and tags, list trees and
download files. It is written with the standard library only (``http.server``), keeps a
git-like history on disk and survives restarts::

    python -m kernels.testing.hub_server --root /tmp/hub --port 8080 [--token hf_ro:read] \
        [--token hf_ci:write:my-org] [--reject-unknown-tokens]

or from Python::

    from kernels.testing.hub_server import HubServer

    with HubServer(tmp_path / "hub") as server:
        api = HfApi(endpoint=server.url, token="hf_dummy")
        api.create_repo("my-org/relu", repo_type="kernel")

Storage layout (under ``root``; see :mod:`.storage` for object ids and atomic writes)::

    repos/<type>/<namespace>/<name>/repo.json      repository metadata (private, createdAt)
    repos/<type>/<namespace>/<name>/refs.json      branches, tags and pull-request refs
    repos/<type>/<namespace>/<name>/objects/blob/  regular file contents, named by git blob sha1
    repos/<type>/<namespace>/<name>/objects/lfs/   LFS file contents, named by sha256
    repos/<type>/<namespace>/<name>/objects/tree/  tree objects (JSON), named by git tree sha1
    repos/<type>/<namespace>/<name>/objects/commit/ commit objects (JSON), named by git commit sha1
    orgs.json                                      organization settings (trusted publishers)

Names are checked before anything is created (:mod:`.names`): repo types, namespaces and repo
names (the Hub's rules), revisions, branch and tag names (git's ``check-ref-format``) and paths
in commits (relative, no empty, ``.`` or ``..`` segment, no backslash or control character,
nothing under ``.git/``). JSON payloads are type-checked field by field (:mod:`.payloads`).
Client mistakes are answered 400 (or 401/403/404/409/412/413 like the Hub) with a JSON
``{"error": ...}`` naming what is wrong, never 500.

Tokens (:mod:`.auth`): by default any bearer token authenticates as the default user with the
write role over every namespace. :meth:`HubServer.add_token` registers tokens with a user, a
role (``read``/``write``) and organisations; ``accept_any_token=False`` refuses other tokens
(401). Read tokens get 403 for every write, organisation-scoped write tokens 403 outside their
namespaces; anonymous requests read public repositories only. ``whoami-v2`` reports the token's
role (``auth.accessToken.role``) and organisations.

The package, by job: :mod:`.names` and :mod:`.payloads` (validation), :mod:`.objects` and
:mod:`.storage` (git-like storage), :mod:`.auth` (tokens, permissions), :mod:`.handler` (HTTP
plumbing, access checks), :mod:`.routes` (dispatch), :mod:`.repos`, :mod:`.files`,
:mod:`.uploads` and :mod:`.lfs` (endpoints), :mod:`.server` (:class:`HubServer`,
:class:`RequestLog`), :mod:`.cli` (the command line).

Endpoints (``{type}s`` is ``models``, ``datasets``, ``spaces`` or ``kernels``; ``{prefix}`` is the
repo type's URL prefix: empty, ``datasets/``, ``spaces/`` or ``kernels/``):

- ``POST /api/repos/create``, ``DELETE /api/repos/delete``, ``PUT /api/{type}s/{repo}/settings``
- ``GET /api/{type}s`` (listing, ``author``/``search``/``limit``)
- ``GET /api/{type}s/{repo}`` and ``GET /api/{type}s/{repo}/revision/{rev}``
- ``GET /api/{type}s/{repo}/refs``, ``GET /api/{type}s/{repo}/commits/{rev}``
- ``GET /api/{type}s/{repo}/auth-check[/write]`` (for a write to a repository that does not
  exist yet, the token's permission to create it in that namespace)
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

from .auth import Token, TokenTable
from .cli import main
from .errors import HubError, InvalidNameError
from .server import HubServer, RequestLog
from .storage import HubStorage, Repo, git_blob_sha1, lfs_pointer

__all__ = [
    "HubError", "HubServer", "HubStorage", "InvalidNameError", "Repo", "RequestLog", "Token", "TokenTable",
    "git_blob_sha1", "lfs_pointer", "main",
]
