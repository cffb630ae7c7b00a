"""Where a mapping finds a kernel layer (or function): Hub, local directory or lock file.

Repositories are cheap descriptions; nothing is downloaded or imported until ``kernelize``
needs the layer and calls :meth:`load`. Two repositories describing the same thing compare
equal and hash alike, so they can be dictionary keys.

>>> from kernels import LayerRepository
>>> repo = LayerRepository("kernels-community/activation", layer_name="SiluAndMul", version=1)
>>> str(repo)
'kernels-community/activation (version 1), layer SiluAndMul'
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Optional, Tuple, Union

from .errors import LayerMappingError
from .func import func_module

__all__ = [
    "FuncRepository",
    "LayerRepository",
    "LocalFuncRepository",
    "LocalLayerRepository",
    "LockedFuncRepository",
    "LockedLayerRepository",
]

PathLike = Union[str, "os.PathLike[str]"]



class _Repository:
    """Shared behaviour: lazy, cached resolution and identity by :meth:`_key`."""

    #: ``"layer"`` or ``"function"``: what :attr:`name` names inside the kernel.
    _what = "layer"

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise LayerMappingError(f"{type(self).__name__}: the {self._what} name must be a non-empty string")
        self._name = name
        self._loaded: Optional[type] = None

    # -- to be provided by subclasses
    def _key(self) -> Tuple[Any, ...]:
        raise NotImplementedError

    def _load_kernel(self) -> ModuleType:
        raise NotImplementedError

    def _source(self) -> str:
        raise NotImplementedError

    # -- shared
    def load(self) -> type:
        """Import the kernel (downloading it when needed) and return the layer class."""
        if self._loaded is None:
            self._loaded = self._extract(self._load_kernel())
        return self._loaded

    def _extract(self, kernel: ModuleType) -> type:
        layers = getattr(kernel, "layers", None)
        if layers is None:
            raise LayerMappingError(
                f"{self._source()}: the kernel has no 'layers' module; a kernel exports its layers with "
                f"'from . import layers' in its __init__.py")
        layer = getattr(layers, self._name, None)
        if layer is None:
            have = sorted(n for n, v in vars(layers).items() if isinstance(v, type) and not n.startswith("_"))
            raise LayerMappingError(
                f"{self._source()}: the kernel has no layer {self._name!r} (its layers: {', '.join(have) or 'none'})")
        return layer

    @property
    def layer_name(self) -> str:
        return self._name

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._key() == self._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __str__(self) -> str:
        return f"{self._source()}, {self._what} {self._name}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"


class _FuncMixin:
    """Function repositories: the kernel's top-level function wrapped in a module."""

    _what = "function"
    _name: str

    def _extract(self, kernel: ModuleType) -> type:
        func = getattr(kernel, self._name, None)
        if func is None or not callable(func):
            raise LayerMappingError(f"{self._source()}: the kernel has no function {self._name!r}")  # type: ignore[attr-defined]
        return func_module(func, self._name)

    @property
    def func_name(self) -> str:
        return self._name


def _deprecated(cls: type) -> None:
    warnings.warn(
        f"{cls.__name__} is deprecated: export the function as a layer of the kernel and use the "
        f"matching layer repository", DeprecationWarning, stacklevel=3)


class LayerRepository(_Repository):
    """A layer of a kernel on the Hub (or in ``LOCAL_KERNELS``), resolved on first use.

    Args:
        repo_id: the kernel repository, ``"org/name"``.
        layer_name: the class in the kernel's ``layers`` module.
        revision: a branch, tag or commit.
        version: the major version (branch ``v<N>``), or version bounds as a specifier string
            (``">=1,<3"``: the highest ``v<N>`` branch within them). Exactly one of ``revision``
            and ``version``.
        trust_remote_code, user_agent: as for :func:`kernels.get_kernel`.

    Example::

        >>> from kernels import LayerRepository
        >>> LayerRepository("kernels-community/activation", layer_name="SiluAndMul", version=">=1,<3")
        <LayerRepository kernels-community/activation (version >=1,<3), layer SiluAndMul>
    """

    def __init__(self, repo_id: str, *, layer_name: str, revision: Optional[str] = None,
                 version: Union[int, str, None] = None, trust_remote_code: Any = False,
                 user_agent: Any = None) -> None:
        super().__init__(layer_name)
        self._init_hub(repo_id, revision, version, trust_remote_code, user_agent)

    def _init_hub(self, repo_id: str, revision: Optional[str], version: Union[int, str, None],
                  trust_remote_code: Any, user_agent: Any) -> None:
        kind = type(self).__name__
        if not isinstance(repo_id, str) or repo_id.count("/") != 1:
            raise LayerMappingError(f"{kind}: repo_id must look like 'org/name', got {repo_id!r}")
        if (revision is None) == (version is None):
            raise LayerMappingError(
                f"{kind}({repo_id!r}): give exactly one of version= (e.g. version=1: branch v1) and revision=")
        if version is not None:
            if isinstance(version, bool) or not isinstance(version, (int, str)):
                raise LayerMappingError(f"{kind}({repo_id!r}): version must be an int or a specifier string")
            if isinstance(version, str):
                _specifier(version, repo_id)  # fail early on a malformed specifier
        self._repo_id = repo_id
        self._revision = revision
        self._version = version
        self._trust_remote_code = trust_remote_code
        self._user_agent = user_agent

    @property
    def repo_id(self) -> str:
        return self._repo_id

    def _key(self) -> Tuple[Any, ...]:
        trust = tuple(self._trust_remote_code) if isinstance(self._trust_remote_code, list) else self._trust_remote_code
        return (self._repo_id, self._name, self._revision, self._version, trust)

    def _source(self) -> str:
        which = f"revision {self._revision}" if self._revision is not None else f"version {self._version}"
        return f"{self._repo_id} ({which})"

    def _load_kernel(self) -> ModuleType:
        from ..load import _local_override, get_kernel  # noqa: PLC0415

        revision, version = self._revision, self._version
        if isinstance(version, str):
            if _local_override(self._repo_id) is not None:
                revision, version = "main", None  # LOCAL_KERNELS ignores the version
            else:
                revision, version = f"v{_highest_matching(self._repo_id, version)}", None
        return get_kernel(self._repo_id, revision=revision, version=version,
                          trust_remote_code=self._trust_remote_code, user_agent=self._user_agent)


def _specifier(text: str, repo_id: str):  # -> packaging.specifiers.SpecifierSet
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # noqa: PLC0415

    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise LayerMappingError(
            f"{repo_id}: version {text!r} is neither a major version nor a version specifier such as '>=1,<3'"
        ) from None


def _highest_matching(repo_id: str, text: str) -> int:
    from .. import hub  # noqa: PLC0415
    from ..errors import HubError  # noqa: PLC0415

    spec = _specifier(text, repo_id)
    repo_id = hub.follow_redirect(repo_id, None, None, offline=hub.offline()).repo_id  # its versions count
    try:
        versions = hub.version_branches(repo_id)
    except HubError as exc:
        # The Hub is down (or offline): the versions the cache followed before still count.
        versions = hub.cached_versions(repo_id) if hub.is_hub_down(exc) or hub.offline() else []
        if not versions:
            raise
    matching = [v for v in versions if spec.contains(str(v), prereleases=True)]
    if not matching:
        have = ", ".join(f"v{v}" for v in versions) or "none"
        raise LayerMappingError(f"{repo_id}: no version branch matches {text!r} (branches: {have})")
    return max(matching)


class LocalLayerRepository(_Repository):
    """A layer of a kernel in a local directory (a repository root, its ``build/``, or one
    variant directory), for testing before uploading.

    Args:
        repo_path: the directory, as for :func:`kernels.get_local_kernel`.
        layer_name: the class in the kernel's ``layers`` module.
        package_name: accepted for compatibility with older releases and ignored.

    Example::

        >>> from kernels import LocalLayerRepository
        >>> LocalLayerRepository("activation/build", layer_name="SiluAndMul")
        <LocalLayerRepository activation/build, layer SiluAndMul>
    """

    def __init__(self, repo_path: PathLike, package_name: Optional[str] = None,
                 layer_name: Optional[str] = None) -> None:
        # Older releases took (repo_path, package_name, layer_name) positionally; now only
        # repo_path and layer_name= matter.
        if layer_name is None:
            raise TypeError("LocalLayerRepository needs layer_name=, the class in the kernel's layers module")
        super().__init__(layer_name)
        self._repo_path = Path(repo_path)

    def _key(self) -> Tuple[Any, ...]:
        return (str(self._repo_path), self._name)

    def _source(self) -> str:
        return str(self._repo_path)

    def _load_kernel(self) -> ModuleType:
        from ..load import get_local_kernel  # noqa: PLC0415

        return get_local_kernel(self._repo_path)


class LockedLayerRepository(_Repository):
    """A layer of a kernel pinned by a project's ``kernels.lock``.

    Args:
        repo_id: the kernel, ``"org/name"``; must be in the lock.
        lockfile: a ``kernels.lock``; None reads the lock of the calling package's installed
            metadata (when the layer is first used).
        layer_name: the class in the kernel's ``layers`` module.
        trust_remote_code: as for :func:`kernels.get_kernel`.

    Example::

        >>> from kernels import LockedLayerRepository
        >>> LockedLayerRepository("kernels-community/activation", lockfile="kernels.lock",
        ...                       layer_name="SiluAndMul")
        <LockedLayerRepository kernels-community/activation (locked in kernels.lock), layer SiluAndMul>
    """

    def __init__(self, repo_id: str, *, lockfile: Optional[PathLike] = None, layer_name: str,
                 trust_remote_code: Any = False) -> None:
        super().__init__(layer_name)
        if not isinstance(repo_id, str) or repo_id.count("/") != 1:
            raise LayerMappingError(f"{type(self).__name__}: repo_id must look like 'org/name', got {repo_id!r}")
        self._repo_id = repo_id
        self._lockfile = None if lockfile is None else Path(lockfile)
        self._trust_remote_code = trust_remote_code
        # lockfile=None means the lock of the package that builds this mapping, which is not
        # necessarily the one that later calls kernelize: remember it now (no I/O).
        self._caller = _calling_package() if lockfile is None else None

    @property
    def repo_id(self) -> str:
        return self._repo_id

    def _key(self) -> Tuple[Any, ...]:
        trust = tuple(self._trust_remote_code) if isinstance(self._trust_remote_code, list) else self._trust_remote_code
        return (self._repo_id, self._name, str(self._lockfile), trust)

    def _source(self) -> str:
        where = self._lockfile if self._lockfile is not None else "the package's kernels.lock"
        return f"{self._repo_id} (locked in {where})"

    def _load_kernel(self) -> ModuleType:
        from ..lock import get_locked_kernel  # noqa: PLC0415

        lockfile = self._lockfile if self._lockfile is not None else _installed_lockfile(self._caller)
        return get_locked_kernel(self._repo_id, lockfile=lockfile, trust_remote_code=self._trust_remote_code)


_NOT_CALLERS = ("kernels", "importlib", "_frozen_importlib", "_frozen_importlib_external", "contextlib", "functools")


def _calling_package() -> Optional[str]:
    """Top-level package of the first frame outside kernels (None when there is none)."""
    frame = sys._getframe(1)
    while frame is not None:
        top = str(frame.f_globals.get("__name__", "")).split(".")[0]
        if top and top not in _NOT_CALLERS:
            return top
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _installed_lockfile(package: Optional[str]) -> Optional[Path]:
    """A file holding ``kernels.lock`` of the installed distribution providing ``package``;
    None lets :func:`kernels.get_locked_kernel` look for the caller itself (and explain)."""
    import importlib.metadata  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    if not package or package == "__main__":
        return None
    for dist_name in importlib.metadata.packages_distributions().get(package, []):
        text = importlib.metadata.distribution(dist_name).read_text("kernels.lock")
        if text is not None:
            path = Path(tempfile.gettempdir()) / f"kernels-{os.getpid()}-{dist_name}.lock"
            path.write_text(text, encoding="utf-8")
            return path
    return None


class FuncRepository(_FuncMixin, LayerRepository):
    """Deprecated: a top-level function of a Hub kernel, wrapped in a module for ``kernelize``.

    Same arguments as :class:`LayerRepository`, with ``func_name`` for ``layer_name``. The
    function's ``has_backward`` / ``can_torch_compile`` attributes become the layer's flags.

    Example::

        >>> import warnings
        >>> from kernels import FuncRepository
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     FuncRepository("kernels-community/activation", func_name="silu_and_mul", version=1)
        <FuncRepository kernels-community/activation (version 1), function silu_and_mul>
    """

    def __init__(self, repo_id: str, *, func_name: str, revision: Optional[str] = None,
                 version: Union[int, str, None] = None, trust_remote_code: Any = False,
                 user_agent: Any = None) -> None:
        _deprecated(FuncRepository)
        _Repository.__init__(self, func_name)
        self._init_hub(repo_id, revision, version, trust_remote_code, user_agent)


class LocalFuncRepository(_FuncMixin, LocalLayerRepository):
    """Deprecated: a top-level function of a local kernel (see :class:`LocalLayerRepository`)."""

    def __init__(self, repo_path: PathLike, *, func_name: str, package_name: Optional[str] = None) -> None:
        _deprecated(LocalFuncRepository)
        LocalLayerRepository.__init__(self, repo_path, layer_name=func_name)


class LockedFuncRepository(_FuncMixin, LockedLayerRepository):
    """Deprecated: a top-level function of a locked kernel (see :class:`LockedLayerRepository`)."""

    def __init__(self, repo_id: str, *, lockfile: Optional[PathLike] = None, func_name: str,
                 trust_remote_code: Any = False) -> None:
        _deprecated(LockedFuncRepository)
        LockedLayerRepository.__init__(self, repo_id, lockfile=lockfile, layer_name=func_name,
                                       trust_remote_code=trust_remote_code)
