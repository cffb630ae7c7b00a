"""Every conversation with the Hugging Face Hub, in one place.

Kernel repositories have repo type ``kernel``; builds live on version branches ``v<N>``
under ``build/<variant>/``. The modules, one job each:

- :mod:`~kernels.hub.client`: endpoint, cache directory, client, user agent, offline mode,
  repository ids;
- :mod:`~kernels.hub.failures`: the one translation of Hub and transport failures into
  :mod:`kernels.errors` types (every call goes through its ``hub_call``);
- :mod:`~kernels.hub.remote`: reading repositories (versions, variants, files, downloads);
- :mod:`~kernels.hub.revalidate`: the one request of a warm load;
- :mod:`~kernels.hub.redirect`: ``kernel-status.toml`` redirects of repositories that moved;
- :mod:`~kernels.hub.light`: the requests that skip the full client (the two above, and the
  API reads of a cold load: publisher, refs, file listing);
- :mod:`~kernels.hub.cache`: what the download cache holds, without requests;
- :mod:`~kernels.hub.trust`: trusted publishers;
- :mod:`~kernels.hub.publish`: tokens, write permission, repositories, branches, commits.

None of them imports huggingface_hub at import time.
"""

from __future__ import annotations

from .cache import (
    cache_root,
    cached_snapshot,
    cached_tree,
    cached_variant_complete,
    cached_variant_lfs_files,
    cached_variant_listing,
    cached_versions,
    is_commit_hash,
)
from .client import (REPO_TYPE, api, cache_dir, check_local_or_repo_id, check_repo_id, endpoint, endpoint_url,
                     offline, user_agent)
from .failures import hub_call, is_hub_down, translate
from .publish import add_operation, check_write_access, commit, delete_operation, ensure_branch, ensure_repo, whoami
from .remote import (
    check_version,
    commit_of,
    download_benchmarks,
    download_files,
    download_tree,
    download_variant,
    download_variant_file,
    list_files,
    list_tree,
    list_variants,
    record_ref,
    record_tree,
    refs,
    resolve_revision,
    variant_object_ids,
    version_branches,
    version_refs,
)
from .revalidate import current_commit
from .trust import TRUST_TTL, is_trusted_publisher, remembered_trusted_publisher



def follow_redirect(repo_id, revision, version, *, offline, user_agent_extra=None):  # type: ignore[no-untyped-def]
    """:func:`kernels.hub.redirect.follow`, imported only when a branch or version is resolved
    (a commit is never redirected, and pinned loads skip the import)."""
    from .redirect import Target, follow  # noqa: PLC0415

    check_repo_id(repo_id)  # a clear error before any request is made for it
    if is_commit_hash(revision):
        return Target(repo_id, revision, version)
    return follow(repo_id, revision, version, offline=offline, user_agent_extra=user_agent_extra)


__all__ = [
    "REPO_TYPE", "TRUST_TTL", "add_operation", "api", "cache_dir", "cache_root", "cached_snapshot", "cached_tree",
    "cached_variant_complete", "cached_variant_lfs_files", "cached_variant_listing", "cached_versions",
    "check_local_or_repo_id", "check_repo_id", "check_version", "check_write_access", "commit", "commit_of",
    "current_commit",
    "delete_operation", "download_benchmarks", "download_files", "download_tree", "download_variant",
    "download_variant_file", "endpoint", "endpoint_url", "ensure_branch", "ensure_repo", "follow_redirect",
    "hub_call", "is_commit_hash", "is_hub_down", "is_trusted_publisher", "list_files", "list_tree", "list_variants",
    "offline", "record_ref", "record_tree", "refs", "remembered_trusted_publisher", "resolve_revision", "translate",
    "user_agent", "variant_object_ids", "version_branches", "version_refs", "whoami",
]
