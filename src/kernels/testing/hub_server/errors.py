"""Errors of the local Hub server, answered as JSON by the HTTP layer."""

from __future__ import annotations

from typing import Any, Dict, Optional

__all__ = ["HubError", "InvalidNameError"]


class HubError(Exception):
    """An error answered as JSON ``{"error": message}`` with ``X-Error-Code``/``X-Error-Message``.

    Args:
        status: the HTTP status (400, 401, 403, 404, 409, 412, 413, ...).
        message: what went wrong, for the client (``error`` field and ``X-Error-Message``).
        code: the Hub's ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``,
            ``EntryNotFound``) that ``huggingface_hub`` turns into its specific errors.
        headers: extra response headers (e.g. ``X-Repo-Commit``).

    ``body`` holds extra JSON fields of the answer (e.g. ``url`` of a 409 on create).
    """

    def __init__(self, status: int, message: str, code: Optional[str] = None,
                 headers: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.body: Dict[str, Any] = {}


class InvalidNameError(HubError, ValueError):
    """A name, path, revision or payload field the server refuses (answered 400).

    Raised by the parsers of :mod:`.names` and :mod:`.payloads`, and by :class:`.HubStorage`
    for Python callers, before anything is created on disk.
    """

    def __init__(self, message: str):
        super().__init__(400, message)
