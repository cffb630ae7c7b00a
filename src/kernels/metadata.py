"""``metadata.json``: the description every build variant carries.

The build backend writes it into each variant directory (``build/<variant>/metadata.json``);
the runtime reads it before importing a kernel (module name, Python and kernel dependencies,
backend and architectures, file digest, provenance). The key order written by
:meth:`Metadata.to_json` is the contract's write order::

    name, id, version, kernels-minver, license, upstream, source,
    python-depends, kernel-depends, backend, digest, provenance

Reading validates every known key and ignores unknown ones, so newer builders stay readable::

    >>> from kernels.metadata import Metadata
    >>> m = Metadata.from_bytes(b'''{"name": "my-relu", "id": "_my_relu_cpu_1a2b3c4", "version": 1,
    ...   "license": "Apache-2.0", "python-depends": [], "backend": {"type": "cpu"}}''')
    >>> m.python_name, m.backend.backend_type, m.kernel_depends
    ('my_relu', 'cpu', ())

Nothing here imports torch: ``import kernels`` must stay cheap.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from .errors import MetadataError
from .limits import regular_file_stat
from .variants import BACKENDS

__all__ = [
    "BACKENDS",
    "DIGEST_ALGORITHMS",
    "METADATA_FILENAME",
    "SIGNATURE_FILENAME",
    "BackendInfo",
    "Digest",
    "KernelName",
    "Metadata",
    "Provenance",
    "compare_files",
    "compute_digest",
]

#: File name of the metadata inside a variant directory.
METADATA_FILENAME = "metadata.json"
#: Sigstore bundle signing the exact bytes of ``metadata.json``.
SIGNATURE_FILENAME = "metadata.json.sigstore"
#: Hash algorithms a ``digest`` may use, with their raw digest sizes in bytes.
DIGEST_ALGORITHMS: Mapping[str, int] = {"sha256": 32, "sha512": 64}

REQUIRED_KEYS = ("name", "id", "version", "license", "python-depends", "backend")

_NAME_RE = re.compile(r"[a-z][-a-z0-9]*[a-z0-9]")
# `id` is both the module's __name__ and the op namespace: an ASCII identifier starting with `_`.
_ID_RE = re.compile(r"_[A-Za-z0-9_]+")
_REPO_ID_RE = re.compile(r"[^/\s]+/[^/\s]+")
_COMMIT_RE = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_KERNEL_PROVENANCE = "kernel"
#: provenance key of the C++ libraries a build used (kernels_build's; other readers ignore it)
_DEPENDENCIES_PROVENANCE = "dependencies"

PathLike = Union[str, "os.PathLike[str]"]


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _preview(value: Any) -> str:
    """Short JSON rendering of a bad value (falls back to repr for non-JSON input)."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Reader:
    """Typed accessors over parsed JSON that raise :class:`MetadataError` naming source and key."""

    def __init__(self, source: Optional[str]) -> None:
        self.source = source

    def error(self, key: Optional[str], message: str) -> MetadataError:
        return MetadataError(message, source=self.source, key=key)

    def expect(self, value: Any, kind: str, key: str) -> Any:
        """``value`` if it has JSON type ``kind`` (bool is not an integer), else raise."""
        if _json_type(value) != kind:
            article = "an" if kind[0] in "aeiou" else "a"
            got = f"{_json_type(value)} {_preview(value)}"
            raise self.error(key, f"expected {article} {kind}, got {got}")
        return value

    def string(self, value: Any, key: str, *, pattern: Optional["re.Pattern[str]"] = None,
               what: str = "") -> str:
        text = self.expect(value, "string", key)
        if not text:
            raise self.error(key, "must not be empty")
        if pattern is not None and not pattern.fullmatch(text):
            raise self.error(key, f"expected {what}, got {text!r}")
        return text

    def version(self, value: Any, key: str) -> int:
        number = self.expect(value, "integer", key)
        if number < 0:
            raise self.error(key, f"expected a non-negative integer, got {number}")
        return number

    def strings(self, value: Any, key: str) -> Tuple[str, ...]:
        items = self.expect(value, "array", key)
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(items))

    def obj(self, value: Any, key: str) -> Dict[str, Any]:
        return self.expect(value, "object", key)


@dataclass(frozen=True)
class BackendInfo:
    """The ``backend`` object: the compute backend and, for CUDA/ROCm, the target archs.

    >>> BackendInfo("cuda", ("8.0", "9.0a")).to_dict()
    {'type': 'cuda', 'archs': ['8.0', '9.0a']}
    >>> BackendInfo("cpu").backend_type
    'cpu'
    """

    type: str
    archs: Optional[Tuple[str, ...]] = None

    def __post_init__(self) -> None:
        if self.type not in BACKENDS:
            raise MetadataError(f"expected one of {', '.join(BACKENDS)}, got {self.type!r}",
                                key="backend.type")
        if self.archs is not None and not isinstance(self.archs, tuple):
            object.__setattr__(self, "archs", tuple(self.archs))

    @property
    def backend_type(self) -> str:
        """Same as :attr:`type` (the upstream runtime's property name)."""
        return self.type

    def to_dict(self) -> Dict[str, Any]:
        """JSON form; ``archs`` is left out when None."""
        out: Dict[str, Any] = {"type": self.type}
        if self.archs is not None:
            out["archs"] = list(self.archs)
        return out


class KernelName(str):
    """A kernel name: a plain ``str`` that also has kernels 0.17.2's ``python_name``.

    >>> name = KernelName("my-relu")
    >>> name == "my-relu", name.python_name
    (True, 'my_relu')
    """

    __slots__ = ()

    @property
    def python_name(self) -> str:
        """The Python module name: ``"my-relu"`` -> ``"my_relu"``."""
        return str(self).replace("-", "_")


class Digest(dict):
    """``metadata.digest``: the JSON dict ``{"algorithm": ..., "files": {...}}``, also with
    kernels 0.17.2's attributes ``algorithm`` and ``files`` (``algorithm`` is the JSON
    string, ``"sha256"``, where 0.17.2 has an enum).

    >>> Digest({"algorithm": "sha256", "files": {"a.py": "x"}}).files
    {'a.py': 'x'}
    """

    @property
    def algorithm(self) -> Optional[str]:
        return self.get("algorithm")

    @property
    def files(self) -> Dict[str, str]:
        return self.get("files") or {}


class GitStatus(dict):
    """A git state of ``metadata.provenance`` (``{"commit": hex, "dirty": bool}``), also with
    kernels 0.17.2's attributes ``commit`` and ``dirty``."""

    @property
    def commit(self) -> Optional[str]:
        return self.get("commit")

    @property
    def dirty(self) -> bool:
        return bool(self.get("dirty", False))


class KernelBuilderVersion(dict):
    """The builder entry of ``metadata.provenance``, also with kernels 0.17.2's attributes
    ``version`` and ``git`` (None without a commit)."""

    @property
    def version(self) -> Optional[str]:
        return self.get("version")

    @property
    def git(self) -> Optional[GitStatus]:
        return GitStatus(self) if self.get("commit") is not None else None


#: provenance keys that are not the builder's entry
_PROVENANCE_OTHER_KEYS = ("kernel", "dependencies")


class Provenance(dict):
    """``metadata.provenance``: the JSON dict, also with kernels 0.17.2's attributes
    ``kernel_builder``, ``kernel`` and ``dirty``.

    >>> p = Provenance({"kernel-builder": {"version": "0.17.0"}, "kernel": {"commit": "ab", "dirty": True}})
    >>> p.kernel_builder.version, p.kernel.commit, p.dirty
    ('0.17.0', 'ab', True)
    """

    @property
    def kernel_builder(self) -> Optional[KernelBuilderVersion]:
        entry = self.get("kernel-builder")
        if entry is None:  # any builder name may stand for kernel-builder
            entry = next((v for k, v in self.items() if k not in _PROVENANCE_OTHER_KEYS and isinstance(v, Mapping)),
                         None)
        return None if entry is None else KernelBuilderVersion(entry)

    @property
    def kernel(self) -> Optional[GitStatus]:
        entry = self.get("kernel")
        return None if entry is None else GitStatus(entry)

    @property
    def dirty(self) -> bool:
        builder = self.kernel_builder
        return bool((builder is not None and builder.get("dirty")) or (self.kernel is not None and self.kernel.dirty))


@dataclass(frozen=True)
class Metadata:
    """One variant's ``metadata.json`` (contract section 3.1).

    Dict-valued fields are plain JSON structures, normalised on reading:

    - ``kernel_depends``: ``{"repo-id": "org/name", "version": 1}`` or
      ``{"repo-id": "org/name", "revision": "main"}``
    - ``digest``: ``{"algorithm": "sha256", "files": {"_ops.py": "<padded base64>", ...}}``
    - ``provenance``: ``{"kernel-builder": {"version": "0.17.0", "commit"?: hex, "dirty"?: bool},
      "kernel": {"commit": hex, "dirty": bool}, "dependencies"?: {"cutlass_3_8": {"version":
      "3.8.0", "source": "PyPI nvidia-cutlass 3.8.0.0"}}}`` (any builder name may stand for
      ``kernel-builder``; the upstream alias ``sha`` is read as ``commit``)

    Build, serialise, read back::

        >>> m = Metadata(name="my-relu", id="_my_relu_cuda_1a2b3c4", version=1,
        ...              license="Apache-2.0", python_depends=(),
        ...              backend=BackendInfo("cuda", ("8.0", "9.0")))
        >>> list(m.to_dict())
        ['name', 'id', 'version', 'license', 'python-depends', 'kernel-depends', 'backend']
        >>> Metadata.from_bytes(m.to_json().encode()) == m
        True

    Digest the files of a variant directory and verify them later::

        >>> m = m.with_digest(Path("build/torch-cuda"))          # doctest: +SKIP
        >>> m.verify_digest(Path("build/torch-cuda"))            # doctest: +SKIP
        []
    """

    name: str
    id: str
    version: int
    license: str
    python_depends: Tuple[str, ...]
    backend: BackendInfo
    kernels_minver: Optional[str] = None
    upstream: Optional[str] = None
    source: Optional[str] = None
    kernel_depends: Tuple[Dict[str, Any], ...] = ()
    digest: Optional[Dict[str, Any]] = None
    provenance: Optional[Dict[str, Any]] = None

    def __post_init__(self) -> None:
        # Callers may pass lists; tuples keep equality and immutability predictable.
        for field in ("python_depends", "kernel_depends"):
            value = getattr(self, field)
            if not isinstance(value, tuple):
                object.__setattr__(self, field, tuple(value))
        # Still a str and dicts, with the attribute access of kernels 0.17.2's objects.
        if isinstance(self.name, str) and not isinstance(self.name, KernelName):
            object.__setattr__(self, "name", KernelName(self.name))
        for field, kind in (("digest", Digest), ("provenance", Provenance)):
            value = getattr(self, field)
            if isinstance(value, dict) and not isinstance(value, kind):
                object.__setattr__(self, field, kind(value))

    # ----------------------------------------------------------------- reading

    @classmethod
    def read_from_file(cls, path: PathLike) -> "Metadata":
        """Read and validate a ``metadata.json`` file.

        Raises :class:`~kernels.errors.MetadataError` (message starts with the path) for bad
        content; ``OSError`` (e.g. ``FileNotFoundError``) when the file cannot be read.

        >>> Metadata.read_from_file("build/torch-cpu/metadata.json").id  # doctest: +SKIP
        '_my_relu_cpu_1a2b3c4'
        """
        from . import limits  # noqa: PLC0415

        try:
            data = limits.read_regular_file(path, "metadata_bytes")
        except ValueError as exc:
            raise MetadataError(str(exc), source=os.fspath(path)) from None
        return cls.from_bytes(data, source=os.fspath(path))

    @classmethod
    def from_bytes(cls, data: Union[bytes, str], source: str = "<bytes>") -> "Metadata":
        """Parse the bytes of a ``metadata.json``; ``source`` names it in error messages.

        >>> Metadata.from_bytes(b'{"version": 1,', source="m.json")
        Traceback (most recent call last):
          ...
        kernels.errors.MetadataError: m.json: invalid JSON at line 1, column 15: Expecting property name enclosed in double quotes
        """
        from . import limits  # noqa: PLC0415

        if len(data) > limits.bound("metadata_bytes"):
            raise MetadataError(f"{len(data)} bytes, more than {limits.describe('metadata_bytes')}", source=source)
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise MetadataError(f"not valid UTF-8 (byte {e.start})", source=source) from None
        else:
            text = data
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as e:
            raise MetadataError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}",
                                source=source) from None
        return cls.from_dict(parsed, source=source)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: Optional[str] = None) -> "Metadata":
        """Validate parsed JSON and build a :class:`Metadata`; unknown keys are ignored.

        >>> Metadata.from_dict({"python-depends": [], "version": 1}, source="m.json")
        Traceback (most recent call last):
          ...
        kernels.errors.MetadataError: m.json: missing required keys: name, id, license, backend (this looks like an old-format metadata.json; rebuild the kernel with a current builder)
        """
        r = _Reader(source)
        if not isinstance(d, Mapping):
            raise r.error(None, f"expected a JSON object at the top level, got {_json_type(d)}")
        missing = [key for key in REQUIRED_KEYS if key not in d]
        if missing:
            hint = ""
            if set(d) <= {"python-depends", "version"}:
                # Builders before the id/backend era wrote only these two keys.
                hint = (" (this looks like an old-format metadata.json; rebuild the kernel with "
                        "a current builder)")
            raise r.error(None, f"missing required keys: {', '.join(missing)}{hint}")

        def optional(key: str) -> Optional[str]:
            value = d.get(key)
            return None if value is None else r.string(value, key)

        return cls(
            name=r.string(d["name"], "name", pattern=_NAME_RE,
                          what="a kernel name (lowercase letters, digits and '-')"),
            id=r.string(d["id"], "id", pattern=_ID_RE,
                        what="a Python identifier starting with '_' (e.g. '_relu_cuda_1a2b3c4')"),
            version=r.version(d["version"], "version"),
            license=r.string(d["license"], "license"),
            python_depends=r.strings(d["python-depends"], "python-depends"),
            backend=_parse_backend(r, d["backend"]),
            kernels_minver=optional("kernels-minver"),
            upstream=optional("upstream"),
            source=optional("source"),
            kernel_depends=_parse_kernel_depends(r, d.get("kernel-depends")),
            digest=None if d.get("digest") is None else _parse_digest(r, d["digest"]),
            provenance=(None if d.get("provenance") is None
                        else _parse_provenance(r, d["provenance"])),
        )

    # ----------------------------------------------------------------- writing

    def to_dict(self) -> Dict[str, Any]:
        """JSON form in the contract's write order; None-valued optional keys are left out.

        ``kernel-depends`` is always written (``[]`` when empty). The result is a fresh copy.
        """
        out: Dict[str, Any] = {"name": self.name, "id": self.id, "version": self.version}
        if self.kernels_minver is not None:
            out["kernels-minver"] = self.kernels_minver
        out["license"] = self.license
        for key, value in (("upstream", self.upstream), ("source", self.source)):
            if value is not None:
                out[key] = value
        out["python-depends"] = list(self.python_depends)
        out["kernel-depends"] = [dict(dep) for dep in self.kernel_depends]
        out["backend"] = self.backend.to_dict()
        if self.digest is not None:
            out["digest"] = copy.deepcopy(self.digest)
        if self.provenance is not None:
            out["provenance"] = copy.deepcopy(self.provenance)
        return out

    def to_json(self) -> str:
        """The file content: 2-space indented JSON with a trailing newline (write it as UTF-8)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def write_to_file(self, path: PathLike) -> None:
        """Write :meth:`to_json` to ``path`` as UTF-8 (exact bytes matter: sigstore signs them)."""
        Path(path).write_bytes(self.to_json().encode("utf-8"))

    # ----------------------------------------------------------------- derived

    @property
    def python_name(self) -> str:
        """The kernel's Python module name: ``"my-relu"`` -> ``"my_relu"``."""
        return KernelName(self.name).python_name

    # ----------------------------------------------------------------- digest

    def with_digest(self, variant_dir: PathLike, algorithm: str = "sha256") -> "Metadata":
        """A copy whose ``digest`` covers the files of ``variant_dir``.

        See :func:`compute_digest` for which files count; ``algorithm`` is sha256 or sha512.
        """
        return dataclasses.replace(self, digest=compute_digest(variant_dir, algorithm))

    def verify_digest(self, variant_dir: PathLike) -> List[str]:
        """Compare ``variant_dir`` with :attr:`digest`; return the mismatches (empty = intact).

        Each entry is ``"missing file: <path>"``, ``"extra file: <path>"`` or
        ``"changed file: <path>"``, sorted by path. Raises :class:`MetadataError` when the
        metadata has no digest (nothing to verify against).
        """
        if self.digest is None:
            raise MetadataError("has no digest, so the files cannot be verified", key="digest")
        actual = compute_digest(variant_dir, self.digest["algorithm"])["files"]
        return compare_files(self.digest["files"], actual)


def compare_files(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> List[str]:
    """Differences between two ``path -> content`` (or digest) mappings, one line each:
    ``missing file: p``, ``extra file: p``, ``changed file: p``, sorted by path."""
    problems = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            problems.append(f"missing file: {path}")
        elif path not in expected:
            problems.append(f"extra file: {path}")
        elif expected[path] != actual[path]:
            problems.append(f"changed file: {path}")
    return problems


# --------------------------------------------------------------------- parsing helpers


def _parse_backend(r: _Reader, value: Any) -> BackendInfo:
    backend = r.obj(value, "backend")
    if "type" not in backend:
        raise r.error("backend", "missing required key 'type'")
    kind = r.string(backend["type"], "backend.type")
    if kind not in BACKENDS:
        raise r.error("backend.type", f"expected one of {', '.join(BACKENDS)}, got {kind!r}")
    archs = backend.get("archs")
    return BackendInfo(kind, None if archs is None else r.strings(archs, "backend.archs"))


def _parse_kernel_depends(r: _Reader, value: Any) -> Tuple[Dict[str, Any], ...]:
    if value is None:
        return ()
    deps = []
    for i, item in enumerate(r.expect(value, "array", "kernel-depends")):
        key = f"kernel-depends[{i}]"
        entry = r.obj(item, key)
        if "repo-id" not in entry:
            raise r.error(key, "missing required key 'repo-id'")
        dep: Dict[str, Any] = {"repo-id": r.string(entry["repo-id"], f"{key}.repo-id",
                                                   pattern=_REPO_ID_RE, what="'owner/name'")}
        given = [k for k in ("version", "revision") if entry.get(k) is not None]
        if len(given) != 1:
            raise r.error(key, "expected exactly one of 'version' (integer) or 'revision' "
                               f"(string), got {' and '.join(given) or 'neither'}")
        if given[0] == "version":
            dep["version"] = r.version(entry["version"], f"{key}.version")
        else:
            dep["revision"] = r.string(entry["revision"], f"{key}.revision")
        deps.append(dep)
    return tuple(deps)


def _check_relative_posix(r: _Reader, path: str, key: str) -> None:
    # Digest keys are joined to the variant dir on verification: refuse anything escaping it.
    parts = path.split("/")
    if not path or "\\" in path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise r.error(key, f"expected a relative POSIX path inside the variant, got {path!r}")


def _parse_digest(r: _Reader, value: Any) -> Dict[str, Any]:
    digest = r.obj(value, "digest")
    for required in ("algorithm", "files"):
        if required not in digest:
            raise r.error("digest", f"missing required key {required!r}")
    algorithm = r.string(digest["algorithm"], "digest.algorithm")
    if algorithm not in DIGEST_ALGORITHMS:
        raise r.error("digest.algorithm",
                      f"expected one of {', '.join(DIGEST_ALGORITHMS)}, got {algorithm!r}")
    files: Dict[str, str] = {}
    for path, encoded in r.obj(digest["files"], "digest.files").items():
        key = f"digest.files.{path}"
        _check_relative_posix(r, path, key)
        r.string(encoded, key)
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise r.error(key, f"expected padded standard base64, got {encoded!r}") from None
        if len(raw) != DIGEST_ALGORITHMS[algorithm]:
            raise r.error(key, f"expected a {algorithm} digest ({DIGEST_ALGORITHMS[algorithm]} "
                               f"bytes), got {len(raw)} bytes")
        files[path] = encoded
    return {"algorithm": algorithm, "files": files}


def _parse_git(r: _Reader, entry: Mapping[str, Any], key: str, *, required: bool) -> Dict[str, Any]:
    """``commit`` (alias ``sha``) and ``dirty`` of one provenance entry."""
    out: Dict[str, Any] = {}
    commit = entry.get("commit", entry.get("sha"))
    if commit is None and required:
        raise r.error(key, "missing required key 'commit'")
    if commit is not None:
        out["commit"] = r.string(commit, f"{key}.commit", pattern=_COMMIT_RE,
                                 what="a full git object id (40 or 64 hex digits)").lower()
    dirty = entry.get("dirty")
    if dirty is None and required:
        raise r.error(key, "missing required key 'dirty'")
    if dirty is not None:
        out["dirty"] = r.expect(dirty, "boolean", f"{key}.dirty")
    return out


def _parse_provenance(r: _Reader, value: Any) -> Dict[str, Any]:
    provenance = r.obj(value, "provenance")
    out: Dict[str, Any] = {}
    for name, item in provenance.items():
        key = f"provenance.{name}"
        entry = r.obj(item, key)
        if name == _KERNEL_PROVENANCE:
            out[name] = _parse_git(r, entry, key, required=True)
            continue
        if name == _DEPENDENCIES_PROVENANCE:
            out[name] = {
                dep: {field: r.string(value, f"{key}.{dep}.{field}")
                      for field, value in r.obj(info, f"{key}.{dep}").items() if field in ("version", "source")}
                for dep, info in entry.items()
            }
            continue
        # Any other key names the builder that produced the variant (kernel-builder, ...).
        if "version" not in entry:
            raise r.error(key, "missing required key 'version'")
        out[name] = {"version": r.string(entry["version"], f"{key}.version"),
                     **_parse_git(r, entry, key, required=False)}
    return out


# --------------------------------------------------------------------- digest helpers


def _variant_files(variant_dir: Path) -> Iterator[Tuple[str, Path]]:
    """``(posix relative path, path)`` of every file the digest covers, sorted by path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(variant_dir):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        rel_dir = Path(dirpath).relative_to(variant_dir)
        for filename in filenames:
            if filename.endswith(".pyc"):
                continue
            if rel_dir == Path(".") and filename in (METADATA_FILENAME, SIGNATURE_FILENAME):
                continue  # the digest lives in metadata.json; the signature signs metadata.json
            found.append((PurePosixPath(*rel_dir.parts, filename).as_posix(),
                          Path(dirpath, filename)))
    return iter(sorted(found))


def _hash_file(path: Path, algorithm: str) -> str:
    try:
        regular_file_stat(path)
    except ValueError as exc:
        raise MetadataError(str(exc), key="digest") from None
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode("ascii")


def compute_digest(variant_dir: PathLike, algorithm: str = "sha256") -> Dict[str, Any]:
    """The ``digest`` object for the files of a variant directory.

    Covers every file except the top-level ``metadata.json`` / ``metadata.json.sigstore``,
    ``__pycache__`` directories and ``*.pyc`` files; keys are POSIX paths relative to
    ``variant_dir``, values the padded standard base64 of the raw hash.

    >>> compute_digest("build/torch-cpu")                      # doctest: +SKIP
    {'algorithm': 'sha256', 'files': {'__init__.py': '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', ...}}
    """
    if algorithm not in DIGEST_ALGORITHMS:
        raise MetadataError(f"expected one of {', '.join(DIGEST_ALGORITHMS)}, got {algorithm!r}",
                            key="digest.algorithm")
    root = Path(variant_dir)
    if not root.is_dir():
        raise NotADirectoryError(f"variant directory {root} does not exist or is not a directory")
    files = {rel: _hash_file(path, algorithm) for rel, path in _variant_files(root)}
    return {"algorithm": algorithm, "files": files}

