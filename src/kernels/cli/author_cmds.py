"""``kernels init``, ``check-config``, ``build``, ``list-variants``, ``build-matrix`` and
``release``: the author workflow."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "init",
        help="create a new kernel repository that builds and tests as is",
        description="Write a kernel repository: pyproject.toml (build backend kernels_build), build.toml "
        "(edition 5), sources per backend, torch-ext binding and Python wrapper (tvm-ffi-ext with "
        "--framework tvm-ffi), CARD.md, tests "
        "(kernels_ci marker), benchmarks/benchmark.py, example.py, .gitignore. DIR (default ./NAME) must "
        "not exist or be empty.",
    )
    p.add_argument("path", nargs="?", type=Path, metavar="DIR", help="target directory (default: ./NAME)")
    p.add_argument("--name", metavar="ORG/NAME",
                   help="Hub repository id, e.g. my-org/my-relu; without ORG/ (or without --name: DIR's "
                        "name) the owner is the Hub user of the current token")
    p.add_argument("--backends", nargs="+", metavar="BACKEND",
                   help="backends to write code for (cpu cuda rocm metal xpu cann neuron tpu), or all "
                        "(default: cuda; metal on macOS)")
    p.add_argument("--license", default="Apache-2.0", help="license id for build.toml and the card (default: Apache-2.0)")
    p.add_argument("--framework", default="torch", metavar="FRAMEWORK",
                   help="what the compiled code is bound through: torch (default; torch-ext/, a torch extension) "
                        "or tvm-ffi (tvm-ffi-ext/, Apache TVM FFI: no torch needed, any DLPack tensor; "
                        "backends cpu and cuda)")
    p.add_argument("--no-git", action="store_true", help="do not run git init")
    p.set_defaults(handler=_init)

    p = subparsers.add_parser(
        "check-config",
        help="validate build.toml and the files it names, without building",
        description="Check a kernel repository as a build does before compiling: build.toml (parsed and "
        "validated by the build backend), the sources and the Python package it names, the op namespaces "
        "of the Python code. Neither torch nor a compiler is needed. Prints 'DIR/build.toml: ok (...)' and "
        "exits 0, or prints the problem and exits 1 (for CI).",
    )
    _add_kernel_dir(p)
    p.set_defaults(handler=_check_config)

    p = subparsers.add_parser(
        "build",
        help="build this environment's variant into DIR/build/<variant>/",
        description="Build the variant this environment's torch (and -C settings) selects with the standard "
        "frontend (python -m pip wheel --no-build-isolation --no-deps, which calls the kernels_build "
        "backend), then unpack the wheel into DIR/build/<variant>/ as `kernels from-wheel` does. A variant "
        "directory of an earlier build is replaced; other variants are left alone. Needs the build tools: "
        "pip install 'kernels[build]'. Prints the variant directory.",
    )
    _add_kernel_dir(p)
    p.add_argument("-C", "--config-setting", dest="config_settings", action="append", default=[],
                   metavar="KEY=VALUE",
                   help="build setting passed to pip wheel, e.g. kernels.backend=cpu or kernels.compliance=warn "
                        "(repeatable)")
    p.set_defaults(handler=_build)

    p = subparsers.add_parser(
        "list-variants",
        help="the build variants a kernel must ship, and the one this environment builds",
        description="List the variants the compliance matrix requires for every backend the kernel "
        "declares (torch x toolkit x platform, within build.toml's bounds; tvm-ffi x toolkit x platform "
        "for a [tvm-ffi] kernel). The variant that "
        "`pip wheel --no-build-isolation .` builds in this environment is marked with '*'.",
    )
    _add_kernel_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_list_variants)

    p = subparsers.add_parser(
        "build-matrix",
        help="the CI job matrix that builds every required variant",
        description="Print the (torch, backend, toolkit, arch, runner, image) combinations that build every "
        "required variant. --format github prints {\"include\": [...]} for a GitHub Actions matrix "
        "(see examples/ci/build-kernel.yml).",
    )
    _add_kernel_dir(p)
    p.add_argument("--format", choices=("github", "json"), default="github", help="default: github")
    p.add_argument("--os", choices=("linux", "darwin"), help="only the combinations built on this OS")
    p.add_argument("--backends", nargs="+", metavar="BACKEND", help="only these backends")
    p.set_defaults(handler=_build_matrix)

    p = subparsers.add_parser(
        "release",
        help="build, convert, check, fill the card and upload the variant built here",
        description="[1/5] pip wheel (our backend, this environment's torch) -> [2/5] kernels from-wheel -> "
        "[3/5] kernels check -> [4/5] fill CARD.md -> [5/5] kernels upload. --dry-run does all but the "
        "upload and prints what would be uploaded. Work files: DIR/.kernels_release/.",
    )
    _add_kernel_dir(p)
    p.add_argument("--dry-run", action="store_true", help="do everything but the upload")
    _add_repo_id(p)
    p.add_argument("--branch", help="branch (default: [general.hub] branch, else v<version>)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("-C", "--config-setting", dest="config_settings", action="append", default=[],
                   metavar="KEY=VALUE", help="build setting passed to pip wheel, e.g. kernels.compliance=warn")
    p.add_argument("--sign", action="store_true",
                   help="sign each variant's metadata.json with sigstore (the CI job's OIDC identity; "
                   "needs kernels[sigstore]) and upload the bundles")
    p.set_defaults(handler=_release)

    p = subparsers.add_parser(
        "sign",
        help="sign each variant's metadata.json with sigstore (in CI)",
        description="Write metadata.json.sigstore next to the metadata.json of every variant under DIR (a "
        "tree from kernels from-wheel, its build/, or one variant): a sigstore bundle made with the OIDC "
        "identity of the CI job (GitHub Actions with `permissions: id-token: write`) or --identity-token. "
        "`kernels upload` then uploads the bundles; `kernels verify-signature` checks them. Needs "
        "kernels[sigstore] and network access to sigstore.",
    )
    p.add_argument("path", metavar="DIR", help="a kernel tree, its build/ directory or one variant")
    p.add_argument("--identity-token", default=os.environ.get("SIGSTORE_ID_TOKEN"), metavar="TOKEN",
                   help="an OIDC token (default: $SIGSTORE_ID_TOKEN, else the CI job's ambient credential)")
    p.add_argument("--staging", action="store_true", help="use sigstore's staging instance (for trials)")
    p.set_defaults(handler=_sign)

    p = subparsers.add_parser(
        "fill-card",
        help="fill the placeholders of CARD.md ({{ name }}, {{ functions }}, ...)",
        description="Write CARD.md with its placeholders filled from build.toml's repo id and a built variant "
        "(DIR/build/<variant>/), as `kernels upload` does for the Hub's README.md.",
    )
    _add_kernel_dir(p)
    p.add_argument("out", nargs="?", type=Path, metavar="OUT", help="output file (default: DIR/build/CARD.md)")
    _add_repo_id(p)
    p.set_defaults(handler=_fill_card)


def _add_kernel_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, default=Path("."), metavar="DIR",
                        help="kernel repository (default: .)")


def _add_repo_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo-id", help="ORG/NAME (default: [general.hub] repo-id of build.toml)")


def _init(args: argparse.Namespace) -> int:
    from ..author.scaffold import check_framework, init_kernel, resolve_name
    from ..variants import BACKENDS

    check_framework(args.framework)  # before asking the Hub who the owner is
    backends = list(args.backends or [])
    if args.path is None and len(backends) > 1 and backends[-1] not in (*BACKENDS, "all"):
        args.path = Path(backends.pop())  # `--backends cpu cuda DIR`: argparse gave DIR to --backends
    kernel = resolve_name(args.name, args.path)
    target = args.path if args.path is not None else Path(kernel.name)
    files = init_kernel(kernel, backends, target=target, license=args.license, git=not args.no_git,
                        framework=args.framework)
    print(f"created {kernel.repo_id} in {target} ({len(files)} files). Next:")
    print(f"  cd {target} && pip wheel --no-build-isolation --no-deps -w dist . && kernels from-wheel dist/*.whl -o .")
    print(f"  LOCAL_KERNELS={kernel.repo_id}=$PWD python -m pytest tests -m kernels_ci")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from ..author.build import check_config

    print(check_config(args.path).describe())
    return 0


def _build(args: argparse.Namespace) -> int:
    from ..author.build import build_variant

    def echo(line: str) -> None:
        print(line, flush=True)

    print(build_variant(args.path, args.config_settings, echo=echo), flush=True)
    return 0


def _list_variants(args: argparse.Namespace) -> int:
    from ..author.requirements import current_variant, load_config, required_variants

    config = load_config(args.path)
    required = required_variants(config)
    current = current_variant(args.path)
    names = {r.name for r in required}
    if args.json:
        print(json.dumps({
            "kernel": config.general.name,
            "backends": list(config.general.backends),
            "required": [{"variant": r.name, "backend": r.backend, "current": r.name == current.variant}
                         for r in required],
            "current": {"variant": current.variant, "required": current.variant in names, "reason": current.reason},
        }, indent=2))
        return 0
    for backend in config.general.backends:
        print(f"{backend}:")
        listed = [r for r in required if r.backend == backend]
        for r in listed:
            print(f"  {'*' if r.name == current.variant else ' '} {r.name}")
        if not listed:
            print(f"    (none: {_why_none(config, backend)})")
    if current.variant is None:
        print(f"this environment builds no variant: {current.reason}")
    elif current.variant in names:
        print(f"* = built by this environment ({sys.executable})")
    else:
        print(f"this environment builds {current.variant}, which is not a required variant")
    return 0


def _why_none(config, backend: str) -> str:
    """Why a declared backend needs no variant (list-variants prints it under the backend)."""
    from kernels_build.config import TvmFfi  # noqa: PLC0415

    from ..author.variant_matrix import REQUIRED_TVM_FFI_BUILDS  # noqa: PLC0415

    if isinstance(config.framework, TvmFfi):
        built = sorted({b.backend for b in REQUIRED_TVM_FFI_BUILDS})
        if backend not in built:
            return f"tvm-ffi kernels are built for {' and '.join(built)} only"
        return "build.toml's [general.cuda] bounds exclude every required toolkit"
    return "build.toml's torch/toolkit bounds exclude every required combination"


def _build_matrix(args: argparse.Namespace) -> int:
    from ..author.build_matrix import matrix_entries, render
    from ..author.requirements import load_config

    entries = matrix_entries(load_config(args.path), os=args.os, backends=args.backends or ())
    print(render(entries, args.format))
    return 0


def _release(args: argparse.Namespace) -> int:
    from ..author.release import release

    def echo(line: str) -> None:
        print(line, flush=True)

    release(args.path, repo_id=args.repo_id, branch=args.branch, dry_run=args.dry_run,
            config_settings=args.config_settings, private=args.private, sign=args.sign, echo=echo)
    return 0


def _sign(args: argparse.Namespace) -> int:
    from ..author.sign import sign_tree

    path = Path(args.path)
    if not path.exists():
        from ..errors import KernelsError

        raise KernelsError(f"{path}: no such file or directory")
    written = sign_tree(path, identity_token=args.identity_token, staging=args.staging)
    print(f"signed {len(written)} variant(s)")
    return 0


def _fill_card(args: argparse.Namespace) -> int:
    from ..author.release import fill_card_file
    from ..author.requirements import load_config
    from ..errors import AuthoringError

    config = load_config(args.path)
    repo_id = args.repo_id or config.general.hub.repo_id
    if not repo_id:
        raise AuthoringError(f"{config.path}: no repository: pass --repo-id ORG/NAME or set [general.hub] repo-id")
    out = args.out or Path(args.path) / "build" / "CARD.md"
    print(f"wrote {fill_card_file(Path(args.path), out, repo_id)}")
    return 0
