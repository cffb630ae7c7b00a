"""``kernels check``: is every variant of a kernel tree valid and compliant?

Per variant directory (``build/<variant>/``) it checks the layout (a valid variant name,
``metadata.json`` that parses, a digest that matches when present, an importable package,
no bytecode) and, for every compiled extension, the same ABI3 and manylinux rules as the
build backend's gate (:mod:`kernels_build.compliance`). The library of a tvm-ffi variant
(``tvm-ffi01-cpu-x86_64-linux/_<module>_cpu_<uid>.so``) is held to other rules: no Python
symbols at all, and only ``libtvm_ffi.so`` and the CUDA libraries as dependencies.

Example::

    >>> from kernels.check import check_tree
    >>> report = check_tree("relu/build")            # doctest: +SKIP
    >>> print(report.describe()); report.ok          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import KernelsError, MetadataError, require_extra
from .metadata import Metadata
from .variants import ArchVariant, parse_variant

__all__ = ["VariantCheck", "TreeCheck", "check_tree", "variant_dirs"]


@dataclass
class VariantCheck:
    """The verdicts for one variant directory."""

    name: str
    problems: List[str] = field(default_factory=list)  # layout and metadata
    extensions: List[object] = field(default_factory=list)  # compliance.ExtensionReport

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.extensions)  # type: ignore[attr-defined]

    def describe(self) -> str:
        lines = [f"{'OK  ' if self.ok else 'FAIL'} {self.name}"]
        lines += [f"     layout: {p}" for p in self.problems]
        if not self.problems:
            lines.append("     layout: ok (metadata.json valid, digest verified when present)")
        for report in self.extensions:
            for line in report.describe().splitlines():  # type: ignore[attr-defined]
                lines.append(f"     {line}")
        return "\n".join(lines)


@dataclass
class TreeCheck:
    variants: List[VariantCheck]

    @property
    def ok(self) -> bool:
        return bool(self.variants) and all(v.ok for v in self.variants)

    def describe(self) -> str:
        if not self.variants:
            return "no variants found (expected build/<variant>/ directories holding metadata.json)"
        failed = sum(not v.ok for v in self.variants)
        body = "\n".join(v.describe() for v in self.variants)
        verdict = "all variants pass" if not failed else f"{failed} of {len(self.variants)} variants fail"
        return f"{body}\n{verdict}"


def variant_dirs(path: Union[str, Path]) -> List[Path]:
    """Variant directories under ``path``: a repo/tree root, its ``build/``, or one variant."""
    path = Path(path)
    if not path.is_dir():
        raise KernelsError(f"{path} is not a directory")
    if (path / "metadata.json").is_file():
        return [path]
    if not (path / "build").is_dir() and (path / "build.toml").is_file():
        raise KernelsError(f"{path} is a kernel source repository without build/ (nothing is built yet): run "
                           f"`kernels build {path}` first, or check a tree made by `kernels from-wheel`")
    build = path / "build" if (path / "build").is_dir() else path
    return sorted(p for p in build.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_tree(
    path: Union[str, Path],
    *,
    policy: str = "manylinux_2_28",
    python_abi: Tuple[int, int] = (3, 9),
    hub_snapshot: bool = False,
) -> TreeCheck:
    """Check every variant under ``path``; see the module docstring for the rules.

    ``hub_snapshot``: ``path`` is a huggingface_hub cache snapshot, whose files are symlinks
    into the cache's blob store (the Hub itself holds no symlinks).
    """
    return TreeCheck([_check_variant(d, policy, python_abi, hub_snapshot) for d in variant_dirs(path)])


def _check_variant(
    directory: Path, policy: str, python_abi: Tuple[int, int], hub_snapshot: bool
) -> VariantCheck:
    check = VariantCheck(directory.name)
    try:
        variant = parse_variant(directory.name)
    except ValueError as exc:
        check.problems.append(str(exc))
        variant = None
    meta_path = directory / "metadata.json"
    metadata = None
    if not meta_path.is_file():
        check.problems.append("metadata.json is missing")
    else:
        try:
            metadata = Metadata.read_from_file(meta_path)
        except MetadataError as exc:
            check.problems.append(str(exc))
    check.problems += _layout_problems(directory, metadata, hub_snapshot)
    if metadata is not None and metadata.digest is not None:
        check.problems += [f"digest: {p}" for p in metadata.verify_digest(directory)]
    if metadata is not None and variant is not None and not variant.is_noarch:
        if metadata.backend.type != variant.backend:
            check.problems.append(
                f"metadata backend {metadata.backend.type!r} does not match the variant's {variant.backend!r}"
            )
    extensions = sorted(directory.rglob("*.so"))
    if isinstance(variant, ArchVariant) and variant.os == "linux":
        if extensions:
            require_extra("kernels check (the compliance gate)", "build", "auditwheel", "abi3audit")
        from kernels_build.compliance import check_extension  # noqa: PLC0415 - heavy, only here

        rules = _extension_rules(variant, python_abi)
        for ext in extensions:
            try:
                check.extensions.append(check_extension(ext, policy=policy, **rules))
            except Exception as exc:  # a broken file is a verdict, not a crash
                check.problems.append(f"{ext.name}: {exc}")
        if variant.framework == "tvm-ffi" and metadata is not None:
            check.problems += _tvm_ffi_layout_problems(directory, metadata)
    elif extensions and variant is not None and variant.is_noarch:
        check.problems.append(f"noarch variant holds compiled files: {', '.join(e.name for e in extensions)}")
    return check


def _extension_rules(variant: ArchVariant, python_abi: Tuple[int, int]) -> Dict[str, Any]:
    """The compliance rules of a variant's compiled files, as arguments of ``check_extension``.

    A torch extension must keep to CPython's stable ABI as of ``python_abi`` and link only torch
    and the libraries torch ships (the gate's defaults). A tvm-ffi library is bound through
    Apache TVM FFI: it may use no Python symbol at all (``python_abi=None``) and link only
    ``libtvm_ffi.so`` and the CUDA libraries, never torch.
    """
    if variant.framework == "tvm-ffi":
        from kernels_build.compliance import TVM_FFI_ALLOWED_LIBRARIES  # noqa: PLC0415

        return {"python_abi": None, "allowed_libraries": TVM_FFI_ALLOWED_LIBRARIES}
    return {"python_abi": python_abi}


def _tvm_ffi_layout_problems(directory: Path, metadata: Metadata) -> List[str]:
    """A tvm-ffi variant ships its library as ``<id>.so`` (loaded by ``_ops.py`` with
    ``tvm_ffi.load_module``), never as a Python extension module (``.abi3.so``)."""
    problems = []
    library = f"{metadata.id}.so"
    if not (directory / library).is_file():
        problems.append(f"the tvm-ffi library {library} is missing (metadata.json's id names it)")
    python_extensions = sorted(p.name for p in directory.rglob("*.abi3.so"))
    if python_extensions:
        problems.append(f"a tvm-ffi variant holds no Python extension module: {', '.join(python_extensions)}")
    return problems


def _layout_problems(directory: Path, metadata: Optional[Metadata], hub_snapshot: bool) -> List[str]:
    problems = []
    module = metadata.python_name if metadata else None
    flat = (directory / "__init__.py").is_file()
    nested = module is not None and (directory / module / "__init__.py").is_file()
    if not flat and not nested:
        problems.append("no __init__.py (neither flat nor in a package directory)")
    bytecode = [p for p in directory.rglob("*") if p.suffix == ".pyc" or p.name == "__pycache__"]
    if bytecode:
        problems.append(f"bytecode must not be shipped: {', '.join(sorted({p.name for p in bytecode}))}")
    outside = [] if hub_snapshot else [
        p for p in directory.rglob("*")
        if p.is_symlink() and not p.resolve().is_relative_to(directory.resolve())
    ]
    if outside:
        problems.append(f"symlinks pointing outside the variant: {', '.join(p.name for p in outside)}")
    return problems
