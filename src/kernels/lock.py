"""Locking a project's kernels: ``kernels.lock``, ``kernels lock``, ``kernels download``,
:func:`get_locked_kernel` and :func:`load_kernel`.

A project names the kernels it uses, by major version, in its ``pyproject.toml``::

    [tool.kernels.dependencies]
    "kernels-community/activation" = 1

``kernels lock`` resolves each ``v<N>`` branch to its commit, walks the ``kernel-depends`` of
every variant, and writes ``kernels.lock``: per kernel the commit and, per variant, a hash of
its files (``git_lfs_concat``, see :mod:`kernels.integrity`)::

    [{"repo_id": "kernels-community/activation", "sha": "<40 hex>",
      "variants": {"torch213-cxx11-cpu-x86_64-linux": {"hash": "sha256-<hex>",
                                                       "hash_type": "git_lfs_concat"}}}]

Loading a locked kernel downloads that commit only, and refuses the variant when its files do
not hash to the locked value. ``kernels lock --format 0.17`` writes the hash-less format of
``kernels`` 0.17 (``[{"dependency": {"repo-id", "version"}, "lock": {"commit"}}]``), which that
release requires; both formats are read.

At run time the lock comes from an explicit file or from the installed metadata of the package
that calls :func:`get_locked_kernel` (``<dist>.dist-info/kernels.lock``). setuptools projects get
it there through the ``egg_info.writers`` entry point :func:`write_egg_lockfile`.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import hub, integrity, limits
from .atomic_files import write_text_atomically
from .errors import HubError, KernelIntegrityError, LockError, LockFileNotFoundError
from .variants import parse_variant

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "LOCK_FILENAME",
    "KernelLock",
    "download_locked",
    "get_locked_kernel",
    "load_kernel",
    "lock_project",
    "parse_lockfile",
    "read_dependencies",
    "write_egg_lockfile",
]

logger = logging.getLogger("kernels")

LOCK_FILENAME = "kernels.lock"
#: Formats :func:`dump_lockfile` writes: with per-variant hashes, or the one of kernels 0.17.
FORMATS = ("hashes", "0.17")

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class KernelLock:
    """One locked kernel: its commit and the hash of each of its variants.

    ``version`` / ``revision`` record what was asked for (``kernels`` 0.17 format only).
    """

    repo_id: str
    commit: str
    variants: Mapping[str, str] = field(default_factory=dict)
    version: Optional[int] = None
    revision: Optional[str] = None

    def to_json(self, fmt: str) -> Dict[str, Any]:
        if fmt == "0.17":
            dependency: Dict[str, Any] = {"repo-id": self.repo_id}
            if self.revision is not None:
                dependency["revision"] = self.revision
            else:
                dependency["version"] = self.version
            return {"dependency": dependency, "lock": {"commit": self.commit}}
        return {"repo_id": self.repo_id, "sha": self.commit,
                "variants": {v: {"hash": h, "hash_type": integrity.HASH_TYPE} for v, h in sorted(self.variants.items())}}


# --------------------------------------------------------------------------- the file


def parse_lockfile(text: str, source: str = LOCK_FILENAME) -> List[KernelLock]:
    """Read a ``kernels.lock`` in either format; :class:`LockError` names what is wrong.

    >>> parse_lockfile('[{"repo_id": "org/relu", "sha": "%s", "variants": {}}]' % ("a" * 40))
    [KernelLock(repo_id='org/relu', commit='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', variants={}, version=None, revision=None)]
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LockError(f"{source}: not valid JSON ({exc}); run `kernels lock` to write it again") from None
    if not isinstance(data, list):
        raise LockError(f"{source}: expected a JSON list of locked kernels, got {type(data).__name__}")
    return [_parse_entry(entry, f"{source}[{i}]") for i, entry in enumerate(data)]


def _parse_entry(entry: Any, where: str) -> KernelLock:
    if not isinstance(entry, dict):
        raise LockError(f"{where}: expected an object")
    try:
        if "dependency" in entry:  # kernels 0.17
            dependency, lock = entry["dependency"], entry["lock"]
            version = dependency.get("version")
            if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
                raise LockError(f"{where}.dependency.version: expected an integer, got {version!r}")
            return KernelLock(_text(dependency["repo-id"], where), _commit(lock["commit"], where),
                              version=version, revision=dependency.get("revision"))
        variants = {}
        for name, value in (entry.get("variants") or {}).items():
            try:
                parse_variant(name)  # names become paths in the cache
            except ValueError as exc:
                raise LockError(f"{where}.variants: {exc}") from None
            if not isinstance(value, dict) or not str(value.get("hash", "")).startswith("sha256-"):
                raise LockError(f"{where}.variants.{name}: expected {{\"hash\": \"sha256-<hex>\", ...}}")
            if value.get("hash_type", integrity.HASH_TYPE) != integrity.HASH_TYPE:
                raise LockError(f"{where}.variants.{name}: unknown hash_type {value.get('hash_type')!r}")
            variants[name] = value["hash"]
        return KernelLock(_text(entry["repo_id"], where), _commit(entry["sha"], where), variants)
    except (KeyError, AttributeError, TypeError) as exc:
        raise LockError(f"{where}: missing or malformed field {exc}; run `kernels lock` to write it again") from None


def _text(value: Any, where: str) -> str:
    try:
        return hub.check_repo_id(value)
    except HubError as exc:
        raise LockError(f"{where}: {exc}") from None


def _commit(value: Any, where: str) -> str:
    if not hub.is_commit_hash(value):
        raise LockError(f"{where}: expected a 40-hex commit id, got {value!r}")
    return value


def dump_lockfile(locks: Iterable[KernelLock], fmt: str = "hashes") -> str:
    """The text of a ``kernels.lock`` (entries sorted by repository id)."""
    if fmt not in FORMATS:
        raise LockError(f"unknown lock format {fmt!r}; choose one of {', '.join(FORMATS)}")
    entries = [lock.to_json(fmt) for lock in sorted(locks, key=lambda lock: lock.repo_id)]
    return json.dumps(entries, indent=2) + "\n"


def read_dependencies(project_dir: PathLike) -> Dict[str, int]:
    """``[tool.kernels.dependencies]`` of ``<project_dir>/pyproject.toml``: repo id -> version."""
    pyproject = Path(project_dir) / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LockError(f"{pyproject}: no such file; `kernels lock` needs a project with a pyproject.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"{pyproject}: not valid TOML: {exc}") from None
    deps = data.get("tool", {}).get("kernels", {}).get("dependencies")
    if not isinstance(deps, dict) or not deps:
        raise LockError(f"{pyproject}: no [tool.kernels.dependencies] table; add one, e.g.\n"
                        "  [tool.kernels.dependencies]\n  \"kernels-community/activation\" = 1")
    for repo_id, version in deps.items():
        _text(repo_id, f"{pyproject}: [tool.kernels.dependencies]")
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise LockError(f"{pyproject}: [tool.kernels.dependencies] {repo_id!r}: expected a major "
                            f"version (a non-negative integer), got {version!r}")
    return dict(deps)


# --------------------------------------------------------------------------- kernels lock


def lock_project(project_dir: PathLike, *, fmt: str = "hashes",
                 trust_remote_code: Any = False) -> Tuple[Path, List[KernelLock]]:
    """Resolve the project's kernel dependencies (and theirs) and write ``kernels.lock``.

    Every publisher must be a trusted kernel publisher on the Hub, unless ``trust_remote_code``
    names the repository (a list of repo ids) or is True (any kernel), as for
    :func:`kernels.get_kernel`: a lock is made once, by a person, for code that later runs
    without asking (``kernels lock --trust ORG/NAME``, ``--trust-remote-code``). Returns the
    file and the locks.

    Raises:
        UntrustedKernelError: a kernel (or a kernel it depends on) is not covered.

    Example::

        >>> path, locks = lock_project("my-project")                           # doctest: +SKIP
        >>> [(lock.repo_id, lock.commit[:7]) for lock in locks]                # doctest: +SKIP
        [('kernels-community/activation', '3f2a9c1')]
    """
    from .load import _check_trust, _version_branch  # noqa: PLC0415 - load imports torch-free too

    project = Path(project_dir)
    deps = read_dependencies(project)
    locks: Dict[str, KernelLock] = {}

    def lock_one(repo_id: str, version: Optional[int], revision: Optional[str], chain: Tuple[str, ...]) -> None:
        if repo_id in chain:
            raise LockError(f"kernel dependency cycle: {' -> '.join(chain + (repo_id,))}")
        if repo_id in locks:
            return
        target = hub.follow_redirect(repo_id, revision, version, offline=False)
        if target.redirect is not None:
            # The lock pins what is loaded: the destination, under its own id.
            logger.warning("%s: locking %s, where it moved; name %s in pyproject.toml and in the code that "
                           "loads it", repo_id, target.repo_id, target.repo_id)
            repo_id, revision, version = target.repo_id, target.revision, target.version
            if repo_id in locks:
                return
        _check_trust(repo_id, trust_remote_code, offline=False,
                     opt_in=f"`kernels lock --trust {repo_id}` (this repository) or "
                            "`kernels lock --trust-remote-code` (any kernel)")
        ref = revision if revision is not None else _version_branch(repo_id, version)  # type: ignore[arg-type]
        commit = hub.commit_of(repo_id, ref)
        files = hub.variant_object_ids(repo_id, commit)
        if not files:
            raise LockError(f"{repo_id}@{ref} ({commit}) has no build variants under build/")
        variants = {name: integrity.variant_tree_hash(pairs) for name, pairs in files.items()}
        locks[repo_id] = KernelLock(repo_id, commit, variants, version=version, revision=revision)
        logger.info("locked %s %s -> %s (%d variants)", repo_id, ref, commit, len(variants))
        from .metadata import METADATA_FILENAME, Metadata  # noqa: PLC0415

        seen = set()
        for name in sorted(variants):
            if not any(path == METADATA_FILENAME for path, _ in files[name]):
                continue
            meta = Metadata.read_from_file(hub.download_variant_file(repo_id, commit, name, METADATA_FILENAME))
            for dep in meta.kernel_depends:
                key = (dep["repo-id"], dep.get("version"), dep.get("revision"))
                if key not in seen:
                    seen.add(key)
                    lock_one(dep["repo-id"], dep.get("version"), dep.get("revision"), chain + (repo_id,))

    for repo_id, version in sorted(deps.items()):
        lock_one(repo_id, version, None, ())
    path = project / LOCK_FILENAME
    _write_atomically(path, dump_lockfile(locks.values(), fmt))
    return path, sorted(locks.values(), key=lambda lock: lock.repo_id)


def _write_atomically(path: Path, text: str) -> None:
    write_text_atomically(path, text)


# --------------------------------------------------------------------------- kernels download


def read_project_lock(project_dir: PathLike) -> List[KernelLock]:
    """The locks of ``<project_dir>/kernels.lock``."""
    path = Path(project_dir) / LOCK_FILENAME
    try:
        text = _read_lock_text(path)
    except FileNotFoundError:
        raise LockError(f"{path}: no such file; run `kernels lock {project_dir}` first") from None
    return parse_lockfile(text, str(path))


def _read_lock_text(path: Path) -> str:
    """A lock file's text: a regular UTF-8 file within the lock file bound (:mod:`kernels.limits`)."""
    try:
        return limits.read_regular_file(path, "lockfile_bytes").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LockError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise LockError(str(exc)) from None


def download_locked(project_dir: PathLike, *, all_variants: bool = False) -> List[Path]:
    """Fetch the locked kernels of a project into the cache (the best variant for this
    environment, or every variant), checking each against the lock. Returns the variant
    directories.

    Example::

        >>> download_locked("my-project")                                      # doctest: +SKIP
        [PosixPath('.../snapshots/<sha>/build/torch213-cxx11-cpu-x86_64-linux')]
    """
    from .load import _resolve_hub  # noqa: PLC0415

    paths = []
    for lock in read_project_lock(project_dir):
        logger.info("%s@%s", lock.repo_id, lock.commit)
        # Nothing is imported here, but ask now whether the publisher is trusted: the answer is
        # remembered, and offline loads of this kernel (load_kernel) go by it.
        hub.is_trusted_publisher(lock.repo_id.split("/", 1)[0])
        if all_variants:
            names = sorted(lock.variants) or hub.list_variants(lock.repo_id, lock.commit)
            for name in names:
                variant_dir = hub.download_variant(lock.repo_id, lock.commit, name)
                _verify_lock(lock, name, variant_dir)
                paths.append(variant_dir)
        else:
            resolved = _resolve_hub(lock.repo_id, revision=lock.commit, version=None, backend=None, user_agent=None,
                                    trust_remote_code=True, local_files_only=False, fetch="all")
            assert resolved.variant_dir is not None
            _verify_lock(lock, resolved.variant, resolved.variant_dir)
            paths.append(resolved.variant_dir)
    return paths


def _verify_lock(lock: KernelLock, variant: str, variant_dir: Path) -> None:
    """Refuse a variant whose files do not hash to the locked value (locks without hashes,
    the 0.17 format, only pin the commit)."""
    if not lock.variants:
        return
    expected = lock.variants.get(variant)
    if expected is None:
        raise KernelIntegrityError(
            f"{lock.repo_id}@{lock.commit}: variant {variant} is not in the lock (locked: "
            f"{', '.join(sorted(lock.variants))}); run `kernels lock` again")
    lfs_files = hub.cached_variant_lfs_files(variant_dir.parents[1], variant)  # <snapshot>/build/<variant>
    actual = integrity.local_variant_hash(variant_dir, lfs_files)
    if actual != expected:
        raise KernelIntegrityError(
            f"{lock.repo_id}@{lock.commit} build/{variant}: the files in {variant_dir} hash to {actual}, "
            f"the lock says {expected}: the cache was modified (or the lock was edited). Nothing was "
            f"imported. Delete {variant_dir.parents[3]} and run `kernels download` again.")


# --------------------------------------------------------------------------- loading


def get_locked_kernel(repo_id: str, *, lockfile: Optional[PathLike], trust_remote_code: Any = False,
                      user_agent: Any = None) -> ModuleType:
    """Load the commit of ``repo_id`` that the lock names (downloading it when needed), after
    checking its files against the lock.

    Args:
        repo_id: the kernel, ``"org/name"``; must be in the lock.
        lockfile: a ``kernels.lock``; None reads the lock from the installed metadata of the
            package that calls this function. Required (as in ``kernels`` 0.17), so that
            reading the caller's metadata is a choice.
        trust_remote_code, user_agent: as for :func:`kernels.get_kernel`.

    Raises:
        LockError: no lock found, or ``repo_id`` is not in it.
        KernelIntegrityError: the downloaded files do not match the lock.

    Example::

        >>> from kernels import get_locked_kernel
        >>> act = get_locked_kernel("kernels-community/activation", lockfile="kernels.lock")  # doctest: +SKIP
    """
    from .load import _ensure_intact, _load, _resolve_hub  # noqa: PLC0415
    from .local import RepoInfo, loaded_module  # noqa: PLC0415

    lock = _find_lock(repo_id, lockfile)
    resolved = _resolve_hub(repo_id, revision=lock.commit, version=None, backend=None, user_agent=user_agent,
                            trust_remote_code=trust_remote_code, local_files_only=False, fetch="all")
    assert resolved.variant_dir is not None and resolved.metadata is not None
    module = loaded_module(resolved.variant_dir)
    if module is not None:
        return module
    if lock.variants:  # the lock is the stronger check; a mismatch is refused, not repaired
        _verify_lock(lock, resolved.variant, resolved.variant_dir)
    else:
        _ensure_intact(repo_id, resolved, offline=hub.offline(), user_agent=user_agent)
    return _load(resolved.variant_dir, resolved.metadata, RepoInfo(repo_id, lock.commit), backend=None,
                 trust_remote_code=trust_remote_code, user_agent=user_agent, chain=(repo_id,))


def load_kernel(repo_id: str, *, lockfile: Optional[PathLike], backend: Optional[str] = None,
                trust_remote_code: Any = False) -> ModuleType:
    """Load the locked commit of ``repo_id`` from the cache only (no network), after checking
    its files against the lock. Fill the cache ahead with ``kernels download <project>``.

    Args:
        repo_id: the kernel, ``"org/name"``; must be in the lock.
        lockfile: a ``kernels.lock``; None reads the lock of the calling package.
        backend: ``"cpu"`` or the detected backend (default).
        trust_remote_code: as for :func:`kernels.get_kernel`. Without the network, a publisher
            counts as trusted only when the Hub said so earlier on this machine (``kernels lock``
            and ``kernels download`` ask it).

    Raises:
        LockError: no lock, or ``repo_id`` not in it.
        KernelNotCachedError: the cache lacks the locked commit (run ``kernels download``).
        KernelIntegrityError: the cached files do not match the lock.
        UntrustedKernelError: the publisher is not known to be trusted and no opt-in was given.

    Example::

        >>> from kernels import load_kernel
        >>> act = load_kernel("kernels-community/activation", lockfile=None)   # doctest: +SKIP
    """
    from .load import _check_trust, _ensure_intact, _environment, _load, _resolve_cached  # noqa: PLC0415
    from .local import RepoInfo, loaded_module  # noqa: PLC0415

    lock = _find_lock(repo_id, lockfile)
    _check_trust(repo_id, trust_remote_code, offline=True)
    resolved = _resolve_cached(repo_id, lock.commit, _environment(), backend, version=None)
    assert resolved.variant_dir is not None and resolved.metadata is not None
    module = loaded_module(resolved.variant_dir)
    if module is not None:
        return module
    if lock.variants:
        _verify_lock(lock, resolved.variant, resolved.variant_dir)
    else:
        _ensure_intact(repo_id, resolved, offline=True, user_agent=None)
    return _load(resolved.variant_dir, resolved.metadata, RepoInfo(repo_id, lock.commit), backend=backend,
                 trust_remote_code=trust_remote_code, user_agent=None, chain=(repo_id,))


def _find_lock(repo_id: str, lockfile: Optional[PathLike]) -> KernelLock:
    if lockfile is not None:
        path = Path(lockfile)
        try:
            text, source = _read_lock_text(path), str(path)
        except FileNotFoundError:
            raise LockFileNotFoundError(f"{path}: no such lock file; run `kernels lock <project>` to write it") from None
    else:
        text, source = _caller_lock()
    for lock in parse_lockfile(text, source):
        if lock.repo_id == repo_id:
            return lock
    raise LockError(f"{source}: {repo_id} is not locked; add it to [tool.kernels.dependencies], run "
                    "`kernels lock <project>` and reinstall the project")


def _caller_lock() -> Tuple[str, str]:
    """The ``kernels.lock`` in the installed metadata of the package that called us: the
    first frame outside ``kernels`` (and importlib machinery) decides."""
    frame = sys._getframe(1)
    package = None
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        top = name.split(".")[0]
        if top not in ("kernels", "importlib", "_frozen_importlib", "_frozen_importlib_external", "contextlib"):
            package = top
            break
        frame = frame.f_back  # type: ignore[assignment]
    if not package or package == "__main__":
        raise LockError("lockfile=None reads kernels.lock from the installed package that calls this "
                        f"function, but the caller is {package or 'unknown'!s}, not part of an installed "
                        "distribution; pass lockfile=\"path/to/kernels.lock\"")
    dists = _distributions_of(package)
    for dist in dists:
        text = dist.read_text(LOCK_FILENAME)
        if text is not None:
            return text, f"{dist.metadata['Name']} {dist.version} ({LOCK_FILENAME} in its metadata)"
    which = ", ".join(d.metadata["Name"] for d in dists) or f"no installed distribution provides {package!r}"
    raise LockError(f"no {LOCK_FILENAME} in the installed metadata of the calling package {package!r} ({which}): "
                    "run `kernels lock <project>`, reinstall the project, or pass lockfile=")


def _distributions_of(package: str) -> List[importlib.metadata.Distribution]:
    mapping = getattr(importlib.metadata, "packages_distributions", None)
    if mapping is not None:
        names = mapping().get(package, [])
        return [importlib.metadata.distribution(n) for n in dict.fromkeys(names)]
    found = []  # Python 3.9: look for the package among each distribution's files
    for dist in importlib.metadata.distributions():
        files = dist.files or []
        if any(f.parts and f.parts[0] in (package, f"{package}.py") for f in files):
            found.append(dist)
    return found


def write_egg_lockfile(cmd: Any, basename: str, filename: str) -> None:
    """setuptools ``egg_info.writers`` hook: copy ``kernels.lock`` into the metadata of a
    project that has ``[tool.kernels.dependencies]`` (and remove it when the lock is gone)."""
    project = Path.cwd()
    try:
        read_dependencies(project)
    except LockError:
        return
    lock = project / LOCK_FILENAME
    if not lock.is_file():
        logger.warning("%s does not exist: run `kernels lock %s`", lock, project)
        cmd.write_or_delete_file(basename, filename, None)
        return
    cmd.write_or_delete_file(basename, filename, lock.read_text(encoding="utf-8"))
