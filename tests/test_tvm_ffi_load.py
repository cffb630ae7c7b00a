"""tvm-ffi kernels at run time: loading, loading without torch, ``kernels init``, interop.

The real kernel is the cpu build of examples/relu-tvm-ffi (session fixture
``relu_tvm_ffi_cpu_wheel``), turned into a Hub tree with ``kernels.convert.from_wheel``: a
``tvm-ffi<M><m>-cpu-<arch>-<os>`` variant whose library links libtvm_ffi, not torch, and whose
``relu(x, out)`` takes any DLPack tensor.

- ``get_local_kernel``, ``LOCAL_KERNELS`` and ``get_kernel`` (local Hub server, real client)
  load it and run it on torch tensors; a variant for another tvm-ffi major.minor, and a process
  where ``tvm_ffi`` cannot be imported (a subprocess whose ``sitecustomize`` hides it), get an
  error that names the reason.
- In a fresh venv with the light runtime (``pip install kernels``), apache-tvm-ffi and NumPy,
  and no torch at all, the kernel loads and runs on NumPy arrays.
- ``kernels init --framework tvm-ffi`` writes a kernel that builds, installs and passes its own
  tests; an unknown framework is one clear error.
- Interop: the released kernels 0.17.2 loads our tvm-ffi tree, and our runtime loads a tree laid
  out as the existing builder lays tvm-ffi kernels out (its ``_ops.py``, its metadata.json
  without digest), which 0.17.2 loads too.

A compiled build is one module per process (its id), so loads that must start from nothing run
in subprocesses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from conftest import clean_env, install_target, only_wheel, pip_wheel, run

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

from kernels import (  # noqa: E402
    VariantAccepted,
    VariantRejected,
    get_kernel,
    get_kernel_variants,
    get_loaded_kernels,
    get_local_kernel,
    has_kernel,
)
from kernels.author.scaffold import init_kernel  # noqa: E402
from kernels.convert import from_wheel  # noqa: E402
from kernels.errors import AuthoringError, NoCompatibleVariantError  # noqa: E402
from kernels.metadata import Metadata  # noqa: E402
from kernels.selection import Environment  # noqa: E402
from kernels.upload import upload_tree  # noqa: E402
from kernels.variants import parse_variant  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ORG = "kernels-test"
REPO = f"{ORG}/relu-tvm-ffi"
KERNELS = [sys.executable, "-m", "kernels.cli"]

#: ``sitecustomize.py`` of a process in which apache-tvm-ffi counts as not installed: ``import
#: tvm_ffi`` raises ImportError and ``importlib.util.find_spec("tvm_ffi")`` answers None.
HIDE_TVM_FFI = 'import sys\nsys.modules["tvm_ffi"] = None\n'


# --------------------------------------------------------------------------- helpers


#: Variants are judged as on a CPU-only machine (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("cpu_only_environment")


def _installed_tvm_ffi() -> Tuple[int, int]:
    version = Environment.detect().tvm_ffi_version
    assert version is not None, "apache-tvm-ffi must be installed in the test environment"
    return version


@pytest.fixture(scope="module")
def tvm_tree(relu_tvm_ffi_cpu_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/build/tvm-ffi<M><m>-cpu-<arch>-<os>/`` of the relu-tvm-ffi cpu wheel."""
    root = tmp_path_factory.mktemp("relu-tvm-ffi-tree")
    (variant,) = from_wheel([relu_tvm_ffi_cpu_wheel], root)
    assert variant.name.startswith("tvm-ffi") and "-cpu-" in variant.name, variant.name
    return root


def _variant(tree: Path) -> Path:
    (variant,) = [p for p in (tree / "build").iterdir() if p.is_dir()]
    return variant


def _other_minor_name(variant: str) -> str:
    """The same variant for a tvm-ffi major.minor other than the installed one (0.9 for 0.1)."""
    parsed = parse_variant(variant)
    major, minor = _installed_tvm_ffi()
    other = (major, 9 if minor != 9 else 8)
    return dataclasses.replace(parsed, framework_version=other).name


def _copy_variant_as(tree: Path, destination: Path, name: Optional[str] = None) -> Path:
    """``destination/build/<name>/``: a copy of the tree's variant (renamed when ``name``)."""
    source = _variant(tree)
    target = destination / "build" / (name or source.name)
    shutil.copytree(source, target)
    return target


def _python(code: str, env: Optional[Dict[str, str]] = None, python: str = sys.executable,
            pythonpath: Optional[str] = str(SRC), timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (stdout and stderr together)."""
    full_env = dict(os.environ)
    full_env.pop("PYTHONPATH", None)
    if pythonpath:
        full_env["PYTHONPATH"] = pythonpath
    full_env.update(env or {})
    return subprocess.run([python, "-c", textwrap.dedent(code)], env=full_env, cwd="/", stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def _relu_on_torch(module) -> None:
    import torch

    x = torch.linspace(-3, 3, 257)
    out = torch.empty_like(x)
    assert module.relu(x, out) is out
    assert torch.equal(out, torch.relu(x))


#: Loads a kernel in a fresh process and runs relu on torch tensors; ``{load}`` is the call.
TORCH_CHECK = """
import sys, torch, kernels
from pathlib import Path
k = {load}
x = torch.linspace(-3, 3, 257)
out = torch.empty_like(x)
assert k.relu(x, out) is out and torch.equal(out, torch.relu(x)), "wrong result"
print("loaded", k.__name__, k.__file__)
"""


# --------------------------------------------------------------------------- loading


def test_get_local_kernel_runs_a_tvm_ffi_kernel_on_torch_tensors(tvm_tree: Path) -> None:
    variant = _variant(tvm_tree)
    metadata = Metadata.read_from_file(variant / "metadata.json")
    library = variant / f"{metadata.id}.so"
    assert library.is_file() and not list(variant.glob("*.abi3.so")) and not list(variant.glob("lib*.so"))

    relu = get_local_kernel(tvm_tree)
    assert relu.__name__ == metadata.id and sys.modules[metadata.id] is relu
    _relu_on_torch(relu)
    assert get_local_kernel(tvm_tree / "build") is relu
    assert get_local_kernel(variant) is relu
    (entry,) = [k for k in get_loaded_kernels() if k.path == variant.resolve()]
    assert entry.module is relu and entry.repo_info is None and entry.metadata.id == metadata.id

    ops_py = relu._ops
    assert ops_py.OPS_NAME == metadata.id
    assert ops_py.torch_add_op_namespace_prefix("relu") == f"{metadata.id}::relu"
    assert ops_py.jax_add_ffi_target_name_prefix("relu") == f"{metadata.id}.relu"
    assert isinstance(ops_py.has_jax, bool)
    assert callable(ops_py.ops.relu_cpu)

    import torch

    with pytest.raises(TypeError, match="float32"):  # the kernel's own checks reach Python
        relu.relu(torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64))


def test_local_kernels_maps_the_repo_to_the_tvm_ffi_tree(tvm_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KERNELS", f"{REPO}={tvm_tree}")
    relu = get_kernel(REPO, version=1)
    _relu_on_torch(relu)
    assert relu is get_local_kernel(tvm_tree)
    assert has_kernel(REPO, version=1)
    decisions = get_kernel_variants(REPO, version=1)
    assert [type(d) for d in decisions] == [VariantAccepted]
    assert decisions[0].variant_str == _variant(tvm_tree).name
    # In a fresh process too (above, the module may come from an earlier load of the same build).
    proc = _python(TORCH_CHECK.format(load=f"kernels.get_kernel({REPO!r}, version=1, backend='cpu')"))
    assert proc.returncode == 0, proc.stdout
    assert f"loaded {relu.__name__} {_variant(tvm_tree) / '__init__.py'}" in proc.stdout


def test_get_kernel_from_the_hub_downloads_and_runs_the_tvm_ffi_variant(hub_server, tvm_tree: Path,
                                                                         tmp_path: Path) -> None:
    hub_server.set_trusted_publisher(ORG)
    upload = tmp_path / "upload"
    shutil.copytree(tvm_tree, upload)
    other = _copy_variant_as(tvm_tree, upload, _other_minor_name(_variant(tvm_tree).name))
    result = upload_tree(upload, repo_id=REPO)
    variant = _variant(tvm_tree).name

    decisions = get_kernel_variants(REPO, version=1)
    assert [(type(d), d.variant_str) for d in decisions] == [(VariantAccepted, variant),
                                                             (VariantRejected, other.name)]
    relu = get_kernel(REPO, version=1)
    _relu_on_torch(relu)
    snapshot = hub_server.cache_dir / f"kernels--{ORG}--relu-tvm-ffi" / "snapshots" / result.commit
    metadata = Metadata.read_from_file(snapshot / "build" / variant / "metadata.json")
    assert (snapshot / "build" / variant / f"{metadata.id}.so").is_file()
    assert not (snapshot / "build" / other.name).exists()  # only the chosen variant is downloaded
    (entry,) = [k for k in get_loaded_kernels() if k.path == (snapshot / "build" / variant).resolve()]
    assert entry.repo_info is not None and entry.repo_info.revision == result.commit

    # A fresh process imports the cached copy itself.
    proc = _python(TORCH_CHECK.format(load=f"kernels.get_kernel({REPO!r}, version=1, backend='cpu')"))
    assert proc.returncode == 0, proc.stdout
    assert f"loaded {metadata.id} {snapshot / 'build' / variant / '__init__.py'}" in proc.stdout


def test_a_variant_for_another_tvm_ffi_version_is_refused_with_the_reason(hub_server, tvm_tree: Path,
                                                                          tmp_path: Path) -> None:
    major, minor = _installed_tvm_ffi()
    name = _other_minor_name(_variant(tvm_tree).name)
    built = ".".join(str(v) for v in parse_variant(name).framework_version)
    reason = f"{name}: built for tvm-ffi {built}, this is tvm-ffi {major}.{minor}"

    _copy_variant_as(tvm_tree, tmp_path / "local", name)
    with pytest.raises(NoCompatibleVariantError) as info:
        get_local_kernel(tmp_path / "local")
    assert reason in str(info.value) and f"tvm-ffi {major}.{minor}" in str(info.value).splitlines()[1]

    hub_server.set_trusted_publisher(ORG)
    upload_tree(tmp_path / "local", repo_id=f"{ORG}/relu-tvm-ffi-other")
    with pytest.raises(FileNotFoundError) as info:
        get_kernel(f"{ORG}/relu-tvm-ffi-other", version=1)
    assert reason in str(info.value)
    assert not has_kernel(f"{ORG}/relu-tvm-ffi-other", version=1)
    assert not (hub_server.cache_dir / f"kernels--{ORG}--relu-tvm-ffi-other").exists()


def test_without_tvm_ffi_every_load_names_the_package_to_install(hub_server, tvm_tree: Path, tmp_path: Path) -> None:
    """In a process where tvm_ffi cannot be imported: a tree, LOCAL_KERNELS and the Hub say the
    variant needs apache-tvm-ffi (the selection's reason); a variant directory given directly is
    refused before its code runs, with the pip command."""
    hub_server.set_trusted_publisher(ORG)
    upload_tree(tvm_tree, repo_id=REPO)
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_TVM_FFI)
    major, minor = _installed_tvm_ffi()
    variant = _variant(tvm_tree)
    code = f"""
        import importlib.util, sys
        from pathlib import Path
        import kernels
        assert importlib.util.find_spec("tvm_ffi") is None
        calls = {{
            "tree": lambda: kernels.get_local_kernel(Path({str(tvm_tree)!r}), backend="cpu"),
            "variant": lambda: kernels.get_local_kernel(Path({str(variant)!r}), backend="cpu"),
            "local_kernels": lambda: kernels.get_kernel("{ORG}/local", version=1, backend="cpu"),
            "hub": lambda: kernels.get_kernel({REPO!r}, version=1, backend="cpu"),
        }}
        for what, call in calls.items():
            try:
                call()
            except Exception as exc:
                print(f"{{what}}: {{type(exc).__name__}}: {{exc}}")
            else:
                print(f"{{what}}: loaded")
        print("tvm_ffi imported:", [m for m in sys.modules if m.startswith("tvm_ffi.")])
    """
    proc = _python(code, env={"PYTHONPATH": f"{hide}{os.pathsep}{SRC}", "LOCAL_KERNELS": f"{ORG}/local={tvm_tree}"})
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    reason = (f"{variant.name}: built for tvm-ffi {major}.{minor}, tvm-ffi is not installed "
              f"(pip install 'apache-tvm-ffi=={major}.{minor}.*')")
    for what in ("tree", "local_kernels", "hub"):
        line = next(line for line in out.splitlines() if line.startswith(f"{what}: "))
        assert line.startswith(f"{what}: NoCompatibleVariantError: "), out
        assert reason in out.split(f"{what}: ", 1)[1], out
    assert (f"variant: MissingPythonDependencyError: {variant}: this tvm-ffi kernel needs the Python package "
            f"'apache-tvm-ffi' {major}.{minor}.x, which is not installed; install it with: pip install "
            f"'apache-tvm-ffi=={major}.{minor}.*'") in out, out
    assert "tvm_ffi imported: []" in out
    assert not (hub_server.cache_dir / f"kernels--{ORG}--relu-tvm-ffi").exists()  # nothing downloaded


def test_gpu_arch_check_of_a_cuda_kernel_needs_no_torch(tmp_path: Path) -> None:
    """A tvm-ffi cuda kernel carries ``backend.archs``; where torch is not installed the arch
    check asks the CUDA runtime (none or no GPU here: nothing to refuse) instead of failing on
    ``import torch``."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text('import sys\nsys.modules["torch"] = None\n')
    code = """
        import dataclasses, sys
        from kernels.local import _cuda_capability_without_torch, check_arch
        from kernels.metadata import BackendInfo, Metadata
        metadata = Metadata(name="relu-tvm-ffi", id="_relu_tvm_ffi_cuda_0123456", version=1, license="MIT",
                            python_depends=(), backend=BackendInfo("cuda", archs=("8.0", "9.0")))
        capability = _cuda_capability_without_torch()
        if capability is not None:  # a GPU: an arch it cannot run is refused
            archs = (f"{capability[0]}.{capability[1]}",)
            check_arch(dataclasses.replace(metadata, backend=BackendInfo("cuda", archs=archs)))
            try:
                check_arch(dataclasses.replace(metadata, backend=BackendInfo("cuda", archs=("1.0a",))))
            except Exception as exc:
                print("refused:", type(exc).__name__, exc)
        else:
            check_arch(metadata)
        print("capability:", capability, "torch imported:", sys.modules.get("torch") is not None)
    """
    proc = _python(code, env={"PYTHONPATH": f"{hide}{os.pathsep}{SRC}"})
    assert proc.returncode == 0, proc.stdout
    assert "torch imported: False" in proc.stdout
    if "capability: None" not in proc.stdout:
        assert "refused: IncompatibleKernelError: kernel 'relu-tvm-ffi' was compiled for CUDA archs 1.0a" in proc.stdout


def test_info_and_versions_cli_list_the_tvm_ffi_variant(hub_server, tvm_tree: Path) -> None:
    hub_server.set_trusted_publisher(ORG)
    upload_tree(tvm_tree, repo_id=REPO)
    variant = _variant(tvm_tree).name
    proc = run([*KERNELS, "versions", REPO], cwd=tvm_tree, check=False)
    assert proc.returncode == 0 and variant in proc.stdout and "Traceback" not in proc.stdout, proc.stdout
    # (--backend cpu: a CUDA torch on a machine without a GPU would select cuda, as the runtime does)
    proc = subprocess.run([*KERNELS, "info", str(tvm_tree), "--json", "--backend", "cpu"], capture_output=True,
                          text=True, env=clean_env(), cwd=tvm_tree)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["name"] == "relu-tvm-ffi" and info["backends"] == ["cpu"] and info["selected"] == variant


# --------------------------------------------------------------------------- without torch


@pytest.fixture(scope="module")
def light_tvm_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the light runtime (``pip install -e <this repo>``, no extras),
    apache-tvm-ffi of the installed major.minor and NumPy, from the package index; no torch."""
    major, minor = _installed_tvm_ffi()
    venv = tmp_path_factory.mktemp("light-tvm") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", str(ROOT),
                           f"apache-tvm-ffi=={major}.{minor}.*", "numpy"], capture_output=True, text=True,
                          env=clean_env(), timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return python


@pytest.mark.slow
def test_light_runtime_loads_and_runs_a_tvm_ffi_kernel_without_torch(light_tvm_venv: Path, tvm_tree: Path,
                                                                     hub_server) -> None:
    hub_server.set_trusted_publisher(ORG)
    upload_tree(tvm_tree, repo_id=REPO)
    code = f"""
        import importlib.util, os, sys
        import numpy as np
        from kernels import get_kernel, get_local_kernel
        assert importlib.util.find_spec("torch") is None, "torch is installed"
        # backend="cpu": without torch, a machine with the CUDA runtime selects cuda variants.
        k = get_local_kernel({str(tvm_tree)!r}, backend="cpu")
        x = np.linspace(-3, 3, 257, dtype=np.float32)
        out = np.empty_like(x)
        assert k.relu(x, out) is out and (out == np.maximum(x, 0)).all(), "wrong result"
        try:
            k.relu(x.astype(np.float64), out.astype(np.float64))
        except TypeError as exc:
            assert "float32" in str(exc), exc
        else:
            raise AssertionError("float64 was accepted")
        os.environ["LOCAL_KERNELS"] = "{ORG}/local={tvm_tree}"
        assert get_kernel("{ORG}/local", version=1, backend="cpu") is k
        hub = get_kernel({REPO!r}, version=1, backend="cpu")
        assert hub is k and hub.relu(x, np.empty_like(x)) is not None
        assert "torch" not in sys.modules, "torch was imported"
        print("ok", k.__name__, k._ops.has_jax)
    """
    proc = _python(code, python=str(light_tvm_venv), pythonpath=None)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith("ok _relu_tvm_ffi_cpu_"), proc.stdout


@pytest.fixture(scope="module")
def jax_tvm_venv(light_tvm_venv: Path) -> Path:
    """:func:`light_tvm_venv` plus jax and jax-tvm-ffi (JAX's bridge to TVM FFI), from the index."""
    proc = subprocess.run([str(light_tvm_venv), "-m", "pip", "install", "--quiet", "jax", "jax-tvm-ffi"],
                          capture_output=True, text=True, env=clean_env(), timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return light_tvm_venv


@pytest.mark.slow
def test_jax_arrays_go_through_the_kernels_jax_ffi_target(jax_tvm_venv: Path, tvm_tree: Path) -> None:
    """The contract's JAX helpers: ``has_jax`` and ``jax_add_ffi_target_name_prefix`` from the
    generated ``_ops.py`` register the kernel's function as a JAX FFI target, called eagerly and
    under ``jax.jit``; no torch anywhere."""
    code = f"""
        import sys
        import jax, jax.numpy as jnp, numpy as np
        from kernels import get_local_kernel
        k = get_local_kernel({str(tvm_tree)!r}, backend="cpu")
        assert k._ops.has_jax, "has_jax is False with jax and jax-tvm-ffi installed"
        x = jnp.linspace(-3, 3, 257, dtype=jnp.float32)
        eager, jitted = k.relu_jax(x), jax.jit(lambda v: k.relu_jax(v * 2))(x)
        assert isinstance(eager, jax.Array)
        assert (np.asarray(eager) == np.maximum(np.asarray(x), 0)).all(), "wrong eager result"
        assert (np.asarray(jitted) == np.maximum(np.asarray(x) * 2, 0)).all(), "wrong jit result"
        assert "torch" not in sys.modules, "torch was imported"
        print("ok", k._ops.jax_add_ffi_target_name_prefix("relu"))
    """
    proc = _python(code, python=str(jax_tvm_venv), pythonpath=None)
    assert proc.returncode == 0, proc.stdout
    assert re.match(r"ok _relu_tvm_ffi_cpu_[0-9a-f]{10}\.relu$", proc.stdout.strip().splitlines()[-1]), proc.stdout


# --------------------------------------------------------------------------- kernels init


def test_init_writes_a_tvm_ffi_kernel(tmp_path: Path) -> None:
    from kernels_build.config import TvmFfi, check_layout, load_build_config

    root = tmp_path / "k"
    files = init_kernel("org/my-kernel", ["cpu", "cuda"], target=root, git=False, framework="tvm-ffi")
    config = load_build_config(root)
    assert isinstance(config.framework, TvmFfi) and config.general.backends == ("cpu", "cuda")
    check_layout(config)  # every listed source exists, tvm-ffi-ext/my_kernel is the package
    rel = {p.relative_to(root).as_posix() for p in files}
    assert rel == {
        ".gitattributes", ".gitignore", "CARD.md", "benchmarks/benchmark.py", "build.toml", "example.py",
        "my_kernel_common.h", "my_kernel_cpu/my_kernel_cpu.cpp", "my_kernel_cuda/my_kernel.cu", "pyproject.toml",
        "tests/__init__.py", "tests/test_my_kernel.py", "tvm-ffi-ext/my_kernel/__init__.py",
        "tvm-ffi-ext/tvm_ffi_binding.cpp",
    }
    for path in files:
        text = path.read_text()
        assert "@@" not in text and "__module__" not in str(path)
        if path.name in ("__init__.py", "tvm_ffi_binding.cpp", "my_kernel_common.h", "my_kernel_cpu.cpp"):
            assert "import torch" not in text and "#include <torch" not in text and "<ATen" not in text, path
        if path.suffix == ".py":
            compile(text, str(path), "exec")
    binding = (root / "tvm-ffi-ext" / "tvm_ffi_binding.cpp").read_text()
    assert "TVM_FFI_DLL_EXPORT_TYPED_FUNC(relu_cpu, relu_cpu)" in binding
    assert "{{ repo_id }}" in (root / "CARD.md").read_text()
    proc = run([*KERNELS, "check-config", str(root)], cwd=tmp_path)
    assert f"{root / 'build.toml'}: ok (my-kernel v1; backends cpu, cuda" in proc.stdout, proc.stdout

    cpu_only = init_kernel("org/other-kernel", ["cpu"], target=tmp_path / "c", git=False, framework="tvm-ffi")
    assert not [p for p in cpu_only if "_cuda" in p.as_posix()]
    assert load_build_config(tmp_path / "c").general.backends == ("cpu",)
    init_kernel("org/all-kernel", ["all"], target=tmp_path / "a", git=False, framework="tvm-ffi")
    assert load_build_config(tmp_path / "a").general.backends == ("cpu", "cuda")


def test_init_refuses_an_unknown_framework_and_backends_tvm_ffi_lacks(tmp_path: Path) -> None:
    with pytest.raises(AuthoringError, match="unknown --framework 'jax': choose torch"):
        init_kernel("org/my-kernel", ["cpu"], target=tmp_path / "k", git=False, framework="jax")
    with pytest.raises(AuthoringError, match="backend.s. metal are not built for tvm-ffi kernels"):
        init_kernel("org/my-kernel", ["cpu", "metal"], target=tmp_path / "k", git=False, framework="tvm-ffi")
    assert not (tmp_path / "k").exists()

    proc = run([*KERNELS, "init", "--name", "org/my-kernel", "--framework", "jax", "fresh"], cwd=tmp_path,
               check=False)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines() == [
        "kernels init: error: unknown --framework 'jax': choose torch (default) or tvm-ffi"]
    # The framework is checked before the owner is looked up on the Hub (no --name ORG/ here).
    proc = run([*KERNELS, "init", "--framework", "Torch", "fresh"], cwd=tmp_path, check=False,
               env={"HF_TOKEN": "", "HF_HOME": str(tmp_path / "empty-hf-home"), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 1 and "unknown --framework 'Torch'" in proc.stdout, proc.stdout
    proc = run([*KERNELS, "init", "--name", "org/my-kernel", "--framework", "tvm-ffi", "--backends", "xpu", "fresh"],
               cwd=tmp_path, check=False)
    assert proc.returncode == 1 and len(proc.stdout.strip().splitlines()) == 1, proc.stdout
    assert "--framework tvm-ffi: backend(s) xpu are not built for tvm-ffi kernels; choose from cpu, cuda" in proc.stdout
    assert not (tmp_path / "fresh").exists() and "Traceback" not in proc.stdout


@pytest.mark.slow
def test_generated_tvm_ffi_kernel_builds_installs_and_passes_its_tests(tmp_path: Path) -> None:
    run([*KERNELS, "init", "--name", "my-org/my-relu", "--framework", "tvm-ffi", "--backends", "cpu", "cuda",
         "my-relu"], cwd=tmp_path)
    repo = tmp_path / "my-relu"
    pip_wheel(repo, repo / "dist", ["kernels.backend=cpu"])
    wheel = only_wheel(repo / "dist")
    assert wheel.name.startswith("my_relu-1.0.0+tvmffi") and "cpu" in wheel.name, wheel.name

    target = install_target(wheel, tmp_path / "target")
    proc = run([sys.executable, "-c", textwrap.dedent("""
        import torch, my_relu
        x = torch.linspace(-2, 2, 1001)
        out = torch.empty_like(x)
        assert my_relu.relu(x, out) is out and torch.equal(out, torch.relu(x))
        print("ok", my_relu._ops.OPS_NAME)
    """)], cwd=tmp_path, env={"PYTHONPATH": str(target)})
    assert "ok _my_relu_cpu_" in proc.stdout

    run([*KERNELS, "from-wheel", str(wheel), "-o", "."], cwd=repo)
    local = {"LOCAL_KERNELS": f"my-org/my-relu={repo}"}
    result = run([sys.executable, "-m", "pytest", "tests", "-m", "kernels_ci", "-p", "no:cacheprovider", "-v"],
                 cwd=repo, env=local)
    assert " failed" not in result.stdout and ("6 passed" in result.stdout or "5 passed, 1 skipped" in result.stdout), \
        result.stdout
    assert "output:" in run([sys.executable, "example.py"], cwd=repo, env=local).stdout


# --------------------------------------------------------------------------- interop


def existing_builder_layout(variant_dir: Path, destination: Path) -> Path:
    """Rewrite a copy of one of our tvm-ffi variants into the form the existing builder gives
    them: its ``_ops.py`` (only ``ops``, loading ``<OPS>.so``/``.dylib``/``.dll`` by platform)
    and its ``metadata.json`` (name, id, version, license, python-depends, backend type: no
    kernel-depends, digest or provenance). Returns ``destination/build/<variant>/``."""
    target = destination / "build" / variant_dir.name
    shutil.copytree(variant_dir, target)
    ours = json.loads((target / "metadata.json").read_text())
    (target / "metadata.json.sigstore").unlink(missing_ok=True)
    theirs = {"name": ours["name"], "id": ours["id"], "version": ours["version"], "license": ours["license"],
              "python-depends": ours.get("python-depends", []), "backend": {"type": ours["backend"]["type"]}}
    (target / "metadata.json").write_text(json.dumps(theirs, indent=2) + "\n")
    (target / "_ops.py").write_text(textwrap.dedent(f"""\
        import platform
        from pathlib import Path

        import tvm_ffi

        _LIBRARY_SUFFIX = {{"Darwin": ".dylib", "Windows": ".dll"}}.get(platform.system(), ".so")
        ops = tvm_ffi.load_module(str(Path(__file__).parent / ("{ours['id']}" + _LIBRARY_SUFFIX)))
    """))
    return target


def test_our_runtime_loads_the_existing_builders_tvm_ffi_layout(tvm_tree: Path, tmp_path: Path) -> None:
    variant = existing_builder_layout(_variant(tvm_tree), tmp_path / "theirs")
    metadata = json.loads((variant / "metadata.json").read_text())
    assert "digest" not in metadata and "kernel-depends" not in metadata
    check = TORCH_CHECK + "assert not hasattr(k._ops, 'OPS_NAME') and k.__name__ == {id!r}\n"
    for load in (f"kernels.get_local_kernel(Path({str(tmp_path / 'theirs')!r}), backend='cpu')",
                 f"kernels.get_local_kernel(Path({str(variant)!r}), backend='cpu')",
                 "kernels.get_kernel('theirs/relu-tvm-ffi', version=1, backend='cpu')"):
        proc = _python(check.format(load=load, id=metadata["id"]),
                       env={"LOCAL_KERNELS": f"theirs/relu-tvm-ffi={tmp_path / 'theirs'}"})
        assert proc.returncode == 0, (load, proc.stdout)
        assert f"loaded {metadata['id']} {variant / '__init__.py'}" in proc.stdout


@pytest.fixture(scope="module")
def released_tvm_python(released_python: Path) -> Path:
    """The released kernels 0.17.2 venv (with torch), plus apache-tvm-ffi of the installed
    major.minor."""
    major, minor = _installed_tvm_ffi()
    proc = subprocess.run([str(released_python), "-m", "pip", "install", "-q", f"apache-tvm-ffi=={major}.{minor}.*"],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"could not install apache-tvm-ffi:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return released_python


def _released(python: Path, code: str, env: Optional[Dict[str, str]] = None) -> str:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PYTHONPATH", None)
    # kernels 0.17.2 with HF_HUB_DISABLE_TELEMETRY set builds a user agent ending in "; ",
    # which current HTTP clients reject (its bug; see tests/test_interop.py).
    full_env.pop("HF_HUB_DISABLE_TELEMETRY", None)
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=full_env, cwd="/",
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


@pytest.mark.slow
@pytest.mark.interop
def test_released_kernels_loads_our_tvm_ffi_tree(released_tvm_python: Path, tvm_tree: Path, hub_server,
                                                 tmp_path: Path) -> None:
    variant = _variant(tvm_tree)
    kid = Metadata.read_from_file(variant / "metadata.json").id
    out = _released(released_tvm_python, TORCH_CHECK.format(load=f"kernels.get_local_kernel(Path({str(tvm_tree)!r}))"))
    assert f"loaded {kid} " in out
    out = _released(released_tvm_python, TORCH_CHECK.format(load=f"kernels.get_kernel({REPO!r}, version=1)"),
                    env={"LOCAL_KERNELS": f"{REPO}={tvm_tree}"})
    assert f"loaded {kid} " in out

    hub_server.set_trusted_publisher(ORG, True)
    upload_tree(tvm_tree, repo_id=REPO)
    env = {"HF_ENDPOINT": hub_server.url, "HF_TOKEN": hub_server.token, "HF_HUB_CACHE": str(tmp_path / "cache"),
           "HF_HOME": str(tmp_path / "home"), "HF_HUB_DISABLE_XET": "1"}
    out = _released(released_tvm_python, TORCH_CHECK.format(load=f"kernels.get_kernel({REPO!r}, version=1)"), env)
    assert f"loaded {kid} " in out and f"kernels--{ORG}--relu-tvm-ffi/snapshots/" in out  # from its cache

    # The existing builder's layout, as our runtime loads it above, loads in 0.17.2 too.
    theirs = existing_builder_layout(variant, tmp_path / "theirs")
    out = _released(released_tvm_python,
                    TORCH_CHECK.format(load=f"kernels.get_local_kernel(Path({str(tmp_path / 'theirs')!r}))"))
    assert f"loaded {kid} {theirs / '__init__.py'}" in out
