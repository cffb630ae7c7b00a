"""``kernels release``: build, convert, check, fill the card and upload, in one command.

For the variant this environment builds (``pip wheel --no-build-isolation`` with our
backend, against this interpreter's torch). Every step reuses the module that does the job
on its own (``kernels_build`` through pip, :mod:`kernels.convert`, :mod:`kernels.check`,
:mod:`kernels.card`, :mod:`kernels.upload`), so ``kernels release`` publishes exactly what
the separate commands would::

    [1/5] build    pip wheel --no-build-isolation -> .kernels_release/dist/*.whl
    [2/5] convert  kernels from-wheel             -> .kernels_release/tree/build/<variant>/
    [3/5] check    kernels check                     (layout, metadata, ABI3, manylinux)
    [4/5] card     CARD.md filled                 -> .kernels_release/tree/CARD.md (+ benchmarks/)
    [5/5] upload   kernels upload                    (skipped with dry_run: prints the plan)

``.kernels_release/`` in the kernel repository is recreated by every release; after a dry
run it holds exactly what would be uploaded.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Union

from .. import hub
from ..card import card_values, fill_card
from ..check import check_tree
from ..convert import from_wheel
from ..errors import AuthoringError
from ..metadata import Metadata
from ..upload import UploadResult, upload_tree
from .build import pip_wheel
from .requirements import load_config

__all__ = ["ReleaseResult", "release", "fill_card_file", "STAGING"]

#: The release's working directory inside the kernel repository.
STAGING = ".kernels_release"
STEPS = 5


@dataclass
class ReleaseResult:
    """What a release made and (unless a dry run) where it went."""

    repo_id: str
    branch: str
    wheels: List[Path]
    tree: Path
    files: List[str]  # paths in the repository, on the branch
    upload: Optional[UploadResult] = None
    dry_run: bool = False
    card: Optional[Path] = None
    notes: List[str] = field(default_factory=list)


def release(
    root: Union[str, Path] = ".",
    *,
    repo_id: Optional[str] = None,
    branch: Optional[str] = None,
    dry_run: bool = False,
    config_settings: Sequence[str] = (),
    private: bool = False,
    python: str = sys.executable,
    sign: bool = False,
    echo: Callable[[str], None] = print,
) -> ReleaseResult:
    """Release the kernel in ``root``; see the module docstring. ``config_settings`` are
    ``-C`` settings for the build (``kernels.compliance=warn``, ...); ``sign`` signs each
    variant's metadata.json with the CI job's sigstore identity after the check
    (:func:`kernels.author.sign.sign_tree`); ``echo`` receives the progress lines. Raises
    :class:`AuthoringError` when a step fails."""
    root = Path(root).resolve()
    config = load_config(root)
    general = config.general
    repo_id = repo_id or general.hub.repo_id
    if not repo_id:
        raise AuthoringError(f"{config.path}: no repository: pass --repo-id ORG/NAME or set [general.hub] repo-id")
    branch = branch or general.hub.branch or f"v{general.version}"
    hub.check_repo_id(repo_id)
    if not dry_run:
        # Minutes of building are wasted if the upload is refused at the end: ask the Hub first.
        user = hub.check_write_access(repo_id)
        echo(f"[0/{STEPS}] token: {user} may write to {repo_id}")
    identity_token = None
    if sign:  # before minutes of building: is there an identity to sign with?
        from .sign import ambient_identity_token  # noqa: PLC0415

        identity_token = ambient_identity_token()
    staging = root / STAGING
    if staging.exists():
        shutil.rmtree(staging)
    dist, tree = staging / "dist", staging / "tree"

    echo(f"[1/{STEPS}] build: pip wheel --no-build-isolation {root.name} (torch of {python})")
    wheels = pip_wheel(root, dist, config_settings, python)
    echo(f"      built {', '.join(w.name for w in wheels)}")

    echo(f"[2/{STEPS}] convert: kernels from-wheel -> {tree.relative_to(root)}/build/")
    variant_dirs = from_wheel(wheels, tree)
    for d in variant_dirs:
        echo(f"      {d.relative_to(root)}")

    echo(f"[3/{STEPS}] check: layout, metadata, ABI3 and manylinux of every variant")
    report = check_tree(tree)
    for line in report.describe().splitlines():
        echo(f"      {line}")
    if not report.ok:
        raise AuthoringError(f"check failed for {tree} (verdicts above); nothing was uploaded")
    if sign:
        from .sign import sign_tree  # noqa: PLC0415

        sign_tree(tree, identity_token=identity_token, echo=echo)

    echo(f"[4/{STEPS}] card: fill CARD.md for {repo_id}")
    card = _fill_card(root, tree, repo_id, variant_dirs[0])
    echo(f"      {card.relative_to(root) if card else 'no CARD.md in the kernel repository: no README.md'}")

    files = sorted(
        f"build/{p.relative_to(tree / 'build').as_posix()}"
        for p in (tree / "build").rglob("*") if p.is_file()
    ) + sorted(f"benchmarks/{p.name}" for p in (tree / "benchmarks").glob("benchmark*.py"))
    result = ReleaseResult(repo_id, branch, wheels, tree, files, dry_run=dry_run, card=card)
    if dry_run:
        echo(f"[5/{STEPS}] upload: dry run, nothing uploaded; would commit {len(files)} file(s) "
             f"to {repo_id}@{branch}:")
        for f in files:
            echo(f"      {f}")
        if card is not None:
            echo(f"      and in a commit of its own to {repo_id}@main: README.md (from {card.relative_to(root)})")
        return result
    echo(f"[5/{STEPS}] upload: {len(files)} file(s) to {repo_id}@{branch}")
    result.upload = upload_tree(tree, repo_id=repo_id, branch=branch, private=private)
    echo(f"      {repo_id}@{branch}: {result.upload.commit}")
    return result


def _fill_card(root: Path, tree: Path, repo_id: str, variant_dir: Path) -> Optional[Path]:
    """CARD.md filled into ``tree/CARD.md``; benchmarks copied into ``tree/benchmarks/``."""
    benchmarks = sorted((root / "benchmarks").glob("benchmark*.py"))
    if benchmarks:
        (tree / "benchmarks").mkdir(exist_ok=True)
        for script in benchmarks:
            shutil.copy2(script, tree / "benchmarks" / script.name)
    if not (root / "CARD.md").is_file():
        return None
    return fill_card_file(root, tree / "CARD.md", repo_id, variant_dir)


def fill_card_file(root: Path, out: Path, repo_id: str, variant_dir: Optional[Path] = None) -> Path:
    """``kernels fill-card``: ``root/CARD.md`` with its ``{{ }}`` placeholders filled, written
    to ``out``. Values come from a built variant (``variant_dir``, default: the first
    ``root/build/<variant>/`` with metadata.json) and ``root/benchmarks/``."""
    template = root / "CARD.md"
    if not template.is_file():
        raise AuthoringError(f"{root}: no CARD.md to fill")
    if variant_dir is None:
        built = sorted(p.parent for p in (root / "build").glob("*/metadata.json"))
        if not built:
            raise AuthoringError(
                f"{root}: no built variant in build/ to take the card's values from; run "
                "`pip wheel --no-build-isolation --no-deps -w dist .` and `kernels from-wheel dist/*.whl -o .` first"
            )
        variant_dir = built[0]
    metadata = Metadata.read_from_file(variant_dir / "metadata.json")
    has_benchmark = any((root / "benchmarks").glob("benchmark*.py"))
    out.write_text(fill_card(template.read_text(), card_values(repo_id, metadata, variant_dir, has_benchmark)))
    return out
