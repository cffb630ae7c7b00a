"""User-facing exceptions of the ``kernels`` runtime.

Every error a kernel user can run into because of a kernel's files (rather than a bug in
``kernels`` itself) derives from :class:`KernelsError`, so callers can catch them all at once::

    >>> from kernels.errors import KernelsError, MetadataError
    >>> try:
    ...     raise MetadataError("must be an integer", source="torch-cpu/metadata.json", key="version")
    ... except KernelsError as e:
    ...     print(e)
    torch-cpu/metadata.json: version: must be an integer

Subclasses also derive from the builtin exception that fits best (``ValueError`` for malformed
data), so code written against the upstream runtime, which raised builtins, keeps working.
"""

from __future__ import annotations

import functools
from typing import Optional

__all__ = ["KernelsError", "MetadataError"]


class KernelsError(Exception):
    """Base class of the runtime's errors: ``str(error)`` is the complete message for the user."""


class MetadataError(KernelsError, ValueError):
    """A ``metadata.json`` is not valid JSON or does not follow the metadata format.

    The message names the file (when known), the offending key (dotted path such as
    ``backend.type`` or ``kernel-depends[0].repo-id``) and what was expected.

    Example::

        >>> err = MetadataError("expected one of cpu, cuda", source="m.json", key="backend.type")
        >>> (err.source, err.key, str(err))
        ('m.json', 'backend.type', 'm.json: backend.type: expected one of cpu, cuda')
    """

    def __init__(
        self, message: str, *, source: Optional[str] = None, key: Optional[str] = None
    ) -> None:
        self.message = message
        self.source = source
        self.key = key
        prefix = "".join(f"{part}: " for part in (source, key) if part)
        super().__init__(prefix + message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keyword-only fields would be lost by the default Exception pickling (multiprocessing).
        return (functools.partial(type(self), self.message, source=self.source, key=self.key), ())
