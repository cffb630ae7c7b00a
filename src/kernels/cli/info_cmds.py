"""``kernels versions`` and ``kernels info``: what a kernel offers and what fits here."""

from __future__ import annotations

import argparse
import json


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

    repo_id = hub.follow_redirect(args.repo_id, None, None, offline=hub.offline()).repo_id
    versions = hub.version_branches(repo_id)
    if not versions:
        print(f"{repo_id} has no version branches (v<N>)")
        return 0
    for version in versions:
        print(f"Version {version} (branch v{version}):")
        decisions = get_kernel_variants(repo_id, version=version, backend=args.backend)
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
    from ..info import kernel_info

    info = kernel_info(args.kernel, version=args.version, revision=args.revision, backend=args.backend)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"kernel:    {info.get('repo_id') or info['path']}")
    if info.get("revision"):
        print(f"revision:  {info['revision']} ({info.get('commit') or 'commit unknown'})")
    for key in ("name", "version", "license", "upstream", "source"):
        if info.get(key) is not None:
            print(f"{key + ':':<10} {info[key]}")
    if info.get("kernels_minver"):
        print(f"minimum kernels version: {info['kernels_minver']}")
    if info.get("python_depends"):
        print(f"python-depends: {', '.join(info['python_depends'])}")
    print(f"backends:  {', '.join(info['backends']) or 'none'}")
    print("variants:")
    for v in info["variants"]:
        mark = "✅" if v["accepted"] else "❌"
        print(f"  {mark} {v['name']}" + ("" if v["accepted"] else f": {v['reason']}"))
    if info.get("selected"):
        print(f"selected:  {info['selected']}")
    return 0
