"""Tokens and what they may do: who a bearer token is, whether it may read or write where.

A :class:`TokenTable` maps bearer tokens to :class:`Token` grants: a user, a role (``read``
or ``write``) and the organisations the token is limited to (``None``: every namespace).
Unknown tokens either stand for the server's default user with the write role over every
namespace (``accept_any=True``, the default: any token works, as in most tests) or are
refused with 401.

Access rules, as the Hub applies them:

- anyone, even without a token, reads public repositories;
- private repositories are read by tokens whose user or organisations own them (an unscoped
  token reads them all); others get 404 ``RepoNotFound``, anonymous requests 401;
- writes (create/delete repositories, settings, commits, branches, tags, LFS uploads) need a
  token (401 without), with the write role (403 for a read token), whose user or
  organisations own the namespace (403 elsewhere).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Optional, Set

from .errors import HubError
from .names import parse_namespace

__all__ = ["ROLES", "Token", "TokenTable", "check_read", "check_write"]

ROLES = ("read", "write")
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,1024}")  # printable ASCII, no spaces

#: The message huggingface_hub recognises as "bad token" (not "repository not found").
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


@dataclass(frozen=True)
class Token:
    """What one bearer token grants.

    Attributes:
        user: the user the token authenticates as (its own namespace).
        role: ``"read"`` or ``"write"``.
        orgs: organisations the token may act in besides ``user``'s namespace; ``None`` for
            every namespace (the default token).
        display_name: the token's name in ``whoami-v2``.
    """

    user: str
    role: str
    orgs: Optional[FrozenSet[str]]
    display_name: str = "test token"

    def may_read(self, namespace: str) -> bool:
        """Whether private repositories under ``namespace`` are visible to this token."""
        return self.orgs is None or namespace == self.user or namespace in self.orgs

    def may_write(self, namespace: str) -> bool:
        """Whether this token may write under ``namespace``."""
        return self.role == "write" and self.may_read(namespace)

    def scope(self) -> str:
        """The namespaces the token acts in, in words (for messages)."""
        if self.orgs is None:
            return "every namespace"
        return ", ".join(repr(n) for n in [self.user, *sorted(self.orgs)])


class TokenTable:
    """The tokens a server knows (thread-safe).

    Args:
        default_user: the user of unknown tokens when ``accept_any`` is true.
        accept_any: unknown tokens authenticate as ``default_user`` with the write role over
            every namespace; with ``False`` they are refused (401).
    """

    def __init__(self, default_user: str, *, accept_any: bool = True):
        self.default_user = parse_namespace(default_user)
        self.accept_any = accept_any
        self._tokens: Dict[str, Token] = {}
        self._lock = threading.Lock()

    def add(self, token: str, *, user: Optional[str] = None, role: str = "read",
            orgs: Optional[Iterable[str]] = None, display_name: Optional[str] = None) -> Token:
        """Register (or replace) ``token``; returns its grant.

        Args:
            token: the bearer token (printable ASCII without spaces, at most 1024 characters).
            user: who it authenticates as (default: ``default_user``).
            role: ``"read"`` (reads only, every write is 403) or ``"write"``.
            orgs: the organisations it may act in besides its user's namespace; ``None``
                (default) for every namespace, ``[]`` for its user's namespace only.
            display_name: its name in ``whoami-v2`` (default: ``"<role> token"``).

        Raises:
            ValueError: for a malformed token, an unknown role, an invalid user or
                organisation name.
        """
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            raise ValueError("a token must be 1 to 1024 printable ASCII characters without spaces")
        if role not in ROLES:
            raise ValueError(f"unknown token role {role!r}: expected 'read' or 'write'")
        if isinstance(orgs, str):
            raise ValueError("orgs must be a list of organisation names, not a string")
        grant = Token(
            user=parse_namespace(self.default_user if user is None else user),
            role=role,
            orgs=None if orgs is None else frozenset(parse_namespace(o) for o in orgs),
            display_name=display_name or f"{role} token",
        )
        with self._lock:
            self._tokens[token] = grant
        return grant

    def remove(self, token: str) -> bool:
        """Forget ``token``; False if it was not registered."""
        with self._lock:
            return self._tokens.pop(token, None) is not None

    def lookup(self, token: str) -> Optional[Token]:
        """The grant of ``token``: registered, else the default grant (``accept_any``), else None."""
        with self._lock:
            grant = self._tokens.get(token)
        if grant is None and self.accept_any:
            grant = Token(user=self.default_user, role="write", orgs=None, display_name="test token")
        return grant

    def users(self) -> Set[str]:
        """Names of all users the tokens authenticate as (these are not organisations)."""
        with self._lock:
            return {self.default_user} | {t.user for t in self._tokens.values()}


def _not_found(repo_type: str, repo_id: str, status: int) -> HubError:
    return HubError(status, f"Repository not found: {repo_type} {repo_id}", "RepoNotFound")


def check_read(token: Optional[Token], repo_type: str, repo_id: str, namespace: str, private: bool) -> None:
    """Raise unless ``token`` (None: anonymous) may read the repository.

    Raises:
        HubError: 401 ``RepoNotFound`` for a private repository read anonymously, 404
            ``RepoNotFound`` for one outside the token's namespaces (existence is not revealed).
    """
    if not private:
        return
    if token is None:
        raise _not_found(repo_type, repo_id, 401)
    if not token.may_read(namespace):
        raise _not_found(repo_type, repo_id, 404)


def check_write(token: Optional[Token], namespace: str, action: str) -> Token:
    """``token`` when it may write under ``namespace``; ``action`` says what in messages
    (e.g. ``"create a kernel"``, ``"commit to kernel org/name"``).

    Raises:
        HubError: 401 without a token; 403 for a read token or a namespace outside its scope.
    """
    if token is None:
        raise HubError(401, INVALID_CREDENTIALS)
    if token.role != "write":
        raise HubError(403, f"You cannot {action}: this token is read-only (the write role is needed)")
    if not token.may_write(namespace):
        raise HubError(403, f"You don't have the rights to {action} under the namespace {namespace!r}"
                            f" (this token acts in {token.scope()})")
    return token
