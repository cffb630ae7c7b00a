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

Hub and network failures are translated in one place (:mod:`kernels.hub.failures`). Each of
our types also derives from what the released ``kernels`` 0.17.2 let through in that case, so
``except`` clauses written for it still match:

==========================================  ===============================  ==============================================
failure                                     raised                           also a (what 0.17.2 raised)
==========================================  ===============================  ==============================================
repository does not exist / not visible     KernelRepositoryNotFoundError    huggingface_hub ``RepositoryNotFoundError``
branch, tag or commit does not exist        KernelRevisionNotFoundError      huggingface_hub ``RevisionNotFoundError``
``version=N`` has no branch ``vN``          KernelVersionNotFoundError       ``ValueError``
``kernel-status.toml`` malformed, chained   KernelRedirectError              ``ValueError``
HTTP 401/403, gated, no write permission    HubAccessError                   huggingface_hub ``HfHubHTTPError``
HTTP 5xx or 429 after the client's retries  HubServerError                   huggingface_hub ``HfHubHTTPError``
connection refused, DNS, timeout, TLS       HubUnreachableError              ``ConnectionError`` (an ``OSError``)
``HF_HUB_OFFLINE`` and the Hub is needed    HubOfflineError                  huggingface_hub ``OfflineModeIsEnabled``
offline and the cache lacks the kernel      KernelNotCachedError             ``FileNotFoundError`` and ``ValueError``
publisher not trusted                       UntrustedKernelError             ``ValueError``
==========================================  ===============================  ==============================================

All of them but the last two are :class:`HubError`. The types that derive from
huggingface_hub's are defined on first use (importing huggingface_hub costs more than a warm
load pinned to a commit); ``from kernels.errors import HubAccessError`` works as usual.
"""

from __future__ import annotations

import functools
from typing import Optional

__all__ = [
    "AuthoringError",
    "HubAccessError",
    "HubError",
    "HubOfflineError",
    "HubServerError",
    "HubUnreachableError",
    "IncompatibleKernelError",
    "KernelIntegrityError",
    "KernelNotCachedError",
    "KernelRedirectError",
    "KernelRepositoryNotFoundError",
    "KernelRevisionNotFoundError",
    "KernelSignatureError",
    "KernelTreeError",
    "KernelVersionNotFoundError",
    "KernelWheelError",
    "KernelsError",
    "LockError",
    "LockFileNotFoundError",
    "MetadataError",
    "MissingExtraError",
    "MissingPythonDependencyError",
    "NoCompatibleVariantError",
    "UntrustedKernelError",
]


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

    The message names the repository (and revision), what failed and what to do. The
    subclasses in the table above say which case it is.
    """


class HubUnreachableError(HubError, ConnectionError):
    """The Hub could not be reached: connection refused, a host name that does not resolve,
    a timeout, a TLS or proxy failure. ``repo_id`` and ``reason`` say for what and why::

        >>> err = HubUnreachableError("org/relu: cannot reach the Hub", repo_id="org/relu", reason="refused")
        >>> isinstance(err, ConnectionError), err.reason
        (True, 'refused')
    """

    def __init__(self, message: str, *, repo_id: Optional[str] = None, reason: str = "") -> None:
        super().__init__(message)
        self.repo_id = repo_id
        self.reason = reason

    def __str__(self) -> str:  # OSError would format its args as (errno, strerror)
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (functools.partial(type(self), str(self), repo_id=self.repo_id, reason=self.reason), ())


class KernelVersionNotFoundError(HubError):
    """``version=N`` was asked for and the repository has no branch ``vN``; the message lists
    the versions it has::

        >>> isinstance(KernelVersionNotFoundError("org/relu has no version 3; versions: v1"), ValueError)
        True
    """


class KernelRedirectError(HubError):
    """A repository's ``kernel-status.toml`` cannot be followed: it is malformed (not TOML, an
    unknown ``kind``, no valid ``destination``), or its destination redirects again (only one
    redirect is followed). ``repo_id`` is the repository whose file is at fault::

        >>> err = KernelRedirectError("org/old: kernel-status.toml: no destination", repo_id="org/old")
        >>> isinstance(err, ValueError), err.repo_id
        (True, 'org/old')
    """

    def __init__(self, message: str, *, repo_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.repo_id = repo_id

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (functools.partial(type(self), str(self), repo_id=self.repo_id), ())


#: Types defined in :mod:`kernels.hub.exceptions` (they derive from huggingface_hub's).
_HUB_DERIVED = frozenset({"HubAccessError", "HubOfflineError", "HubServerError",
                          "KernelRepositoryNotFoundError", "KernelRevisionNotFoundError"})


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name in _HUB_DERIVED:
        from .hub import exceptions  # noqa: PLC0415 - imports huggingface_hub

        return getattr(exceptions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class NoCompatibleVariantError(KernelsError, FileNotFoundError):
    """None of a kernel's build variants fits this environment.

    The message is the whole account: the environment, every variant and why it was rejected.
    ``decisions`` holds the :mod:`kernels.selection` decisions it was made from::

        >>> err = NoCompatibleVariantError("relu: no compatible variant\n  ❌ torch-cuda: ...")
        >>> isinstance(err, FileNotFoundError), err.decisions
        (True, [])
    """

    def __init__(self, message: str, decisions: Optional[list] = None) -> None:
        self.decisions = list(decisions or [])
        super().__init__(message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.decisions))


class KernelNotCachedError(KernelsError, FileNotFoundError, ValueError):
    """Outgoing traffic is disabled (``HF_HUB_OFFLINE``, ``local_files_only``) and the cache
    does not hold the kernel; the message says how to get it there. Both a
    ``FileNotFoundError`` and a ``ValueError``, as the released ``kernels`` raised the one for a
    revision and the other for a version::

        >>> isinstance(KernelNotCachedError("org/relu (v1) is not cached"), FileNotFoundError)
        True
    """

    def __str__(self) -> str:  # OSError would format its args as (errno, strerror)
        return str(self.args[0]) if self.args else ""


class UntrustedKernelError(KernelsError, ValueError):
    """The kernel's publisher is not trusted and ``trust_remote_code`` does not allow it; the
    message says how to opt in::

        >>> isinstance(UntrustedKernelError("org/relu: untrusted"), ValueError)
        True
    """


class MissingPythonDependencyError(KernelsError, ImportError):
    """A kernel declares a ``python-depends`` entry whose package is not installed; the message
    names the pip package to install::

        >>> err = MissingPythonDependencyError("pip install einops", name="einops")
        >>> isinstance(err, ImportError), err.name
        (True, 'einops')
    """

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (functools.partial(type(self), str(self), name=self.name), ())


class MissingExtraError(KernelsError, ImportError):
    """A command that builds or audits kernels (not one that loads them) needs packages that a
    plain ``pip install kernels`` leaves out; the message names the extra that brings them::

        >>> print(MissingExtraError("kernels check", "build", ["auditwheel"]))
        kernels check needs auditwheel, which a plain `pip install kernels` leaves out: pip install 'kernels[build]'
    """

    def __init__(self, what: str, extra: str, missing: "list[str]") -> None:
        super().__init__(f"{what} needs {', '.join(missing)}, which a plain `pip install kernels` leaves "
                         f"out: pip install 'kernels[{extra}]'")
        self.extra = extra
        self.missing = list(missing)


def require_extra(what: str, extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` unless every module (import name) is installed."""
    import importlib.util  # noqa: PLC0415

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(what, extra, missing)


class IncompatibleKernelError(KernelsError, RuntimeError):
    """The chosen variant cannot run here although its name fits: it needs a newer ``kernels``
    (``kernels-minver``) or was not compiled for this GPU's architecture::

        >>> isinstance(IncompatibleKernelError("needs kernels >= 0.20"), RuntimeError)
        True
    """


class LockError(KernelsError, ValueError):
    """A project's kernel lock cannot be made or used: no ``[tool.kernels.dependencies]``, no
    ``kernels.lock``, a malformed one, or a kernel that is not in it. The message names the
    file and what to run::

        >>> isinstance(LockError("kernels.lock: org/relu is not locked"), ValueError)
        True
    """


class LockFileNotFoundError(LockError, FileNotFoundError):
    """The lock file given (``lockfile=``) does not exist: a :class:`LockError` and, as kernels
    0.17.2 raised, a ``FileNotFoundError``::

        >>> isinstance(LockFileNotFoundError("kernels.lock: no such lock file"), FileNotFoundError)
        True
    """

    def __str__(self) -> str:  # OSError would format its args as (errno, strerror)
        return str(self.args[0]) if self.args else ""


class KernelIntegrityError(KernelsError, RuntimeError):
    """Files of a downloaded kernel are not the ones the Hub (or the lock file) says they are:
    a corrupted or tampered cache. Nothing of the kernel was imported; the message names the
    files and how to fetch them again::

        >>> isinstance(KernelIntegrityError("relu: _ops.py was modified"), RuntimeError)
        True
    """


class KernelSignatureError(KernelIntegrityError):
    """Signature verification was asked for and the variant does not verify: unsigned, a bad
    bundle or signature, a signer no policy accepts, or files that differ from the signed
    digest (:mod:`kernels.signatures`). Nothing of the kernel was imported::

        >>> isinstance(KernelSignatureError("relu: not signed"), RuntimeError)
        True
    """


class AuthoringError(KernelsError, ValueError):
    """A kernel author's command cannot proceed: ``kernels init`` on a non-empty directory or
    with an invalid name, a kernel repository without build.toml, a failed build or check
    during ``kernels release``. The message says what to change::

        >>> isinstance(AuthoringError("relu: directory is not empty"), ValueError)
        True
    """
