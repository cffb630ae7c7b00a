"""``kernel-status.toml`` redirects, served by the local Hub server: every way of loading a
kernel follows one redirect from the requested repository's ``main`` branch (WARNING), a
chain or a malformed file is one clear error, and the check costs at most one request when a
branch is resolved online (none for warm loads within the memory's lifetime, none for a
pinned load from the cache).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

from kernels import get_kernel, get_kernel_variants, get_loaded_kernels, has_kernel, install_kernel  # noqa: E402
from kernels.errors import KernelRedirectError  # noqa: E402
from kernels.hub import redirect  # noqa: E402
from kernels.upload import upload_tree  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

SRC = Path(__file__).resolve().parents[1] / "src"
ORG = "moved-org"
STATUS = "kernel-status.toml"


@pytest.fixture(autouse=True)
def _fresh_process_memory():
    redirect.forget()
    yield
    redirect.forget()


def _publish(tmp_path: Path, name: str, value: int = 42, *, version: int = 1, files=None) -> str:
    from test_load import fake_kernel

    fake_kernel(tmp_path / f"{name}-{version}", name=name, version=version,
                files=files or {"__init__.py": f"VALUE = {value}\n"})
    repo_id = f"{ORG}/{name}"
    upload_tree(tmp_path / f"{name}-{version}", repo_id=repo_id)
    return repo_id


def _status(hub_api, repo_id: str, text: str) -> None:
    """Put ``kernel-status.toml`` on ``main`` of ``repo_id`` (creating the repository)."""
    hub_api.create_repo(repo_id, repo_type="kernel", exist_ok=True)
    hub_api.upload_file(path_or_fileobj=text.encode(), path_in_repo=STATUS, repo_id=repo_id, repo_type="kernel",
                        revision="main")


def _redirect_warnings(caplog: pytest.LogCaptureFixture) -> list:
    return [r.getMessage() for r in caplog.records if "redirected to" in r.getMessage()
            and r.levelno == logging.WARNING]


@pytest.fixture
def moved(hub_server, hub_api, tmp_path: Path) -> str:
    """``moved-org/old`` redirects to ``moved-org/new`` (versions 1 and 2); returns the old id."""
    hub_server.set_trusted_publisher(ORG)
    _publish(tmp_path, "new", 1, version=1)
    _publish(tmp_path, "new", 2, version=2)
    _status(hub_api, f"{ORG}/old", f'kind = "redirect"\ndestination = "{ORG}/new"\n')
    return f"{ORG}/old"


def test_get_kernel_follows_one_redirect_and_warns_once(moved: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kernels"):
        module = get_kernel(moved, version=1, backend="cpu")
        assert get_kernel(moved, version=2, backend="cpu").VALUE == 2
    assert module.VALUE == 1  # the version asked for, at the destination
    assert _redirect_warnings(caplog) == [f"'{ORG}/old' redirected to '{ORG}/new': the repository moved (its "
                                          f"{STATUS} says so); update the repository id to skip this lookup"]
    loaded = [k for k in get_loaded_kernels() if k.module is module]
    assert loaded and loaded[0].repo_info.repo_id == f"{ORG}/new"


def test_install_has_and_variants_follow_the_redirect(moved: str) -> None:
    path = install_kernel(moved, version=2, backend="cpu")
    assert f"kernels--{ORG}--new" in str(path) and (path / "metadata.json").is_file()
    assert has_kernel(moved, version=1, backend="cpu", check_arch=False)
    assert [d.variant_str for d in get_kernel_variants(moved, version=1, backend="cpu")] == ["torch-cpu"]


def test_a_revision_named_by_the_redirect_wins(hub_server, hub_api, tmp_path: Path) -> None:
    hub_server.set_trusted_publisher(ORG)
    _publish(tmp_path, "dest", 1, version=1)
    _publish(tmp_path, "dest", 2, version=2)
    _status(hub_api, f"{ORG}/src", f'kind = "redirect"\ndestination = "{ORG}/dest"\nrevision = "v1"\n')
    assert get_kernel(f"{ORG}/src", version=2, backend="cpu").VALUE == 1


def test_layer_repository_versions_are_the_destinations(moved: str) -> None:
    from kernels.layer.repository import _highest_matching

    assert _highest_matching(moved, ">=1,<3") == 2


def test_layer_repository_loads_through_the_redirect(hub_server, hub_api, tmp_path: Path) -> None:
    from kernels import LayerRepository

    hub_server.set_trusted_publisher(ORG)
    layers = """
        import torch

        class Doubler(torch.nn.Module):
            def forward(self, x):
                return 2 * x
    """
    _publish(tmp_path, "layered", files={"__init__.py": "from . import layers\n", "layers.py": layers})
    _status(hub_api, f"{ORG}/layered-old", f'kind = "redirect"\ndestination = "{ORG}/layered"\n')
    layer = LayerRepository(f"{ORG}/layered-old", layer_name="Doubler", version=">=1").load()
    assert layer.__name__ == "Doubler"


def test_lock_pins_the_destination(moved: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from kernels.lock import lock_project

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "user"
        version = "0.1"

        [tool.kernels.dependencies]
        "{moved}" = 1
        """))
    with caplog.at_level(logging.WARNING, logger="kernels"):
        _, locks = lock_project(project)
    assert [lock.repo_id for lock in locks] == [f"{ORG}/new"]
    assert any("locking moved-org/new, where it moved" in m for m in (r.getMessage() for r in caplog.records))


def test_a_second_redirect_is_an_error(hub_server, hub_api, tmp_path: Path) -> None:
    hub_server.set_trusted_publisher(ORG)
    _publish(tmp_path, "final")
    _status(hub_api, f"{ORG}/first", f'kind = "redirect"\ndestination = "{ORG}/second"\n')
    _status(hub_api, f"{ORG}/second", f'kind = "redirect"\ndestination = "{ORG}/final"\n')
    with pytest.raises(KernelRedirectError, match="redirects to moved-org/second, which redirects again to "
                                                  "moved-org/final; only one redirect is followed") as info:
        get_kernel(f"{ORG}/first", version=1, backend="cpu")
    assert info.value.repo_id == f"{ORG}/first" and isinstance(info.value, ValueError)


@pytest.mark.parametrize("text,expected", [
    ('destination = "moved-org/new"\n', "has no 'kind'"),
    ('kind = "deprecated"\ndestination = "moved-org/new"\n', "has kind 'deprecated'"),
    ('kind = "redirect"\n', "has no 'destination'"),
    ('kind = "redirect"\ndestination = "../../etc"\n', "is not a repository id"),
    ('kind = "redirect"\ndestination = "moved-org/bad"\n', "redirects to the repository itself"),
    ('kind = "redirect"\ndestination = "moved-org/new"\nrevision = 2\n', "'revision' must be"),
    ("kind = redirect\n", "is not valid TOML"),
])
def test_a_malformed_status_file_is_one_clear_error(hub_server, hub_api, tmp_path: Path, text: str,
                                                    expected: str) -> None:
    hub_server.set_trusted_publisher(ORG)
    _status(hub_api, f"{ORG}/bad", text)
    for call in (lambda: get_kernel(f"{ORG}/bad", version=1, backend="cpu"),
                 lambda: has_kernel(f"{ORG}/bad", version=1, backend="cpu")):
        redirect.forget()
        with pytest.raises(KernelRedirectError, match=expected) as info:
            call()
        assert str(info.value).startswith(f"{ORG}/bad: {STATUS} on main")


def test_the_check_costs_one_request_and_none_when_warm_or_pinned(hub_server, tmp_path: Path) -> None:
    hub_server.set_trusted_publisher(ORG)
    repo_id = _publish(tmp_path, "plain", 7)
    code = f"""
        import sys, kernels
        kw = {{"revision": sys.argv[1]}} if len(sys.argv[1]) == 40 else {{"version": int(sys.argv[1])}}
        print("VALUE", kernels.get_kernel("{repo_id}", backend="cpu", **kw).VALUE)
    """

    def load(arg: str) -> list:
        hub_server.request_log.clear()
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), arg], env={**os.environ,
                             "PYTHONPATH": str(SRC)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=120).stdout
        assert out.strip().splitlines()[-1] == "VALUE 7", out
        return list(hub_server.request_log)

    cold = load("1")
    assert [r for r in cold if STATUS in r[1]] == [("GET", f"/kernels/{repo_id}/resolve/main/{STATUS}")]
    warm = load("1")
    assert [method for method, _ in warm] == ["HEAD"]  # the revalidation only: the answer is remembered
    commit = next(Path(hub_server.cache_dir).glob(f"kernels--{ORG}--plain/snapshots/*")).name
    assert load(commit) == []


def test_offline_follows_a_redirect_seen_online(moved: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_kernel(moved, version=1, backend="cpu").VALUE == 1
    redirect.forget()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = install_kernel(moved, version=1, backend="cpu")
    assert f"kernels--{ORG}--new" in str(path)


def test_a_repository_without_the_file_loads_as_before(hub_server, tmp_path: Path) -> None:
    hub_server.set_trusted_publisher(ORG)
    repo_id = _publish(tmp_path, "stays", 3)
    assert get_kernel(repo_id, version=1, backend="cpu").VALUE == 3
    assert redirect.follow(repo_id, None, 1, offline=False) == redirect.Target(repo_id, None, 1)


def test_info_follows_the_redirect_and_its_revision(hub_server, hub_api, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from kernels.info import kernel_info

    hub_server.set_trusted_publisher(ORG)
    _publish(tmp_path, "infodest", 1, version=1)
    _publish(tmp_path, "infodest", 2, version=2)
    _status(hub_api, f"{ORG}/infosrc", f'kind = "redirect"\ndestination = "{ORG}/infodest"\nrevision = "v2"\n')
    with caplog.at_level(logging.INFO, logger="kernels"):
        info = kernel_info(f"{ORG}/infosrc", version=1, backend="cpu")
    assert (info["repo_id"], info["revision"]) == (f"{ORG}/infodest", "v2")
    assert "is available" not in caplog.text, caplog.text


def test_check_and_to_wheel_follow_the_redirect(moved: str, tmp_path: Path) -> None:
    from kernels import hub

    snapshot = hub.download_tree(moved, version=2)
    assert f"kernels--{ORG}--new" in str(snapshot) and (snapshot / "build" / "torch-cpu").is_dir()


def test_check_of_a_redirected_repository_and_of_one_without_build(moved: str, hub_api) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-m", "kernels.cli", "check", moved], capture_output=True, text=True,
                          env=env, timeout=300)
    assert "torch-cpu" in proc.stdout and "redirected to" in proc.stderr, proc.stderr
    hub_api.create_repo(f"{ORG}/readme-only", repo_type="kernel")
    proc = subprocess.run([sys.executable, "-m", "kernels.cli", "check", f"{ORG}/readme-only"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 1 and "has no build/ folder" in proc.stderr and "Traceback" not in proc.stderr
