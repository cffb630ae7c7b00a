"""``kernels versions`` and ``kernels info``: what a kernel offers and what fits here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Optional


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "versions",
        help="list a kernel's versions and which variants fit this environment",
        description="For every version branch v<N> of REPO_ID: each variant, whether this environment "
        "can load it (the preferred one marked), or why not.",
    )
    p.add_argument("repo_id", metavar="REPO_ID", help="kernel repository, ORG/NAME")
    p.add_argument("--backend", help="judge variants for this backend instead of the detected one")
    p.set_defaults(handler=_versions)

    p = subparsers.add_parser(
        "info",
        help="show a kernel's metadata, backends and variants",
        description="Metadata of the variant this environment would load, the backends the kernel is "
        "built for, and every variant with its verdict. KERNEL is ORG/NAME on the Hub (default: the "
        "highest v<N> branch, else main) or a local kernel directory.",
    )
    p.add_argument("kernel", metavar="KERNEL", help="ORG/NAME, or a path to a kernel repo / build/ directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, help="major version (branch v<N>)")
    which.add_argument("--revision", help="branch, tag or commit")
    p.add_argument("--backend", help="judge variants for this backend instead of the detected one")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_info)


def _versions(args: argparse.Namespace) -> int:
    from .. import hub
    from ..load import get_kernel_variants
    from ..selection import VariantAccepted

    versions = hub.version_branches(args.repo_id)
    if not versions:
        print(f"{args.repo_id} has no version branches (v<N>)")
        return 0
    for version in versions:
        print(f"Version {version} (branch v{version}):")
        decisions = get_kernel_variants(args.repo_id, version=version, backend=args.backend)
        if not decisions:
            print("  (no variants)")
        first = True
        for d in decisions:
            if isinstance(d, VariantAccepted):
                print(f"  ✅ {d.variant_str}: compatible{', preferred' if first else ''}")
                first = False
            else:
                print(f"  ❌ {d.variant_str}: {d.reason}")
    return 0


def _info(args: argparse.Namespace) -> int:
    info = kernel_info(args.kernel, version=args.version, revision=args.revision, backend=args.backend)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"kernel:    {info['kernel']}")
    if info.get("revision"):
        print(f"revision:  {info['revision']} ({info.get('commit') or 'commit unknown'})")
    meta = info.get("metadata")
    if meta:
        for key in ("name", "version", "license", "id", "upstream"):
            if meta.get(key) is not None:
                print(f"{key + ':':<10} {meta[key]}")
        if meta.get("python-depends"):
            print(f"python-depends: {', '.join(meta['python-depends'])}")
        for dep in meta.get("kernel-depends") or []:
            print(f"kernel-depends: {dep}")
    print(f"backends:  {', '.join(info['backends']) or 'none'}")
    print("variants:")
    for v in info["variants"]:
        mark = "✅" if v["accepted"] else "❌"
        print(f"  {mark} {v['name']}" + ("" if v["accepted"] else f": {v['reason']}"))
    if info.get("selected"):
        print(f"selected:  {info['selected']}")
    return 0


def kernel_info(kernel: str, *, version: Optional[int] = None, revision: Optional[str] = None,
                backend: Optional[str] = None) -> Dict[str, Any]:
    """Metadata, backends and variant verdicts of a Hub or local kernel, as plain data."""
    from .. import hub, load
    from ..metadata import METADATA_FILENAME, Metadata
    from ..selection import VariantAccepted, best_variant

    path = Path(kernel)
    info: Dict[str, Any] = {"kernel": kernel}
    if path.exists():
        build, decisions = load._local_decisions(path, backend)
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
