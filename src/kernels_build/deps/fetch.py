"""The per-user cache of fetched header libraries, shared by every build on the machine.

Each library version is fetched once, into ``<cache>/<library>-<version>/`` (for example
``~/.cache/kernels_build/deps/cutlass-3.8.0/``): with a shallow git fetch of its release tag
(``git fetch --depth 1 URL refs/tags/v3.8.0``), or for metal-cpp by downloading Apple's zip
archive. Builds that want the same version at the same time take turns on a lock file
(``<cache>/<library>-<version>.lock``): the first fetches, the others wait and then use its
result. A fetch lands in a temporary directory and is renamed into place only after the
version its sources state was checked against the requested one, so the cache never holds a
half-written or wrong tree. ``.kernels_build-source.json`` in each entry records where it came
from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional

from ..errors import DependencyError
from ..progress import progress
from . import probe
from .catalog import HeaderLibrary

SOURCE_RECORD = ".kernels_build-source.json"

#: Give up on a git transfer slower than 1 kB/s for a minute (a stalled network).
_GIT_LOW_SPEED = ("-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/kernels_build/deps``, else ``~/.cache/kernels_build/deps``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kernels_build" / "deps"


def fetch_into_cache(library: HeaderLibrary, url: str, cache: Path) -> Path:
    """The source root of ``library`` in ``cache``, fetched from ``url`` unless already there.

    ``url`` is a git repository (anything ``git fetch`` takes: https, ssh, file://, a local
    path) holding the tag :attr:`HeaderLibrary.git_tag`, or for libraries with an
    ``archive_url`` a zip archive (https, file://, or a local path).

    Raises:
        DependencyError: the fetch failed (git missing, network down, no such tag) or the
            fetched sources state another version than the requested one.
    """
    if "://" not in url and Path(url).expanduser().exists():
        url = str(Path(url).expanduser().resolve())  # a local mirror: git runs in another directory
    cache = cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / library.cache_key
    with _locked(cache / f"{library.cache_key}.lock"):
        if _complete(final, library):
            return final
        if final.exists():  # left by an older, interrupted or foreign fetch: start over
            shutil.rmtree(final, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=f".{library.cache_key}-", dir=cache) as tmp:
            work = Path(tmp) / "tree"
            started = time.monotonic()
            if library.archive_url is not None:
                progress(f"{library.name}: downloading {library.title} {library.version} from {url}")
                root = _download_archive(library, url, work)
            else:
                progress(f"{library.name}: fetching {library.title} {library.git_tag} from {url} "
                         f"(shallow git fetch, once per machine; cached in {cache})")
                root = _git_fetch(library, url, work)
            _check_fetched(library, root, url)
            (root / SOURCE_RECORD).write_text(json.dumps(
                {"library": library.library, "version": library.version, "url": url,
                 "tag": library.git_tag, "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                indent=2) + "\n")
            os.replace(root, final)
            progress(f"{library.name}: fetched in {time.monotonic() - started:.0f} s")
    return final


def _complete(path: Path, library: HeaderLibrary) -> bool:
    try:
        record = json.loads((path / SOURCE_RECORD).read_text())
    except (OSError, ValueError):
        return False
    return record.get("version") == library.version and probe.has_layout(library, path)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock between processes (flock), held for the ``with`` block."""
    import fcntl  # noqa: PLC0415 - POSIX only, like the builds it serves

    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another build that fetches the same library ({lock_path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _git_fetch(library: HeaderLibrary, url: str, work: Path) -> Path:
    git = shutil.which("git")
    if git is None:
        raise DependencyError(f"{library.name}: fetching {library.title} needs git, which is not installed")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    steps = (
        [git, "init", "--quiet", str(work)],
        [git, *_GIT_LOW_SPEED, "-C", str(work), "fetch", "--quiet", "--depth", "1", "--no-tags",
         url, f"refs/tags/{library.git_tag}"],
        [git, "-c", "advice.detachedHead=false", "-C", str(work), "checkout", "--quiet", "--detach", "FETCH_HEAD"],
    )
    for step in steps:
        try:
            proc = subprocess.run(step, capture_output=True, text=True, env=env, timeout=3600)
        except subprocess.TimeoutExpired:
            raise DependencyError(f"{library.name}: git fetch of {url} took over an hour; stopped") from None
        if proc.returncode != 0:
            # git's own diagnosis is its first "fatal:" line; advice ("Please make sure...") follows.
            lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
            detail = next((line for line in lines if line.startswith(("fatal:", "error:"))),
                          lines[-1] if lines else "(no output)")
            raise DependencyError(
                f"{library.name}: could not fetch tag {library.git_tag} of {url}: {detail}"
            )
    shutil.rmtree(work / ".git", ignore_errors=True)  # only the tree is needed
    return work


def _download_archive(library: HeaderLibrary, url: str, work: Path) -> Path:
    archive = work.parent / "download.zip"
    source = url if "://" in url else Path(url).resolve().as_uri()
    try:
        with urllib.request.urlopen(source, timeout=60) as response, open(archive, "wb") as out:
            shutil.copyfileobj(response, out)
    except (OSError, ValueError) as exc:
        raise DependencyError(f"{library.name}: could not download {url}: {exc}") from None
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                parts = PurePosixPath(member).parts
                if member.startswith("/") or ".." in parts:
                    raise DependencyError(f"{library.name}: {url} holds an unsafe path {member!r}")
            zf.extractall(work)
    except zipfile.BadZipFile:
        raise DependencyError(f"{library.name}: {url} is not a zip archive") from None
    root = _find_root(library, work)
    if root is None:
        raise DependencyError(f"{library.name}: {url} holds no {library.marker}; is it {library.title}?")
    return root


def _find_root(library: HeaderLibrary, tree: Path) -> Optional[Path]:
    """``tree`` or its single top-level directory, whichever has the library's marker file."""
    if probe.has_layout(library, tree):
        return tree
    children = [p for p in tree.iterdir() if p.is_dir()]
    if len(children) == 1 and probe.has_layout(library, children[0]):
        return children[0]
    return None


def _check_fetched(library: HeaderLibrary, root: Path, url: str) -> None:
    what = f"tag {library.git_tag} of {url}" if library.git_tag else url
    if not probe.has_layout(library, root):
        raise DependencyError(
            f"{library.name}: {what} holds no {library.marker}; is it {library.title}?"
        )
    stated = probe.stated_version(library, root)
    if library.states_version and stated != library.version:
        raise DependencyError(
            f"{library.name}: {what} holds {library.title} "
            f"{stated or '(no version stated)'}, not {library.version}; the repository is not "
            f"{library.title} or its tag was moved. Nothing was cached."
        )
