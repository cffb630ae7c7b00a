"""Loading kernels: from the Hugging Face Hub (:func:`get_kernel`) or a local tree
(:func:`get_local_kernel`).

A kernel repository holds one directory per build variant (``build/<variant>/``) on version
branches ``v<N>``. Loading a kernel means: list the variants, keep those this process can run
and take the best (:mod:`kernels.selection`), download only that one, check it (Python
dependencies, ``kernels-minver``, GPU architecture) and import it under its unique module name
(:mod:`kernels.local`)::

    >>> import torch
    >>> from kernels import get_kernel
    >>> relu = get_kernel("kernels-community/relu", version=1)                  # doctest: +SKIP
    >>> relu.relu(torch.tensor([-1.0, 2.0]))                                    # doctest: +SKIP
    tensor([0., 2.])

Resolution order: ``LOCAL_KERNELS`` (``"org/a=/path/a:org/b=/path/b"``), then the Hub, or only
the cache when ``HF_HUB_OFFLINE`` is set. ``KERNELS_CACHE`` moves the download cache. A call
pinned to a full commit id whose variant is cached makes no request at all.

Only publishers the Hub marks as trusted kernel publishers are loaded unless
``trust_remote_code`` says otherwise (``True``: anything; a list: these repositories too).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Collection, Dict, List, Optional, Tuple, Union

from . import hub, integrity
from .errors import (
    HubError,
    HubUnreachableError,
    IncompatibleKernelError,
    KernelIntegrityError,
    KernelNotCachedError,
    MissingPythonDependencyError,
    NoCompatibleVariantError,
    UntrustedKernelError,
)
from .local import (
    LoadedKernel,
    RepoInfo,
    check_arch as _check_gpu_arch,
    check_kernels_minver,
    check_python_depends,
    get_kernel_dep,
    get_loaded_kernels,
    import_variant,
    loaded_module,
    read_metadata,
    variant_dirs,
    warn_if_dirty,
)
from .hub.failures import unreachable_error
from .metadata import METADATA_FILENAME, Metadata
from .selection import Environment, VariantAccepted, VariantRejected, best_variant, evaluate_variants, explain
from .variants import ArchVariant

__all__ = [
    "LoadedKernel",
    "RepoInfo",
    "get_kernel",
    "get_kernel_dep",
    "get_kernel_variants",
    "get_loaded_kernels",
    "get_local_kernel",
    "has_kernel",
    "install_kernel",
]

logger = logging.getLogger("kernels")

PathLike = Union[str, "os.PathLike[str]"]
TrustRemoteCode = Union[bool, Collection[str], None]
UserAgent = Union[Dict[str, Any], str, None]

_NOT_CACHED_HINT = (
    "run the same call once with network access, download it ahead with `kernels download`, "
    "or point LOCAL_KERNELS at a local build (LOCAL_KERNELS=\"{repo_id}=/path/to/kernel\")"
)


def _environment() -> Environment:
    """The environment variants are judged against (a seam for tests)."""
    return Environment.detect()


@dataclass
class _Resolved:
    """A chosen variant: its directory (None when only decided), metadata and commit."""

    decisions: list
    variant: str
    variant_dir: Optional[Path] = None
    metadata: Optional[Metadata] = None
    commit: Optional[str] = None
    hub_down: bool = False  #: loaded from the cache because the Hub could not answer
    repo_id: str = ""  #: the repository the files come from (the destination of a redirect)


# --------------------------------------------------------------------------- public API


def get_local_kernel(
    repo_path: PathLike,
    package_name: Optional[str] = None,
    *,
    backend: Optional[str] = None,
    trust_remote_code: TrustRemoteCode = False,
    user_agent: UserAgent = None,
) -> ModuleType:
    """Import a kernel from a local directory.

    Args:
        repo_path: a kernel repository root, its ``build/`` directory, or one variant
            directory (holding ``metadata.json``). For a root or ``build/`` the best variant
            for this environment is picked, like :func:`get_kernel` does on the Hub.
        package_name: accepted for compatibility with older releases and ignored (the module
            name comes from ``metadata.json``).
        backend: ``"cpu"`` or the detected backend (default) to select variants for.
        trust_remote_code, user_agent: used for the kernel's ``kernel-depends`` that come from
            the Hub; local code itself is not checked.

    Returns:
        The kernel module, registered as ``sys.modules[metadata.id]``.

    Raises:
        FileNotFoundError: ``repo_path`` is not a directory, or no variant fits (the message
            lists every variant and why it was rejected).
        ValueError: ``backend`` is not one this system supports.

    Example::

        >>> from kernels import get_local_kernel
        >>> relu = get_local_kernel("relu/build")                               # doctest: +SKIP
        >>> relu.__name__                                                       # doctest: +SKIP
        '_relu_cpu_188d93a061'
    """
    del package_name  # derivable from metadata.json
    variant_dir, metadata, _ = _select_local(Path(repo_path), backend)
    return _load(variant_dir, metadata, None, backend=backend, trust_remote_code=trust_remote_code,
                 user_agent=user_agent, chain=())


def get_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    *,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: UserAgent = None,
    trust_remote_code: TrustRemoteCode = False,
    check_arch: bool = True,
    verify_signature: Optional[bool] = None,
) -> ModuleType:
    """Load a kernel from the Hugging Face Hub (or the cache, or ``LOCAL_KERNELS``).

    Args:
        repo_id: the kernel repository, ``"org/name"``.
        revision: a branch, tag or commit id; a full 40-hex commit id whose variant is cached
            loads without any request.
        version: the kernel's major version: branch ``v<version>``. Give exactly one of
            ``version`` and ``revision``.
        backend: ``"cpu"`` or the detected backend (default) to select variants for.
        user_agent: extra user-agent fields (dict) or text for the Hub requests.
        trust_remote_code: ``False``: only repositories of trusted kernel publishers;
            ``True``: any; a list of repo ids: these too.
        check_arch: refuse a variant not compiled for this GPU.
        verify_signature: check the variant's sigstore signature and signed digest before
            importing it (and the kernels it depends on); ``None`` (default): only when
            ``KERNELS_VERIFY_SIGNATURES=1``. A cached variant is verified once. Needs
            ``kernels[sigstore]``; ``LOCAL_KERNELS`` and local kernels are not checked.

    Returns:
        The kernel module (``sys.modules[metadata.id]``); the same object on every call.

    Raises:
        ValueError: both or neither of ``version`` and ``revision``; an unknown version,
            repository or revision; an untrusted publisher; a bad ``backend``; a bad
            ``LOCAL_KERNELS``.
        FileNotFoundError: no variant fits this environment (the message lists them all, with
            reasons), or, offline, the kernel is not cached.
        ImportError: a ``python-depends`` package is missing.
        RuntimeError: the kernel needs a newer ``kernels`` or another GPU architecture;
            :class:`~kernels.errors.KernelSignatureError` when a signature check was asked for
            and fails.

    Example::

        >>> import torch
        >>> from kernels import get_kernel
        >>> activation = get_kernel("kernels-community/activation", version=1)  # doctest: +SKIP
        >>> x = torch.randn(4, 8, device="cuda")                                # doctest: +SKIP
        >>> out = torch.empty(4, 4, device="cuda")                              # doctest: +SKIP
        >>> activation.silu_and_mul(out, x)                                     # doctest: +SKIP
    """
    return _get_kernel(repo_id, revision=revision, version=version, backend=backend, user_agent=user_agent,
                       trust_remote_code=trust_remote_code, check_arch=check_arch, chain=(),
                       verify_signature=verify_signature)


def has_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    *,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    trust_remote_code: TrustRemoteCode = False,
    check_arch: bool = True,
) -> bool:
    """Whether :func:`get_kernel` with these arguments would find a variant for this
    environment (and, with ``check_arch``, this GPU). Nothing but a variant's
    ``metadata.json`` is downloaded and nothing is imported.

    False when no variant fits or the architecture does not match. As in kernels 0.17.2, the
    other failures raise what :func:`get_kernel` raises: the repository, revision or version
    does not exist (:class:`~kernels.errors.KernelRepositoryNotFoundError`,
    :class:`~kernels.errors.KernelRevisionNotFoundError`,
    :class:`~kernels.errors.KernelVersionNotFoundError`), the publisher is not trusted under
    ``trust_remote_code`` (:class:`~kernels.errors.UntrustedKernelError`), the Hub cannot be
    reached or refuses access (:class:`~kernels.errors.HubError`), the kernel is not cached
    while offline (:class:`~kernels.errors.KernelNotCachedError`). ``ValueError`` for both or
    neither of ``version`` and ``revision`` and for a bad ``backend``.

    Example::

        >>> from kernels import has_kernel
        >>> has_kernel("kernels-community/relu", version=1)                     # doctest: +SKIP
        True
    """
    _check_version_args(repo_id, version, revision)
    try:
        local = _local_override(repo_id)
        if local is not None:
            _, metadata, _ = _select_local(local, backend)
        else:
            resolved = _resolve_hub(repo_id, revision=revision, version=version, backend=backend,
                                    user_agent=None, trust_remote_code=trust_remote_code,
                                    local_files_only=False, fetch="metadata" if check_arch else "none")
            metadata = resolved.metadata
        if check_arch and metadata is not None:
            _check_gpu_arch(metadata)
    except (FileNotFoundError, IncompatibleKernelError) as exc:
        # What 0.17.2 answers with False: no variant fits (FileNotFoundError) and an
        # architecture mismatch. Hub errors and a kernel missing from the cache while offline
        # (0.17.2: ValueError) still raise, though they are FileNotFoundErrors too.
        if isinstance(exc, (HubError, KernelNotCachedError)):
            raise
        logger.info("%s is not available: %s", repo_id, str(exc).splitlines()[0])
        return False
    return True


def install_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    *,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    local_files_only: bool = False,
    user_agent: UserAgent = None,
    trust_remote_code: TrustRemoteCode = False,
) -> Path:
    """Download the best variant of a kernel for this environment into the cache, without
    importing it, and return the variant directory (``.../build/<variant>``).

    Only that variant is downloaded. With ``local_files_only`` (or ``HF_HUB_OFFLINE``) the
    cache must already hold it. ``LOCAL_KERNELS`` entries return the local variant directory.
    Errors as for :func:`get_kernel`, except that, as in kernels 0.17.2, the kernel's Python
    dependencies and minimum kernels version are not checked (:func:`get_kernel` checks them).

    Example::

        >>> from kernels import install_kernel
        >>> install_kernel("kernels-community/relu", version=1)                 # doctest: +SKIP
        PosixPath('.../kernels--kernels-community--relu/snapshots/<sha>/build/torch213-cxx11-cu130-x86_64-linux')
    """
    _check_version_args(repo_id, version, revision)
    local = _local_override(repo_id)
    if local is not None:
        variant_dir, _, _ = _select_local(local, backend)
        return variant_dir
    # As in kernels 0.17.2, installing does not check the kernel's Python dependencies or
    # minimum kernels version (loading it does): decide with the metadata, then download.
    resolved = _resolve_hub(repo_id, revision=revision, version=version, backend=backend,
                            user_agent=user_agent, trust_remote_code=trust_remote_code,
                            local_files_only=local_files_only, fetch="metadata")
    if resolved.variant_dir is None:
        resolved.variant_dir = hub.download_variant(resolved.repo_id, resolved.commit or "", resolved.variant,
                                                    user_agent_extra=user_agent)
    _ensure_intact(resolved.repo_id, resolved, offline=local_files_only or hub.offline() or resolved.hub_down,
                   user_agent=user_agent)
    return resolved.variant_dir


def get_kernel_variants(
    repo_id: str,
    revision: Optional[str] = None,
    *,
    version: Optional[int] = None,
    backend: Optional[str] = None,
) -> List[Union[VariantAccepted, VariantRejected]]:
    """Every build variant of a kernel with the verdict for this environment: accepted ones
    first (best first), then rejected ones with their reasons. Nothing is downloaded.

    Offline (``HF_HUB_OFFLINE``) the cache's file listing of the revision is used.

    Example::

        >>> from kernels import get_kernel_variants
        >>> for d in get_kernel_variants("kernels-community/relu", version=1):  # doctest: +SKIP
        ...     print(d.variant_str, getattr(d, "reason", "accepted"))
        torch213-cxx11-cpu-x86_64-linux accepted
        torch213-cxx11-cu130-x86_64-linux built for cu130, selected backend is cpu
    """
    _check_version_args(repo_id, version, revision)
    local = _local_override(repo_id)
    if local is not None:
        return local_variant_decisions(local, backend)[1]
    env = _environment()
    target = hub.follow_redirect(repo_id, revision, version, offline=hub.offline())
    repo_id, revision, version = target.repo_id, target.revision, target.version
    if hub.offline():
        snapshot, names = _cached_names(repo_id, revision if revision is not None else f"v{version}")
        return evaluate_variants(names, env, backend)
    try:
        rev = revision if revision is not None else _version_branch(repo_id, version)  # type: ignore[arg-type]
        return evaluate_variants(hub.list_variants(repo_id, rev), env, backend)
    except HubError as exc:
        if not hub.is_hub_down(exc) or hub.cached_snapshot(repo_id, revision or f"v{version}") is None:
            raise
        logger.warning("%s: the Hub cannot be reached; listing the variants the cache knows", repo_id)
        snapshot, names = _cached_names(repo_id, revision if revision is not None else f"v{version}")
        return evaluate_variants(names, env, backend)


# --------------------------------------------------------------------------- resolution


def _get_kernel(repo_id: str, *, revision: Optional[str], version: Optional[int], backend: Optional[str],
                user_agent: UserAgent, trust_remote_code: TrustRemoteCode, check_arch: bool,
                chain: Tuple[str, ...], verify_signature: Optional[bool] = None) -> ModuleType:
    _check_version_args(repo_id, version, revision)
    if repo_id in chain:
        raise ValueError(f"kernel dependency cycle: {' -> '.join(chain + (repo_id,))}")
    chain = chain + (repo_id,)
    local = _local_override(repo_id)
    if local is not None:
        logger.info("loading %s from %s (LOCAL_KERNELS)", repo_id, local)
        variant_dir, metadata, _ = _select_local(local, backend)
        return _load(variant_dir, metadata, None, backend=backend, trust_remote_code=trust_remote_code,
                     user_agent=user_agent, chain=chain, verify_signature=verify_signature)
    resolved = _resolve_hub(repo_id, revision=revision, version=version, backend=backend, user_agent=user_agent,
                            trust_remote_code=trust_remote_code, local_files_only=False, fetch="all")
    assert resolved.variant_dir is not None and resolved.metadata is not None and resolved.commit
    module = loaded_module(resolved.variant_dir)
    if module is not None:
        return module
    _ensure_intact(resolved.repo_id, resolved, offline=hub.offline() or resolved.hub_down, user_agent=user_agent)
    if check_arch:
        _check_gpu_arch(resolved.metadata)
    return _load(resolved.variant_dir, resolved.metadata, RepoInfo(resolved.repo_id, resolved.commit),
                 backend=backend,
                 trust_remote_code=trust_remote_code, user_agent=user_agent, chain=chain,
                 verify_signature=verify_signature)


def _resolve_hub(repo_id: str, *, revision: Optional[str], version: Optional[int], backend: Optional[str],
                 user_agent: UserAgent, trust_remote_code: TrustRemoteCode, local_files_only: bool,
                 fetch: str) -> _Resolved:
    """Choose (and with ``fetch="all"`` download) the best variant of a Hub kernel.

    ``fetch``: ``"none"`` decides only, ``"metadata"`` also gets the variant's metadata.json,
    ``"all"`` the whole variant directory.
    """
    hub.check_repo_id(repo_id)  # ids become cache paths and URLs
    offline = local_files_only or hub.offline()
    target = hub.follow_redirect(repo_id, revision, version, offline=offline, user_agent_extra=user_agent)
    if target.redirect is not None:
        trust_remote_code = _trust_follows_redirect(trust_remote_code, repo_id, target.repo_id)
        repo_id, revision, version = target.repo_id, target.revision, target.version
    resolved = _resolve_target(repo_id, revision=revision, version=version, backend=backend, user_agent=user_agent,
                               trust_remote_code=trust_remote_code, offline=offline, fetch=fetch)
    resolved.repo_id = repo_id
    return resolved


def _resolve_target(repo_id: str, *, revision: Optional[str], version: Optional[int], backend: Optional[str],
                    user_agent: UserAgent, trust_remote_code: TrustRemoteCode, offline: bool,
                    fetch: str) -> _Resolved:
    env = _environment()
    if offline:
        # What is missing from the cache is said first; then whether it may run.
        resolved = _resolve_cached(repo_id, revision if revision is not None else f"v{version}", env, backend,
                                   version=version)
        _check_trust(repo_id, trust_remote_code, offline=True)
        return resolved
    try:
        _check_trust(repo_id, trust_remote_code, offline=False)
        return _resolve_online(repo_id, revision=revision, version=version, env=env, backend=backend,
                               user_agent=user_agent, fetch=fetch)
    except HubError as exc:
        if not hub.is_hub_down(exc):
            raise
        return _resolve_while_hub_down(repo_id, revision if revision is not None else f"v{version}", env, backend,
                                       trust_remote_code=trust_remote_code, version=version, failure=exc)


def _trust_follows_redirect(trust_remote_code: TrustRemoteCode, source: str, destination: str) -> TrustRemoteCode:
    """Opting in to ``source`` by name opts in to where it moved: its owner chose the redirect."""
    if isinstance(trust_remote_code, (list, tuple, set, frozenset)) and source in trust_remote_code:
        return [*trust_remote_code, destination]
    return trust_remote_code


def _resolve_online(repo_id: str, *, revision: Optional[str], version: Optional[int], env: Environment,
                    backend: Optional[str], user_agent: UserAgent, fetch: str) -> _Resolved:
    if hub.is_commit_hash(revision):
        warm = _resolve_pinned(repo_id, revision, env, backend)  # type: ignore[arg-type]
        if warm is not None:
            return warm
    elif fetch != "none":
        warm = _resolve_warm(repo_id, revision if revision is not None else f"v{version}", env, backend,
                             user_agent)
        if warm is not None:
            return warm
    if revision is None:
        rev, commit = _version_commit(repo_id, version, user_agent)  # type: ignore[arg-type]
    else:
        rev, commit = revision, _named_commit(repo_id, revision, user_agent)
    if commit is None:  # a revision the refs do not name (a short id, refs/pr/N): the Hub resolves it
        return _resolve_by_name(repo_id, rev, version=version, env=env, backend=backend, user_agent=user_agent,
                                fetch=fetch)
    # One listing of the commit says which variants there are and what files the chosen one
    # has (with their sizes and object ids).
    files = hub.list_tree(repo_id, commit, user_agent_extra=user_agent)
    names = sorted({p.split("/")[1] for p in files if p.startswith("build/") and p.count("/") >= 2})
    decisions = evaluate_variants(names, env, backend)
    best = best_variant(decisions)
    if best is None:
        raise NoCompatibleVariantError(
            _no_variant_message(repo_id, rev, decisions, env, backend, version), decisions)
    resolved = _Resolved(decisions, best.name, commit=commit)
    if fetch == "none":
        return resolved
    prefix = f"build/{best.name}/"
    meta = prefix + METADATA_FILENAME
    # Recorded in the cache as snapshot_download records it: later loads pinned to the commit
    # need no request, and an interrupted download is known to be incomplete.
    hub.record_tree(repo_id, commit, files)
    snapshot = hub.download_files(repo_id, commit, [meta], listing=files, user_agent_extra=user_agent)
    hub.record_ref(repo_id, rev, commit)
    resolved.metadata = Metadata.read_from_file(snapshot / meta)
    if fetch == "metadata":
        return resolved
    # Refuse before downloading the rest (compiled code can be large).
    check_python_depends(resolved.metadata, source=f"{repo_id}@{rev}:{meta}")
    check_kernels_minver(resolved.metadata)
    rest = sorted(p for p in files if p.startswith(prefix) and p != meta and not p.endswith(".pyc")
                  and "__pycache__" not in p.split("/"))
    if rest:
        hub.download_files(repo_id, commit, rest, listing=files, user_agent_extra=user_agent)
    resolved.variant_dir = snapshot / "build" / best.name
    return resolved


def _resolve_by_name(repo_id: str, rev: str, *, version: Optional[int], env: Environment, backend: Optional[str],
                     user_agent: UserAgent, fetch: str) -> _Resolved:
    """Resolve a revision the Hub names (not one of the refs): list ``build/`` there, download
    the chosen variant's metadata (which says the commit), then the variant at that commit."""
    names = hub.list_variants(repo_id, rev, user_agent_extra=user_agent)
    decisions = evaluate_variants(names, env, backend)
    best = best_variant(decisions)
    if best is None:
        raise NoCompatibleVariantError(
            _no_variant_message(repo_id, rev, decisions, env, backend, version), decisions)
    resolved = _Resolved(decisions, best.name)
    if fetch == "none":
        return resolved
    meta_path = hub.download_variant_file(repo_id, rev, best.name, METADATA_FILENAME, user_agent_extra=user_agent)
    resolved.commit = meta_path.parents[2].name  # snapshots/<commit>/build/<variant>/metadata.json
    resolved.metadata = Metadata.read_from_file(meta_path)
    if fetch == "metadata":
        return resolved
    # Refuse before downloading the rest (compiled code can be large).
    check_python_depends(resolved.metadata, source=f"{repo_id}@{rev}:build/{best.name}/{METADATA_FILENAME}")
    check_kernels_minver(resolved.metadata)
    resolved.variant_dir = hub.download_variant(repo_id, resolved.commit, best.name, user_agent_extra=user_agent)
    return resolved


def _version_commit(repo_id: str, version: int, user_agent: UserAgent) -> Tuple[str, str]:
    """The branch of ``version`` and the commit it points to (one request: the refs)."""
    versions = hub.version_refs(repo_id, user_agent_extra=user_agent)
    branch = hub.check_version(repo_id, version, sorted(versions))
    latest = max(versions)
    if latest > version:
        # WARNING, like the released kernels: a user pinned to an old major version should see it.
        logger.warning("%s: loading version %d; version %d is available (version=%d)", repo_id, version,
                       latest, latest)
    return branch, versions[version]


def _named_commit(repo_id: str, revision: str, user_agent: UserAgent) -> Optional[str]:
    """The commit of ``revision`` when it is a commit id or a branch or tag name the refs list
    (one request); None when the refs do not say (the caller lets the Hub resolve it)."""
    if hub.is_commit_hash(revision):
        return revision
    found = hub.refs(repo_id, user_agent_extra=user_agent)
    commits = {c for c in (found["branches"].get(revision), found["tags"].get(revision)) if c}
    return commits.pop() if len(commits) == 1 else None


#: ``(repo_id, revision)`` pairs already warned about being loaded from the cache while the Hub is down.
_WARNED_HUB_DOWN: set = set()


def _resolve_while_hub_down(repo_id: str, revision: str, env: Environment, backend: Optional[str], *,
                            trust_remote_code: TrustRemoteCode, version: Optional[int],
                            failure: HubError) -> _Resolved:
    """The Hub cannot answer (``failure``): use what the cache holds for ``revision``, under the
    trust rule of offline loads, and warn once; else raise ``failure`` (it says what to do)."""
    try:
        resolved = _resolve_cached(repo_id, revision, env, backend, version=version)
    except (KernelNotCachedError, NoCompatibleVariantError):
        if isinstance(failure, HubUnreachableError) and failure.repo_id != repo_id:
            # It failed on a question about the publisher: say it of this kernel.
            raise unreachable_error(repo_id, revision, "load it", failure.reason) from failure
        raise failure from None
    _check_trust(repo_id, trust_remote_code, offline=True)
    resolved.hub_down = True
    if (repo_id, revision) not in _WARNED_HUB_DOWN:
        _WARNED_HUB_DOWN.add((repo_id, revision))
        reason = getattr(failure, "reason", "") or str(failure).split(": ")[-1]
        logger.warning("%s (%s): the Hub cannot be reached (%s); loading the cached copy (commit %s), which may "
                       "be out of date. Set HF_HUB_OFFLINE=1 to skip the Hub.", repo_id, revision, reason,
                       (resolved.commit or "")[:12])
    return resolved


def _resolve_pinned(repo_id: str, commit: str, env: Environment, backend: Optional[str]) -> Optional[_Resolved]:
    """A commit is immutable: when the cache knows its variants and holds the best one
    completely, use it without any request. None means: ask the Hub."""
    snapshot = hub.cached_snapshot(repo_id, commit)
    if snapshot is None:
        return None
    names = hub.cached_variant_listing(snapshot)
    if names is None:  # without the full listing a better variant might be missing here
        return None
    decisions = evaluate_variants(names, env, backend)
    best = best_variant(decisions)
    if best is None:
        return None
    variant_dir = _complete_cached_variant(repo_id, snapshot, best.name)
    if variant_dir is None:
        return None
    return _Resolved(decisions, best.name, variant_dir, read_metadata(variant_dir), snapshot.name)


def _resolve_warm(repo_id: str, revision: str, env: Environment, backend: Optional[str],
                  user_agent: UserAgent) -> Optional[_Resolved]:
    """A branch or tag the cache already followed: when one HEAD request says it still points
    to the cached commit, and that commit's best variant is cached completely, use it. None
    means: resolve from scratch. (Newer major versions are only noticed on that path.)"""
    snapshot = hub.cached_snapshot(repo_id, revision)
    if snapshot is None or snapshot.parent.parent.name.startswith("models--"):
        return None
    resolved = _resolve_pinned(repo_id, snapshot.name, env, backend)
    if resolved is None:
        return None
    now = hub.current_commit(repo_id, revision, f"build/{resolved.variant}/{METADATA_FILENAME}",
                             user_agent_extra=user_agent)
    return resolved if now == snapshot.name else None


def _resolve_cached(repo_id: str, revision: str, env: Environment, backend: Optional[str],
                    version: Optional[int]) -> _Resolved:
    """Offline: the best variant the cache holds for ``revision``."""
    snapshot, names = _cached_names(repo_id, revision)
    if version is not None:
        newer = [v for v in hub.cached_versions(repo_id) if v > version]
        if newer:
            logger.info("%s: version %d requested; the cache also has version %d", repo_id, version, newer[-1])
    decisions = evaluate_variants(names, env, backend)
    accepted = [d for d in decisions if isinstance(d, VariantAccepted)]
    if not accepted:
        raise NoCompatibleVariantError(
            _no_variant_message(repo_id, revision, decisions, env, backend, None)
            + "\n(offline: judged from the cache)", decisions)
    for decision in accepted:
        variant_dir = _complete_cached_variant(repo_id, snapshot, decision.variant_str)
        if variant_dir is not None:
            if decision is not accepted[0]:
                logger.info("%s: offline, using cached variant %s (%s is preferred but not cached)",
                            repo_id, decision.variant_str, accepted[0].variant_str)
            return _Resolved(decisions, decision.variant_str, variant_dir, read_metadata(variant_dir), snapshot.name)
    raise KernelNotCachedError(
        f"{repo_id} ({revision}): HF_HUB_OFFLINE is set (or local_files_only) and the cache "
        f"{hub.cache_root()} does not hold a variant for this environment (it would use "
        f"{accepted[0].variant_str}); " + _NOT_CACHED_HINT.format(repo_id=repo_id))


def _cached_names(repo_id: str, revision: str) -> Tuple[Path, List[str]]:
    """The cached snapshot of ``revision`` and the variants it is known to have."""
    snapshot = hub.cached_snapshot(repo_id, revision)
    if snapshot is None:
        raise KernelNotCachedError(
            f"{repo_id} ({revision}) is not in the cache {hub.cache_root()} and HF_HUB_OFFLINE is set "
            "(or local_files_only): " + _NOT_CACHED_HINT.format(repo_id=repo_id))
    names = hub.cached_variant_listing(snapshot)
    if names is None:
        build = snapshot / "build"
        names = sorted(p.name for p in build.iterdir() if (p / METADATA_FILENAME).is_file()) if build.is_dir() else []
    return snapshot, names


def _complete_cached_variant(repo_id: str, snapshot: Path, variant: str) -> Optional[Path]:
    """``snapshot/build/<variant>`` when the cache holds it completely, else None (no request)."""
    variant_dir = snapshot / "build" / variant
    if not (variant_dir / METADATA_FILENAME).is_file():
        return None
    if snapshot.parent.parent.name.startswith("models--"):
        return variant_dir  # written by older runtimes, without a file listing to check against
    return variant_dir if hub.cached_variant_complete(snapshot, variant) else None  # else: interrupted


def _ensure_intact(repo_id: str, resolved: _Resolved, *, offline: bool, user_agent: UserAgent) -> None:
    """Refuse to import a variant whose cached files are not what the Hub served; online,
    fetch the bad files once more first (a commit's files are immutable, so a second copy
    that checks out is the right one)."""
    assert resolved.variant_dir is not None
    problems = integrity.verify_cached_variant(resolved.variant_dir, hub.cache_root())
    if not problems:
        return
    listed = "; ".join(f"{rel}: {why}" for rel, why in sorted(problems.items()))
    where = f"{repo_id}@{resolved.commit} build/{resolved.variant}"
    if not offline:
        logger.warning("%s: corrupted files in the cache (%s); downloading them again", where, listed)
        integrity.remove_cached_files(resolved.variant_dir, problems)
        integrity.forget_verification(resolved.variant_dir, hub.cache_root())
        hub.download_variant(repo_id, resolved.commit or "", resolved.variant, user_agent_extra=user_agent)
        problems = integrity.verify_cached_variant(resolved.variant_dir, hub.cache_root())
        if not problems:
            return
        listed = "; ".join(f"{rel}: {why}" for rel, why in sorted(problems.items()))
    raise KernelIntegrityError(
        f"{where}: the cached files are corrupted ({listed}) in {resolved.variant_dir}; nothing was "
        + ("imported. Connect to the network (unset HF_HUB_OFFLINE) so they can be fetched again, "
           if offline else "imported, and downloading them again did not help. ")
        + f"or delete {resolved.variant_dir.parents[3]} and retry.")


def _version_branch(repo_id: str, version: int) -> str:
    versions = hub.version_branches(repo_id)
    branch = hub.check_version(repo_id, version, versions)
    if versions[-1] > version:
        # WARNING, like the released kernels: a user pinned to an old major version should see it.
        logger.warning("%s: loading version %d; version %d is available (version=%d)", repo_id, version,
                       versions[-1], versions[-1])
    return branch


def _no_variant_message(repo_id: str, revision: str, decisions: list, env: Environment,
                        backend: Optional[str], version: Optional[int]) -> str:
    lines = [f"{repo_id} ({revision}) has no build variant for this environment:",
             explain(decisions, env, backend)]
    if version is not None:
        hint = _newer_version_hint(repo_id, version, env, backend)
        if hint:
            lines.append(hint)
    return "\n".join(lines)


def _newer_version_hint(repo_id: str, version: int, env: Environment, backend: Optional[str]) -> Optional[str]:
    try:
        latest = hub.version_branches(repo_id)[-1]
        if latest <= version:
            return None
        best = best_variant(evaluate_variants(hub.list_variants(repo_id, f"v{latest}"), env, backend))
    except (HubError, IndexError):
        return None
    if best is None:
        return None
    return f"hint: version {latest} has a compatible variant ({best.name}): use version={latest}"


# --------------------------------------------------------------------------- local trees


def local_variant_decisions(path: Path, backend: Optional[str]) -> Tuple[Path, list]:
    """The ``build/`` directory of a local kernel (repo root or ``build/``) and the verdict on
    each of its variants for this environment (variants without metadata.json are rejected)."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such kernel directory")
    build, dirs = variant_dirs(path)
    with_metadata = [d.name for d in dirs if (d / METADATA_FILENAME).is_file()]
    decisions = evaluate_variants(with_metadata, _environment(), backend)
    decisions += [VariantRejected(d.name, "no metadata.json") for d in dirs if d.name not in with_metadata]
    return build, decisions


def _select_local(path: Path, backend: Optional[str]) -> Tuple[Path, Metadata, Optional[list]]:
    """The variant directory to load from a repo root, its ``build/``, or a variant dir."""
    path = Path(path)
    if (path / METADATA_FILENAME).is_file():
        _warn_if_rejected(path, backend)
        return path, read_metadata(path), None
    build, decisions = local_variant_decisions(path, backend)
    best = best_variant(decisions)
    if best is None:
        raise NoCompatibleVariantError(
            f"{build} has no build variant for this environment:\n"
            f"{explain(decisions, _environment(), backend)}", decisions)
    variant_dir = build / best.name
    return variant_dir, read_metadata(variant_dir), decisions


def _warn_if_rejected(variant_dir: Path, backend: Optional[str]) -> None:
    """A variant directory given explicitly is loaded as is; say so when its name does not fit.

    A tvm-ffi variant cannot load at all without the ``tvm_ffi`` package: that is refused
    here, with the package to install, instead of failing inside the kernel's ``_ops.py``.
    """
    env = _environment()
    (decision,) = evaluate_variants([variant_dir.name], env, backend)
    if not isinstance(decision, VariantRejected) or decision.reason.startswith("not a variant name"):
        return
    variant = decision.variant
    if isinstance(variant, ArchVariant) and variant.framework == "tvm-ffi" and env.tvm_ffi_version is None:
        wanted = ".".join(str(p) for p in variant.framework_version[:2])
        raise MissingPythonDependencyError(
            f"{variant_dir}: this tvm-ffi kernel needs the Python package 'apache-tvm-ffi' {wanted}.x, which "
            f"is not installed; install it with: pip install 'apache-tvm-ffi=={wanted}.*'", name="tvm_ffi")
    logger.warning("loading %s although it does not fit this environment: %s", variant_dir, decision.reason)


def _local_override(repo_id: str) -> Optional[Path]:
    """The path ``LOCAL_KERNELS`` maps ``repo_id`` to, if any.

    >>> os.environ["LOCAL_KERNELS"] = "org/a=/p1:org/b=/p2"; _local_override("org/b")  # doctest: +SKIP
    PosixPath('/p2')
    """
    spec = os.environ.get("LOCAL_KERNELS", "")
    mapping: Dict[str, str] = {}
    for entry in spec.split(":"):
        entry = entry.strip()
        if not entry:
            continue
        if "=" not in entry:
            raise ValueError(
                f"invalid LOCAL_KERNELS entry {entry!r}: expected repo_id=path, entries separated by "
                "':' (e.g. LOCAL_KERNELS=\"org/a=/path/a:org/b=/path/b\")")
        key, _, value = entry.partition("=")
        mapping[key.strip()] = value.strip()
    path = mapping.get(repo_id)
    if not path:
        return None
    local = Path(path).expanduser()
    if not local.is_dir():
        raise FileNotFoundError(
            f"{local}: no such kernel directory (LOCAL_KERNELS maps {repo_id} to it); build the kernel there "
            f"(`kernels from-wheel` or `kernels build`), or fix or remove that LOCAL_KERNELS entry")
    return local


# --------------------------------------------------------------------------- loading


def _load(variant_dir: Path, metadata: Metadata, repo_info: Optional[RepoInfo], *, backend: Optional[str],
          trust_remote_code: TrustRemoteCode, user_agent: UserAgent, chain: Tuple[str, ...],
          verify_signature: Optional[bool] = None) -> ModuleType:
    module = loaded_module(variant_dir)
    if module is not None:
        return module
    if repo_info is not None and _signatures_wanted(verify_signature):  # local kernels are the user's own
        from .signatures import require_valid_signature  # noqa: PLC0415

        require_valid_signature(variant_dir, hub.cache_root())
    check_python_depends(metadata, source=str(variant_dir / METADATA_FILENAME))
    check_kernels_minver(metadata)
    warn_if_dirty(metadata)
    dependencies: Dict[str, ModuleType] = {}
    for dep in metadata.kernel_depends:
        dep_id = dep["repo-id"]
        dependencies[dep_id] = _get_kernel(
            dep_id, revision=dep.get("revision"), version=dep.get("version"), backend=backend,
            user_agent=user_agent, trust_remote_code=trust_remote_code, check_arch=True, chain=chain,
            verify_signature=verify_signature)
    return import_variant(variant_dir, metadata, repo_info=repo_info, dependencies=dependencies)


def _signatures_wanted(verify_signature: Optional[bool]) -> bool:
    """``verify_signature`` as given, else ``KERNELS_VERIFY_SIGNATURES`` (``1``/``true``/``yes``/``on``)."""
    if verify_signature is not None:
        return bool(verify_signature)
    return os.environ.get("KERNELS_VERIFY_SIGNATURES", "").strip().lower() in ("1", "true", "yes", "on")


def _check_version_args(repo_id: str, version: Optional[int], revision: Optional[str]) -> None:
    if version is not None and revision is not None:
        raise ValueError(f"{repo_id}: give either version= or revision=, not both")
    if version is None and revision is None:
        raise ValueError(
            f"{repo_id}: give version=<major version> (recommended, e.g. version=1: branch v1) or "
            "revision=<branch, tag or commit id>")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise ValueError(f"{repo_id}: version must be a non-negative integer, got {version!r}")
    if revision is not None and (not isinstance(revision, str) or not revision):
        raise ValueError(f"{repo_id}: revision must be a non-empty string, got {revision!r}")


def _check_trust(repo_id: str, trust_remote_code: TrustRemoteCode, offline: bool,
                 opt_in: Optional[str] = None) -> None:
    """Refuse ``repo_id`` unless ``trust_remote_code`` covers it or the Hub (at its endpoint) says,
    now or earlier when ``offline``, that its organisation is a trusted kernel publisher.
    ``opt_in`` is how the caller opts in, for the error (default: the ``trust_remote_code=`` words)."""
    if trust_remote_code is True:
        return
    if trust_remote_code not in (False, None):
        if isinstance(trust_remote_code, str) or not isinstance(trust_remote_code, Collection):
            raise TypeError("trust_remote_code must be True, False, or a list of repo ids, got "
                            f"{trust_remote_code!r}")
        if repo_id in trust_remote_code:
            return
    org = repo_id.split("/", 1)[0]
    opt_in = opt_in or (f"trust_remote_code=[{repo_id!r}] (this repository) or trust_remote_code=True "
                        "(any kernel)")
    if offline:
        # The Hub cannot be asked: only an answer it gave earlier (the same endpoint) counts.
        if hub.remembered_trusted_publisher(org):
            return
        raise UntrustedKernelError(
            f"{repo_id}: offline (or the Hub cannot be reached), so the Hub cannot say whether {org!r} is a "
            f"trusted kernel publisher, and no earlier answer of this Hub ({hub.endpoint_url()}) is remembered "
            f"on this machine; its code is not run. Load it once online (a trusted publisher is "
            f"remembered), or opt in with {opt_in}.")
    if hub.is_trusted_publisher(org):
        return
    raise UntrustedKernelError(
        f"{repo_id} is not published by a trusted kernel publisher ({org!r} is not marked as one on "
        f"the Hub), so its code is not run by default. Review it, then opt in with {opt_in}.")
