"""What a kernel offers: its metadata, backends and variants, judged for this environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from . import hub, load
from .errors import KernelsError, NoCompatibleVariantError
from .metadata import METADATA_FILENAME, Metadata
from .selection import VariantAccepted, best_variant

__all__ = ["kernel_info"]


def kernel_info(kernel: str, *, version: Optional[int] = None, revision: Optional[str] = None,
                backend: Optional[str] = None) -> Dict[str, Any]:
    """Metadata, backends and variant verdicts of a kernel on the Hub or on disk, as plain data
    (what ``kernels info --json`` prints).

    ``kernel`` is ``ORG/NAME`` (default revision: the highest ``v<N>`` branch, else main; or
    ``version``/``revision``) or the path of a local kernel (repo root or ``build/``).
    ``backend`` judges the variants for that backend instead of the detected one. Only one
    variant's metadata.json is downloaded: the selected one's, else the first variant's.

    The keys are those of kernels 0.17.2's ``kernels info --json``: ``repo_id`` and
    ``revision`` (Hub) or ``path`` (local); ``name``, ``version``, ``kernels_minver``,
    ``license``, ``upstream``, ``source``, ``python_depends`` (when a metadata.json was read);
    ``backends``, the sorted backend names (``"cpu"``, ``"cuda"``, ``"rocm"``, ...). Ours
    add ``commit`` (Hub), ``selected`` (the variant this environment would load, or None)
    and ``variants`` (``[{"name", "accepted", "reason"}]``).

    Raises:
        NoCompatibleVariantError: the kernel has no build variants at all (a
            ``FileNotFoundError``, as 0.17.2 exits 1 then).
        ValueError: ``version`` or ``revision`` given with a local path.
        HubError: as for :func:`kernels.get_kernel_variants`.

    Example::

        >>> from kernels.info import kernel_info
        >>> info = kernel_info("kernels-community/relu", version=1)            # doctest: +SKIP
        >>> info["selected"], info["backends"]
        ('torch213-cxx11-cpu-x86_64-linux', ['cpu', 'cuda'])
    """
    path = Path(kernel)
    info: Dict[str, Any] = {}
    if path.exists():
        if version is not None or revision is not None:
            raise ValueError(f"{kernel} is a local path: --version and --revision apply to Hub repositories only")
        info["path"] = kernel
        build, decisions = load.local_variant_decisions(path, backend)
        where = str(build)

        def read(name: str) -> Metadata:
            return Metadata.read_from_file(build / name / METADATA_FILENAME)
    else:
        hub.check_local_or_repo_id(kernel)
        target = hub.follow_redirect(kernel, revision, version, offline=hub.offline())
        kernel = target.repo_id
        rev = hub.resolve_revision(kernel, version=target.version, revision=target.revision)
        commit = hub.commit_of(kernel, rev)
        info.update({"repo_id": kernel, "revision": rev, "commit": commit})
        decisions = load.get_kernel_variants(kernel, revision=commit, backend=backend)
        where = f"{kernel} (revision: {rev})"

        def read(name: str) -> Metadata:
            return Metadata.read_from_file(hub.download_variant_file(kernel, commit, name))
    if not decisions:
        raise NoCompatibleVariantError(f"no build variants found in {where}", [])
    best = best_variant(decisions)
    meta = _first_readable(read, ([best.name] if best else []) + [d.variant_str for d in decisions])
    if meta is not None:  # the kernel's own fields: the same in every variant
        info.update({"name": meta.name, "version": meta.version, "kernels_minver": meta.kernels_minver,
                     "license": meta.license, "upstream": meta.upstream, "source": meta.source,
                     "python_depends": list(meta.python_depends)})
    info["backends"] = _backends([d.variant for d in decisions])
    info["selected"] = best.name if best else None
    info["variants"] = [{"name": d.variant_str, "accepted": isinstance(d, VariantAccepted),
                         "reason": None if isinstance(d, VariantAccepted) else d.reason} for d in decisions]
    return info


def _first_readable(read: Callable[[str], Metadata], names: List[str]) -> Optional[Metadata]:
    for name in names:
        try:
            return read(name)
        except (OSError, KernelsError):
            continue  # a variant without (valid) metadata: try the next one
    return None


def _backends(variants: List[Any]) -> List[str]:
    """Backend names as kernels 0.17.2 reports them (``cuda``, not ``cu130``; ``npu`` for CANN)."""
    from .variants import _NOARCH_NAME  # noqa: PLC0415

    return sorted({_NOARCH_NAME.get(v.backend, v.backend) for v in variants if not isinstance(v, str)})
