"""Fill a kernel's ``CARD.md`` template; it becomes the Hub repository's ``README.md``.

Placeholders are written ``{{ name }}``. Known names: ``repo_id``, ``name``, ``version``,
``license`` (lowercase), ``upstream``, ``source``, ``functions`` and ``layers`` (Markdown
bullet lists, ``- none`` when empty), ``has_benchmark`` (``yes``/``no``). Functions are the
package's ``__all__`` (minus ``layers``); layers are the classes of ``layers.py`` or
``layers/__init__.py``. Both are read with ``ast``: the kernel is never imported.

Example::

    >>> fill_card("# {{ name }} v{{ version }}\\n{{ functions }}", {"name": "relu", "version": 1,
    ...           "functions": ["relu"]})
    '# relu v1\\n- `relu`'
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from .metadata import Metadata

__all__ = ["fill_card", "card_values", "package_functions", "package_layers"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def fill_card(template: str, values: Mapping[str, object]) -> str:
    """Replace every ``{{ name }}``; unknown names are left as they are (so typos show)."""

    def render(match: "re.Match[str]") -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        value = values[key]
        if isinstance(value, (list, tuple)):
            return "\n".join(f"- `{v}`" for v in value) if value else "- none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(render, template)


def card_values(repo_id: str, metadata: Metadata, variant_dir: Path, has_benchmark: bool) -> Dict[str, object]:
    """The placeholder values for a kernel, from one of its variants."""
    layers = package_layers(variant_dir)
    return {
        "repo_id": repo_id,
        "name": metadata.name,
        "version": metadata.version,
        "license": metadata.license.lower(),
        "upstream": metadata.upstream or "",
        "source": metadata.source or "",
        "functions": [f for f in package_functions(variant_dir) if f != "layers" and f not in layers],
        "layers": layers,
        "has_benchmark": has_benchmark,
    }


def package_functions(package_dir: Path) -> List[str]:
    """Names in ``__all__`` of the package's ``__init__.py`` (literal lists/tuples only)."""
    init = package_dir / "__init__.py"
    if not init.is_file():
        return []
    for node in ast.walk(_parse(init)):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
                try:
                    return [str(n) for n in ast.literal_eval(node.value)]
                except ValueError:
                    return []
    return []


def package_layers(package_dir: Path) -> List[str]:
    """Public classes defined in ``layers.py`` or ``layers/__init__.py``."""
    for candidate in (package_dir / "layers.py", package_dir / "layers" / "__init__.py"):
        if candidate.is_file():
            return [
                n.name for n in _parse(candidate).body
                if isinstance(n, ast.ClassDef) and not n.name.startswith("_")
            ]
    return []


def _parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(), filename=str(path))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def find_card(start: Path) -> Optional[Path]:
    """``CARD.md`` of the kernel repo holding ``start`` (a tree or its parent), if any."""
    for directory in (start, *start.parents[:2]):
        if (directory / "CARD.md").is_file():
            return directory / "CARD.md"
    return None
