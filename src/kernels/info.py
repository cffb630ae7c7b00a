"""What a kernel offers: its metadata, backends and variants, judged for this environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from . import hub, load
from .metadata import METADATA_FILENAME, Metadata
from .selection import VariantAccepted, best_variant

__all__ = ["kernel_info"]


def kernel_info(kernel: str, *, version: Optional[int] = None, revision: Optional[str] = None,
                backend: Optional[str] = None) -> Dict[str, Any]:
    """Metadata, backends and variant verdicts of a kernel on the Hub or on disk, as plain data
    (what ``kernels info`` prints).

    ``kernel`` is ``ORG/NAME`` (default revision: the highest ``v<N>`` branch, else main; or
    ``version``/``revision``) or the path of a local kernel (repo root or ``build/``).
    ``backend`` judges the variants for that backend instead of the detected one. Only the
    selected variant's metadata.json is downloaded.

    Example::

        >>> from kernels.info import kernel_info
        >>> info = kernel_info("kernels-community/relu", version=1)            # doctest: +SKIP
        >>> info["selected"], info["backends"]
        ('torch213-cxx11-cpu-x86_64-linux', ['cpu', 'cu130'])
    """
    path = Path(kernel)
    info: Dict[str, Any] = {"kernel": kernel}
    if path.exists():
        build, decisions = load.local_variant_decisions(path, backend)
        best = best_variant(decisions)
        meta = Metadata.read_from_file(build / best.name / METADATA_FILENAME) if best else None
    else:
        rev = hub.resolve_revision(kernel, version=version, revision=revision)
        info["revision"] = rev
        info["commit"] = hub.commit_of(kernel, rev)
        decisions = load.get_kernel_variants(kernel, revision=info["commit"], backend=backend)
        best = best_variant(decisions)
        meta = (Metadata.read_from_file(hub.download_variant_file(kernel, info["commit"], best.name))
                if best else None)
    info["metadata"] = meta.to_dict() if meta else None
    info["selected"] = best.name if best else None
    info["variants"] = [{"name": d.variant_str, "accepted": isinstance(d, VariantAccepted),
                         "reason": None if isinstance(d, VariantAccepted) else d.reason} for d in decisions]
    info["backends"] = _backends([d.variant for d in decisions])
    return info


def _backends(variants: List[Any]) -> List[str]:
    found = set()
    for variant in variants:
        if isinstance(variant, str):
            continue
        found.add(variant.backend if variant.is_noarch else variant.compute)
    return sorted(found)
