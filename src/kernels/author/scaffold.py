"""``kernels init``: write a new kernel repository that builds, tests and publishes as is.

The files come from the templates shipped in ``kernels/author/templates/`` (``common/`` for
every kernel, one directory per backend with compiled code; ``tvm-ffi/`` holds the same for
kernels bound through Apache TVM FFI, ``--framework tvm-ffi``). Template text and paths use
``@@key@@`` placeholders (``__module__`` in paths), distinct from the ``{{ key }}``
placeholders of ``CARD.md``, which ``kernels upload`` fills later. build.toml is written
here, from the chosen backends.

Example::

    >>> from kernels.author.scaffold import init_kernel
    >>> written = init_kernel("my-org/my-relu", ["cpu", "cuda"], target="my-relu")  # doctest: +SKIP
    >>> sorted(str(p) for p in written)[:2]                                           # doctest: +SKIP
    ['my-relu/.gitattributes', 'my-relu/.gitignore']
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

from .. import __version__, hub
from ..errors import AuthoringError, HubUnreachableError
from ..variants import BACKENDS

__all__ = ["FRAMEWORKS", "KernelName", "parse_name", "resolve_name", "default_backends", "init_kernel",
           "build_toml"]

TEMPLATES = Path(__file__).parent / "templates"

#: Backends with compiled code of their own in the templates (rocm reuses cuda's .cu).
SOURCE_TEMPLATES = {"cpu": "cpu", "cuda": "cuda", "rocm": "cuda", "metal": "metal", "xpu": "xpu"}

#: What a kernel's Python package binds its compiled code through (``--framework``).
FRAMEWORKS = ("torch", "tvm-ffi")

#: The backends tvm-ffi kernels are built for (the tvm-ffi build matrix: cpu and CUDA).
TVM_FFI_BACKENDS = ("cpu", "cuda")

#: Files of ``templates/common/`` that only torch kernels get (tvm-ffi has its own binding).
_TORCH_ONLY = ("torch-ext/",)

#: The example op every generated kernel starts with.
OP = "relu"

_NAME_RE = re.compile(r"^[a-z][-a-z0-9]*[a-z0-9]$")
_ORG_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_LICENSE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")


@dataclass(frozen=True)
class KernelName:
    """The names derived from ``--name ORG/NAME``."""

    repo_id: str  # my-org/my-relu
    name: str  # my-relu (build.toml general.name)
    module: str  # my_relu (Python package and op-namespace prefix)
    class_name: str  # MyRelu


def parse_name(text: str, given_as: Optional[str] = None) -> KernelName:
    """Validate ``ORG/NAME``: ``NAME`` lowercased with ``_`` -> ``-`` must be a kernel name
    (``^[a-z][-a-z0-9]*[a-z0-9]$``, no ``--``). ``given_as`` says where the name came from, for
    the error (default: ``--name``)."""
    org, sep, repo = text.partition("/")
    if not sep or "/" in repo or not _ORG_RE.match(org):
        raise AuthoringError(f"invalid --name {text!r}: expected ORG/NAME, e.g. my-org/my-relu")
    _check_kernel_name(repo, given_as or f"--name {text!r}")
    name = repo.lower().replace("_", "-")
    module = name.replace("-", "_")
    return KernelName(f"{org}/{name}", name, module, "".join(p.capitalize() for p in name.split("-")))


def resolve_name(name: Optional[str], target: Optional[Union[str, Path]] = None) -> KernelName:
    """The kernel's names from ``--name`` and the target directory, as ``kernel-builder init``:
    ``ORG/NAME`` as given; ``NAME`` alone, or no name (then the target directory's name), takes
    the owner from the Hub account of the current token (``whoami``)."""
    if name is not None and "/" in name:
        return parse_name(name)
    repo = name if name is not None else (Path(target).resolve().name if target is not None else None)
    if not repo:
        raise AuthoringError("give the kernel a name: --name ORG/NAME (or NAME, or a target DIR)")
    given_as = f"--name {name!r}" if name is not None else f"the directory name {repo!r} (no --name given)"
    _check_kernel_name(repo, given_as)  # before asking the Hub who the owner is
    return parse_name(f"{hub_user(repo, given_as)}/{repo}", given_as)


def _check_kernel_name(repo: str, given_as: str) -> None:
    name = repo.lower().replace("_", "-")
    if not _NAME_RE.match(name) or "--" in name:
        raise AuthoringError(
            f"invalid kernel name from {given_as}: a kernel name has at least 2 characters, starts with a "
            "letter, ends with a letter or digit, and holds only letters, digits and single '-' or '_' "
            "(e.g. my-relu); pass another with --name [ORG/]NAME"
        )


def hub_user(repo: str, given_as: Optional[str] = None) -> str:
    """The Hub user of the current token, for a kernel name without owner (``repo``, from
    ``given_as``: ``--name`` by default, or the directory's name)."""
    try:
        return hub.whoami()
    except Exception as exc:  # no token, a rejected one, offline, unreachable: all end the same
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, HubUnreachableError):
            # (its own advice, HF_HUB_OFFLINE or LOCAL_KERNELS, is about loading, not naming)
            reason = f"cannot reach the Hub at {hub.endpoint_url()}: {exc.reason}"
        raise AuthoringError(
            f"{given_as or '--name ' + repr(repo)} has no owner and the Hub could not say who you are ({reason}); "
            f"pass --name ORG/{repo}, or log in with `hf auth login`"
        ) from None


def default_backends(framework: str = "torch") -> List[str]:
    """``metal`` on macOS, else ``cuda`` (as ``kernel-builder init``); tvm-ffi kernels: ``cuda``.

    Example::

        >>> default_backends("tvm-ffi")
        ['cuda']
    """
    if framework == "tvm-ffi":
        return ["cuda"]
    return ["metal"] if sys.platform == "darwin" else ["cuda"]


def check_framework(framework: str) -> str:
    """``framework`` if it is one of :data:`FRAMEWORKS`, else :class:`AuthoringError`.

    Example::

        >>> check_framework("jax")
        Traceback (most recent call last):
        ...
        kernels.errors.AuthoringError: unknown --framework 'jax': choose torch (default) or tvm-ffi
    """
    if framework not in FRAMEWORKS:
        raise AuthoringError(f"unknown --framework {framework!r}: choose torch (default) or tvm-ffi")
    return framework


def _backends(requested: Optional[Sequence[str]], framework: str = "torch") -> List[str]:
    if not requested:
        return default_backends(framework)
    if list(requested) == ["all"]:
        return list(TVM_FFI_BACKENDS if framework == "tvm-ffi" else BACKENDS)
    unknown = [b for b in requested if b not in BACKENDS]
    if unknown:
        raise AuthoringError(
            f"unknown backend(s) {', '.join(unknown)}: choose from {', '.join(BACKENDS)}, or all"
        )
    if framework == "tvm-ffi":
        unsupported = [b for b in requested if b not in TVM_FFI_BACKENDS]
        if unsupported:
            raise AuthoringError(
                f"--framework tvm-ffi: backend(s) {', '.join(unsupported)} are not built for tvm-ffi kernels; "
                f"choose from {', '.join(TVM_FFI_BACKENDS)}, or all"
            )
    return list(dict.fromkeys(requested))  # keep order, drop repeats


def build_toml(name: KernelName, backends: Sequence[str], license: str, framework: str = "torch") -> str:
    """build.toml (edition 5) with one ``[kernel.<module>_<backend>]`` per compiled backend.

    ``framework="tvm-ffi"`` writes a ``[tvm-ffi]`` table (binding ``tvm-ffi-ext/tvm_ffi_binding.cpp``)
    instead of ``[torch]``; its kernels depend on nothing and share ``<module>_common.h``.

    Example::

        >>> print(build_toml(parse_name("org/my-relu"), ["cpu"], "MIT", "tvm-ffi").split("[tvm-ffi]")[1])
        <BLANKLINE>
        src = ["tvm-ffi-ext/tvm_ffi_binding.cpp"]
        <BLANKLINE>
        [kernel.my_relu_cpu]
        backend = "cpu"
        depends = []
        src = ["my_relu_cpu/my_relu_cpu.cpp", "my_relu_common.h"]
        <BLANKLINE>
    """
    if framework == "tvm-ffi":
        return _tvm_ffi_build_toml(name, backends, license)
    lines = _general_lines(name, backends, license) + [
        "",
        "[torch]",
        'src = ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]',
    ]
    m = name.module
    sources = {
        "cpu": [f"{m}_cpu/{m}_cpu.cpp"],
        "cuda": [f"{m}_cuda/{m}.cu"],
        "rocm": [f"{m}_cuda/{m}.cu"],
        "metal": [f"{m}_metal/{m}.mm", f"{m}_metal/{m}.metal"],
        "xpu": [f"{m}_xpu/{m}.cpp"],
    }
    for backend in backends:
        if backend not in sources:
            continue  # cann, neuron, tpu: Python only (noarch variant torch-<backend>)
        src = ", ".join(f'"{s}"' for s in sources[backend])
        lines += ["", f"[kernel.{m}_{backend}]", f'backend = "{backend}"', 'depends = ["torch"]', f"src = [{src}]"]
    return "\n".join(lines) + "\n"


def _general_lines(name: KernelName, backends: Sequence[str], license: str) -> List[str]:
    quoted = ", ".join(f'"{b}"' for b in backends)
    return [
        "[general]",
        f'name = "{name.name}"',
        "version = 1",
        "edition = 5",
        f'license = "{license}"',
        f"backends = [{quoted}]",
        "",
        "[general.hub]",
        f'repo-id = "{name.repo_id}"',
    ]


def _tvm_ffi_build_toml(name: KernelName, backends: Sequence[str], license: str) -> str:
    m = name.module
    lines = _general_lines(name, backends, license) + [
        "",
        "# Bound through Apache TVM FFI instead of torch: the library links libtvm_ffi, not torch,",
        "# and its functions take any DLPack tensor (torch, NumPy, JAX, ...).",
        "[tvm-ffi]",
        'src = ["tvm-ffi-ext/tvm_ffi_binding.cpp"]',
    ]
    sources = {"cpu": f"{m}_cpu/{m}_cpu.cpp", "cuda": f"{m}_cuda/{m}.cu"}
    for backend in backends:
        lines += ["", f"[kernel.{m}_{backend}]", f'backend = "{backend}"', "depends = []",
                  f'src = ["{sources[backend]}", "{m}_common.h"]']
    return "\n".join(lines) + "\n"


def _render(text: str, values: Dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    return text


def _template_files(backends: Iterable[str], framework: str = "torch") -> Dict[Path, Path]:
    """Output path (relative, placeholders not yet filled) -> template file.

    tvm-ffi kernels take ``common/`` without its torch binding, then ``tvm-ffi/common/`` and
    ``tvm-ffi/<backend>/``, whose files replace those of the same path.
    """
    if framework == "tvm-ffi":
        dirs = ["common", "tvm-ffi/common"] + [f"tvm-ffi/{b}" for b in sorted(set(backends))]
    else:
        dirs = ["common"] + sorted({SOURCE_TEMPLATES[b] for b in backends if b in SOURCE_TEMPLATES})
    files: Dict[Path, Path] = {}
    for d in dirs:
        base = TEMPLATES / d
        for template in sorted(base.rglob("*.tmpl")):
            rel = template.relative_to(base).as_posix()[: -len(".tmpl")]
            if framework == "tvm-ffi" and d == "common" and rel.startswith(_TORCH_ONLY):
                continue
            if rel in ("gitignore", "gitattributes"):
                rel = "." + rel
            files[Path(rel)] = template
    return files


def init_kernel(
    name: Union[str, KernelName],
    backends: Optional[Sequence[str]] = None,
    *,
    target: Optional[Union[str, Path]] = None,
    license: str = "Apache-2.0",
    git: bool = True,
    framework: str = "torch",
) -> List[Path]:
    """Write a new kernel repository into ``target`` (default ``./<name>``); return its files.

    ``target`` must not exist or be an empty directory. ``backends``: names of
    :data:`kernels.variants.BACKENDS`, or ``["all"]``; default :func:`default_backends`.
    ``framework``: ``"torch"`` (a torch extension, ``torch-ext/``) or ``"tvm-ffi"`` (bound
    through Apache TVM FFI, ``tvm-ffi-ext/``; backends cpu and cuda only). With ``git`` and git
    installed, the directory becomes a git repository with every file staged (the build records
    the commit in metadata.json provenance). Raises :class:`~kernels.errors.AuthoringError`
    for a bad name, backend, framework or license, and for a non-empty ``target``.

    Example::

        >>> init_kernel("my-org/my-relu", ["cpu"], target="my-relu", framework="tvm-ffi")  # doctest: +SKIP
    """
    kernel = parse_name(name) if isinstance(name, str) else name
    framework = check_framework(framework)
    chosen = _backends(backends, framework)
    if not _LICENSE_RE.match(license):
        raise AuthoringError(f"invalid --license {license!r}: expected an SPDX id such as Apache-2.0 or MIT")
    root = Path(target) if target is not None else Path(kernel.name)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise AuthoringError(f"{root}: already exists and is not an empty directory; choose a new directory")

    values = {
        "name": kernel.name, "module": kernel.module, "class": kernel.class_name, "repo_id": kernel.repo_id,
        "version": "1", "op": OP, "license": license, "kernels_version": _kernels_floor(),
    }
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, template in _template_files(chosen, framework).items():
        path = root / _render(rel.as_posix().replace("__module__", kernel.module), values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(template.read_text(), values))
        written.append(path)
    (root / "build.toml").write_text(build_toml(kernel, chosen, license, framework))
    written.append(root / "build.toml")
    if git:
        _git_init(root)
    return sorted(written)


def _kernels_floor() -> str:
    """The ``kernels`` requirement floor of generated pyproject.toml files: this release."""
    return __version__


def _git_init(root: Path) -> None:
    """``git init`` + ``git add -A`` when git exists and ``root`` is not inside a work tree."""
    git = shutil.which("git")
    if git is None:
        return
    inside = subprocess.run([git, "rev-parse", "--is-inside-work-tree"], cwd=root, capture_output=True, text=True)
    if inside.returncode == 0:
        return  # part of an existing repository: leave version control to its owner
    for cmd in ([git, "init", "-q"], [git, "add", "-A"]):
        if subprocess.run(cmd, cwd=root, capture_output=True).returncode != 0:
            return
