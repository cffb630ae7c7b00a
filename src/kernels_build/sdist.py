"""Source distributions of kernel repositories (``python -m build`` builds one first).

An sdist holds the kernel repository as it is (build.toml, sources, torch-ext/, tests,
pyproject.toml), so that every variant wheel can be built from it later. It is
variant-independent: its version has no variant label.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import List

from .config import BuildConfig

#: Never shipped: build state, outputs, bytecode, VCS metadata.
_EXCLUDED_DIRS = {".kernels_build", "build", "dist", "__pycache__", ".git", ".venv"}


def repository_files(root: Path) -> List[Path]:
    """Files of the kernel repo: git's view (tracked + untracked, not ignored) when it is a
    checkout, else every file outside build/output directories."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "."],
            cwd=root, capture_output=True, check=True,
        ).stdout.decode()
        files = [root / name for name in out.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in root.rglob("*") if p.is_file()]
    return sorted(
        p for p in files
        if p.is_file()
        and not _EXCLUDED_DIRS.intersection(p.relative_to(root).parts[:-1])
        and p.suffix != ".pyc"
    )


def make_sdist(config: BuildConfig, sdist_directory: Path) -> Path:
    """Write ``<name>-<version>.0.0.tar.gz`` into ``sdist_directory``; return its path."""
    general = config.general
    dist = general.name.replace("-", "_")
    version = f"{general.version}.0.0"
    base = f"{dist}-{version}"
    pkg_info = (
        f"Metadata-Version: 2.1\nName: {general.name}\nVersion: {version}\n"
        f"Summary: {general.name} kernel for PyTorch\nLicense: {general.license}\n"
    ).encode()
    sdist_directory.mkdir(parents=True, exist_ok=True)
    target = sdist_directory / f"{base}.tar.gz"
    with tempfile.NamedTemporaryFile(dir=sdist_directory, suffix=".partial", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        with tarfile.open(partial, "w:gz", format=tarfile.PAX_FORMAT) as archive:
            _add_bytes(archive, f"{base}/PKG-INFO", pkg_info)
            for path in repository_files(config.root):
                archive.add(path, arcname=f"{base}/{path.relative_to(config.root).as_posix()}", recursive=False)
        partial.replace(target)  # whole archive or nothing
    finally:
        partial.unlink(missing_ok=True)
    return target


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


