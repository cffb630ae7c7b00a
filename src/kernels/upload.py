"""``kernels upload``: publish a tree of variants (``build/<variant>/``) to a Hub repository.

* Variants are the subdirectories of ``build/`` (or of the given directory) that hold a
  ``metadata.json``; they must agree on the kernel name and version.
* Branch: ``--branch``, else build.toml's ``general.hub.branch``, else ``v<version>``.
* Repository: ``--repo-id``, else build.toml's ``general.hub.repo-id`` when run from (or
  pointed at) a kernel repository. It is created (repo type ``kernel``) when missing.
* Re-uploading a variant replaces its files: stale files inside each uploaded variant are
  deleted (other variants stay); on a new branch every stale file under ``build/`` and
  ``benchmarks/`` goes. All of it is one commit on the branch.
* Only the tree's own files go: a symbolic link resolving outside its variant directory, or a
  FIFO, device or socket, stops the upload before anything is sent (a cloned repository
  cannot make you publish ``~/.ssh/id_rsa``).
* ``CARD.md`` of the kernel repo, when present, is filled and committed as ``README.md``
  on ``main`` (a second commit, on the other branch).

Example::

    >>> from kernels.upload import upload_tree
    >>> result = upload_tree("relu", repo_id="my-org/relu")     # doctest: +SKIP
    >>> result.branch, result.variants                            # doctest: +SKIP
    ('v1', ['torch213-cxx11-cpu-x86_64-linux'])
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from . import hub
from .card import card_values, fill_card, find_card
from .check import variant_dirs
from .convert import directory_files
from .errors import KernelTreeError, KernelsError
from .metadata import Metadata
from .package_files import DiskFile

try:  # Python >= 3.11
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["UploadResult", "upload_tree"]


@dataclass
class UploadResult:
    repo_id: str
    branch: str
    commit: str
    variants: List[str]
    deleted: List[str] = field(default_factory=list)
    readme_commit: Optional[str] = None


def upload_tree(
    path: Union[str, Path],
    *,
    repo_id: Optional[str] = None,
    branch: Optional[str] = None,
    private: bool = False,
) -> UploadResult:
    """Upload every variant under ``path`` (a kernel repo, its ``build/``, or a tree)."""
    root = Path(path).resolve()
    variants = _variants(root)
    name, version = _agreed_identity(variants)
    hub_config = _hub_config(root)
    repo_id = repo_id or hub_config.get("repo-id")
    if not repo_id:
        raise KernelsError(
            "no repository given: pass --repo-id ORG/NAME, or set [general.hub] repo-id in build.toml"
        )
    branch = branch or hub_config.get("branch") or f"v{version}"

    # Every local file is checked before the first request: a refused tree sends nothing.
    local_files = {f"build/{directory.name}/{rel}": file.path
                   for directory, _ in variants for rel, file in _shipped_files(directory).items()}
    benchmarks = _benchmarks(root)
    local_files.update({f"benchmarks/{file.name}": file for file in benchmarks})

    hub.check_repo_id(repo_id)
    hub.check_write_access(repo_id)
    _progress(f"uploading {len(variants)} variant(s) of {name} to {repo_id} (branch {branch})")
    hub.ensure_repo(repo_id, private=private)
    created = hub.ensure_branch(repo_id, branch)
    existing = hub.list_files(repo_id, branch)

    uploaded = set(local_files)
    operations = [hub.add_operation(path_in_repo, str(file)) for path_in_repo, file in local_files.items()]

    stale = sorted(p for p in existing if p not in uploaded and _is_stale(p, created, variants, bool(benchmarks)))
    operations += [hub.delete_operation(p) for p in stale]
    names = [d.name for d, _ in variants]
    commit = hub.commit(repo_id, branch, operations, f"Upload {name} v{version}: {', '.join(names)}")
    _progress(f"committed {commit[:12]} on {branch}: {len(uploaded)} file(s), {len(stale)} stale file(s) removed")
    result = UploadResult(repo_id, branch, commit, names, stale)

    card = find_card(root)
    if card is not None:
        first_dir, first_meta = variants[0]
        text = fill_card(card.read_text(), card_values(repo_id, first_meta, first_dir, bool(benchmarks)))
        result.readme_commit = hub.commit(
            repo_id, "main", [hub.add_operation("README.md", text.encode())], f"Update card of {name}"
        )
        _progress(f"filled {card.name} and committed it as README.md on main")
    return result


def _variants(root: Path) -> List[Tuple[Path, Metadata]]:
    found = []
    for directory in variant_dirs(root):
        meta = directory / "metadata.json"
        if meta.is_file():
            found.append((directory, Metadata.read_from_file(meta)))
    if not found:
        raise KernelTreeError(str(root), "no variants to upload (expected build/<variant>/metadata.json)")
    return found


def _agreed_identity(variants: List[Tuple[Path, Metadata]]) -> Tuple[str, int]:
    identities = {(m.name, m.version) for _, m in variants}
    if len(identities) != 1:
        listed = ", ".join(f"{d.name}: {m.name} v{m.version}" for d, m in variants)
        raise KernelTreeError(str(variants[0][0].parent), f"the variants disagree on kernel name or version ({listed})")
    return identities.pop()


def _hub_config(root: Path) -> dict:
    """``[general.hub]`` of the build.toml next to (or above) the tree, if any."""
    for directory in (root, *root.parents[:2]):
        build_toml = directory / "build.toml"
        if build_toml.is_file():
            try:
                data = tomllib.loads(build_toml.read_text())
            except tomllib.TOMLDecodeError:
                return {}
            hub_table = data.get("general", {}).get("hub", {})
            return hub_table if isinstance(hub_table, dict) else {}
    return {}


def _benchmarks(root: Path) -> List[Path]:
    """The ``benchmarks/benchmark*.py`` scripts next to the tree, links checked as in a variant."""
    for directory in (root, *root.parents[:2]):
        if (directory / "benchmarks").is_dir():
            files = directory_files(directory / "benchmarks")
            return [file.path for rel, file in sorted(files.items())
                    if "/" not in rel and rel.startswith("benchmark") and rel.endswith(".py")]
    return []


def _shipped_files(directory: Path) -> Dict[str, DiskFile]:
    """The files of a variant directory that go to the Hub (no bytecode, no ``.DS_Store``).
    Links resolving outside the directory and special files are refused
    (:func:`kernels.convert.directory_files`): an upload never carries a file from elsewhere."""
    files = directory_files(directory, keep_signature=True)
    return {rel: file for rel, file in files.items()  # type: ignore[misc]
            if rel.rsplit("/", 1)[-1] != ".DS_Store"}


def _is_stale(path_in_repo: str, new_branch: bool, variants, replacing_benchmarks: bool) -> bool:
    if new_branch:
        return path_in_repo.startswith(("build/", "benchmarks/"))
    if any(path_in_repo.startswith(f"build/{d.name}/") for d, _ in variants):
        return True
    return replacing_benchmarks and path_in_repo.startswith("benchmarks/benchmark") and path_in_repo.endswith(".py")


def _progress(message: str) -> None:
    print(f"kernels upload: {message}", file=sys.stderr, flush=True)
