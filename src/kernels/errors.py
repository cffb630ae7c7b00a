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

__all__ = ["HubError", "KernelTreeError", "KernelWheelError", "KernelsError", "MetadataError"]


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


class KernelWheelError(KernelsError, ValueError):
    """A file is not a valid, safe kernel wheel (or cannot become one).

    ``wheel`` names the file, ``problem`` says what is wrong; ``str(error)`` joins them::

        >>> str(KernelWheelError("relu.whl", "not a zip archive"))
        'relu.whl: not a zip archive'
    """

    def __init__(self, wheel: str, problem: str) -> None:
        self.wheel = str(wheel)
        self.problem = problem
        super().__init__(f"{self.wheel}: {problem}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.wheel, self.problem))


class KernelTreeError(KernelsError, ValueError):
    """A directory tree (``build/<variant>/...``) cannot be turned into kernel wheels.

    ``path`` names the offending directory or file, ``problem`` says what is wrong::

        >>> str(KernelTreeError("build/torch-cpu", "missing metadata.json"))
        'build/torch-cpu: missing metadata.json'
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.path, self.problem))


class HubError(KernelsError, ValueError):
    """A Hub operation failed for a reason the user can act on: a repository, revision or
    file that does not exist, no access, or no network while the cache lacks the files.

    The message names the repository (and revision) and what to do.
    """
