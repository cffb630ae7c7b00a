"""``kernels build`` and ``kernels check-config``: the builder's everyday commands, thin.

- :func:`check_config`: build.toml parsed and validated by the backend's own code
  (:func:`kernels_build.config.load_build_config`), the repository compared with it
  (:func:`~kernels_build.config.check_layout`) and the op namespaces scanned
  (:func:`kernels_build.ophook.check_op_namespaces`), as the backend's planning stage does
  before it compiles anything; neither torch nor a compiler is looked at.
- :func:`pip_wheel`: ``python -m pip wheel --no-build-isolation --no-deps`` of a kernel
  repository with ``-C`` settings: the standard frontend calls the backend, against this
  environment's torch. ``kernels release`` builds the same way.
- :func:`build_variant`: :func:`pip_wheel`, then the wheel unpacked with
  :func:`kernels.convert.from_wheel` into ``DIR/build/<variant>/``, replacing that variant
  directory of an earlier build (and no other)::

      $ kernels build examples/relu
      ... (pip and the backend's progress)
      examples/relu/build/torch213-cxx11-cpu-x86_64-linux
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

from ..errors import AuthoringError

__all__ = ["ConfigSummary", "check_config", "pip_wheel", "build_variant"]

PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------- check-config


@dataclass(frozen=True)
class ConfigSummary:
    """What :func:`check_config` found in a valid kernel repository."""

    path: Path  # build.toml
    name: str
    version: int
    backends: Tuple[str, ...]
    framework: str  # "torch", "torch-noarch", "tvm-ffi"
    kernels: Tuple[Tuple[str, str], ...]  # (kernel name, backend), in build.toml order
    repo_id: Optional[str] = None
    stable_abi: Tuple[Tuple[str, str], ...] = ()  # (backend, torch version of the stable ABI)

    def describe(self) -> str:
        """``<path>: ok (relu v1; backends cpu, cuda; kernels relu_cpu (cpu), ...; hub org/relu)``."""
        parts = [f"{self.name} v{self.version}", f"backends {', '.join(self.backends)}"]
        if self.framework == "tvm-ffi":
            parts.append("bound through TVM FFI")
        if self.kernels:
            parts.append("kernels " + ", ".join(f"{name} ({backend})" for name, backend in self.kernels))
        else:
            parts.append(f"[{self.framework}], no compiled code")
        if self.stable_abi:
            parts.append("stable ABI " + ", ".join(f"torch {v} ({backend})" for backend, v in self.stable_abi))
        if self.repo_id:
            parts.append(f"hub {self.repo_id}")
        return f"{self.path}: ok ({'; '.join(parts)})"


def _kernel_root(root: PathLike) -> Path:
    root = Path(root)
    if not root.exists():
        raise AuthoringError(f"{root}: no such directory")
    if not root.is_dir():
        raise AuthoringError(f"{root}: not a directory; pass a kernel repository (the directory of build.toml)")
    if not (root / "build.toml").is_file():
        raise AuthoringError(f"{root}: no build.toml here; pass a kernel repository (see `kernels init`)")
    return root


def check_config(root: PathLike = ".") -> ConfigSummary:
    """Validate the kernel repository ``root`` as a build would before compiling: build.toml,
    the files it names and the Python package, the op namespaces. Imports neither torch nor
    the build tools. Raises :class:`AuthoringError` with the backend's message."""
    from kernels_build.config import Torch, TvmFfi, check_layout, load_build_config  # noqa: PLC0415
    from kernels_build.errors import KernelBuildError  # noqa: PLC0415
    from kernels_build.ophook import check_op_namespaces  # noqa: PLC0415
    from kernels_build.tvm_ffi import check_no_torch_includes  # noqa: PLC0415

    root = _kernel_root(root)
    try:
        config = load_build_config(root)
        check_layout(config)
        check_op_namespaces(config.python_dir, root=config.root)
        if isinstance(config.framework, TvmFfi):  # (kernels_build.plan refuses these too)
            sources = [*config.framework.src, *(s for k in config.kernels for s in k.src)]
            check_no_torch_includes(config.root, sources, config.path)
    except KernelBuildError as exc:
        raise AuthoringError(str(exc)) from None
    except OSError as exc:  # an unreadable build.toml or source directory
        raise AuthoringError(f"{root}: {exc}") from None
    general = config.general
    return ConfigSummary(
        path=root / "build.toml",
        name=general.name,
        version=general.version,
        backends=tuple(general.backends),
        framework=("torch" if isinstance(config.framework, Torch)
                   else "tvm-ffi" if isinstance(config.framework, TvmFfi) else "torch-noarch"),
        kernels=tuple((k.name, k.backend) for k in config.kernels),
        repo_id=general.hub.repo_id,
        stable_abi=tuple((backend, ".".join(str(n) for n in version))
                         for backend, version in getattr(config.framework, "stable_abi", {}).items()),
    )


# --------------------------------------------------------------------------- pip wheel


def pip_wheel(
    root: Path,
    dist: Path,
    config_settings: Sequence[str] = (),
    python: str = sys.executable,
    *,
    stream: bool = False,
) -> List[Path]:
    """Build the kernel repository ``root`` into ``dist`` with ``python -m pip wheel
    --no-build-isolation --no-deps --no-index`` (``-C`` for each of ``config_settings``);
    return the wheels.

    Without ``stream`` pip's output is captured and its last lines go into the error (as
    ``kernels release`` shows it); with it pip runs verbose (``-v``: the backend's progress,
    CMake's and the compiler's lines), its output copied to this process's stdout as it
    comes, and the error repeats the backend's own message (``kernels_build error: ...``).
    Raises :class:`AuthoringError` when the build fails.
    """
    if python == sys.executable and importlib.util.find_spec("pip") is None:
        raise AuthoringError(f"building needs pip, which {python} lacks: {python} -m ensurepip")
    cmd = [python, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", str(dist)]
    if stream:
        cmd.append("-v")
    for setting in config_settings:
        cmd += ["-C", setting]
    cmd.append(str(root))
    if stream:
        returncode, errors = _relay(cmd)
        if returncode != 0:
            what = f": {errors[-1].rstrip('.')}" if errors else ""
            raise AuthoringError(f"the build failed (pip wheel exit status {returncode}){what}; "
                                 "the build's output is above")
    else:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
            raise AuthoringError(f"the build failed (pip wheel exit status {proc.returncode}):\n{tail}")
    wheels = sorted(Path(dist).glob("*.whl"))
    if not wheels:
        raise AuthoringError(f"pip wheel produced no wheel in {dist}")
    return wheels


#: How the build backend starts the one line of a user error (kernels_build.backend).
_BACKEND_ERROR = "kernels_build error: "


def _relay(cmd: Sequence[str]) -> Tuple[int, List[str]]:
    """Run ``cmd`` with its stdout and stderr, in order, copied byte for byte to this
    process's stdout as they come; return its exit status and the first lines of the
    backend's errors."""
    sys.stdout.flush()
    sys.stderr.flush()
    out = getattr(sys.stdout, "buffer", None)
    errors: List[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            text = raw.decode("utf-8", errors="replace")
            if out is not None:
                out.write(raw)
                out.flush()
            else:  # a replaced sys.stdout without bytes
                sys.stdout.write(text)
                sys.stdout.flush()
            text = text.strip()
            if text.startswith(_BACKEND_ERROR):
                errors.append(text[len(_BACKEND_ERROR):])
    finally:
        proc.stdout.close()
        returncode = proc.wait()
    return returncode, errors


# --------------------------------------------------------------------------- build


def build_variant(
    root: PathLike = ".",
    config_settings: Sequence[str] = (),
    *,
    python: str = sys.executable,
    echo: Callable[[str], None] = print,
) -> Path:
    """``kernels build``: build the variant this environment (and ``config_settings``)
    selects and write it to ``root/build/<variant>/``; return that directory.

    An existing directory of the same variant is replaced once the new one is complete (two
    renames on one file system); other variants in ``root/build/`` are left alone, but must
    be of the same kernel and version (as for ``kernels from-wheel``). On any failure
    ``root/build/`` is as it was.
    """
    from ..convert import from_wheel  # noqa: PLC0415

    root = _kernel_root(root)
    build = root / "build"
    if build.is_symlink() or (build.exists() and not build.is_dir()):
        raise AuthoringError(f"{build}: exists but is not a directory; remove it")

    with tempfile.TemporaryDirectory(prefix="kernels-build-") as tmp:
        wheels = pip_wheel(root.resolve(), Path(tmp) / "dist", config_settings, python, stream=True)
        echo(f"built {', '.join(w.name for w in wheels)}")
        build.mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".kernels-build-", dir=build))  # same file system
        try:
            (variant_dir,) = from_wheel(wheels, staging)  # the backend writes one wheel
            _check_siblings(build, variant_dir)
            _swap_in(variant_dir, build / variant_dir.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return build / variant_dir.name


def _check_siblings(build: Path, new: Path) -> None:
    """``build/`` must not hold variants of another kernel or version than ``new``."""
    from ..errors import MetadataError  # noqa: PLC0415
    from ..metadata import METADATA_FILENAME, Metadata  # noqa: PLC0415

    ours = Metadata.read_from_file(new / METADATA_FILENAME)
    for entry in sorted(build.iterdir()):
        meta = entry / METADATA_FILENAME
        if entry.name == new.name or entry.name.startswith(".") or not meta.is_file():
            continue
        try:
            other = Metadata.read_from_file(meta)
        except (MetadataError, OSError):
            continue
        if (other.name, other.version) != (ours.name, ours.version):
            raise AuthoringError(
                f"{build}: already holds {entry.name} of kernel {other.name!r} version {other.version}, but "
                f"this build is {ours.name!r} version {ours.version}; one build/ holds one kernel version: "
                f"remove the other variants (or all of {build}) and run kernels build again")


def _swap_in(new: Path, target: Path) -> None:
    """Move the complete directory ``new`` to ``target``, replacing what is there."""
    if not (target.exists() or target.is_symlink()):
        os.rename(new, target)
        return
    if target.is_symlink() or not target.is_dir():
        raise AuthoringError(f"{target}: exists but is not a directory; remove it")
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    aside = old / target.name
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside, target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
