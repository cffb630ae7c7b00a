"""The kernel wheel format: written by the build backend and the converter, read by both.

A kernel wheel holds one build variant of one kernel::

    relu-1.0.0+torch213cpucxx11-cp39-abi3-manylinux_2_28_x86_64.whl
        relu/__init__.py                  the package: exactly the files of build/<variant>/
        relu/_ops.py
        relu/_relu_cpu_0123456789.abi3.so
        relu/metadata.json
        relu-1.0.0+torch213cpucxx11.dist-info/METADATA
        relu-1.0.0+torch213cpucxx11.dist-info/WHEEL
        relu-1.0.0+torch213cpucxx11.dist-info/kernels-variant.txt   "torch213-cxx11-cpu-x86_64-linux"
        relu-1.0.0+torch213cpucxx11.dist-info/RECORD

The local version label (``+torch213cpucxx11``) and the platform tag (``manylinux_2_28_x86_64``)
name the variant too (:func:`kernels.variants.parse_wheel_label`); readers check that both
agree with ``kernels-variant.txt``, and that the ``<python>-<abi>`` part of the tag fits the
variant (:func:`python_abi_tag`): ``cp39-abi3`` for torch extensions, ``py3-none`` for noarch
kernels and for tvm-ffi libraries, which use no Python C API
(``relu_tvm_ffi-1.0.0+tvmffi01cpu-py3-none-manylinux_2_28_x86_64.whl``, platlib all the same).

:func:`write_kernel_wheel` is deterministic: the same description and package files give the
same bytes (sorted members, fixed timestamps and permissions), so a wheel built by
``kernels_build`` and one rebuilt from its Hub tree by ``kernels to-wheel`` are identical.
:func:`read_kernel_wheel` validates a wheel (safe member paths, RECORD hashes, variant, metadata
and its digest) before anything is extracted, raising :class:`~kernels.errors.KernelWheelError`.
"""

from __future__ import annotations

import base64
import calendar
import csv
import email.parser
import hashlib
import io
import os
import re
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import __version__, limits
from .errors import KernelWheelError, MetadataError
from .metadata import DIGEST_ALGORITHMS, METADATA_FILENAME, SIGNATURE_FILENAME, Metadata, compare_files
from .package_files import ArchiveMember, PackageFile, as_package_file
from .python_depends import pip_requirements
from .variants import NoarchVariant, Variant, parse_variant, parse_wheel_label

__all__ = [
    "NOARCH_TAG",
    "REQUIRES_PYTHON",
    "VARIANT_FILE",
    "KernelWheel",
    "KernelWheelContents",
    "default_summary",
    "normalize_dist_name",
    "package_digest",
    "python_abi_tag",
    "read_kernel_wheel",
    "requirements_for",
    "verify_package_digest",
    "write_kernel_wheel",
]

#: File in ``.dist-info`` naming the variant a kernel wheel holds (one line).
VARIANT_FILE = "kernels-variant.txt"
#: ``Requires-Python`` of every kernel wheel (the ``cp39-abi3`` floor).
REQUIRES_PYTHON = ">=3.9"
#: Tag of wheels without compiled code.
NOARCH_TAG = "py3-none-any"
#: ``<python>-<abi>`` of torch extension wheels: CPython's stable ABI as of 3.9.
ABI3_PYTHON_TAG = "cp39-abi3"
#: ``<python>-<abi>`` of wheels tied to no Python ABI: noarch kernels and tvm-ffi libraries,
#: which use no Python C API at all.
NO_ABI_PYTHON_TAG = "py3-none"

#: Timestamp of every member unless ``SOURCE_DATE_EPOCH`` is set (the earliest a zip can hold).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_ZIP_MIN_SECONDS = calendar.timegm(_ZIP_EPOCH + (0, 0, 0))
_ZIP_MAX_SECONDS = calendar.timegm((2107, 12, 31, 23, 59, 58, 0, 0, 0))
#: Hash algorithms accepted in RECORD (the wheel spec forbids md5 and sha1).
_RECORD_ALGORITHMS = ("sha256", "sha384", "sha512")
_DIST_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_WHEEL_FILENAME_RE = re.compile(
    r"^(?P<dist>[^-]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-(?P<tag>[^-]+-[^-]+-[^-]+)\.whl$"
)

PathLike = Union[str, "os.PathLike[str]"]


def normalize_dist_name(name: str) -> str:
    """The distribution name as wheel file and ``.dist-info`` names spell it:
    ``"Silu-and.Mul"`` -> ``"silu_and_mul"``."""
    return re.sub(r"[-_.]+", "_", name).lower()


@dataclass(frozen=True)
class KernelWheel:
    """What a kernel wheel says about itself (everything but its files).

    >>> from kernels.variants import parse_variant
    >>> w = KernelWheel(name="silu-and-mul", version="1.0.0+torchcpu", tag="py3-none-any",
    ...                 module="silu_and_mul", variant=parse_variant("torch-cpu"),
    ...                 requires=("torch",), summary="silu-and-mul kernel for PyTorch")
    >>> w.filename, w.dist_info
    ('silu_and_mul-1.0.0+torchcpu-py3-none-any.whl', 'silu_and_mul-1.0.0+torchcpu.dist-info')
    """

    #: Distribution name as written in METADATA (``silu-and-mul``).
    name: str
    #: Full version including the variant label (``1.0.0+torch213cpucxx11``).
    version: str
    #: The one wheel tag (``cp39-abi3-manylinux_2_28_x86_64``, ``py3-none-manylinux_2_28_x86_64``
    #: for tvm-ffi, or ``py3-none-any``).
    tag: str
    #: The package directory (``silu_and_mul``).
    module: str
    variant: Variant
    #: ``Requires-Dist`` entries, in order.
    requires: Tuple[str, ...]
    summary: str

    @property
    def dist_name(self) -> str:
        return normalize_dist_name(self.name)

    @property
    def filename(self) -> str:
        return f"{self.dist_name}-{self.version}-{self.tag}.whl"

    @property
    def dist_info(self) -> str:
        return f"{self.dist_name}-{self.version}.dist-info"

    @property
    def platform_tag(self) -> str:
        return self.tag.split("-")[-1]

    @property
    def local_label(self) -> str:
        """The version's local label (``torch213cpucxx11``): the variant in compact form."""
        return self.version.partition("+")[2]

    @property
    def is_purelib(self) -> bool:
        return self.tag == NOARCH_TAG

    def metadata_text(self) -> str:
        """The ``METADATA`` file (core metadata 2.1)."""
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        if self.summary:
            lines.append(f"Summary: {self.summary}")
        lines.append(f"Requires-Python: {REQUIRES_PYTHON}")
        lines += [f"Requires-Dist: {r}" for r in self.requires]
        return "\n".join(lines) + "\n"

    def wheel_text(self) -> str:
        """The ``WHEEL`` file (one header block, no blank lines)."""
        return (
            "Wheel-Version: 1.0\n"
            f"Generator: kernels {__version__}\n"
            f"Root-Is-Purelib: {'true' if self.is_purelib else 'false'}\n"
            f"Tag: {self.tag}\n"
        )


@dataclass(frozen=True)
class KernelWheelContents(KernelWheel):
    """A kernel wheel read and validated by :func:`read_kernel_wheel`."""

    #: The package's ``metadata.json``.
    metadata: Metadata = field(default=None)  # type: ignore[assignment]
    #: Package files: POSIX path relative to ``<module>/`` -> content (``metadata.json``
    #: included), read from the wheel on demand (:class:`~kernels.package_files.ArchiveMember`).
    files: Mapping[str, PackageFile] = field(default_factory=dict, repr=False)
    #: The wheel file that was read.
    path: Optional[Path] = None


# --------------------------------------------------------------------------- requirements


def requirements_for(variant: Variant, metadata: Optional[Metadata] = None) -> List[str]:
    """``Requires-Dist`` of a kernel wheel: the framework pin, then the pip names of the
    metadata's ``python-depends``.

    >>> requirements_for(parse_variant("torch213-cxx11-cu130-x86_64-linux"))
    ['torch==2.13.*']
    >>> requirements_for(parse_variant("torch-stable-abi210-cpu-x86_64-linux"))
    ['torch>=2.10']
    >>> requirements_for(parse_variant("torch-cuda"))
    ['torch']
    """
    if isinstance(variant, NoarchVariant):
        first = ["torch"]
    else:
        major, minor = variant.framework_version[:2]
        if variant.framework == "torch":
            first = [f"torch=={major}.{minor}.*"]
        elif variant.framework == "torch-stable-abi":
            first = [f"torch>={major}.{minor}"]
        else:  # tvm-ffi: the kernel is tied to the tvm-ffi release, not to torch
            first = [f"apache-tvm-ffi=={major}.{minor}.*"]
    depends = metadata.python_depends if metadata is not None else ()
    return first + pip_requirements(depends, first)


def python_abi_tag(variant: Variant) -> str:
    """The ``<python>-<abi>`` part of the tag of a variant's wheel.

    Torch extensions are built for CPython's stable ABI (``cp39-abi3``); noarch kernels have
    no compiled code and a tvm-ffi library calls no Python C API, so both are ``py3-none``.

    >>> python_abi_tag(parse_variant("torch213-cxx11-cu130-x86_64-linux"))
    'cp39-abi3'
    >>> python_abi_tag(parse_variant("tvm-ffi01-cpu-x86_64-linux"))
    'py3-none'
    """
    if isinstance(variant, NoarchVariant) or variant.framework == "tvm-ffi":
        return NO_ABI_PYTHON_TAG
    return ABI3_PYTHON_TAG


def default_summary(name: str, variant: Variant) -> str:
    """The ``Summary`` of a kernel wheel when its project gives no description (the builder's
    default, which :func:`kernels.convert.to_wheel` repeats so that round trips are exact).

    >>> default_summary("relu", parse_variant("tvm-ffi01-cpu-x86_64-linux"))
    'relu kernel for TVM FFI'
    """
    framework = "TVM FFI" if getattr(variant, "framework", "torch") == "tvm-ffi" else "PyTorch"
    return f"{name} kernel for {framework}"


def tag_problem(tag: str, variant: Variant) -> Optional[str]:
    """Why the wheel tag ``tag`` does not fit ``variant`` (its ``<python>-<abi>`` part), or None."""
    expected = python_abi_tag(variant)
    actual = tag.rpartition("-")[0]
    if actual == expected:
        return None
    kind = "a noarch" if isinstance(variant, NoarchVariant) else f"a {variant.framework}"
    return (f"tag {tag} does not fit variant {variant.name}: {kind} variant's wheel is tagged "
            f"{expected}-<platform>, not {actual}-<platform>")


# --------------------------------------------------------------------------- digests


def _digest_covers(path: str) -> bool:
    """Whether the metadata digest covers a package file (see :func:`kernels.metadata.compute_digest`)."""
    parts = path.split("/")
    if "__pycache__" in parts[:-1] or path.endswith(".pyc"):
        return False
    return path not in (METADATA_FILENAME, SIGNATURE_FILENAME)


def package_digest(files: Mapping[str, Union[bytes, PackageFile]], algorithm: str = "sha256") -> Dict[str, Any]:
    """The ``digest`` object of ``metadata.json`` for package files given as bytes or
    :class:`~kernels.package_files.PackageFile` (same rules as
    :func:`kernels.metadata.compute_digest` for a directory)."""
    if algorithm not in DIGEST_ALGORITHMS:
        raise MetadataError(f"expected one of {', '.join(DIGEST_ALGORITHMS)}, got {algorithm!r}",
                            key="digest.algorithm")
    digests = {
        path: base64.b64encode(as_package_file(files[path]).digest(algorithm)).decode("ascii")
        for path in sorted(files) if _digest_covers(path)
    }
    return {"algorithm": algorithm, "files": digests}


def verify_package_digest(metadata: Metadata, files: Mapping[str, Union[bytes, PackageFile]]) -> List[str]:
    """Mismatches between ``metadata.digest`` and ``files`` (``[]`` when intact or no digest),
    worded as :meth:`kernels.metadata.Metadata.verify_digest` words them."""
    if metadata.digest is None:
        return []
    actual = package_digest(files, metadata.digest["algorithm"])["files"]
    return compare_files(metadata.digest["files"], actual)


def summarize(problems: Sequence[str], limit: int = 5) -> str:
    """``"a, b, c and 4 more"``: a list of problems on one line."""
    shown = ", ".join(problems[:limit])
    return shown + (f" and {len(problems) - limit} more" if len(problems) > limit else "")


# --------------------------------------------------------------------------- paths


def path_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a safe relative POSIX path inside an archive or tree, or None."""
    if not path:
        return "is empty"
    if "\\" in path:
        return "contains a backslash"
    if "\x00" in path:
        return "contains a NUL character"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "is an absolute path"
    parts = path.split("/")
    if ".." in parts:
        return "has a '..' component"
    if any(part in ("", ".") for part in parts):
        return "has an empty or '.' component"
    return None


# --------------------------------------------------------------------------- writing


def _zip_date_time() -> Tuple[int, int, int, int, int, int]:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return _ZIP_EPOCH
    try:
        seconds = int(value)
    except ValueError:
        raise ValueError(f"SOURCE_DATE_EPOCH={value!r} is not an integer number of seconds") from None
    seconds = min(max(seconds, _ZIP_MIN_SECONDS), _ZIP_MAX_SECONDS)
    return tuple(time.gmtime(seconds)[:6])  # type: ignore[return-value]


def _record_entry(digest: bytes, algorithm: str) -> str:
    """A RECORD hash field: ``sha256=<urlsafe base64 without padding>`` (PEP 376 / 427)."""
    return f"{algorithm}=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _file_mode(name: str) -> int:
    return 0o755 if name.endswith(".so") else 0o644


def _check_description(wheel: KernelWheel) -> None:
    """Refuse to write a wheel that :func:`read_kernel_wheel` would reject."""

    def fail(problem: str) -> KernelWheelError:
        return KernelWheelError(wheel.filename, f"cannot write this kernel wheel: {problem}")

    if not _DIST_NAME_RE.match(wheel.name):
        raise fail(f"invalid distribution name {wheel.name!r}")
    if "-" in wheel.version or "+" not in wheel.version or any(c.isspace() for c in wheel.version):
        raise fail(f"version {wheel.version!r} must be <version>+<variant label>, without '-'")
    if len(wheel.tag.split("-")) != 3 or any(c.isspace() for c in wheel.tag):
        raise fail(f"tag {wheel.tag!r} is not one <python>-<abi>-<platform> tag")
    if not wheel.module.isidentifier():
        raise fail(f"module {wheel.module!r} is not a Python identifier")
    for text in (*wheel.requires, wheel.summary, wheel.name):
        if "\n" in text or "\r" in text:
            raise fail(f"{text!r} spans several lines")
    try:
        labelled = parse_wheel_label(wheel.local_label, wheel.platform_tag)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if labelled.name != wheel.variant.name:
        raise fail(f"version label +{wheel.local_label} and platform tag {wheel.platform_tag} "
                   f"name variant {labelled.name}, not {wheel.variant.name}")
    problem = tag_problem(wheel.tag, wheel.variant)
    if problem:
        raise fail(problem)


def write_kernel_wheel(
    out_dir: PathLike,
    *,
    name: str,
    version: str,
    tag: str,
    module: str,
    variant: Union[Variant, str],
    package_files: Mapping[str, Union[bytes, PackageFile]],
    requires: Sequence[str],
    summary: str,
    extra_dist_info: Optional[Mapping[str, bytes]] = None,
) -> Path:
    """Write the kernel wheel ``<dist>-<version>-<tag>.whl`` into ``out_dir``; return its path.

    ``extra_dist_info`` adds files to the ``.dist-info`` directory (e.g. ``kernels.lock``).

    ``package_files`` maps POSIX paths relative to the package directory to their content (bytes
    or :class:`~kernels.package_files.PackageFile`, copied a chunk at a time) and must hold
    ``metadata.json``. The output is deterministic (members sorted, timestamps fixed
    to 1980-01-01 or ``SOURCE_DATE_EPOCH``, permissions 0644, 0755 for ``.so``), and the file
    appears atomically: a temporary file in ``out_dir`` is renamed over the final name.
    """
    wheel = KernelWheel(
        name=name, version=version, tag=tag, module=module,
        variant=parse_variant(variant) if isinstance(variant, str) else variant,
        requires=tuple(requires), summary=summary,
    )
    _check_description(wheel)
    if METADATA_FILENAME not in package_files:
        raise KernelWheelError(wheel.filename, f"cannot write this kernel wheel: the package "
                                               f"files lack {METADATA_FILENAME}")
    for path in package_files:
        problem = path_problem(path)
        if problem:
            raise KernelWheelError(wheel.filename, f"cannot write package file {path!r}: it {problem}")

    members: List[Tuple[str, PackageFile]] = [
        (f"{module}/{path}", as_package_file(package_files[path])) for path in sorted(package_files)
    ]
    dist_info = wheel.dist_info
    texts = [
        (f"{dist_info}/METADATA", wheel.metadata_text().encode("utf-8")),
        (f"{dist_info}/WHEEL", wheel.wheel_text().encode("utf-8")),
        (f"{dist_info}/{VARIANT_FILE}", f"{wheel.variant.name}\n".encode("utf-8")),
    ]
    texts += [(f"{dist_info}/{n}", bytes(d)) for n, d in sorted((extra_dist_info or {}).items())]
    members += [(member, as_package_file(data)) for member, data in texts]
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for member, content in members:
        writer.writerow([member, _record_entry(content.digest("sha256"), "sha256"), str(content.size)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    members.append((f"{dist_info}/RECORD", as_package_file(record.getvalue().encode("utf-8"))))

    date_time = _zip_date_time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = out / wheel.filename
    fd, tmp_name = tempfile.mkstemp(prefix=f".{wheel.filename}.", suffix=".tmp", dir=out)
    try:
        with os.fdopen(fd, "wb") as stream:
            with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for member, content in members:
                    info = zipfile.ZipInfo(member, date_time)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.create_system = 3  # Unix: external_attr holds the mode
                    info.external_attr = (stat.S_IFREG | _file_mode(member)) << 16
                    info.file_size = content.size  # as writestr sets it: the same bytes, zip64 when needed
                    written = hashlib.sha256()
                    with archive.open(info, "w") as sink:
                        for chunk in content.chunks():
                            written.update(chunk)
                            sink.write(chunk)
                    if written.digest() != content.digest("sha256"):  # a file changed meanwhile
                        raise KernelWheelError(wheel.filename, f"{member} changed while the wheel was "
                                                               "written; build again")
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, final)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    return final


# --------------------------------------------------------------------------- reading


def read_kernel_wheel(path: PathLike) -> KernelWheelContents:
    """Read and validate a kernel wheel without extracting it.

    Raises :class:`~kernels.errors.KernelWheelError` naming the wheel and the first problem
    found: not a zip; an unsafe member (absolute path, ``..``, backslash, symbolic link,
    duplicate); not a wheel (no ``.dist-info/WHEEL``); not a kernel wheel (no
    ``kernels-variant.txt``); a RECORD hash that does not match; a variant that is invalid or
    disagrees with the version label and platform tag; files outside ``<module>/`` and the
    ``.dist-info``; a missing or invalid ``metadata.json``, or package files that do not match
    its digest; an archive beyond the bounds of :mod:`kernels.limits`.

    Members are hashed a chunk at a time and never held in memory whole (except the small
    ``.dist-info`` files and ``metadata.json``); the returned ``files`` read from the wheel,
    which stays open, on demand.
    """
    wheel_path = Path(path)

    def fail(problem: str) -> KernelWheelError:
        return KernelWheelError(str(wheel_path), problem)

    try:
        archive = zipfile.ZipFile(wheel_path)
    except zipfile.BadZipFile:
        raise fail("not a zip archive, so not a wheel") from None
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror or exc}") from None
    try:
        return _read_open_wheel(archive, wheel_path, fail)
    except BaseException:
        archive.close()
        raise


def _read_open_wheel(archive: zipfile.ZipFile, wheel_path: Path, fail: Any) -> KernelWheelContents:
    data = _members(archive, fail)

    def small(name: str) -> bytes:
        """A member read into memory whole: only .dist-info files and metadata.json."""
        member = data[name]
        if member.size > limits.bound("text_member_bytes"):
            raise fail(f"member {name!r} is {member.size} bytes, more than "
                       f"{limits.describe('text_member_bytes')}")
        return _read(member, fail)

    # ------------------------------------------------------------- wheel structure
    dist_infos = sorted({n.split("/")[0] for n in data if "/" in n and n.split("/")[0].endswith(".dist-info")})
    if not dist_infos:
        raise fail("no .dist-info directory: not a wheel")
    if len(dist_infos) > 1:
        raise fail(f"several .dist-info directories ({', '.join(dist_infos)})")
    dist_info = dist_infos[0]
    if f"{dist_info}/WHEEL" not in data:
        raise fail(f"no {dist_info}/WHEEL: not a wheel")
    variant_file = f"{dist_info}/{VARIANT_FILE}"
    if variant_file not in data:
        raise fail(f"not a kernel wheel: {dist_info}/ has no {VARIANT_FILE} (built by kernels_build?)")
    _verify_record(data, small(f"{dist_info}/RECORD") if f"{dist_info}/RECORD" in data else None,
                   dist_info, fail)

    wheel_headers = _headers(small(f"{dist_info}/WHEEL"), f"{dist_info}/WHEEL", fail)
    if not str(wheel_headers.get("Wheel-Version", "")).startswith("1."):
        raise fail(f"{dist_info}/WHEEL: unsupported Wheel-Version {wheel_headers.get('Wheel-Version')!r}")
    tags = wheel_headers.get_all("Tag") or []
    if len(tags) != 1 or len(str(tags[0]).split("-")) != 3:
        raise fail(f"{dist_info}/WHEEL: a kernel wheel has exactly one Tag, found {tags}")
    tag = str(tags[0]).strip()
    if f"{dist_info}/METADATA" not in data:
        raise fail(f"no {dist_info}/METADATA: not a wheel")
    meta_headers = _headers(small(f"{dist_info}/METADATA"), f"{dist_info}/METADATA", fail)
    name = str(meta_headers.get("Name", "")).strip()
    version = str(meta_headers.get("Version", "")).strip()
    if not name or not version:
        raise fail(f"{dist_info}/METADATA lacks Name or Version")
    stem_name, _, stem_version = dist_info[: -len(".dist-info")].partition("-")
    if normalize_dist_name(stem_name) != normalize_dist_name(name) or stem_version != version:
        raise fail(f"{dist_info}/ does not match METADATA (Name {name}, Version {version})")
    filename = _WHEEL_FILENAME_RE.match(wheel_path.name)
    if filename and (filename["tag"] != tag or filename["version"] != version):
        raise fail(f"file name does not match the wheel's own Version {version} and Tag {tag} "
                   "(was it renamed?)")

    # ------------------------------------------------------------- the variant
    variant_text = small(variant_file).decode("utf-8", errors="replace").strip()
    try:
        variant = parse_variant(variant_text)
    except ValueError as exc:
        raise fail(f"{VARIANT_FILE} does not hold a valid variant: {exc}") from None
    label = version.partition("+")[2]
    if not label:
        raise fail(f"version {version} has no local label naming the variant (+{variant.wheel_label})")
    platform = tag.split("-")[2]
    try:
        labelled = parse_wheel_label(label, platform)
    except ValueError as exc:
        raise fail(f"version label +{label} with platform tag {platform} names no variant: {exc}") from None
    if labelled.name != variant.name:
        raise fail(f"variant mismatch: {VARIANT_FILE} says {variant.name}, but the version "
                   f"label +{label} and platform tag {platform} say {labelled.name}")
    problem = tag_problem(tag, variant)
    if problem:
        raise fail(problem)

    # ------------------------------------------------------------- the package
    tops = sorted({n.split("/")[0] for n in data if n.split("/")[0] != dist_info})
    packages = [t for t in tops if f"{t}/{METADATA_FILENAME}" in data]
    if not packages:
        raise fail(f"no package directory with {METADATA_FILENAME} (expected <module>/{METADATA_FILENAME})")
    if len(packages) > 1:
        raise fail(f"several package directories with {METADATA_FILENAME}: {', '.join(packages)}")
    module = packages[0]
    outside = sorted(n for n in data if n.split("/")[0] not in (module, dist_info))
    if outside:
        raise fail(f"{summarize(outside)} lie outside {module}/ and {dist_info}/")
    metadata_member = f"{module}/{METADATA_FILENAME}"
    if data[metadata_member].size > limits.bound("metadata_bytes"):
        raise fail(f"{metadata_member} is {data[metadata_member].size} bytes, more than "
                   f"{limits.describe('metadata_bytes')}")
    try:
        metadata = Metadata.from_bytes(_read(data[metadata_member], fail), source=metadata_member)
    except MetadataError as exc:
        raise fail(f"invalid metadata.json: {exc}") from None
    if metadata.python_name != module:
        raise fail(f"package directory {module}/ does not match the kernel {metadata.name!r} "
                   f"of metadata.json (expected {metadata.python_name}/)")
    _check_backend(variant, metadata, fail)
    files = {n[len(module) + 1:]: content for n, content in data.items() if n.startswith(module + "/")}
    try:
        problems = verify_package_digest(metadata, files)
    except _MEMBER_ERRORS as exc:
        raise fail(f"a package file cannot be read: {exc}") from None
    if problems:
        raise fail(f"package files do not match the digest in {module}/metadata.json: {summarize(problems)}")

    return KernelWheelContents(
        name=name, version=version, tag=tag, module=module, variant=variant,
        requires=tuple(str(r).strip() for r in meta_headers.get_all("Requires-Dist") or []),
        summary=str(meta_headers.get("Summary", "") or "").strip(),
        metadata=metadata, files=files, path=wheel_path,
    )


def _check_backend(variant: Variant, metadata: Metadata, fail: Any) -> None:
    """The variant's backend and metadata.json's ``backend.type`` must agree."""
    backend = variant.backend
    if backend != "universal" and backend != metadata.backend.type:
        raise fail(f"variant {variant.name} is a {backend} build, but metadata.json says "
                   f"backend {metadata.backend.type}")


#: What reading a member can raise when the archive is corrupt or lies in its headers.
_MEMBER_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError)


def _members(archive: zipfile.ZipFile, fail: Any) -> Dict[str, ArchiveMember]:
    """Every file member, after refusing unsafe members and archives beyond the bounds of
    :mod:`kernels.limits` (judged from the headers before anything is inflated)."""
    infos = archive.infolist()
    if len(infos) > limits.bound("archive_members"):
        raise fail(f"holds {len(infos)} members, more than {limits.describe('archive_members')}")
    seen = set()
    files = {i.filename for i in infos if not i.is_dir()}
    total = 0
    for info in infos:
        name = info.filename
        problem = path_problem(name[:-1] if name.endswith("/") else name)
        if problem:
            raise fail(f"member {name!r} {problem}: refusing an unsafe wheel")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise fail(f"member {name!r} is a symbolic link: kernel wheels hold regular files only")
        if name in seen:
            raise fail(f"member {name!r} appears twice")
        seen.add(name)
        parent = name.rstrip("/").rsplit("/", 1)[0] if "/" in name.rstrip("/") else None
        while parent:
            if parent in files:
                raise fail(f"member {name!r} lies under {parent!r}, which is a file")
            parent = parent.rsplit("/", 1)[0] if "/" in parent else None
        size = info.file_size
        if size > limits.bound("member_bytes"):
            raise fail(f"member {name!r} inflates to {size} bytes, more than {limits.describe('member_bytes')}")
        if size > limits.RATIO_EXEMPT_BYTES and size > limits.bound("compression_ratio") * max(info.compress_size, 1):
            raise fail(f"member {name!r} inflates {size // max(info.compress_size, 1)}-fold, more than "
                       f"{limits.describe('compression_ratio')}: refusing a likely zip bomb")
        total += size
        if total > limits.bound("archive_bytes"):
            raise fail(f"inflates to more than {limits.describe('archive_bytes')} bytes")
    return {info.filename: ArchiveMember(archive, info) for info in infos if not info.is_dir()}


def _read(member: ArchiveMember, fail: Any) -> bytes:
    try:
        return member.read()
    except _MEMBER_ERRORS as exc:
        raise fail(f"member {member.info.filename!r} cannot be read: {exc}") from None


def _verify_record(data: Mapping[str, ArchiveMember], record: Optional[bytes], dist_info: str, fail: Any) -> None:
    """Every member is listed in RECORD with a hash that matches, hashed a chunk at a time
    (the SHA-256 is computed in the same pass: later comparisons reuse it)."""
    record_name = f"{dist_info}/RECORD"
    if record is None:
        raise fail(f"no {record_name}: not a wheel")
    try:
        rows = list(csv.reader(io.StringIO(record.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise fail(f"{record_name} cannot be parsed: {exc}") from None
    recorded: Dict[str, str] = {}
    for row in rows:
        if not row:
            continue
        if len(row) != 3:
            raise fail(f"{record_name}: malformed line {','.join(row)!r}")
        recorded[row[0]] = row[1]
    unsigned = (record_name, f"{record_name}.jws", f"{record_name}.p7s")
    for name, member in data.items():
        if name in unsigned:
            continue
        entry = recorded.get(name)
        if not entry:
            raise fail(f"{name} is not listed with a hash in RECORD")
        algorithm, _, _ = entry.partition("=")
        if algorithm not in _RECORD_ALGORITHMS:
            raise fail(f"RECORD hashes {name} with {algorithm!r}; expected one of {', '.join(_RECORD_ALGORITHMS)}")
        try:
            digest = member.digests((algorithm, "sha256"))[algorithm]
        except _MEMBER_ERRORS as exc:
            raise fail(f"member {name!r} cannot be read: {exc}") from None
        if _record_entry(digest, algorithm) != entry:
            raise fail(f"{name} does not match its RECORD hash: the wheel was altered or is corrupt")
    missing = sorted(set(recorded) - set(data) - set(unsigned))
    if missing:
        raise fail(f"RECORD lists files the wheel does not contain: {summarize(missing)}")


def _headers(raw: bytes, where: str, fail: Any) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(f"{where} is not valid UTF-8") from None
    return email.parser.Parser().parsestr(text)

