"""Typed access to JSON request payloads: a wrong type is a 400 naming the field, never a 500."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from .errors import InvalidNameError
from .names import json_type

__all__ = ["field", "parse_json", "parse_json_object", "require"]

_PYTHON_TYPES = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "array": (list,),
    "object": (dict,),
}


def parse_json(raw: bytes, what: str = "request body") -> Any:
    """``raw`` parsed as JSON; 400 for invalid UTF-8, invalid JSON or too deep nesting."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise InvalidNameError(f"Invalid JSON in {what}") from None


def parse_json_object(raw: bytes, what: str = "request body", *, empty_ok: bool = True) -> Dict[str, Any]:
    """``raw`` parsed as a JSON object (``{}`` for an empty body when ``empty_ok``)."""
    if not raw.strip() and empty_ok:
        return {}
    return require(parse_json(raw, what), "object", what)


def require(value: Any, kind: str, what: str) -> Any:
    """``value`` when it has the JSON type ``kind`` (``string``, ``boolean``, ``integer``,
    ``array``, ``object``); else 400 "``what`` must be a(n) ``kind``, got ...". Booleans are
    not integers here, unlike in Python."""
    ok = isinstance(value, _PYTHON_TYPES[kind]) and not (kind == "integer" and isinstance(value, bool))
    if not ok:
        article = "an" if kind[0] in "aeiou" else "a"
        raise InvalidNameError(f"{what} must be {article} {kind}, got {json_type(value)}")
    return value


def field(payload: Dict[str, Any], key: str, kind: str, where: str, *, required: bool = False,
          default: Any = None, choices: Optional[List[Any]] = None, minimum: Optional[int] = None) -> Any:
    """The ``key`` field of a JSON object, checked.

    Args:
        payload: the parsed JSON object.
        key: the field name.
        kind: its JSON type (see :func:`require`).
        where: what holds it, for messages (e.g. ``"create-repo payload"``).
        required: 400 when the field is missing or null; otherwise they give ``default``.
        choices: the allowed values (400 otherwise).
        minimum: the smallest allowed integer.

    Raises:
        InvalidNameError: (400) for a missing required field, a wrong type or value.
    """
    value = payload.get(key)
    what = f"'{key}' in {where}"
    if value is None:
        if required:
            raise InvalidNameError(f"{what} is required")
        return default
    require(value, kind, what)
    if choices is not None and value not in choices:
        raise InvalidNameError(f"{what} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidNameError(f"{what} must be at least {minimum}, got {value}")
    return value
