"""Every conversation with the Hugging Face Hub, in one place.

Kernel repositories have repo type ``kernel``; builds live on version branches ``v<N>``
under ``build/<variant>/``. The endpoint comes from ``HF_ENDPOINT`` *at call time* (the
huggingface_hub client reads it once at import), so a test server or a mirror set later in
the process is honoured.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import List, Optional, Sequence, Set

from .errors import HubError

REPO_TYPE = "kernel"
_VERSION_BRANCH = re.compile(r"^v(\d+)$")


def endpoint() -> Optional[str]:
    """The Hub endpoint to talk to: ``HF_ENDPOINT`` when set, else huggingface_hub's default."""
    return os.environ.get("HF_ENDPOINT") or None


def cache_dir() -> Optional[str]:
    """Where downloads go: ``KERNELS_CACHE``, else ``HF_HUB_CACHE``, else huggingface_hub's
    default (read at call time, like the endpoint)."""
    return os.environ.get("KERNELS_CACHE") or os.environ.get("HF_HUB_CACHE") or None


def api():  # -> huggingface_hub.HfApi
    """A client bound to the current endpoint and token."""
    from huggingface_hub import HfApi  # noqa: PLC0415 - keep `import kernels` cheap

    return HfApi(endpoint=endpoint())


def whoami() -> str:
    """The Hub user name of the current token (``HF_TOKEN`` or ``hf auth login``). Raises what
    huggingface_hub raises: no token, a rejected one, no connection."""
    return str(api().whoami()["name"])


def version_branches(repo_id: str) -> List[int]:
    """The kernel's major versions: branches named ``v<N>``, sorted."""
    refs = _call(lambda: api().list_repo_refs(repo_id, repo_type=REPO_TYPE), repo_id)
    return sorted(int(m[1]) for b in refs.branches for m in [_VERSION_BRANCH.match(b.name)] if m)


def resolve_revision(repo_id: str, *, version: Optional[int] = None, revision: Optional[str] = None) -> str:
    """``revision`` as given, ``v<version>``, or the highest ``v<N>`` branch (else ``main``)."""
    if revision is not None and version is not None:
        raise HubError("give either version or revision, not both")
    if revision is not None:
        return revision
    versions = version_branches(repo_id)
    if version is not None:
        if version not in versions:
            have = ", ".join(f"v{v}" for v in versions) or "none"
            raise HubError(f"{repo_id} has no version {version} (branch v{version}); versions: {have}")
        return f"v{version}"
    return f"v{versions[-1]}" if versions else "main"


def download_tree(
    repo_id: str, *, version: Optional[int] = None, revision: Optional[str] = None,
    variants: Optional[Sequence[str]] = None,
) -> Path:
    """Download ``build/`` (or only some variants) of a kernel repo into the cache; return
    the snapshot directory (which holds ``build/<variant>/``)."""
    from huggingface_hub import snapshot_download  # noqa: PLC0415

    rev = resolve_revision(repo_id, version=version, revision=revision)
    patterns = [f"build/{v}/*" for v in variants] if variants else ["build/*"]
    path = _call(
        lambda: snapshot_download(
            repo_id, repo_type=REPO_TYPE, revision=rev, allow_patterns=patterns,
            ignore_patterns=["*.pyc", "*/__pycache__/*"], endpoint=endpoint(), cache_dir=cache_dir(),
        ),
        repo_id, rev,
    )
    return Path(path)


def list_files(repo_id: str, revision: str) -> List[str]:
    """All file paths of ``repo_id`` at ``revision`` (empty when the branch does not exist)."""
    from huggingface_hub.errors import RevisionNotFoundError  # noqa: PLC0415

    try:
        return list(api().list_repo_files(repo_id, repo_type=REPO_TYPE, revision=revision))
    except RevisionNotFoundError:
        return []


def ensure_repo(repo_id: str, *, private: bool = False) -> None:
    """Create the kernel repository when it does not exist yet."""
    _call(lambda: api().create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True), repo_id)


def ensure_branch(repo_id: str, branch: str) -> bool:
    """Create ``branch`` from ``main`` when missing; return True when it was created."""
    refs = _call(lambda: api().list_repo_refs(repo_id, repo_type=REPO_TYPE), repo_id)
    if any(b.name == branch for b in refs.branches):
        return False
    _call(lambda: api().create_branch(repo_id, repo_type=REPO_TYPE, branch=branch, exist_ok=True), repo_id)
    return True


def commit(repo_id: str, branch: str, operations: list, message: str) -> str:
    """One commit of ``operations`` on ``branch``; return the commit id."""
    info = _call(
        lambda: api().create_commit(
            repo_id, repo_type=REPO_TYPE, revision=branch, operations=operations, commit_message=message
        ),
        repo_id, branch,
    )
    return info.oid


def add_operation(path_in_repo: str, data):  # -> CommitOperationAdd
    from huggingface_hub import CommitOperationAdd  # noqa: PLC0415

    return CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=data)


def delete_operation(path_in_repo: str):  # -> CommitOperationDelete
    from huggingface_hub import CommitOperationDelete  # noqa: PLC0415

    return CommitOperationDelete(path_in_repo=path_in_repo)


def _call(fn, repo_id: str, revision: Optional[str] = None):
    """Run a client call; turn the client's errors into one clear :class:`HubError`."""
    from huggingface_hub.errors import (  # noqa: PLC0415
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f" at revision {revision!r}" if revision else ""
    try:
        return fn()
    except RepositoryNotFoundError:
        raise HubError(f"kernel repository {repo_id!r} not found on {endpoint() or 'the Hub'} "
                       "(check the name, and HF_TOKEN for private repositories)") from None
    except RevisionNotFoundError:
        raise HubError(f"{repo_id!r} has no revision {revision!r}") from None
    except LocalEntryNotFoundError:  # before EntryNotFoundError: it is a subclass
        raise HubError(f"{repo_id}{at} is not in the local cache and the Hub cannot be reached "
                       "(offline?); connect once or unset HF_HUB_OFFLINE") from None
    except EntryNotFoundError as exc:
        raise HubError(f"{repo_id}{at}: file not found: {exc}") from None
    except HfHubHTTPError as exc:
        raise HubError(f"{repo_id}{at}: the Hub answered: {str(exc).splitlines()[0]}") from None


# --------------------------------------------------------------------------- runtime (loading)

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
#: ``(endpoint, org) -> trusted``: answers of the Hub, memoised for the life of the process.
_TRUSTED_PUBLISHERS: dict = {}


def is_commit_hash(revision: Optional[str]) -> bool:
    """Whether ``revision`` is a full 40-hex commit id (immutable, so the cache can answer).

    Example::

        >>> is_commit_hash("0123456789abcdef0123456789abcdef01234567"), is_commit_hash("v1")
        (True, False)
    """
    return bool(revision) and bool(_COMMIT_RE.match(revision))


def offline() -> bool:
    """Whether outgoing traffic is disabled: ``HF_HUB_OFFLINE`` read now, or as
    huggingface_hub read it at import.

    Example::

        >>> import os; os.environ["HF_HUB_OFFLINE"] = "1"; offline()   # doctest: +SKIP
        True
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "on", "yes", "true"):
        return True
    from huggingface_hub import constants  # noqa: PLC0415

    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def user_agent(extra=None):  # -> Union[dict, str, None]
    """The user agent of runtime requests: ``extra`` (dict or str) and, unless
    ``HF_HUB_DISABLE_TELEMETRY`` is set, the kernels/python/torch versions and ``file_type/kernel``.

    Example::

        >>> user_agent({"my-lib": "1.0"})["my-lib"]
        '1.0'
    """
    if os.environ.get("HF_HUB_DISABLE_TELEMETRY", "").strip().lower() in ("1", "on", "yes", "true"):
        return extra or None
    import platform  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from . import __version__  # noqa: PLC0415

    agent = {"kernels": __version__, "python": platform.python_version(), "file_type": "kernel",
             "platform": platform.platform(terse=True)}
    torch = sys.modules.get("torch")
    if torch is not None:
        agent["torch"] = str(getattr(torch, "__version__", "unknown")).split("+")[0]
    if isinstance(extra, str):
        return "; ".join(f"{k}/{v}" for k, v in agent.items()) + "; " + extra
    agent.update(extra or {})
    return agent


#: One part of a repository id by the Hub's rules (huggingface_hub's ``validate_repo_id``):
#: letters, digits, ``_``, ``-`` and ``.``, starting and ending with a letter, digit or ``_``.
_REPO_ID_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?"
_REPO_ID_RE = re.compile(rf"{_REPO_ID_PART}/{_REPO_ID_PART}")


def check_repo_id(repo_id: object) -> str:
    """``repo_id`` when it is a Hub repository id of the form ``"org/name"``; else
    :class:`HubError` (a ``ValueError``) naming it.

    Ids become cache paths and URLs, so nothing else may pass (``../../etc``, ``a//b``, names
    with spaces or line breaks). The rules are the Hub's, as huggingface_hub's
    ``validate_repo_id`` applies them (also: no ``--`` or ``..``, no ``.git`` ending, at most
    96 characters); they are checked here without importing huggingface_hub, because warm
    loads pinned to a commit otherwise never import it.

    >>> check_repo_id("kernels-community/relu")
    'kernels-community/relu'
    """
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise HubError(f"{repo_id!r} is not a kernel repository id of the form 'org/name'")
    if (not _REPO_ID_RE.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id
            or repo_id.endswith(".git") or len(repo_id) > 96):
        raise HubError(f"{repo_id!r} is not a valid repository id: use letters, digits, '-', '_' and '.', "
                       "not at the start or end of a part, without '--' or '..', at most 96 characters")
    return repo_id


def list_variants(repo_id: str, revision: str, *, user_agent_extra=None) -> List[str]:
    """Names of the folders under ``build/`` of ``repo_id`` at ``revision`` (one request).

    Empty when the revision has no ``build/`` folder. Raises :class:`HubError` for a missing
    repository or revision.

    Example::

        >>> list_variants("kernels-community/relu", "v1")        # doctest: +SKIP
        ['torch-cpu', 'torch213-cxx11-cpu-x86_64-linux', 'torch213-cxx11-cu130-x86_64-linux']
    """
    from huggingface_hub import HfApi  # noqa: PLC0415
    from huggingface_hub.errors import EntryNotFoundError  # noqa: PLC0415
    from huggingface_hub.hf_api import RepoFolder  # noqa: PLC0415

    client = HfApi(endpoint=endpoint(), user_agent=user_agent(user_agent_extra))

    def listing() -> List[str]:
        try:
            entries = list(client.list_repo_tree(repo_id, "build", revision=revision, repo_type=REPO_TYPE))
        except EntryNotFoundError:
            return []
        return sorted(e.path.rsplit("/", 1)[-1] for e in entries if isinstance(e, RepoFolder))

    return _call(listing, repo_id, revision)


def download_variant_file(repo_id: str, revision: str, variant: str, filename: str = "metadata.json",
                          *, user_agent_extra=None) -> Path:
    """Download one file of ``build/<variant>/`` into the cache; return its path.

    The path lies in ``snapshots/<commit>/``, so it also tells which commit ``revision`` is.

    Example::

        >>> download_variant_file("kernels-community/relu", "v1", "torch-cpu")   # doctest: +SKIP
        PosixPath('.../kernels--kernels-community--relu/snapshots/<sha>/build/torch-cpu/metadata.json')
    """
    from huggingface_hub import hf_hub_download  # noqa: PLC0415

    _check_variant_name(variant)
    path = _call(
        lambda: hf_hub_download(
            repo_id, f"build/{variant}/{filename}", repo_type=REPO_TYPE, revision=revision,
            endpoint=endpoint(), cache_dir=cache_dir(), user_agent=user_agent(user_agent_extra),
        ),
        repo_id, revision,
    )
    return Path(path)


def download_variant(repo_id: str, revision: str, variant: str, *, local_files_only: bool = False,
                     user_agent_extra=None) -> Path:
    """Download only ``build/<variant>/*`` (no bytecode) into the cache; return the variant dir.

    With ``local_files_only`` nothing is requested: the cached snapshot must be complete for
    that variant (huggingface_hub checks its cached file listing), else :class:`HubError`.

    Example::

        >>> download_variant("kernels-community/relu", "v1", "torch-cpu")       # doctest: +SKIP
        PosixPath('.../snapshots/<sha>/build/torch-cpu')
    """
    from huggingface_hub import snapshot_download  # noqa: PLC0415

    _check_variant_name(variant)
    path = _call(
        lambda: snapshot_download(
            repo_id, repo_type=REPO_TYPE, revision=revision, allow_patterns=[f"build/{variant}/*"],
            ignore_patterns=["*.pyc", "*/__pycache__/*"], endpoint=endpoint(), cache_dir=cache_dir(),
            local_files_only=local_files_only, user_agent=user_agent(user_agent_extra),
        ),
        repo_id, revision,
    )
    return Path(path) / "build" / variant


def _check_variant_name(variant: str) -> None:
    """Variant names become paths in the cache: only real variant names pass (``ValueError``)."""
    from .variants import parse_variant  # noqa: PLC0415

    parse_variant(variant)


def cache_root() -> Path:
    """The hub cache directory actually used (``KERNELS_CACHE``, ``HF_HUB_CACHE`` or the default)."""
    configured = cache_dir()
    if configured:
        return Path(configured)
    from huggingface_hub import constants  # noqa: PLC0415

    return Path(constants.HF_HUB_CACHE)


def cached_snapshot(repo_id: str, revision: str) -> Optional[Path]:
    """The cached snapshot of ``repo_id`` at ``revision`` (a commit id, or a branch or tag the
    cache has a ref for), without any request; None when the cache does not have it.

    Looks in ``kernels--<org>--<name>`` and, for caches written by older runtimes,
    ``models--<org>--<name>``.

    Example::

        >>> cached_snapshot("kernels-community/relu", "v1")                      # doctest: +SKIP
        PosixPath('.../kernels--kernels-community--relu/snapshots/<sha>')
    """
    org_name = repo_id.replace("/", "--")
    for prefix in ("kernels", "models"):
        storage = cache_root() / f"{prefix}--{org_name}"
        if not storage.is_dir():
            continue
        commit_id: Optional[str] = revision if is_commit_hash(revision) else None
        if commit_id is None:
            ref = storage / "refs" / revision
            if ref.is_file():
                commit_id = ref.read_text().strip()
        if commit_id and (storage / "snapshots" / commit_id).is_dir():
            return storage / "snapshots" / commit_id
    return None


def cached_versions(repo_id: str) -> List[int]:
    """Major versions (``refs/v<N>``) the cache knows for ``repo_id``, sorted."""
    org_name = repo_id.replace("/", "--")
    found = set()
    for prefix in ("kernels", "models"):
        refs = cache_root() / f"{prefix}--{org_name}" / "refs"
        if refs.is_dir():
            found.update(int(m[1]) for p in refs.iterdir() for m in [_VERSION_BRANCH.match(p.name)] if m)
    return sorted(found)


def is_trusted_publisher(org: str) -> bool:
    """Whether the Hub marks ``org`` as a trusted kernel publisher (``trustedKernelPublisher``
    in ``GET /api/organizations/{org}/overview``). Unknown organisations (and users) are not
    trusted. Answers are memoised per endpoint for the life of the process.

    Example::

        >>> is_trusted_publisher("kernels-community")                           # doctest: +SKIP
        True
    """
    key = (endpoint(), org)
    if key in _TRUSTED_PUBLISHERS:
        return _TRUSTED_PUBLISHERS[key]
    if _remembered_trust(key):
        _TRUSTED_PUBLISHERS[key] = True
        return True
    from huggingface_hub.errors import HfHubHTTPError  # noqa: PLC0415
    try:
        overview = api().get_organization_overview(org)
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status != 404:
            raise HubError(f"cannot tell whether {org!r} is a trusted kernel publisher: the Hub "
                           f"answered: {str(exc).splitlines()[0]}") from None
        trusted = False
    else:
        value = getattr(overview, "trustedKernelPublisher", None)
        if value is None:
            value = getattr(overview, "trusted_kernel_publisher", False)
        trusted = bool(value)
    _TRUSTED_PUBLISHERS[key] = trusted
    if trusted:
        _remember_trust(key)
    return trusted


#: How long a "trusted publisher" answer is reused by later processes (seconds).
TRUST_TTL = 24 * 3600


def _trust_file() -> Path:
    return cache_root() / ".kernels" / "trusted-publishers.json"


def _remembered_trust(key: tuple, max_age: Optional[float] = TRUST_TTL) -> bool:
    """Whether the Hub said ``org`` is trusted, less than ``max_age`` seconds ago (None: ever),
    as remembered on disk (so a warm load in a new process needs no request). Only "trusted"
    is remembered."""
    import time  # noqa: PLC0415

    try:
        seen = json.loads(_trust_file().read_text()).get(f"{key[0] or ''}|{key[1]}")
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(seen, (int, float)):
        return False
    return max_age is None or 0 <= time.time() - seen < max_age


def remembered_trusted_publisher(org: str) -> bool:
    """Whether the Hub (at :func:`endpoint`) ever said, on this machine, that ``org`` is a
    trusted kernel publisher. What offline loads go by, since the Hub cannot be asked then.

    Example::

        >>> remembered_trusted_publisher("kernels-community")                   # doctest: +SKIP
        True
    """
    return _remembered_trust((endpoint(), org), max_age=None)


def _remember_trust(key: tuple) -> None:
    import time  # noqa: PLC0415

    path = _trust_file()
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[f"{key[0] or ''}|{key[1]}"] = time.time()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache: ask again next time


def cached_tree(snapshot: Path) -> Optional[dict]:
    """The file listing of a cached snapshot's commit, as huggingface_hub records it next to
    the snapshots (``trees/<commit>.json``, written by ``snapshot_download``): path -> info with
    ``size``, ``blob_id`` and, for LFS files, ``lfs_sha256``. None when there is none (or its
    format is unknown). Read directly: importing huggingface_hub's reader costs more than the
    whole warm load."""
    try:
        data = json.loads((snapshot.parent.parent / "trees" / f"{snapshot.name}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format_version") != 1 or not isinstance(data.get("files"), dict):
        return None
    return data["files"]


def cached_variant_listing(snapshot: Path) -> Optional[List[str]]:
    """The variant folders under ``build/`` of a cached snapshot's commit (from
    :func:`cached_tree`); None when the cache has no listing (then only the variants on disk
    are known).

    Example::

        >>> cached_variant_listing(cached_snapshot("kernels-community/relu", "v1"))   # doctest: +SKIP
        ['torch-cpu', 'torch213-cxx11-cpu-x86_64-linux']
    """
    files = cached_tree(snapshot)
    if files is None:
        return None
    return sorted({p.split("/")[1] for p in files if p.startswith("build/") and p.count("/") >= 2})


def cached_variant_complete(snapshot: Path, variant: str) -> bool:
    """Whether every file of ``build/<variant>/`` (bytecode aside) is in the cached snapshot,
    without any request. (Whether their contents are right is :mod:`kernels.integrity`'s job.)"""
    files = cached_tree(snapshot)
    if files is None:
        return False
    prefix = f"build/{variant}/"
    wanted = {p: info for p, info in files.items()
              if p.startswith(prefix) and not p.endswith(".pyc") and "/__pycache__/" not in p}
    if not wanted:
        return False
    return all((snapshot / path).is_file() for path in wanted)


def cached_variant_lfs_files(snapshot: Path, variant: str) -> Optional[Set[str]]:
    """The LFS files of ``build/<variant>/`` (paths inside the variant) by the cached listing of
    the snapshot's commit, without any request; None where the cache holds no listing."""
    files = cached_tree(snapshot)
    if files is None:
        return None
    prefix = f"build/{variant}/"
    return {path[len(prefix):] for path, info in files.items()
            if path.startswith(prefix) and isinstance(info, dict) and info.get("lfs_sha256")}


# --------------------------------------------------------------------------- light requests
# A warm load needs at most one small answer from the Hub (which commit a branch is now). The
# full client costs a few hundred milliseconds to import, more than the whole warm load, so
# that one request goes through the standard library; any failure falls back to the client.


def _token() -> Optional[str]:
    """The token huggingface_hub would send: ``HF_TOKEN``, else the saved token file."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(name):
            return os.environ[name].strip()
    path = os.environ.get("HF_TOKEN_PATH") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "token")
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def current_commit(repo_id: str, revision: str, path: str, *, user_agent_extra=None) -> Optional[str]:
    """The commit ``revision`` points to now, from one HEAD request of ``path`` (a small file);
    None when that does not work out (the caller then asks the full client)."""
    import urllib.error  # noqa: PLC0415
    import urllib.parse  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    base = (endpoint() or "https://huggingface.co").rstrip("/")
    url = f"{base}/kernels/{repo_id}/resolve/{urllib.parse.quote(revision, safe='')}/{urllib.parse.quote(path)}"
    agent = user_agent(user_agent_extra)
    headers = {"User-Agent": agent if isinstance(agent, str) else
               "; ".join(f"{k}/{v}" for k, v in (agent or {"kernels": "runtime"}).items())}
    token = _token()
    if token:
        headers["Authorization"] = f"Bearer {token}"

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None  # the first answer carries X-Repo-Commit

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, method="HEAD", headers=headers), timeout=10) as response:
            commit = response.headers.get("X-Repo-Commit")
    except urllib.error.HTTPError as exc:
        commit = exc.headers.get("X-Repo-Commit") if 300 <= exc.code < 400 else None
    except (OSError, ValueError):
        return None
    return commit if is_commit_hash(commit) else None


# --------------------------------------------------------------------------- locking


def commit_of(repo_id: str, revision: str) -> str:
    """The commit id ``revision`` (a branch, tag or commit) points to now (one request)."""
    if is_commit_hash(revision):
        return revision
    info = _call(lambda: api().repo_info(repo_id, repo_type=REPO_TYPE, revision=revision), repo_id, revision)
    if not info.sha:
        raise HubError(f"{repo_id}: the Hub did not say which commit {revision!r} is")
    return info.sha


def variant_object_ids(repo_id: str, commit: str) -> dict:
    """``{variant: [(path inside the variant, object id), ...]}`` for every file under
    ``build/`` at ``commit``: the LFS sha256 for LFS files, else the git blob id. Bytecode is
    left out (downloads skip it too)."""
    from huggingface_hub.hf_api import RepoFile  # noqa: PLC0415

    def listing() -> list:
        return list(api().list_repo_tree(repo_id, "build", revision=commit, repo_type=REPO_TYPE, recursive=True))

    files: dict = {}
    for entry in _call(listing, repo_id, commit):
        if not isinstance(entry, RepoFile):
            continue
        parts = entry.path.split("/")
        if len(parts) < 3 or entry.path.endswith(".pyc") or "__pycache__" in parts:
            continue
        lfs = entry.lfs
        oid = (lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)) if lfs else None
        files.setdefault(parts[1], []).append(("/".join(parts[2:]), oid or entry.blob_id))
    return files


def download_benchmarks(repo_id: str, revision: str) -> Path:
    """Download ``benchmarks/benchmark*.py`` of ``repo_id`` at ``revision`` into the cache;
    return the snapshot's ``benchmarks`` directory (which may be missing: no scripts)."""
    from huggingface_hub import snapshot_download  # noqa: PLC0415

    path = _call(
        lambda: snapshot_download(
            repo_id, repo_type=REPO_TYPE, revision=revision, allow_patterns=["benchmarks/benchmark*.py"],
            endpoint=endpoint(), cache_dir=cache_dir(),
        ),
        repo_id, revision,
    )
    return Path(path) / "benchmarks"
