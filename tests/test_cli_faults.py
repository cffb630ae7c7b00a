"""Every ``kernels`` subcommand under every fault that applies to it ends cleanly: a non-zero
exit status, one ``kernels <cmd>: error:`` line, no traceback (130 and one ``interrupted``
line for Ctrl-C; nothing at all for a stdout closed early).

The Hub is the local Hub server over HTTP: "down" is a port nobody listens on, 5xx/429 a
server that answers every request with that status, tokens are refused by a server that only
knows its own. Each case runs the real console entry point in a fresh process.
"""

from __future__ import annotations

import http.server
import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

from kernels.testing.hub_server import HubServer  # noqa: E402
from kernels.upload import upload_tree  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ORG = "cli-org"
REPO = f"{ORG}/relu"
WRITE_TOKEN = "hf_cli_faults_write_token"
READ_TOKEN = "hf_cli_faults_read_token"


class World(NamedTuple):
    """What the cases run against: servers, directories, a base environment."""

    hub: HubServer
    failing: Dict[int, str]  # HTTP status -> URL of a server answering it to everything
    dead_url: str
    tmp: Path
    env: Dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Failing(http.server.BaseHTTPRequestHandler):
    status = 503

    def _answer(self) -> None:
        body = b'{"error": "injected failure"}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:  # noqa: D401 - quiet
        pass


def _failing_server(status: int) -> http.server.ThreadingHTTPServer:
    handler = type(f"Failing{status}", (_Failing,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from test_load import fake_kernel

    tmp = tmp_path_factory.mktemp("cli-faults")
    hub = HubServer(tmp / "storage", lfs=True)
    hub.accept_any_token = False  # only the tokens below: anything else is refused (401)
    hub.add_token(WRITE_TOKEN, user="alice", role="write", orgs=[ORG])
    hub.add_token(READ_TOKEN, user="bob", role="read", orgs=[ORG])
    hub.start()
    hub.set_trusted_publisher(ORG)
    failing = {status: _failing_server(status) for status in (503, 429)}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "KERNELS_"))}
    env.update(PYTHONPATH=str(ROOT / "src"), HF_ENDPOINT=hub.url, HF_TOKEN=WRITE_TOKEN, HF_HOME=str(tmp / "hf-home"),
               KERNELS_CACHE=str(tmp / "cache"), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
    # The published kernel (a pure-Python one: nothing to compile), a big one for Ctrl-C.
    fake_kernel(tmp / "tree", name="relu", files={"__init__.py": "VALUE = 42\n"})
    big = fake_kernel(tmp / "big-tree", name="big", files={"__init__.py": "VALUE = 1\n"})
    (big / "weights.bin").write_bytes(os.urandom(16 << 20))
    old = {k: os.environ.get(k) for k in ("HF_ENDPOINT", "HF_TOKEN")}
    os.environ.update(HF_ENDPOINT=hub.url, HF_TOKEN=WRITE_TOKEN)
    try:
        upload_tree(tmp / "tree", repo_id=REPO)
        upload_tree(tmp / "big-tree", repo_id=f"{ORG}/big")
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    # A project locked against the server, a source repository without build/, a plain file.
    project = tmp / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "user"
        version = "0.1"

        [tool.kernels.dependencies]
        "{REPO}" = 1
        """))
    (tmp / "big-project").mkdir()
    (tmp / "big-project" / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text().replace(REPO, f"{ORG}/big"))
    for p in (project, tmp / "big-project"):
        subprocess.run([sys.executable, "-m", "kernels.cli", "lock", str(p)], env=env, check=True,
                       capture_output=True, timeout=120)
    missing = tmp / "missing-project"
    missing.mkdir()
    (missing / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text().replace(REPO, f"{ORG}/nope"))
    source = tmp / "source"
    subprocess.run(["cp", "-r", str(ROOT / "examples" / "relu"), str(source)], check=True)
    (tmp / "a-file").write_text("not a directory\n")
    try:
        yield World(hub, {s: f"http://127.0.0.1:{srv.server_address[1]}" for s, srv in failing.items()},
                    f"http://127.0.0.1:{_free_port()}", tmp, env)
    finally:
        hub.stop()
        for srv in failing.values():
            srv.shutdown()


# --------------------------------------------------------------------------- the matrix

#: fault -> how it changes the environment (see ``_environment``)
FAULT_ENV = {
    "hub-down": {"HF_ENDPOINT": "<dead>"},
    # an argument that is no repository id (nor a path): said before any request, so with the Hub down too
    "not-an-id": {"HF_ENDPOINT": "<dead>"},
    "offline-no-cache": {"HF_HUB_OFFLINE": "1", "KERNELS_CACHE": "<empty>"},
    "http-503": {"HF_ENDPOINT": "<503>"},
    "http-429": {"HF_ENDPOINT": "<429>"},
    "no-token": {"HF_TOKEN": None},
    "invalid-token": {"HF_TOKEN": "hf_not_a_token_the_hub_knows"},
    "read-only-token": {"HF_TOKEN": READ_TOKEN},
}

#: (command, fault): arguments; <tmp>, <file>, <source>, ... are filled in by ``_args``
CASES = {
    ("versions", "hub-down"): ["versions", REPO],
    ("versions", "offline-no-cache"): ["versions", REPO],
    ("versions", "unknown-repo"): ["versions", f"{ORG}/nope"],
    ("versions", "not-an-id"): ["versions", "nope"],
    ("info", "not-an-id"): ["info", "nope"],
    ("check", "not-an-id"): ["check", "nope"],
    ("benchmark", "not-an-id"): ["benchmark", "nope"],
    ("verify-signature", "not-an-id"): ["verify-signature", "nope", "1"],
    ("versions", "http-503"): ["versions", REPO],
    ("versions", "http-429"): ["versions", REPO],
    ("versions", "invalid-token"): ["versions", REPO],
    ("versions", "stdout-closed"): ["versions", REPO],
    ("versions", "disk-full"): ["versions", REPO],
    ("verify-signature", "hub-down"): ["verify-signature", REPO, "1"],
    ("verify-signature", "offline-no-cache"): ["verify-signature", REPO, "1"],
    ("verify-signature", "unknown-repo"): ["verify-signature", f"{ORG}/nope", "1"],
    ("verify-signature", "unknown-version"): ["verify-signature", REPO, "99"],
    ("verify-signature", "missing-path"): ["verify-signature", "<tmp>/no/such/kernel"],
    ("sign", "missing-path"): ["sign", "<tmp>/no/such/kernel"],
    ("sign", "source-without-build"): ["sign", "<source>"],
    ("info", "hub-down"): ["info", REPO],
    ("info", "offline-no-cache"): ["info", REPO],
    ("info", "unknown-repo"): ["info", f"{ORG}/nope"],
    ("info", "unknown-revision"): ["info", REPO, "--revision", "no-such-branch"],
    ("info", "unknown-version"): ["info", REPO, "--version", "99"],
    ("info", "missing-path"): ["info", "<tmp>/no/such/kernel"],
    ("info", "stdout-closed"): ["info", REPO, "--json"],
    ("check", "hub-down"): ["check", REPO],
    ("check", "offline-no-cache"): ["check", REPO],
    ("check", "unknown-repo"): ["check", f"{ORG}/nope"],
    ("check", "unknown-revision"): ["check", REPO, "--revision", "no-such-branch"],
    ("check", "missing-path"): ["check", "<tmp>/no/such/path"],
    ("check", "file-not-dir"): ["check", "<file>"],
    ("check", "source-without-build"): ["check", "<source>"],
    ("to-wheel", "hub-down"): ["to-wheel", REPO, "1", "-o", "<tmp>/out-tw"],
    ("to-wheel", "missing-path"): ["to-wheel", "<tmp>/no/such/tree", "1", "-o", "<tmp>/out-tw"],
    ("to-wheel", "file-not-dir"): ["to-wheel", "<file>", "1", "-o", "<tmp>/out-tw"],
    ("to-wheel", "source-without-build"): ["to-wheel", "<source>", "1", "-o", "<tmp>/out-tw"],
    ("from-wheel", "missing-path"): ["from-wheel", "<tmp>/no/such.whl", "-o", "<tmp>/out-fw"],
    ("from-wheel", "file-not-dir"): ["from-wheel", "<tmp>", "-o", "<tmp>/out-fw"],
    ("from-wheel", "output-is-a-file"): ["from-wheel", "<wheel>", "-o", "<file>"],
    ("from-wheel", "disk-full"): ["from-wheel", "<big-wheel>", "-o", "<tmp>/out-full"],
    ("upload", "hub-down"): ["upload", "<tmp>/tree", "--repo-id", f"{ORG}/up"],
    ("upload", "offline-no-cache"): ["upload", "<tmp>/tree", "--repo-id", f"{ORG}/up"],
    ("upload", "no-token"): ["upload", "<tmp>/tree", "--repo-id", f"{ORG}/up"],
    ("upload", "invalid-token"): ["upload", "<tmp>/tree", "--repo-id", f"{ORG}/up"],
    ("upload", "read-only-token"): ["upload", "<tmp>/tree", "--repo-id", f"{ORG}/up"],
    ("upload", "no-write-permission"): ["upload", "<tmp>/tree", "--repo-id", "someone-else/up"],
    ("upload", "http-503"): ["upload", "<tmp>/tree", "--repo-id", f"{ORG}/up"],
    ("upload", "missing-path"): ["upload", "<tmp>/no/such/tree", "--repo-id", f"{ORG}/up"],
    ("upload", "file-not-dir"): ["upload", "<file>", "--repo-id", f"{ORG}/up"],
    ("upload", "source-without-build"): ["upload", "<source>", "--repo-id", f"{ORG}/up"],
    ("release", "no-token"): ["release", "<source>", "--repo-id", f"{ORG}/rel"],
    ("release", "read-only-token"): ["release", "<source>", "--repo-id", f"{ORG}/rel"],
    ("release", "no-write-permission"): ["release", "<source>", "--repo-id", "someone-else/rel"],
    ("release", "hub-down"): ["release", "<source>", "--repo-id", f"{ORG}/rel"],
    ("release", "missing-path"): ["release", "<tmp>/no/such/kernel", "--repo-id", f"{ORG}/rel"],
    ("lock", "hub-down"): ["lock", "<tmp>/project"],
    ("lock", "unknown-repo"): ["lock", "<tmp>/missing-project"],
    ("lock", "missing-path"): ["lock", "<tmp>/no/such/project"],
    ("lock", "file-not-dir"): ["lock", "<file>"],
    ("download", "hub-down"): ["download", "<tmp>/project"],
    ("download", "offline-no-cache"): ["download", "<tmp>/project"],
    ("download", "missing-path"): ["download", "<tmp>/no/such/project"],
    ("download", "file-not-dir"): ["download", "<file>"],
    ("download", "disk-full"): ["download", "<tmp>/big-project"],
    ("download", "ctrl-c"): ["download", "<tmp>/big-project"],
    ("benchmark", "hub-down"): ["benchmark", REPO, "--version", "1"],
    ("benchmark", "unknown-repo"): ["benchmark", f"{ORG}/nope", "--version", "1"],
    ("benchmark", "offline-no-cache"): ["benchmark", REPO, "--version", "1"],
    ("benchmark", "missing-path"): ["benchmark", "<tmp>/no/such/kernel"],
    ("init", "file-not-dir"): ["init", "<file>", "--name", f"{ORG}/new"],
    ("check-config", "missing-path"): ["check-config", "<tmp>/no/such/kernel"],
    ("check-config", "file-not-dir"): ["check-config", "<file>"],
    ("build", "missing-path"): ["build", "<tmp>/no/such/kernel"],
    ("build", "file-not-dir"): ["build", "<file>"],
    ("list-variants", "missing-path"): ["list-variants", "<tmp>/no/such/kernel"],
    ("list-variants", "stdout-closed"): ["list-variants", "<source>", "--json"],
    ("list-variants", "disk-full"): ["list-variants", "<source>", "--json"],
    ("build-matrix", "stdout-closed"): ["build-matrix", "<source>"],
    ("build-matrix", "file-not-dir"): ["build-matrix", "<file>"],
    ("fill-card", "missing-path"): ["fill-card", "<tmp>/no/such/kernel"],
}


def _args(world: World, args: List[str]) -> List[str]:
    names = {"<tmp>": str(world.tmp), "<file>": str(world.tmp / "a-file"), "<source>": str(world.tmp / "source"),
             "<big-wheel>": str(_wheel(world, "big-tree")), "<wheel>": str(_wheel(world, "tree"))}
    out = []
    for arg in args:
        for key, value in names.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


def _wheel(world: World, tree: str) -> Path:
    """A kernel wheel of one of the published trees (made once)."""
    dist = world.tmp / f"dist-{tree}"
    if not dist.is_dir():
        from kernels.convert import to_wheel

        to_wheel(world.tmp / tree, 1, dist)
    (wheel,) = dist.glob("*.whl")
    return wheel


def _environment(world: World, fault: str) -> Dict[str, str]:
    env = dict(world.env)
    env["KERNELS_CACHE"] = str(world.tmp / f"cache-{fault}")  # each case its own cache
    for key, value in FAULT_ENV.get(fault, {}).items():
        if value is None:
            env.pop(key, None)
            continue
        value = {"<dead>": world.dead_url, "<503>": world.failing[503], "<429>": world.failing[429],
                 "<empty>": str(world.tmp / f"empty-cache-{fault}")}.get(value, value)
        env[key] = value
    return env


def _limit_file_size() -> None:
    # Writes past 64 KiB fail (EFBIG) instead of killing the process: a full disk, as seen by it.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))


def _assert_one_error_line(command: str, stderr: str, returncode: int) -> str:
    assert returncode not in (0, None), stderr
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith(f"kernels {command}: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize("command,fault", sorted(CASES), ids=[f"{c}-{f}" for c, f in sorted(CASES)])
def test_cli_fault(world: World, command: str, fault: str) -> None:
    args = [sys.executable, "-m", "kernels.cli", *_args(world, CASES[(command, fault)])]
    env = _environment(world, fault)
    if fault == "stdout-closed":
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first byte
        proc = subprocess.run(args, env=env, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300)
        os.close(write_end)
        assert proc.returncode != 0
        # Quietly: no error line, no traceback, no "Exception ignored" at exit (warnings of
        # other libraries, such as torch's, may remain).
        assert not [line for line in proc.stderr.splitlines()
                    if line.startswith("kernels ") or "Traceback" in line or "Exception ignored" in line], proc.stderr
        return
    if fault == "ctrl-c":
        _ctrl_c_during_download(world, command, args, env)
        return
    kwargs: dict = {}
    if fault == "disk-full":
        if command in ("versions", "list-variants"):
            kwargs["stdout"] = open(os.devnull if not os.path.exists("/dev/full") else "/dev/full", "w")
        else:
            kwargs["preexec_fn"] = _limit_file_size
    proc = subprocess.run(args, env=env, stdout=kwargs.pop("stdout", subprocess.PIPE), stderr=subprocess.PIPE,
                          text=True, timeout=300, **kwargs)
    line = _assert_one_error_line(command, proc.stderr, proc.returncode)
    _check_message(world, command, fault, line)
    if command == "release":
        assert "[1/5] build" not in (proc.stdout or ""), "the release built before checking the token"


def _check_message(world: World, command: str, fault: str, line: str) -> None:
    """The line names what failed and what to do."""
    expected = {
        "hub-down": "cannot reach the Hub",
        "offline-no-cache": "HF_HUB_OFFLINE",
        "unknown-repo": "not found",
        "unknown-revision": "no-such-branch",
        "unknown-version": "no version 99",
        "http-503": "HTTP 503",
        "http-429": "429",
        "no-token": "no Hub token",
        "invalid-token": "HF_TOKEN",
        "read-only-token": "read-only",
        "no-write-permission": "someone-else",
        "missing-path": "no/such",
        "disk-full": "space",
        "source-without-build": "build",
        "file-not-dir": "",
        "output-is-a-file": "",
        "not-an-id": "nope",
    }[fault]
    assert expected in line, line
    if fault == "not-an-id":
        assert "repository id" in line and "cannot reach" not in line, line
    if fault == "hub-down":
        assert "HF_HUB_OFFLINE=1" in line and ("connection refused" in line or "refused" in line), line


def _ctrl_c_during_download(world: World, command: str, args: List[str], env: Dict[str, str]) -> None:
    cache = Path(env["KERNELS_CACHE"])
    world.hub.download_rate = 2 << 20  # the 16 MiB file takes ~8 s
    try:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not [p for p in cache.rglob("*.incomplete") if p.stat().st_size > 0]:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        world.hub.download_rate = None
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert [line for line in stderr.splitlines() if line.startswith("kernels ")] == [f"kernels {command}: interrupted"]
    # No half-written cache entry: the big file is not in any snapshot (partial blobs stay
    # ``.incomplete``, which huggingface_hub never serves).
    assert not list(cache.rglob("snapshots/*/build/*/weights.bin")), "a partial file was published in the cache"


def test_kernels_debug_shows_the_traceback(world: World) -> None:
    env = _environment(world, "hub-down")
    env["KERNELS_DEBUG"] = "1"
    proc = subprocess.run([sys.executable, "-m", "kernels.cli", "versions", REPO], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "HubUnreachableError" in proc.stderr


def test_every_subcommand_is_in_the_matrix() -> None:
    from kernels.cli import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a.choices, dict)]
    assert set(subparsers.choices) == {command for command, _ in CASES}
