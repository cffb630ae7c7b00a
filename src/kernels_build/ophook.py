"""Op-registration hook: kernel ops must live in the kernel's unique op namespace.

Every build gets its own op namespace (the metadata ``id``, e.g. ``_relu_cuda_1a2b3c4``) so two
builds of a kernel can be loaded side by side. Kernel Python code therefore must not register
ops under a literal namespace such as ``"relu::relu_fwd"``; it builds the name with the helper
generated into ``_ops.py``::

    from ._ops import add_op_namespace_prefix

    @torch.library.register_fake(add_op_namespace_prefix("relu_fwd"))
    def relu_fwd_fake(x): ...

The hook scans every ``*.py`` of the kernel's Python directory (``torch-ext/<module>/``) with
:mod:`ast` (nothing is imported) and fails the build on module-level functions or classes
decorated with ``custom_op``, ``triton_op``, ``register_kernel``, ``register_fake``,
``register_vmap`` or ``register_torch_dispatch`` (bare or as an attribute, e.g.
``torch.library.register_fake``) whose first positional argument is not an
``add_op_namespace_prefix(...)`` call.

    >>> from kernels_build.ophook import check_op_namespaces
    >>> check_op_namespaces(Path("torch-ext/relu"), root=Path("."))   # doctest: +SKIP
    Traceback (most recent call last):
      ...
    kernels_build.errors.OpNamespaceError: ...
    torch-ext/relu/ops.py:7: @register_fake("relu::relu_fwd") on relu_fwd_fake
    ...
"""

from __future__ import annotations

import ast
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Union

from .errors import OpNamespaceError

__all__ = ["REGISTRATION_DECORATORS", "Finding", "find_literal_op_registrations",
           "check_op_namespaces"]

#: Decorator names (last attribute component) that take an op name as first argument.
REGISTRATION_DECORATORS = frozenset({
    "custom_op", "triton_op", "register_kernel", "register_fake", "register_vmap",
    "register_torch_dispatch",
})
#: The helper generated into ``_ops.py`` that prefixes the unique namespace.
PREFIX_HELPER = "add_op_namespace_prefix"

_Def = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef]


@dataclass(frozen=True)
class Finding:
    """One op registration with a namespace that is not built by ``add_op_namespace_prefix``.

    ``line`` is the decorator's line, ``kind`` the decorator name (``"register_fake"``), ``name``
    the decorated function or class, ``argument`` the source text of the op-name argument
    (``'"relu::relu_fwd"'``; empty when the call has no op-name argument).
    """

    file: Path
    line: int
    kind: str
    name: str
    argument: str

    def describe(self, root: Optional[Path] = None) -> str:
        """``path:LINE: @kind(argument) on name``, with the path relative to ``root`` if given.

        >>> Finding(Path("/k/torch-ext/relu/ops.py"), 7, "register_fake", "relu_fwd_fake",
        ...         '"relu::relu_fwd"').describe(Path("/k"))
        'torch-ext/relu/ops.py:7: @register_fake("relu::relu_fwd") on relu_fwd_fake'
        """
        where = f"{_display(self.file, root)}:{self.line}"
        return f"{where}: @{self.kind}({self.argument}) on {self.name}"


def _display(path: Path, root: Optional[Path]) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass  # outside root: show the path as given
    return path.as_posix()


def _callee_name(func: ast.expr) -> Optional[str]:
    """``register_fake`` for ``register_fake`` / ``torch.library.register_fake``, else None."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _op_name_argument(call: ast.Call) -> Optional[ast.expr]:
    """The op-name argument: the first positional one, else the ``name=``/``op=`` keyword."""
    if call.args:
        return call.args[0]
    for keyword in call.keywords:
        # torch.library.custom_op/triton_op call it `name`, the register_* functions `op`.
        if keyword.arg in ("name", "op"):
            return keyword.value
    return None


def _is_prefixed(arg: Optional[ast.expr]) -> bool:
    return isinstance(arg, ast.Call) and _callee_name(arg.func) == PREFIX_HELPER


def _module_level_defs(body: List[ast.stmt]) -> Iterator[_Def]:
    """Functions and classes defined at module level, also inside module-level if/try/with."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield stmt
        elif isinstance(stmt, ast.If):
            yield from _module_level_defs(stmt.body)
            yield from _module_level_defs(stmt.orelse)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            # Version-compat code wraps registrations in try/except ImportError.
            yield from _module_level_defs(stmt.body)  # type: ignore[attr-defined]
            for handler in stmt.handlers:  # type: ignore[attr-defined]
                yield from _module_level_defs(handler.body)
            yield from _module_level_defs(stmt.orelse)  # type: ignore[attr-defined]
            yield from _module_level_defs(stmt.finalbody)  # type: ignore[attr-defined]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield from _module_level_defs(stmt.body)


def _source_text(source: str, node: ast.expr) -> str:
    return ast.get_source_segment(source, node) or ast.unparse(node)


def _scan_file(path: Path, root: Optional[Path]) -> List[Finding]:
    try:
        with tokenize.open(path) as f:  # honours PEP 263 encoding cookies
            source = f.read()
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as e:
        where = f"{_display(path, root)}:{e.lineno or 0}"
        raise OpNamespaceError(
            f"{where}: syntax error: {e.msg}\n"
            "Kernel Python code must parse so its op registrations can be checked."
        ) from None
    except UnicodeDecodeError as e:
        raise OpNamespaceError(
            f"{_display(path, root)}: cannot decode source ({e.reason}); kernel Python code must "
            "be UTF-8 or declare its encoding"
        ) from None

    findings = []
    for definition in _module_level_defs(tree.body):
        for decorator in definition.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            kind = _callee_name(decorator.func)
            if kind not in REGISTRATION_DECORATORS:
                continue
            arg = _op_name_argument(decorator)
            if _is_prefixed(arg):
                continue
            findings.append(Finding(
                file=path, line=decorator.lineno, kind=kind, name=definition.name,
                argument="" if arg is None else _source_text(source, arg),
            ))
    return findings


def _scan(python_dir: Path, root: Optional[Path]) -> List[Finding]:
    python_dir = Path(python_dir)
    if not python_dir.is_dir():
        raise FileNotFoundError(f"kernel Python directory {python_dir} does not exist")
    findings: List[Finding] = []
    for path in sorted(python_dir.rglob("*.py")):
        if "__pycache__" not in path.relative_to(python_dir).parts and path.is_file():
            findings.extend(_scan_file(path, root))
    return findings


def find_literal_op_registrations(python_dir: Path) -> List[Finding]:
    """All registrations under ``python_dir`` whose op name is not ``add_op_namespace_prefix(...)``.

    Files are scanned in sorted path order, findings listed in source order. A file that
    does not parse raises :class:`~kernels_build.errors.OpNamespaceError` naming ``file:line``.

    >>> for f in find_literal_op_registrations(Path("torch-ext/relu")):   # doctest: +SKIP
    ...     print(f.line, f.kind, f.name, f.argument)
    7 register_fake relu_fwd_fake "relu::relu_fwd"
    """
    return _scan(Path(python_dir), None)


def _fix_example(finding: Finding, python_dir: Path) -> List[str]:
    """The import and decorator lines the first finding should use instead."""
    try:
        depth = len(finding.file.relative_to(python_dir).parts) - 1
    except ValueError:
        depth = 0
    op = finding.name
    literal = finding.argument.strip("\"'")
    if finding.argument[:1] in "\"'" and "::" in literal:
        op = literal.split("::", 1)[1]  # keep the user's op name, drop their namespace
    return [
        f"    from {'.' * (depth + 1)}_ops import {PREFIX_HELPER}",
        f'    @torch.library.{finding.kind}({PREFIX_HELPER}("{op}"))',
    ]


def check_op_namespaces(python_dir: Path, root: Optional[Path] = None) -> None:
    """Fail the build if any op is registered under a literal namespace.

    ``root`` (usually the kernel's project directory) makes the reported paths relative.
    Raises :class:`~kernels_build.errors.OpNamespaceError` listing every finding as
    ``path:LINE: @kind(argument) on name`` followed by the fix.

    >>> check_op_namespaces(Path("torch-ext/relu"), root=Path("."))   # doctest: +SKIP
    """
    python_dir = Path(python_dir)
    findings = _scan(python_dir, root)
    if not findings:
        return
    lines = [
        f"{len(findings)} op registration(s) in {_display(python_dir, root)} use a literal op "
        "namespace; ops must be registered in the build's unique namespace so that several "
        "builds of a kernel can be loaded together:",
    ]
    lines += [f"  {finding.describe(root)}" for finding in findings]
    lines.append("Fix: build op names with the helper generated in _ops.py, e.g.")
    lines += _fix_example(findings[0], python_dir)
    lines.append("(use '.._ops' from a subpackage, one more '.' per level).")
    raise OpNamespaceError("\n".join(lines))
