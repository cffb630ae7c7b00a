"""Loading kernels: ``get_local_kernel``, ``get_kernel`` (local Hub server, real client over
HTTP), variant selection, trust, offline mode, the cache, and the import rules.

The real kernel is the CPU build of examples/relu (session fixture ``relu_cpu_wheel``, turned
into a Hub tree with ``kernels.convert.from_wheel``); a second real build, side by side, is
the noarch silu-and-mul. Everything else uses small pure-Python kernels written here. A
compiled build registers its op namespace once per process, so loading it under a new name
(the older nested layout) happens in a subprocess; offline mode too, because huggingface_hub
reads ``HF_HUB_OFFLINE`` at import.

The environment is pinned to the CPU backend (autouse fixture), so the tests mean the same on
a machine with a GPU.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Dict, Optional

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

from kernels import (  # noqa: E402
    LoadedKernel,
    Metadata,
    RepoInfo,
    VariantAccepted,
    VariantRejected,
    get_kernel,
    get_kernel_dep,
    get_kernel_variants,
    get_loaded_kernels,
    get_local_kernel,
    has_kernel,
    install_kernel,
)
from kernels import hub  # noqa: E402
from kernels import load as load_module  # noqa: E402
from kernels.convert import from_wheel  # noqa: E402
from kernels.errors import (  # noqa: E402
    IncompatibleKernelError,
    KernelNotCachedError,
    MissingPythonDependencyError,
    NoCompatibleVariantError,
    UntrustedKernelError,
)
from kernels.local import cuda_arch_fits  # noqa: E402
from kernels.metadata import BackendInfo  # noqa: E402
from kernels.upload import upload_tree  # noqa: E402
from kernels.variants import host_cpu, host_os  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

SRC = Path(__file__).resolve().parents[1] / "src"
ORG = "kernels-test"


# --------------------------------------------------------------------------- helpers


#: Variants are judged as on a CPU-only machine (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("cpu_only_environment")


@pytest.fixture(scope="module")
def relu_tree(relu_cpu_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/build/<torch variant>/`` of the relu CPU wheel."""
    root = tmp_path_factory.mktemp("relu-tree")
    from_wheel([relu_cpu_wheel], root)
    return root


@pytest.fixture(scope="module")
def silu_tree(silu_noarch_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/build/torch-cpu/`` of the noarch silu-and-mul wheel."""
    root = tmp_path_factory.mktemp("silu-tree")
    from_wheel([silu_noarch_wheel], root)
    return root


def _variant(tree: Path) -> Path:
    (variant,) = [p for p in (tree / "build").iterdir() if p.is_dir()]
    return variant


def fake_kernel(root: Path, variant: str = "torch-cpu", *, name: str = "fake", version: int = 1,
                backend: str = "cpu", files: Optional[Dict[str, str]] = None, **meta) -> Path:
    """A pure-Python kernel variant ``root/build/<variant>/`` with a fresh unique id."""
    directory = root / "build" / variant
    directory.mkdir(parents=True)
    for rel, text in (files or {"__init__.py": "VALUE = 42\n"}).items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_text(textwrap.dedent(text))
    kid = f"_{name.replace('-', '_')}_{backend}_{uuid.uuid4().hex[:10]}"
    Metadata(name=name, id=kid, version=version, license="MIT", python_depends=meta.pop("python_depends", ()),
             backend=BackendInfo(backend), **meta).write_to_file(directory / "metadata.json")
    return directory


def _arch_variant(torch_minor: str = "212") -> str:
    return f"torch{torch_minor}-cxx11-cpu-{host_cpu()}-{host_os()}"


def _python(code: str, env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(SRC)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)


def _relu_works(module) -> None:
    import torch

    assert module.relu(torch.tensor([-1.0, 0.5, 2.0])).tolist() == [0.0, 0.5, 2.0]


# --------------------------------------------------------------------------- local kernels


def test_import_kernels_is_cheap() -> None:
    result = _python("import sys, kernels; print(sorted({'torch', 'huggingface_hub'} & set(sys.modules)))")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_get_local_kernel_root_build_variant_and_old_signature(relu_tree: Path) -> None:
    variant = _variant(relu_tree)
    metadata = Metadata.read_from_file(variant / "metadata.json")
    loaded_before = sys.modules.get(metadata.id)  # by an earlier test of this process, if any
    relu = get_local_kernel(relu_tree)
    _relu_works(relu)
    assert relu.__name__ == metadata.id and sys.modules[metadata.id] is relu
    if loaded_before is None:
        assert Path(relu.__file__).parent == variant
    else:  # one build id, one module per process: the earlier one is returned
        assert relu is loaded_before
    assert "relu" not in sys.modules  # imported from its path, not as the package name
    assert get_local_kernel(relu_tree / "build") is relu
    assert get_local_kernel(variant) is relu
    assert get_local_kernel(str(relu_tree), "relu") is relu  # older positional package_name
    assert get_local_kernel(relu_tree, backend="cpu") is relu
    (entry,) = [k for k in get_loaded_kernels() if k.path == variant.resolve()]
    assert isinstance(entry, LoadedKernel) and entry.module is relu and entry.repo_info is None
    assert entry.metadata == metadata
    assert not list(relu_tree.rglob("__pycache__"))  # no bytecode written into the tree


def test_same_build_from_two_directories_is_one_module(relu_tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(relu_tree, copy)
    first = get_local_kernel(relu_tree)
    second = get_local_kernel(copy)
    assert second is first
    paths = {k.path for k in get_loaded_kernels() if k.module is first}
    assert {_variant(relu_tree).resolve(), _variant(copy).resolve()} <= paths


def test_two_builds_side_by_side(relu_tree: Path, silu_tree: Path) -> None:
    import torch

    relu = get_local_kernel(relu_tree)
    silu = get_local_kernel(silu_tree)
    assert relu is not silu and relu.__name__ != silu.__name__
    assert sys.modules[relu.__name__] is relu and sys.modules[silu.__name__] is silu
    _relu_works(relu)
    x = torch.randn(3, 8)
    torch.testing.assert_close(silu.silu_and_mul(x), torch.nn.functional.silu(x[:, :4]) * x[:, 4:])
    assert silu.layers.__name__ == f"{silu.__name__}.layers"  # relative import inside the kernel


def test_older_nested_layout_runs_relu(relu_tree: Path, tmp_path: Path) -> None:
    """``build/<variant>/relu/__init__.py`` with metadata.json one level up (in a fresh process:
    the compiled ops may be registered once per process)."""
    variant = _variant(relu_tree)
    old = tmp_path / "old" / "build" / variant.name
    shutil.copytree(variant, old / "relu", ignore=shutil.ignore_patterns("metadata.json"))
    shutil.copy(variant / "metadata.json", old / "metadata.json")
    result = _python(f"""
        import sys, torch, kernels
        relu = kernels.get_local_kernel({str(tmp_path / 'old')!r}, backend="cpu")
        assert relu.__file__.endswith("/relu/__init__.py"), relu.__file__
        assert sys.modules[relu.__name__] is relu
        print(relu.relu(torch.tensor([-1.0, 2.0])).tolist())
    """)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[0.0, 2.0]"


def test_relative_imports_and_failed_import_is_unregistered(tmp_path: Path) -> None:
    files = {
        "__init__.py": "from ._helper import VALUE\nfrom .sub import twice\nimport os\n"
                       "if os.environ.get('FAKE_FAIL'):\n    raise RuntimeError('boom')\n",
        "_helper.py": "VALUE = 21\n",
        "sub/__init__.py": "from .._helper import VALUE\ndef twice():\n    return 2 * VALUE\n",
    }
    variant = fake_kernel(tmp_path / "k", files=files)
    kid = Metadata.read_from_file(variant / "metadata.json").id
    os.environ["FAKE_FAIL"] = "1"
    try:
        with pytest.raises(RuntimeError, match="boom"):
            get_local_kernel(variant)
    finally:
        del os.environ["FAKE_FAIL"]
    assert not [m for m in sys.modules if m == kid or m.startswith(kid + ".")]
    module = get_local_kernel(tmp_path / "k")  # a failed import is not cached: this one runs
    assert module.__name__ == kid and module.twice() == 42 and module.sub.__name__ == f"{kid}.sub"


def test_no_compatible_local_variant_lists_reasons(tmp_path: Path) -> None:
    fake_kernel(tmp_path / "k", "torch-cuda", backend="cuda")
    fake_kernel(tmp_path / "k", _arch_variant())
    (tmp_path / "k" / "build" / "notes").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        get_local_kernel(tmp_path / "k")
    message = str(info.value)
    assert isinstance(info.value, NoCompatibleVariantError)
    assert "torch-cuda: noarch variant for cuda, selected backend is cpu" in message
    assert f"{_arch_variant()}: built for torch 2.12" in message
    assert "notes: no metadata.json" in message
    with pytest.raises(ValueError, match="invalid backend"):
        get_local_kernel(tmp_path / "k", backend="rocm")


def test_python_depends_checked_before_import(tmp_path: Path) -> None:
    unknown = fake_kernel(tmp_path / "a", python_depends=("left-pad",),
                          files={"__init__.py": "raise AssertionError('must not run')\n"})
    with pytest.raises(ValueError, match="unknown Python dependency 'left-pad'"):
        get_local_kernel(unknown)
    missing = fake_kernel(tmp_path / "b", python_depends=("nki",),
                          files={"__init__.py": "raise AssertionError('must not run')\n"})
    with pytest.raises(ImportError, match="pip install nki") as info:
        get_local_kernel(missing)
    assert isinstance(info.value, MissingPythonDependencyError)


def test_kernels_minver_and_dirty_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(RuntimeError, match="needs kernels >= 99.0") as info:
        get_local_kernel(fake_kernel(tmp_path / "a", kernels_minver="99.0"))
    assert isinstance(info.value, IncompatibleKernelError)
    dirty = {"kernel": {"commit": "a" * 40, "dirty": True}}
    with caplog.at_level(logging.WARNING, logger="kernels"):
        assert get_local_kernel(fake_kernel(tmp_path / "b", kernels_minver="0.1", provenance=dirty)).VALUE == 42
    assert "uncommitted changes" in caplog.text


def test_cuda_arch_rules() -> None:
    assert cuda_arch_fits(["8.0", "9.0"], (8, 6))
    assert not cuda_arch_fits(["8.0", "9.0"], (10, 0))
    assert cuda_arch_fits(["9.0a"], (9, 0)) and not cuda_arch_fits(["9.0a"], (9, 1))
    assert cuda_arch_fits(["10.0f"], (10, 3)) and not cuda_arch_fits(["10.0f"], (12, 0))
    assert cuda_arch_fits(["8.0+PTX"], (12, 0)) and not cuda_arch_fits(["8.0+PTX"], (7, 5))
    assert cuda_arch_fits(["sm_whatever"], (7, 0))


def test_version_and_revision_arguments() -> None:
    with pytest.raises(ValueError, match="not both"):
        get_kernel(f"{ORG}/relu", version=1, revision="v1")
    with pytest.raises(ValueError, match="give version="):
        get_kernel(f"{ORG}/relu")
    for call in (has_kernel, install_kernel, get_kernel_variants):
        with pytest.raises(ValueError):
            call(f"{ORG}/relu")


def test_local_kernels_overrides_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_kernel(tmp_path / "mine", files={"__init__.py": "WHERE = 'local'\n"})
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: no request may succeed
    monkeypatch.setenv("LOCAL_KERNELS", f"other/x=/nonexistent:{ORG}/mine={tmp_path / 'mine'}")
    module = get_kernel(f"{ORG}/mine", version=7)  # the version is ignored for local entries
    assert module.WHERE == "local"
    assert has_kernel(f"{ORG}/mine", version=1)
    assert install_kernel(f"{ORG}/mine", version=1) == tmp_path / "mine" / "build" / "torch-cpu"
    assert [d.variant_str for d in get_kernel_variants(f"{ORG}/mine", version=1)] == ["torch-cpu"]
    assert [k.repo_info for k in get_loaded_kernels() if k.module is module] == [None]
    monkeypatch.setenv("LOCAL_KERNELS", f"{ORG}/mine")
    with pytest.raises(ValueError, match="LOCAL_KERNELS"):
        get_kernel(f"{ORG}/mine", version=1)
    # a path that is not there: the error says LOCAL_KERNELS named it
    monkeypatch.setenv("LOCAL_KERNELS", f"{ORG}/mine={tmp_path / 'nowhere'}")
    with pytest.raises(FileNotFoundError, match=rf"nowhere: no such kernel directory \(LOCAL_KERNELS maps {ORG}/mine"):
        get_kernel(f"{ORG}/mine", version=1)


def test_kernel_depends_and_get_kernel_dep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_kernel(tmp_path / "base", name="base", files={"__init__.py": "def scale(x):\n    return 3 * x\n"})
    fake_kernel(tmp_path / "top", name="top", kernel_depends=({"repo-id": "dep/base", "version": 1},), files={
        "__init__.py": """
            from kernels import get_kernel_dep
            base = get_kernel_dep("dep/base")
            def run(x):
                return base.scale(x) + 1
        """})
    monkeypatch.setenv("LOCAL_KERNELS", f"dep/base={tmp_path / 'base'}:dep/top={tmp_path / 'top'}")
    assert get_kernel("dep/top", version=1).run(2) == 7
    with pytest.raises(RuntimeError, match="while a kernel is being imported"):
        get_kernel_dep("dep/base")
    fake_kernel(tmp_path / "c1", name="c1", kernel_depends=({"repo-id": "cyc/c2", "version": 1},))
    fake_kernel(tmp_path / "c2", name="c2", kernel_depends=({"repo-id": "cyc/c1", "revision": "main"},))
    monkeypatch.setenv("LOCAL_KERNELS", f"cyc/c1={tmp_path / 'c1'}:cyc/c2={tmp_path / 'c2'}")
    with pytest.raises(ValueError, match="cycle: cyc/c1 -> cyc/c2 -> cyc/c1"):
        get_kernel("cyc/c1", version=1)


# --------------------------------------------------------------------------- the Hub


@pytest.fixture
def relu_repo(hub_server, relu_tree: Path, tmp_path: Path):
    """``kernels-test/relu`` on the server (trusted publisher), branch v1: the relu CPU variant
    plus a fake ``torch-cuda`` variant this (CPU) environment must not download."""
    hub_server.set_trusted_publisher(ORG)
    tree = tmp_path / "upload"
    shutil.copytree(relu_tree, tree)
    fake_kernel(tree, "torch-cuda", name="relu", backend="cuda", files={"__init__.py": "raise ImportError\n",
                                                                         "big.bin": "x" * 1000})
    result = upload_tree(tree, repo_id=f"{ORG}/relu")
    assert result.branch == "v1"
    return result


def test_get_kernel_downloads_only_the_chosen_variant(hub_server, relu_repo, relu_tree: Path) -> None:
    variant = _variant(relu_tree).name
    relu = get_kernel(f"{ORG}/relu", version=1)
    _relu_works(relu)
    cache = hub_server.cache_dir / f"kernels--{ORG}--relu"
    snapshot = cache / "snapshots" / relu_repo.commit
    assert (snapshot / "build" / variant / "metadata.json").is_file()
    assert not list(cache.rglob("torch-cuda")) and not list(cache.rglob("big.bin"))
    assert not hub_server.request_log.matching(contains="torch-cuda")
    assert (cache / "refs" / "v1").read_text() == relu_repo.commit
    (entry,) = [k for k in get_loaded_kernels() if k.path == (snapshot / "build" / variant).resolve()]
    assert entry.repo_info == RepoInfo(f"{ORG}/relu", relu_repo.commit) and entry.module is relu
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.repo_info.revision = "main"  # type: ignore[misc]

    assert get_kernel(f"{ORG}/relu", revision=relu_repo.commit) is relu
    hub_server.request_log.clear()
    assert get_kernel(f"{ORG}/relu", revision=relu_repo.commit) is relu  # warm and pinned
    assert list(hub_server.request_log) == []
    assert install_kernel(f"{ORG}/relu", revision=relu_repo.commit) == snapshot / "build" / variant
    assert list(hub_server.request_log) == []

    assert has_kernel(f"{ORG}/relu", version=1)
    decisions = get_kernel_variants(f"{ORG}/relu", version=1)
    assert [type(d) for d in decisions] == [VariantAccepted, VariantRejected]
    assert [d.variant_str for d in decisions] == [variant, "torch-cuda"]
    with pytest.raises(ValueError, match="no version 2.*v1"):
        get_kernel(f"{ORG}/relu", version=2)


def test_a_cold_load_resolves_the_version_once_and_lists_the_commit_once(hub_server, tmp_path: Path) -> None:
    """A cold ``version=`` load: the refs say which commit ``v1`` is, one recursive listing of
    that commit gives the variants and the chosen one's files, and every file is fetched at the
    commit (never through the branch again), without importing huggingface_hub's HfApi module."""
    hub_server.set_trusted_publisher(ORG)
    fake_kernel(tmp_path / "k", name="coldpath", files={"__init__.py": "from .helper import X\nVALUE = X\n",
                                                         "helper.py": "X = 5\n", "data/notes.txt": "n\n"})
    fake_kernel(tmp_path / "k", "torch-cuda", name="coldpath", backend="cuda")
    commit = upload_tree(tmp_path / "k", repo_id=f"{ORG}/coldpath").commit
    hub_server.request_log.clear()
    result = _python(f"""
        import sys, kernels
        print("VALUE", kernels.get_kernel("{ORG}/coldpath", version=1, backend="cpu").VALUE)
        print("HFAPI", "huggingface_hub.hf_api" in sys.modules)
    """)
    assert result.returncode == 0 and "VALUE 5" in result.stdout and "HFAPI False" in result.stdout, result.stdout
    log = list(hub_server.request_log)
    api = [p for _, p in log if p.startswith("/api/") and "/overview" not in p and "agent-harnesses" not in p]
    assert api == [f"/api/kernels/{ORG}/coldpath/refs", f"/api/kernels/{ORG}/coldpath/tree/{commit}"], log
    files = [(m, p) for m, p in log if "/resolve/" in p and "kernel-status.toml" not in p]
    assert files and all(p.startswith(f"/kernels/{ORG}/coldpath/resolve/{commit}/build/torch-cpu/") for _, p in files)
    # One GET per file: the listing already said each file's object id and size (no HEAD).
    assert sorted(p.rsplit("/torch-cpu/", 1)[1] for m, p in files) == [
        "__init__.py", "data/notes.txt", "helper.py", "metadata.json"], files
    assert {m for m, _ in files} == {"GET"}
    cache = hub_server.cache_dir / f"kernels--{ORG}--coldpath"
    snapshot = cache / "snapshots" / commit
    assert (cache / "refs" / "v1").read_text() == commit
    assert hub.cached_variant_listing(snapshot) == ["torch-cpu", "torch-cuda"]
    listing = hub.cached_tree(snapshot)
    for rel in ("__init__.py", "data/notes.txt", "helper.py", "metadata.json"):
        link = snapshot / "build" / "torch-cpu" / rel
        info = listing[f"build/torch-cpu/{rel}"]
        # filed as hf_hub_download files it: a relative link to blobs/<object id>
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        assert link.resolve() == (cache / "blobs" / (info.get("lfs_sha256") or info["blob_id"])).resolve()
    assert not list((cache / "blobs").glob("*.incomplete"))
    assert load_module.integrity.verify_cached_variant(snapshot / "build" / "torch-cpu", hub.cache_root()) == {}
    hub_server.request_log.clear()
    pinned = _python(f"import kernels; print('VALUE', kernels.get_kernel('{ORG}/coldpath', revision='{commit}', "
                     "backend='cpu').VALUE)")
    assert "VALUE 5" in pinned.stdout and list(hub_server.request_log) == [], (pinned.stdout, hub_server.request_log)


def test_offline_mode_uses_the_cache(hub_server, relu_repo, tmp_path: Path) -> None:
    get_kernel(f"{ORG}/relu", version=1)  # warm the cache
    hub_server.request_log.clear()
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    result = _python(f"""
        import os, torch, kernels
        relu = kernels.get_kernel("{ORG}/relu", version=1, backend="cpu")
        print(relu.relu(torch.tensor([-3.0, 3.0])).tolist())
        assert kernels.get_kernel("{ORG}/relu", revision="v1", backend="cpu") is relu
        os.environ["KERNELS_CACHE"] = {str(empty)!r}
        try:
            kernels.get_kernel("{ORG}/relu", version=1, backend="cpu")
        except FileNotFoundError as exc:
            print("ERROR", type(exc).__name__, exc)
    """, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout
    assert "[0.0, 3.0]" in result.stdout  # the online load remembered that the publisher is trusted
    assert "UntrustedKernelError" not in result.stdout
    error = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert error and "KernelNotCachedError" in error[0]
    assert "kernels download" in error[0] and "LOCAL_KERNELS" in error[0] and "network" in error[0]
    assert list(hub_server.request_log) == []


def test_untrusted_publisher_needs_trust_remote_code(hub_server, tmp_path: Path) -> None:
    fake_kernel(tmp_path / "k", name="shady", files={"__init__.py": "VALUE = 'ran'\n"})
    upload_tree(tmp_path / "k", repo_id="someone/shady")
    with pytest.raises(ValueError, match="trust_remote_code") as info:
        get_kernel("someone/shady", version=1)
    assert isinstance(info.value, UntrustedKernelError)
    # nothing downloaded (the redirect check reads kernel-status.toml on main first: trust is
    # judged for the repository the kernel would come from)
    assert [r for r in hub_server.request_log.matching(contains="/resolve/") if "kernel-status.toml" not in r[1]] == []
    with pytest.raises(UntrustedKernelError):  # as in kernels 0.17.2 (a ValueError)
        has_kernel("someone/shady", version=1)
    assert has_kernel("someone/shady", version=1, trust_remote_code=True)
    assert get_kernel("someone/shady", version=1, trust_remote_code=["someone/shady"]).VALUE == "ran"
    assert get_kernel("someone/shady", version=1, trust_remote_code=True).VALUE == "ran"


def test_offline_untrusted_kernel_in_the_cache_is_not_run(hub_server, tmp_path: Path) -> None:
    """Files cached by a download that imported nothing (snapshot_download, hf download) do not
    make an untrusted kernel loadable offline; an explicit opt-in does."""
    from huggingface_hub import snapshot_download

    marker = tmp_path / "ran"
    fake_kernel(tmp_path / "k", name="shady2",
                files={"__init__.py": f"open({str(marker)!r}, 'w').write('x')\nVALUE = 'ran'\n"})
    upload_tree(tmp_path / "k", repo_id="someone/shady2")
    snapshot_download("someone/shady2", repo_type="kernel", revision="v1", endpoint=hub_server.url,
                      cache_dir=hub_server.cache_dir)
    code = """
        import kernels
        from kernels.errors import UntrustedKernelError
        try:
            kernels.get_kernel("someone/shady2", version=1)
        except UntrustedKernelError as exc:
            print("REFUSED", exc)
        print("OPT-IN", kernels.get_kernel("someone/shady2", version=1, trust_remote_code=["someone/shady2"]).VALUE)
    """
    result = _python(code, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout
    refused = [line for line in result.stdout.splitlines() if line.startswith("REFUSED")]
    assert refused and "offline" in refused[0] and "trust_remote_code=['someone/shady2']" in refused[0], result.stdout
    assert "OPT-IN ran" in result.stdout
    # The refused call ran nothing: the marker was written only by the opted-in import.
    assert marker.read_text() == "x"


def test_offline_trusted_publisher_is_remembered_from_an_earlier_answer(hub_server, tmp_path: Path) -> None:
    hub_server.set_trusted_publisher("kind-org")
    fake_kernel(tmp_path / "k", name="kind")
    upload_tree(tmp_path / "k", repo_id="kind-org/kind")
    from huggingface_hub import snapshot_download

    snapshot_download("kind-org/kind", repo_type="kernel", revision="v1", endpoint=hub_server.url,
                      cache_dir=hub_server.cache_dir)
    code = 'import kernels; print("VALUE", kernels.get_kernel("kind-org/kind", version=1).VALUE)'
    # Never asked online: refused offline, naming the Hub whose answer would count.
    refused = _python(code, env={"HF_HUB_OFFLINE": "1"}).stdout
    assert "UntrustedKernelError" in refused and f"no earlier answer of this Hub ({hub_server.url})" in refused
    assert hub.is_trusted_publisher("kind-org")  # asked once online (kernels lock/download do this)
    assert "VALUE 42" in _python(code, env={"HF_HUB_OFFLINE": "1"}).stdout
    # The answer belongs to that Hub: another endpoint's offline load does not go by it.
    other = _python(code, env={"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}).stdout
    assert "UntrustedKernelError" in other and "http://127.0.0.1:9" in other


def test_no_compatible_hub_variant_lists_every_reason(hub_server, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    hub_server.set_trusted_publisher("gpu-org")
    fake_kernel(tmp_path / "v1", "torch-cuda", name="gpuonly", backend="cuda")
    fake_kernel(tmp_path / "v1", _arch_variant(), name="gpuonly")
    upload_tree(tmp_path / "v1", repo_id="gpu-org/gpuonly")
    fake_kernel(tmp_path / "v2", "torch-universal", name="gpuonly", version=2)
    upload_tree(tmp_path / "v2", repo_id="gpu-org/gpuonly")
    with pytest.raises(FileNotFoundError) as info:
        get_kernel("gpu-org/gpuonly", version=1)
    message = str(info.value)
    assert "gpu-org/gpuonly (v1) has no build variant" in message
    assert "torch-cuda: noarch variant for cuda, selected backend is cpu" in message
    assert f"{_arch_variant()}: built for torch 2.12" in message
    assert "hint: version 2 has a compatible variant (torch-universal)" in message
    assert not has_kernel("gpu-org/gpuonly", version=1)
    assert all(isinstance(d, VariantRejected) for d in get_kernel_variants("gpu-org/gpuonly", version=1))
    assert not (hub_server.cache_dir / "kernels--gpu-org--gpuonly").exists()  # nothing downloaded
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kernels"):
        assert get_kernel("gpu-org/gpuonly", version=2).VALUE == 42
        assert get_kernel("gpu-org/gpuonly", revision="v2").VALUE == 42
    assert "is available" not in caplog.text
    fake_kernel(tmp_path / "v1b", "torch-universal", name="gpuonly")
    upload_tree(tmp_path / "v1b", repo_id="gpu-org/gpuonly")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kernels"):
        get_kernel("gpu-org/gpuonly", version=1)
    assert [r.levelname for r in caplog.records if "version 2 is available" in r.getMessage()] == ["WARNING"]


def test_offline_without_cache_via_local_files_only(hub_server, tmp_path: Path) -> None:
    hub_server.set_trusted_publisher("cache-org")
    fake_kernel(tmp_path / "k", name="cached")
    upload_tree(tmp_path / "k", repo_id="cache-org/cached")
    with pytest.raises(KernelNotCachedError, match="kernels download"):
        install_kernel("cache-org/cached", version=1, local_files_only=True)
    path = install_kernel("cache-org/cached", version=1)
    assert (path / "metadata.json").is_file() and path.name == "torch-cpu"
    hub_server.request_log.clear()
    assert install_kernel("cache-org/cached", version=1, local_files_only=True) == path
    assert list(hub_server.request_log) == []
