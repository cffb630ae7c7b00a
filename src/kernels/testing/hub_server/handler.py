"""The request handler: reading bodies, answering JSON and errors, credentials, access checks."""

from __future__ import annotations

import http.server
import json
import re
import socket
import sys
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional
from urllib.parse import parse_qs, urlsplit

from .auth import INVALID_CREDENTIALS, Token, check_read, check_write
from .errors import HubError
from .files import FileRoutes
from .lfs import LfsRoutes
from .names import parse_revision
from .payloads import parse_json_object
from .repos import RepoRoutes
from .routes import Router
from .storage import COPY_CHUNK, HubStorage, Repo
from .uploads import UploadRoutes

if TYPE_CHECKING:
    from .server import HubServer, _HTTPServer


class Handler(Router, RepoRoutes, FileRoutes, UploadRoutes, LfsRoutes, http.server.BaseHTTPRequestHandler):
    """One HTTP connection: request plumbing (bodies, answers, errors), credentials and repository
    access checks; the endpoints come from the route mixins.

    Every client mistake is answered with a 4xx and a JSON ``{"error": message}`` (also in the
    ``X-Error-Message`` header); anything else is a 500 without a traceback (printed to stderr
    with ``verbose``).
    """

    protocol_version = "HTTP/1.1"
    server_version = "kernels-hub-server/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid delayed-ACK stalls
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: "_HTTPServer"

    # -- plumbing -------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        if self.server.hub.verbose:
            sys.stderr.write(f"[hub-server] {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    @property
    def hub(self) -> "HubServer":
        return self.server.hub

    @property
    def storage(self) -> HubStorage:
        return self.server.hub.storage

    def _iter_body(self) -> Iterator[bytes]:
        """The request body, chunk by chunk (Content-Length or chunked transfer encoding)."""
        if self._body_consumed:
            return
        self._body_consumed = True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(65537)
                size_text = line.split(b";")[0].strip()
                if not _CHUNK_SIZE_RE.fullmatch(size_text):
                    self.close_connection = True
                    raise HubError(400, "truncated chunked body" if not line else "Invalid chunk size")
                size = int(size_text, 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, COPY_CHUNK))
                    if not data:
                        self.close_connection = True
                        raise HubError(400, "truncated chunked body")
                    remaining -= len(data)
                    yield data
                self.rfile.readline()
        else:
            remaining = self._content_length() or 0
            while remaining > 0:
                data = self.rfile.read(min(remaining, COPY_CHUNK))
                if not data:
                    self.close_connection = True
                    raise HubError(400, "truncated body")
                remaining -= len(data)
                yield data

    def _content_length(self) -> Optional[int]:
        """The declared Content-Length (None when absent); 400 when it is not a number."""
        declared = self.headers.get("Content-Length")
        if declared is None:
            return None
        if not _CONTENT_LENGTH_RE.fullmatch(declared.strip()):
            self.close_connection = True
            raise HubError(400, f"Invalid Content-Length: {declared!r}")
        return int(declared)

    def _body(self) -> bytes:
        """The whole request body, at most ``max_body_bytes`` (413 before reading when the
        declared length is larger, or as soon as a chunked body grows past it)."""
        if self._body_cache is None:
            limit = self.server.hub.max_body_bytes
            declared = self._content_length()
            if declared is not None and declared > limit and "chunked" not in self.headers.get(
                    "Transfer-Encoding", "").lower():
                self.close_connection = True  # the unread body must not be taken for a request
                raise HubError(413, f"Request body of {declared} bytes exceeds the limit of {limit} bytes")
            parts, total = [], 0
            for part in self._iter_body():
                total += len(part)
                if total > limit:
                    self.close_connection = True
                    raise HubError(413, f"Request body exceeds the limit of {limit} bytes")
                parts.append(part)
            self._body_cache = b"".join(parts)
        return self._body_cache

    def _discard_body(self) -> None:
        """Read what the endpoint left of the body, to keep the connection usable; close it
        instead when that is more than ``max_body_bytes`` or the body is malformed."""
        if self.close_connection or self._body_consumed:
            return
        limit = self.server.hub.max_body_bytes
        try:
            declared = self._content_length()
            if declared is not None and declared > limit:
                self.close_connection = True
                return
            total = 0
            for part in self._iter_body():
                total += len(part)
                if total > limit:
                    self.close_connection = True
                    return
        except HubError:
            self.close_connection = True

    def _json_body(self, what: str = "request body") -> Dict[str, Any]:
        """The body as a JSON object (``{}`` when empty); 400 for anything else."""
        return parse_json_object(self._body(), what)

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json; charset=utf-8",
              headers: Optional[Dict[str, str]] = None, length: Optional[int] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_json(self, obj: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def _send_error(self, err: HubError) -> None:
        headers = {k: _header_safe(v) for k, v in err.headers.items()}
        headers["X-Error-Message"] = _header_safe(err.message)
        if err.code:
            headers["X-Error-Code"] = err.code
        self._send_json(dict(err.body, error=err.message), status=err.status, headers=headers)

    def _dispatch(self) -> None:
        self._body_consumed = False
        self._body_cache: Optional[bytes] = None
        self._token: Optional[Token] = None
        split = urlsplit(self.path)
        self.query = {k: v for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self.hub.request_log.record(self.command, split.path)
        try:
            try:
                self._content_length()  # a malformed Content-Length is 400 on every route
                self._token = self._authenticate()
                self._route(split.path)
            finally:
                self._discard_body()
        except HubError as err:
            self._send_error(err)
            if self.close_connection:
                self._linger()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # never crash the server on a bad request
            if self.hub.verbose:
                import traceback

                traceback.print_exc()
            try:
                self._send_error(HubError(500, f"Internal server error: {type(exc).__name__}"))
            except OSError:
                self.close_connection = True

    #: How much of a refused request's unread body is read and dropped before the connection is
    #: closed, and for how long (see :meth:`_linger`).
    LINGER_BYTES, LINGER_SECONDS = 16 << 20, 2.0

    def _linger(self) -> None:
        """Close gently after an error answered without reading the whole body (413, a bad
        chunk): closing a socket whose receive buffer holds unread data makes the kernel send a
        reset, which can reach the client before the response does. So end our side first
        (FIN, after the response), then read and drop what the client still sends, up to
        :data:`LINGER_BYTES` or :data:`LINGER_SECONDS`, before the server closes the socket."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(self.LINGER_SECONDS)
            drained = 0
            while drained < self.LINGER_BYTES:
                data = self.connection.recv(COPY_CHUNK)
                if not data:
                    break
                drained += len(data)
        except OSError:  # the client went away, or took too long: close now
            pass

    def _q(self, name: str, default: Optional[str] = None) -> Optional[str]:
        values = self.query.get(name)
        return values[-1] if values else default

    def _qbool(self, name: str) -> bool:
        return (self._q(name, "") or "").lower() in ("1", "true", "yes", "on")

    def _qint(self, name: str, default: int, minimum: int = 0) -> int:
        text = self._q(name)
        if text is None or text == "":
            return default
        if not re.fullmatch(r"[0-9]{1,12}", text) or int(text) < minimum:
            raise HubError(400, f"Invalid {name} {text!r}: expected an integer of at least {minimum}")
        return int(text)

    @property
    def base_url(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.hub.url

    # -- credentials ----------------------------------------------------------------------

    def _authenticate(self) -> Optional[Token]:
        """The grant of the request's bearer token (None without one); 401 for an unknown
        token, whatever the route (like the Hub)."""
        header = self.headers.get("Authorization", "")
        if header[:7].lower() != "bearer " or not header[7:].strip():
            return None
        token = self.hub.tokens.lookup(header[7:].strip())
        if token is None:
            raise HubError(401, INVALID_CREDENTIALS)
        return token

    @property
    def token(self) -> Optional[Token]:
        """The grant of this request's token (None: anonymous)."""
        return self._token

    def _require_user(self) -> Token:
        if self._token is None:
            raise HubError(401, INVALID_CREDENTIALS)
        return self._token

    def _may_write(self, namespace: str, action: str) -> Token:
        """The request's token when it may write under ``namespace``; else 401/403."""
        return check_write(self._token, namespace, action)

    # -- repository access ----------------------------------------------------------------

    def _repo(self, repo_type: str, namespace: str, name: str) -> Repo:
        """The repository named in a URL (400 for invalid names; it may not exist)."""
        return self.storage.repo(repo_type, namespace, name)

    def _readable(self, repo: Repo) -> Dict[str, Any]:
        """``repo``'s metadata when it exists and this request may read it; else 404/401."""
        repo.require()
        meta = repo.meta()
        check_read(self._token, repo.type, repo.id, repo.namespace, bool(meta.get("private")))
        return meta

    def _readable_as_owner(self, repo: Repo) -> Dict[str, Any]:
        """``repo``'s metadata when it exists (the caller holds a signed URL)."""
        repo.require()
        return repo.meta()

    def _writable(self, repo: Repo, action: Optional[str] = None) -> Dict[str, Any]:
        """``repo``'s metadata when this request may write to it; else 401 (no token), 404
        (missing or hidden) or 403 (read token, namespace outside the token's scope)."""
        self._require_user()
        meta = self._readable(repo)
        self._may_write(repo.namespace, action or f"write to {repo.type} {repo.id}")
        return meta

    def _resolve(self, repo: Repo, revision: str, extra: Optional[Dict[str, str]] = None) -> str:
        """The commit ``revision`` names in ``repo``: 400 when malformed, 404 when missing."""
        parse_revision(revision)
        commit = self.storage.resolve(repo, revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound", headers=extra)
        return commit


_CHUNK_SIZE_RE = re.compile(rb"[0-9a-fA-F]{1,15}")
_CONTENT_LENGTH_RE = re.compile(r"[0-9]{1,18}")
_UNSAFE_HEADER_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")


def _header_safe(value: str) -> str:
    """``value`` fit for a header line: latin-1, control characters replaced by spaces."""
    return _UNSAFE_HEADER_CHARS_RE.sub(" ", value.encode("latin-1", "replace").decode("latin-1"))
