"""The public server object (:class:`HubServer`), its socket server and its request log."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from pathlib import Path
from typing import Any, Iterable, List, Optional, Tuple

from .auth import TokenTable
from .handler import Handler
from .storage import DEFAULT_USER, HubStorage

DEFAULT_LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub's limit for regular (inline) files
DEFAULT_PAGE_SIZE = 1000
#: The largest request body the server reads into memory by default (413 beyond it).
DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024


class RequestLog(list):
    """``(method, path)`` of every request the server answered (path without the query string)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def record(self, method: str, path: str) -> None:
        """Append ``(method, path)`` (thread-safe)."""
        with self._lock:
            self.append((method, path))

    def matching(self, method: Optional[str] = None, contains: Optional[str] = None) -> List[Tuple[str, str]]:
        """Entries with this method (if given) whose path contains ``contains`` (if given)."""
        with self._lock:
            return [
                (m, p) for m, p in self if (method is None or m == method) and (contains is None or contains in p)
            ]


class _HTTPServer(http.server.ThreadingHTTPServer):
    """The socket server: one thread per connection, open connections closed on stop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: Tuple[str, int], hub: "HubServer"):
        self.hub = hub
        self.open_sockets: set = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request, client_address):  # noqa: D401 - socketserver API
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.hub.verbose:
            super().handle_error(request, client_address)



class HubServer:
    """A Hub-compatible HTTP server over :class:`HubStorage`, served from a background thread.

    Args:
        root: storage directory (created if needed; data persists across instances).
        host, port: address to bind; ``port=0`` picks a free port (see :attr:`url`).
        lfs: answer "lfs" to preupload requests for binary/large files (like the Hub). With
            ``False`` every file is committed inline ("regular"), which clients that would upload
            LFS files through Xet need (see the module docstring).
        lfs_threshold: files larger than this many bytes are uploaded as LFS.
        page_size: default page size of paginated listings (tree, commits).
        verbose: log requests and errors to stderr.
        user: the default user: who unknown tokens authenticate as (with ``accept_any_token``)
            and the default ``user`` of :meth:`add_token`.
        max_body_bytes: the largest request body read into memory (JSON, inline commits);
            larger ones are answered 413 before they are read. LFS uploads stream to disk.
        accept_any_token: any bearer token not added with :meth:`add_token` authenticates as
            ``user`` with the write role over every namespace (the default, as most tests want).
            With ``False`` such tokens are answered 401 ("Invalid credentials in Authorization
            header"), on every route. Also an attribute, to change on a running server.

    Raises:
        ValueError: for an invalid ``user`` name.
    """

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, *, lfs: bool = True,
                 lfs_threshold: int = DEFAULT_LFS_THRESHOLD, page_size: int = DEFAULT_PAGE_SIZE,
                 verbose: bool = False, user: str = DEFAULT_USER, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 accept_any_token: bool = True):
        self.max_body_bytes = max_body_bytes
        self.root = Path(root)
        self.host = host
        self.port = port
        self.lfs = lfs
        self.lfs_threshold = lfs_threshold
        self.page_size = page_size
        self.verbose = verbose
        self.user = user
        self.storage = HubStorage(self.root, user=user)
        self.tokens = TokenTable(user, accept_any=accept_any_token)
        self.secret = os.urandom(32)  # signs the LFS upload/download URLs handed out by the batch API
        self.request_log = RequestLog()
        #: Bytes per second file downloads are served at (None: as fast as possible). Tests set it
        #: to catch a client in the middle of a download (e.g. to kill it there).
        self.download_rate: Optional[int] = None
        #: Set by the pytest fixtures: the cache directory and token the client side should use
        #: (the fixtures register that token with the write role over every namespace).
        self.cache_dir: Optional[Path] = None
        self.token: Optional[str] = None
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("HubServer is not started")
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> "HubServer":
        """Bind and serve from a daemon thread; returns ``self`` (no-op when started)."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), self)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"hub-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open connections (no-op when stopped); data stays on disk."""
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_open_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (used by the command line)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- tokens ---------------------------------------------------------------------------

    @property
    def accept_any_token(self) -> bool:
        """Whether unknown bearer tokens authenticate as :attr:`user` (write, every namespace)."""
        return self.tokens.accept_any

    @accept_any_token.setter
    def accept_any_token(self, value: bool) -> None:
        self.tokens.accept_any = bool(value)

    def add_token(self, token: str, *, user: Optional[str] = None, role: str = "read",
                  orgs: Optional[Iterable[str]] = None, display_name: Optional[str] = None) -> None:
        """Register ``token`` (or change its grant), on a running server too.

        Args:
            token: the bearer token (printable ASCII without spaces, at most 1024 characters).
            user: who it authenticates as (default: :attr:`user`); its own namespace.
            role: ``"read"``: reads public repositories and the private ones of its namespaces,
                every write answers 403; ``"write"``: also creates, deletes and changes
                repositories, commits, branches, tags and LFS uploads in its namespaces (403
                elsewhere).
            orgs: organisations it acts in besides ``user``'s namespace (reported by
                ``whoami-v2``); ``None`` (default) for every namespace, ``[]`` for its user's only.
            display_name: its name in ``whoami-v2`` (default: ``"<role> token"``).

        Raises:
            ValueError: for a malformed token, a role other than read/write, an invalid user
                or organisation name.

        Example::

            server.add_token("hf_reader", role="read")
            server.add_token("hf_ci", user="ci-bot", role="write", orgs=["kernels-test"])
        """
        self.tokens.add(token, user=user, role=role, orgs=orgs, display_name=display_name)

    def remove_token(self, token: str) -> None:
        """Forget ``token`` (then it is unknown: see ``accept_any_token``); no error if absent."""
        self.tokens.remove(token)

    # -- helpers for tests ----------------------------------------------------------------

    def set_trusted_publisher(self, org: str, trusted: bool = True) -> None:
        """Mark ``org`` as a trusted kernel publisher (``trustedKernelPublisher`` in its overview).

        Raises:
            ValueError: for an invalid organization name.
        """
        self.storage.set_org(org, trustedKernelPublisher=bool(trusted))

    def add_organization(self, org: str) -> None:
        """Make ``org`` known (its overview answers 200) without repositories.

        Raises:
            ValueError: for an invalid organization name.
        """
        self.storage.set_org(org)


