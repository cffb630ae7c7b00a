"""pytest fixtures that run a local Hugging Face Hub compatible server (see :mod:`.hub_server`).

Register them in a test module or the root ``conftest.py``::

    pytest_plugins = ["kernels.testing.fixtures"]

and use them with the real ``huggingface_hub`` client, over HTTP::

    def test_upload(hub_server, tmp_path):
        api = HfApi(endpoint=hub_server.url, token=hub_server.token)
        api.create_repo("my-org/relu", repo_type="kernel")
        path = hf_hub_download("my-org/relu", ".gitattributes", repo_type="kernel",
                               endpoint=hub_server.url, cache_dir=hub_server.cache_dir)

Fixtures:

- ``hub_server`` (function scope): a fresh :class:`~kernels.testing.hub_server.HubServer` with
  its storage under ``tmp_path``; stopped at the end of the test.
- ``hub_server_session`` (session scope): one server for the whole session (storage under a
  session temporary directory). Repositories persist between tests: use unique repo names.
- ``hub_api``: an ``HfApi`` bound to ``hub_server`` (endpoint and token).

Both server fixtures set, for their lifetime, ``HF_ENDPOINT`` (the server URL), ``HF_TOKEN`` (a
dummy token, registered with the write role over every namespace), ``HF_HOME`` and
``HF_HUB_CACHE`` (temporary directories), ``KERNELS_CACHE`` (the same hub cache),
``HF_HUB_DISABLE_TELEMETRY=1`` and ``HF_HUB_DISABLE_XET=1``. The server object gets two extra
attributes: ``cache_dir`` (the temporary hub cache) and ``token`` (the dummy token).

Tokens: the servers accept any other bearer token too, as the default user with the write role.
Tests of permissions register their own tokens and may refuse unknown ones::

    def test_read_only(hub_server):
        hub_server.add_token("hf_reader", role="read")
        hub_server.add_token("hf_org_writer", role="write", orgs=["my-org"])
        hub_server.accept_any_token = False  # other tokens: 401 (the fixture's token still works)

Caveats, because ``huggingface_hub`` reads most environment variables once, at import time, into
``huggingface_hub.constants``:

- ``HF_ENDPOINT`` and ``HF_HUB_CACHE`` set by the fixtures only reach code that reads the
  environment itself and subprocesses. In-process ``huggingface_hub`` calls must be given
  ``endpoint=server.url`` explicitly (``HfApi(endpoint=...)``, ``hf_hub_download(..., endpoint=...)``,
  ``snapshot_download(..., endpoint=...)``) and should be given ``cache_dir=server.cache_dir``;
  otherwise they talk to huggingface.co and write to the user's cache. (``HF_TOKEN`` is read at
  call time, so it does reach in-process calls.)
- ``hf_xet`` makes ``huggingface_hub`` upload every "lfs" file through the Xet protocol, which this
  server does not speak, unless ``HF_HUB_DISABLE_XET=1`` was set *before* ``huggingface_hub``
  was imported. Importing this module sets it (``os.environ.setdefault``) for that reason, and
  test modules may set it themselves before their imports. When the client in this process would
  still use Xet, the fixtures start the server with ``lfs=False``: every upload is then answered
  "regular" and committed inline, so uploads keep working, just without the LFS code path.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Iterator

import pytest

from .hub_server import HubServer

# Must happen before huggingface_hub is imported to have an effect (see the module docstring).
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

#: The token the fixtures put into ``HF_TOKEN`` (registered: write role, every namespace).
DUMMY_TOKEN = "hf_hubserver_dummy_token"

__all__ = ["DUMMY_TOKEN", "client_uses_xet", "hub_api", "hub_server", "hub_server_session"]


def client_uses_xet() -> bool:
    """Whether ``huggingface_hub`` in this process uploads LFS files through Xet (read-only check)."""
    try:
        from huggingface_hub.utils._runtime import is_xet_available
    except ImportError:  # other layouts of huggingface_hub: reproduce its decision
        try:
            from huggingface_hub import constants
        except ImportError:
            return False
        if getattr(constants, "HF_HUB_DISABLE_XET", False):
            return False
        return importlib.util.find_spec("hf_xet") is not None
    return bool(is_xet_available())


def _start_server(root: Path) -> HubServer:
    server = HubServer(root / "hub-storage", lfs=not client_uses_xet())
    server.cache_dir = root / "hf-home" / "hub"
    server.token = DUMMY_TOKEN
    server.add_token(DUMMY_TOKEN, role="write", display_name="hub_server fixture token")
    server.cache_dir.mkdir(parents=True, exist_ok=True)
    return server.start()


def _set_env(mp: pytest.MonkeyPatch, server: HubServer) -> None:
    assert server.cache_dir is not None
    mp.setenv("HF_ENDPOINT", server.url)
    mp.setenv("HF_TOKEN", DUMMY_TOKEN)
    mp.setenv("HF_HOME", str(server.cache_dir.parent))
    mp.setenv("HF_HUB_CACHE", str(server.cache_dir))
    mp.setenv("KERNELS_CACHE", str(server.cache_dir))
    mp.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    mp.setenv("HF_HUB_DISABLE_XET", "1")
    mp.delenv("HF_HUB_OFFLINE", raising=False)


@pytest.fixture
def hub_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A running :class:`HubServer` for one test (storage and HF cache under ``tmp_path``).

    Pass ``endpoint=hub_server.url`` (and ``cache_dir=hub_server.cache_dir``) to every
    in-process ``huggingface_hub`` call: the environment set here is read by ``huggingface_hub``
    at import time only. See the module docstring.
    """
    server = _start_server(tmp_path)
    _set_env(monkeypatch, server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hub_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """A running :class:`HubServer` shared by the whole session (use unique repo names).

    Same environment and caveats as ``hub_server``: pass ``endpoint=hub_server_session.url``
    explicitly to in-process ``huggingface_hub`` calls.
    """
    server = _start_server(tmp_path_factory.mktemp("hub-server-session"))
    with pytest.MonkeyPatch.context() as mp:
        _set_env(mp, server)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def hub_api(hub_server: HubServer):
    """An ``HfApi`` client bound to ``hub_server`` (explicit endpoint and token)."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub_server.url, token=hub_server.token)
