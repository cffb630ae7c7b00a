"""The Hub unreachable (not offline mode): loads use what the cache holds and warn once, under
the trust rule of offline loads; without a cached copy, one clear error. Every translated
failure is also the type the released ``kernels`` raised. Requests go through huggingface_hub's
HTTP layer.

"Down" is the local Hub server stopped: its port refuses connections, its URL (and so what
the cache and the trust memory are keyed by) stays the same.
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

from kernels import get_kernel, get_kernel_variants, has_kernel, install_kernel  # noqa: E402
from kernels.errors import (  # noqa: E402
    HubError,
    HubUnreachableError,
    KernelNotCachedError,
    KernelRepositoryNotFoundError,
    KernelRevisionNotFoundError,
    KernelVersionNotFoundError,
    UntrustedKernelError,
)
from kernels.upload import upload_tree  # noqa: E402

pytest_plugins = ["kernels.testing.fixtures"]

SRC = Path(__file__).resolve().parents[1] / "src"
ORG = "down-org"


def _publish(hub_server, tmp_path: Path, name: str, *, trusted: bool = True) -> str:
    from test_load import fake_kernel

    hub_server.set_trusted_publisher(ORG, trusted)
    fake_kernel(tmp_path / name, name=name, files={"__init__.py": "VALUE = 42\n"})
    repo_id = f"{ORG}/{name}"
    upload_tree(tmp_path / name, repo_id=repo_id)
    return repo_id


def _down_warnings(caplog: pytest.LogCaptureFixture) -> list:
    return [r for r in caplog.records if "cannot be reached" in r.getMessage() and r.levelno == logging.WARNING]


def test_cached_version_loads_with_one_warning_when_the_hub_is_down(hub_server, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    repo_id = _publish(hub_server, tmp_path, "warm")
    module = get_kernel(repo_id, version=1, backend="cpu")
    path = install_kernel(repo_id, version=1, backend="cpu")
    hub_server.stop()
    with caplog.at_level(logging.WARNING, logger="kernels"):
        assert get_kernel(repo_id, version=1, backend="cpu") is module
        assert get_kernel(repo_id, version=1, backend="cpu") is module
        assert install_kernel(repo_id, version=1, backend="cpu") == path
        assert has_kernel(repo_id, version=1, backend="cpu", check_arch=False)
        assert [d.variant_str for d in get_kernel_variants(repo_id, version=1, backend="cpu")] == ["torch-cpu"]
    warned = _down_warnings(caplog)
    assert len([r for r in warned if "loading the cached copy" in r.getMessage()]) == 1, caplog.text
    assert "connection refused" in warned[0].getMessage()


def test_pinned_commit_and_lock_load_from_the_cache_when_the_hub_is_down(hub_server, tmp_path: Path) -> None:
    from kernels import get_locked_kernel
    from kernels.lock import lock_project

    repo_id = _publish(hub_server, tmp_path, "pinned")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "user"
        version = "0.1"

        [tool.kernels.dependencies]
        "{repo_id}" = 1
        """))
    lock_project(project)
    lockfile = project / "kernels.lock"
    module = get_locked_kernel(repo_id, lockfile=lockfile)
    hub_server.stop()
    assert get_locked_kernel(repo_id, lockfile=lockfile) is module


def test_not_cached_and_hub_down_is_one_clear_error(hub_server, tmp_path: Path) -> None:
    repo_id = _publish(hub_server, tmp_path, "cold")
    hub_server.stop()
    with pytest.raises(HubUnreachableError) as info:
        get_kernel(repo_id, version=1, backend="cpu")
    message = str(info.value)
    assert repo_id in message and "connection refused" in message
    assert "HF_HUB_OFFLINE=1" in message and "LOCAL_KERNELS" in message
    assert isinstance(info.value, ConnectionError) and isinstance(info.value, HubError)
    assert info.value.__traceback__ is not None
    with pytest.raises(HubUnreachableError):  # as in kernels 0.17.2, which raises too
        has_kernel(repo_id, version=1, backend="cpu")
    with pytest.raises(HubUnreachableError):
        get_kernel_variants(repo_id, version=1)


def test_untrusted_cached_kernel_is_not_run_when_the_hub_is_down(hub_server, tmp_path: Path) -> None:
    repo_id = _publish(hub_server, tmp_path, "shady", trusted=False)
    install_kernel(repo_id, version=1, backend="cpu", trust_remote_code=True)  # in the cache, never imported
    hub_server.stop()
    with pytest.raises(UntrustedKernelError, match="cannot be reached"):
        get_kernel(repo_id, version=1, backend="cpu")
    assert get_kernel(repo_id, version=1, backend="cpu", trust_remote_code=[repo_id]).VALUE == 42


def test_layer_repository_version_range_uses_cached_versions_when_the_hub_is_down(hub_server,
                                                                                  tmp_path: Path) -> None:
    from kernels.layer.repository import _highest_matching

    repo_id = _publish(hub_server, tmp_path, "layered")
    get_kernel(repo_id, version=1, backend="cpu")
    hub_server.stop()
    assert _highest_matching(repo_id, ">=1") == 1


def test_translated_errors_are_also_what_the_released_kernels_raised(hub_server, tmp_path: Path) -> None:
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    repo_id = _publish(hub_server, tmp_path, "typed")
    with pytest.raises(KernelRepositoryNotFoundError) as info:
        get_kernel(f"{ORG}/nope", version=1)
    assert isinstance(info.value, RepositoryNotFoundError) and f"{ORG}/nope" in str(info.value)
    with pytest.raises(KernelRevisionNotFoundError) as info:
        get_kernel(repo_id, revision="no-such-branch")
    assert isinstance(info.value, RevisionNotFoundError) and "no-such-branch" in str(info.value)
    with pytest.raises(KernelVersionNotFoundError, match="versions: v1") as info:
        get_kernel(repo_id, version=7)
    assert isinstance(info.value, ValueError)
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        with pytest.raises(KernelNotCachedError) as info:
            get_kernel(f"{ORG}/never-cached", version=1)
    finally:
        del os.environ["HF_HUB_OFFLINE"]
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


def test_warm_revalidation_goes_through_the_huggingface_hub_session(hub_server, tmp_path: Path) -> None:
    """A client factory set with huggingface_hub's ``set_client_factory`` (how users configure
    proxies, CA bundles, headers) sees the one request of a warm ``version=`` load."""
    repo_id = _publish(hub_server, tmp_path, "session")
    code = textwrap.dedent(f"""
        import kernels, huggingface_hub
        try:
            import httpx2 as httpx
        except ImportError:
            import httpx
        seen = []
        huggingface_hub.set_client_factory(
            lambda: httpx.Client(event_hooks={{"request": [lambda r: seen.append((r.method, r.url.path))]}}))
        kernels.get_kernel({repo_id!r}, version=1, backend="cpu")
        print("SEEN", seen)
    """)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for _ in range(2):  # cold, then warm
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    seen = proc.stdout.split("SEEN", 1)[1]
    assert seen.count("HEAD") == 1 and "/resolve/v1/build/torch-cpu/metadata.json" in seen, seen
    assert hub_server.request_log.matching("HEAD", "/resolve/v1/")


@pytest.mark.parametrize("exc,expected", [
    (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
    (__import__("socket").gaierror(-2, "Name or service not known"), "could not be resolved (DNS)"),
    (TimeoutError("timed out"), "HF_HUB_ETAG_TIMEOUT"),
    (__import__("ssl").SSLCertVerificationError(1, "certificate verify failed"), "SSL_CERT_FILE"),
])
def test_transport_failures_name_the_cause_and_the_way_out(exc: BaseException, expected: str) -> None:
    from kernels.hub import translate

    ours = translate(exc, "org/relu", "v1", action="list its versions")
    assert isinstance(ours, HubUnreachableError) and isinstance(ours, ConnectionError)
    assert expected in str(ours) and "org/relu@v1" in str(ours) and "HF_HUB_OFFLINE=1" in str(ours)


def test_a_client_without_kernel_repositories_is_told_to_upgrade() -> None:
    from kernels.hub import translate

    ours = translate(ValueError("Invalid repo type, must be one of [None, 'model']"), "org/relu",
                     action="upload (commit) the files")
    assert isinstance(ours, HubError) and "pip install -U huggingface_hub" in str(ours)
    assert translate(ValueError("something else"), "org/relu", action="x") is None


def test_warm_revalidation_of_a_private_kernel_sends_the_token(hub_server, tmp_path: Path) -> None:
    """The revalidation goes out without a token first (public kernels need none); a private
    repository answers 401/404 and is asked again with huggingface_hub's headers."""
    from test_load import fake_kernel

    hub_server.set_trusted_publisher(ORG)
    fake_kernel(tmp_path / "secret", name="secret", files={"__init__.py": "VALUE = 7\n"})
    upload_tree(tmp_path / "secret", repo_id=f"{ORG}/secret", private=True)
    code = f"import kernels; print('VALUE', kernels.get_kernel('{ORG}/secret', version=1, backend='cpu').VALUE)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    counts = []
    for _ in range(2):  # cold, then warm
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "VALUE 7" in proc.stdout, proc.stderr
        counts.append(len(hub_server.request_log))
    warm = hub_server.request_log[counts[0]:]
    # Anonymous (refused), then with the token; nothing else (no listing: the cache answered).
    assert [method for method, _ in warm] == ["HEAD", "HEAD"], warm
