"""``kernels verify-signature``: sigstore signatures and digests of a kernel's variants."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "verify-signature",
        help="verify the sigstore signatures of a kernel's variants",
        description="Check each variant's metadata.json.sigstore against the trusted signers (the build "
        "workflows of the Hugging Face kernels collection), then every file against the signed digest. "
        "REPO_ID VERSION: the variant this environment would load from the Hub (--all-variants: all of "
        "them); DIR: a local tree, its build/, or one variant. Exits 1 when any variant fails. Needs "
        "sigstore-python: pip install 'kernels[sigstore]'.",
    )
    p.add_argument("--all-variants", action="store_true", help="verify every variant, not only this environment's")
    p.add_argument("--filter-unsigned", action="store_true", help="skip unsigned variants (no line is printed)")
    p.add_argument("--filter-no-digest", action="store_true",
                   help="skip signed variants whose metadata has no digest (or no metadata.json); unsigned "
                   "variants are reported as unsigned first, as in kernels 0.17.2")
    p.add_argument("--github-repo", metavar="ORG/REPO",
                   help="accept signatures of this GitHub repository's workflows instead of the default signers")
    p.add_argument("--workflow", action="append", default=[], metavar="URI",
                   help="with --github-repo: an accepted workflow, https://github.com/ORG/REPO/.github/workflows/"
                   "FILE@REF (repeatable)")
    p.add_argument("target", metavar="REPO_ID|DIR", help="a Hub repository ORG/NAME, or a local kernel directory")
    p.add_argument("version", metavar="VERSION", type=int, nargs="?", help="the kernel version (Hub only)")
    p.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    from ..errors import KernelsError, require_extra
    from ..signatures import VerificationResult, describe, verify_variant

    require_extra("kernels verify-signature", "sigstore", "sigstore")
    policies = None
    if args.github_repo or args.workflow:
        from ..signatures import GitHubWorkflowPolicy  # noqa: PLC0415

        if not (args.github_repo and args.workflow):
            raise KernelsError("--github-repo and --workflow go together: the repository and its signing workflows")
        prefix = f"https://github.com/{args.github_repo}/.github/workflows/"
        for uri in args.workflow:
            if not uri.startswith(prefix) or "@" not in uri[len(prefix):]:
                raise KernelsError(f"--workflow {uri!r}: expected a workflow of {args.github_repo} at a ref, "
                                   f"{prefix}<file>@<ref> (e.g. @refs/heads/main)")
        policies = [GitHubWorkflowPolicy(repo_id=args.github_repo, signer_uris=args.workflow)]
    variants = _variant_dirs(args)
    if not variants:
        raise KernelsError(f"{args.target}: no build variants to verify")
    failed = False
    for variant in variants:
        result = verify_variant(variant, policies)
        skipped = (isinstance(result, VerificationResult.SignatureBundleMissing) and args.filter_unsigned) or (
            isinstance(result, (VerificationResult.MetadataMissing, VerificationResult.DigestMissing))
            and args.filter_no_digest)
        if skipped:
            continue
        ok = isinstance(result, VerificationResult.Success)
        failed = failed or not ok
        print(f"{'✅' if ok else '❌'} {variant.name}: {describe(result)}")
    return 1 if failed else 0


def _variant_dirs(args: argparse.Namespace) -> List[Path]:
    from .. import hub
    from ..errors import KernelsError

    target = Path(args.target)
    if target.exists():
        if args.version is not None:
            raise KernelsError(f"{args.target} is a local directory: VERSION applies to Hub repositories only")
        from ..check import variant_dirs  # noqa: PLC0415

        if (target / "metadata.json").is_file() or args.all_variants:
            return variant_dirs(target)
        from ..load import local_variant_decisions  # noqa: PLC0415
        from ..selection import best_variant  # noqa: PLC0415

        build, decisions = local_variant_decisions(target, None)
        if not decisions:
            return []
        best = best_variant(decisions)
        if best is None:
            raise KernelsError(f"{args.target}: no variant fits this environment; --all-variants verifies them all")
        return [build / best.name]
    hub.check_local_or_repo_id(args.target)
    if args.version is None:
        raise KernelsError(f"{args.target}: give the kernel VERSION to verify (e.g. `kernels verify-signature "
                           f"{args.target} 1`)")
    if args.all_variants:
        snapshot = hub.download_tree(args.target, version=args.version)
        build = snapshot / "build"
        return sorted(p for p in build.iterdir() if p.is_dir()) if build.is_dir() else []
    from ..load import install_kernel  # noqa: PLC0415

    # Verifying imports nothing, so the publisher need not be trusted to be checked.
    return [install_kernel(args.target, version=args.version, trust_remote_code=True)]
