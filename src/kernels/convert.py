"""Between kernel wheels and Hub trees (``build/<variant>/``).

- :func:`from_wheel`: kernel wheels (from ``kernels_build``) -> ``<output>/build/<variant>/``,
  the layout of a Hub kernel repository's ``v<N>`` branch (contract section 3);
- :func:`to_wheel`: a tree -> one installable wheel per variant.

For a wheel built by ``kernels_build``, ``to_wheel(from_wheel(wheel))`` gives the same wheel
byte for byte: both sides write through :func:`kernels.wheels.write_kernel_wheel`.

Both validate everything before writing anything, and leave nothing behind on failure::

    >>> from_wheel([Path("relu-1.0.0+torch213cpucxx11-cp39-abi3-manylinux_2_28_x86_64.whl")],
    ...            Path("out"))                                       # doctest: +SKIP
    [PosixPath('out/build/torch213-cxx11-cpu-x86_64-linux')]
    >>> to_wheel(Path("out"), 1, Path("dist"))                        # doctest: +SKIP
    [PosixPath('dist/relu-1.0.0+torch213cpucxx11-cp39-abi3-manylinux_2_28_x86_64.whl')]
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import limits
from .errors import KernelTreeError, KernelWheelError, MetadataError
from .metadata import METADATA_FILENAME, SIGNATURE_FILENAME, Metadata, compare_files
from .package_files import DiskFile, PackageFile
from .variants import NoarchVariant, Variant, parse_variant
from .wheels import (
    NOARCH_TAG,
    KernelWheelContents,
    default_summary,
    path_problem,
    python_abi_tag,
    read_kernel_wheel,
    requirements_for,
    summarize,
    verify_package_digest,
    write_kernel_wheel,
)

__all__ = ["MANYLINUX", "directory_files", "from_wheel", "to_wheel", "wheel_tag"]

#: Platform policy of the Linux wheels :func:`to_wheel` writes (the builder's default).
MANYLINUX = "manylinux_2_28"

PathLike = Union[str, "os.PathLike[str]"]
#: Package files: POSIX path relative to the variant directory -> content, read on demand
#: (never held in memory whole: see :mod:`kernels.package_files`).
Files = Dict[str, PackageFile]


# --------------------------------------------------------------------------- helpers


def _tree_files(files: Mapping[str, PackageFile]) -> Files:
    """What goes into a variant directory: never bytecode (contract section 3)."""
    return {
        path: data for path, data in files.items()
        if not path.endswith(".pyc") and "__pycache__" not in path.split("/")[:-1]
    }


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def directory_files(directory: Path, symlink_root: Optional[Path] = None, *,
                    keep_signature: bool = False) -> Files:
    """Every file below ``directory`` (POSIX relative path -> file, read on demand), refusing
    hostile entries with :class:`~kernels.errors.KernelTreeError`: names that are not safe
    relative UTF-8 paths, FIFOs, devices and sockets (judged without opening them), and
    symbolic links that are absolute, broken, name a directory, or resolve outside
    ``symlink_root`` (default: ``directory``), so a tree cannot smuggle in files from
    elsewhere on the machine (a wheel, an upload).

    ``__pycache__`` directories and ``*.pyc`` files are left out, and the top-level
    ``metadata.json.sigstore`` too unless ``keep_signature``.
    """
    root = directory.resolve()
    allowed = symlink_root.resolve() if symlink_root is not None else root
    files: Files = {}

    def fail(entry: Path, problem: str) -> KernelTreeError:
        return KernelTreeError(str(entry), problem)

    def excluded(rel: str, parts: Tuple[str, ...]) -> bool:
        return rel.endswith(".pyc") or (not parts and rel == SIGNATURE_FILENAME and not keep_signature)

    def walk(current: Path, parts: Tuple[str, ...]) -> None:
        with os.scandir(current) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            entry_path = Path(entry.path)
            rel = "/".join(parts + (entry.name,))
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                raise fail(entry_path, "file name is not valid UTF-8") from None
            problem = path_problem(rel)
            if problem:
                raise fail(entry_path, f"file name {problem}; it cannot go into a wheel")
            if entry.is_symlink():
                target = os.readlink(entry.path)
                if os.path.isabs(target):
                    raise fail(entry_path, f"is a symbolic link to an absolute path ({target}); "
                                           "refusing it")
                resolved = entry_path.resolve()
                if not _within(resolved, allowed):
                    raise fail(entry_path, f"is a symbolic link pointing outside {allowed} ({target}); "
                                           "refusing it")
                if resolved.is_dir():
                    raise fail(entry_path, "is a symbolic link to a directory; not supported")
                if not resolved.is_file():
                    raise fail(entry_path, f"is a broken symbolic link ({target}), or links to a "
                                           "FIFO, device or socket")
                if not excluded(rel, parts):
                    files[rel] = DiskFile(resolved)
            elif entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    walk(entry_path, parts + (entry.name,))
            elif entry.is_file(follow_symlinks=False):
                if not excluded(rel, parts):
                    files[rel] = DiskFile(entry_path)
            else:
                raise fail(entry_path, "is not a regular file, directory or symbolic link")

    walk(root, ())
    return files


def _write_file(path: Path, content: PackageFile) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content.copy_to(path)
    os.chmod(path, 0o755 if path.name.endswith(".so") else 0o644)


# --------------------------------------------------------------------------- from_wheel


def from_wheel(wheels: Sequence[PathLike], output: PathLike) -> List[Path]:
    """Unpack kernel wheels into ``<output>/build/<variant>/``; return the variant directories.

    Each variant directory holds exactly the wheel's package files (flat layout: ``__init__.py``,
    ``_ops.py``, the ``.abi3.so`` or, for tvm-ffi, the ``.so``, ``metadata.json``, ...). All
    wheels must be of one kernel and version. A variant given twice with identical content, or
    already present in ``output`` with identical content, is fine; different content is an
    error. Every wheel is validated before anything is written; on any error nothing of this
    call is left in ``output``.

    Raises :class:`~kernels.errors.KernelWheelError` (a bad wheel, wheels that disagree) or
    :class:`~kernels.errors.KernelTreeError` (``output`` conflicts with the wheels).
    """
    if not wheels:
        raise ValueError("from_wheel needs at least one wheel")
    contents = [read_kernel_wheel(w) for w in wheels]

    first = contents[0]
    for other in contents[1:]:
        if other.metadata.name != first.metadata.name:
            raise KernelWheelError(
                str(other.path),
                f"holds kernel {other.metadata.name!r} but {first.path} holds kernel "
                f"{first.metadata.name!r}: one tree takes the wheels of one kernel",
            )
        if other.metadata.version != first.metadata.version:
            raise KernelWheelError(
                str(other.path),
                f"holds version {other.metadata.version} of {first.metadata.name!r} but {first.path} "
                f"holds version {first.metadata.version}: one tree takes one kernel version",
            )

    by_variant: Dict[str, Tuple[KernelWheelContents, Files]] = {}
    for wheel in contents:
        files = _tree_files(wheel.files)
        seen = by_variant.get(wheel.variant.name)
        if seen is None:
            by_variant[wheel.variant.name] = (wheel, files)
        elif seen[1] != files:
            raise KernelWheelError(
                str(wheel.path),
                f"holds variant {wheel.variant.name} with different content than {seen[0].path} "
                f"({summarize(compare_files(seen[1], files))})",
            )

    output = Path(output)
    build = output / "build"
    if build.is_symlink() or (build.exists() and not build.is_dir()):
        raise KernelTreeError(str(build), "exists but is not a directory; choose another output directory")
    if output.exists() and not output.is_dir():
        raise KernelTreeError(str(output), "exists but is not a directory")

    to_write: List[str] = []
    for name, (wheel, files) in sorted(by_variant.items()):
        target = build / name
        if not (target.exists() or target.is_symlink()):
            to_write.append(name)
            continue
        if target.is_symlink() or not target.is_dir():
            raise KernelTreeError(str(target), "exists but is not a directory; remove it or choose "
                                               "another output directory")
        existing = directory_files(target)
        if existing != files:
            raise KernelTreeError(
                str(target),
                f"already exists with different content than {wheel.path} "
                f"({summarize(compare_files(files, existing))}); remove it or choose another output directory",
            )
    _check_other_variants(build, first, set(by_variant))

    created: List[Path] = []  # everything this call made, newest last
    try:
        for directory in (output, build):
            if not directory.exists():
                directory.mkdir(parents=True)
                created.append(directory)
        for name in to_write:
            staging = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=build))
            created.append(staging)
            for rel, data in sorted(by_variant[name][1].items()):
                _write_file(staging / rel, data)
            os.chmod(staging, 0o755)
            os.rename(staging, build / name)  # fails if another process made it meanwhile
            created[-1] = build / name
    except BaseException:
        for path in reversed(created):
            if path.is_dir() and path not in (output, build):
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_dir():
                try:
                    path.rmdir()
                except OSError:
                    pass
        raise
    return [build / name for name in sorted(by_variant)]


def _check_other_variants(build: Path, first: KernelWheelContents, ours: Iterable[str]) -> None:
    """``build/`` must not hold variants of another kernel or version."""
    if not build.is_dir():
        return
    for entry in sorted(build.iterdir()):
        meta = entry / METADATA_FILENAME
        if entry.name in ours or entry.name.startswith(".") or not meta.is_file():
            continue
        try:
            other = Metadata.read_from_file(meta)
        except (MetadataError, OSError):
            continue
        if (other.name, other.version) != (first.metadata.name, first.metadata.version):
            raise KernelTreeError(
                str(build),
                f"already holds {entry.name} of kernel {other.name!r} version {other.version}, but "
                f"the wheels are {first.metadata.name!r} version {first.metadata.version}; "
                "choose another output directory",
            )


# --------------------------------------------------------------------------- to_wheel


@dataclass(frozen=True)
class _Planned:
    variant: Variant
    directory: Path
    metadata: Metadata
    files: Files
    tag: str


def wheel_tag(variant: Variant) -> str:
    """The tag :func:`to_wheel` gives a variant's wheel.

    >>> wheel_tag(parse_variant("torch213-cxx11-cu130-x86_64-linux"))
    'cp39-abi3-manylinux_2_28_x86_64'
    >>> wheel_tag(parse_variant("tvm-ffi01-cu130-x86_64-linux"))
    'py3-none-manylinux_2_28_x86_64'
    >>> wheel_tag(parse_variant("torch-cuda"))
    'py3-none-any'
    """
    if isinstance(variant, NoarchVariant):
        return NOARCH_TAG
    if variant.os == "linux":
        return f"{python_abi_tag(variant)}-{MANYLINUX}_{variant.cpu}"
    raise ValueError(f"variant {variant.name}: {variant.os} wheels are not supported yet "
                     "(Linux and noarch variants only)")


def to_wheel(
    tree: PathLike,
    version: int,
    output: PathLike,
    variants: Optional[Iterable[Union[str, Variant]]] = None,
    *,
    symlink_root: Optional[PathLike] = None,
) -> List[Path]:
    """Write one wheel per variant directory of ``tree`` into ``output``; return the wheels.

    ``tree`` is a directory holding ``build/<variant>/``, the ``build`` directory itself, or one
    variant directory (with ``metadata.json``). ``version`` is the kernel's major version and
    must equal every ``metadata.json``'s ``version``. ``variants`` limits the conversion to the
    named variants. Wheels are named ``<name>-<version>.0.0+<label>-<tag>.whl`` with tag
    ``cp39-abi3-manylinux_2_28_<cpu>`` (Linux torch variants), ``py3-none-manylinux_2_28_<cpu>``
    (Linux tvm-ffi variants) or ``py3-none-any`` (noarch): see :func:`wheel_tag`.

    Variant directories in the older nested layout (``build/<variant>/<module>/``) are
    flattened. Symbolic links must be relative and resolve inside the variant directory (or
    inside ``symlink_root``, e.g. a Hub cache folder whose snapshots link into ``blobs/``).
    Everything is validated first; on error :class:`~kernels.errors.KernelTreeError` names the
    problem and no wheel of this call is left in ``output``.
    """
    tree = Path(tree)
    if not tree.is_dir():
        raise KernelTreeError(str(tree), "is not a directory")
    root = Path(symlink_root) if symlink_root is not None else None
    found = _variant_dirs(tree)
    if variants is not None:
        wanted = [str(v) for v in variants]
        available = {v.name: (v, d) for v, d in found}
        unknown = [w for w in wanted if w not in available]
        if unknown:
            raise KernelTreeError(str(tree), f"has no variant {', '.join(unknown)} (it has: "
                                             f"{', '.join(sorted(available)) or 'none'})")
        found = [available[w] for w in dict.fromkeys(wanted)]

    planned = [_plan_variant(variant, directory, root) for variant, directory in found]
    for plan in planned:
        if plan.metadata.version != version:
            raise KernelTreeError(str(plan.directory / METADATA_FILENAME),
                                  f"says version {plan.metadata.version}, but version {version} "
                                  "was asked for")
        if plan.metadata.name != planned[0].metadata.name:
            raise KernelTreeError(str(plan.directory), f"holds kernel {plan.metadata.name!r} but "
                                  f"{planned[0].directory} holds {planned[0].metadata.name!r}")

    output = Path(output)
    if output.exists() and not output.is_dir():
        raise KernelTreeError(str(output), "exists but is not a directory")
    made_output = not output.exists()
    before = {p.name for p in output.iterdir()} if not made_output else set()
    written: List[Path] = []
    try:
        for plan in planned:
            name = plan.metadata.name
            written.append(write_kernel_wheel(
                output,
                name=name,
                version=f"{version}.0.0+{plan.variant.wheel_label}",
                tag=plan.tag,
                module=plan.metadata.python_name,
                variant=plan.variant,
                package_files=plan.files,
                requires=requirements_for(plan.variant, plan.metadata),
                summary=default_summary(name, plan.variant),
            ))
    except BaseException:
        if made_output:
            shutil.rmtree(output, ignore_errors=True)
        else:
            for path in written:
                if path.name not in before:
                    path.unlink(missing_ok=True)
        raise
    return written


def _is_variant_name(name: str) -> bool:
    try:
        parse_variant(name)
    except ValueError:
        return False
    return True


def _has_metadata(directory: Path) -> bool:
    if (directory / METADATA_FILENAME).exists():
        return True
    return any((sub / METADATA_FILENAME).exists() for sub in directory.iterdir() if sub.is_dir())


def _variant_dirs(tree: Path) -> List[Tuple[Variant, Path]]:
    """``(variant, directory)`` of every variant directory ``tree`` names, sorted by name."""
    name = tree.resolve().name
    if (tree / METADATA_FILENAME).exists() or (_is_variant_name(name) and not (tree / "build").is_dir()):
        try:
            return [(parse_variant(name), tree)]
        except ValueError as exc:
            raise KernelTreeError(str(tree), f"holds {METADATA_FILENAME} but its name is not a "
                                             f"variant: {exc}") from None
    build = tree / "build" if (tree / "build").is_dir() else tree
    found: List[Tuple[Variant, Path]] = []
    for entry in sorted(build.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue  # staging directories, CARD.md, ...
        valid = _is_variant_name(entry.name)
        if not valid and not _has_metadata(entry):
            continue  # benchmarks/ and other non-variant folders
        if not valid:
            try:
                parse_variant(entry.name)
            except ValueError as exc:
                raise KernelTreeError(str(entry), f"holds {METADATA_FILENAME} but its name is not a "
                                                  f"variant: {exc}") from None
        if entry.is_symlink():
            raise KernelTreeError(str(entry), "is a symbolic link; variant directories must be "
                                              "real directories")
        found.append((parse_variant(entry.name), entry))
    if not found:
        raise KernelTreeError(str(build), "holds no variant directories (build/<variant>/ with "
                                          f"{METADATA_FILENAME})")
    return found


def _plan_variant(variant: Variant, directory: Path, symlink_root: Optional[Path]) -> _Planned:
    raw = directory_files(directory, symlink_root)

    def fail(problem: str) -> KernelTreeError:
        return KernelTreeError(str(directory), problem)

    if METADATA_FILENAME in raw:
        meta_rel = METADATA_FILENAME
    else:
        nested = sorted(p for p in raw if p.count("/") == 1 and p.endswith("/" + METADATA_FILENAME))
        if len(nested) != 1:
            raise fail(f"missing {METADATA_FILENAME} (every variant directory needs one)")
        meta_rel = nested[0]
    if raw[meta_rel].size > limits.bound("metadata_bytes"):
        raise fail(f"{meta_rel} is {raw[meta_rel].size} bytes, more than {limits.describe('metadata_bytes')}")
    try:
        metadata = Metadata.from_bytes(raw[meta_rel].read(), source=str(directory / meta_rel))
    except MetadataError as exc:
        raise fail(f"invalid {METADATA_FILENAME}: {exc}") from None

    module = metadata.python_name
    prefix = module + "/"
    if "__init__.py" not in raw and prefix + "__init__.py" in raw:
        # Older layout: the package lies in build/<variant>/<module>/. Flatten it.
        files: Files = {p[len(prefix):]: d for p, d in raw.items() if p.startswith(prefix)}
        files.pop(SIGNATURE_FILENAME, None)
        for path, data in raw.items():
            if path.startswith(prefix):
                continue
            if path in files and files[path] != data:
                raise fail(f"{path} exists both at the top and in {module}/ with different content; "
                           "cannot flatten this older layout")
            files[path] = data
    else:
        files = raw

    backend = variant.backend
    if backend != "universal" and backend != metadata.backend.type:
        raise fail(f"variant {variant.name} is a {backend} build, but {METADATA_FILENAME} says "
                   f"backend {metadata.backend.type}")
    problems = verify_package_digest(metadata, files)
    if problems:
        raise fail(f"files do not match the digest in {METADATA_FILENAME}: {summarize(problems)}")
    try:
        tag = wheel_tag(variant)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return _Planned(variant=variant, directory=directory, metadata=metadata, files=files, tag=tag)

