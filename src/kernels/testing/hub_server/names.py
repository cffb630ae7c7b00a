"""Names the server accepts, one parser per kind: repository types, namespaces, repository
names, revisions, branch and tag names, paths in a repository and object ids.

Every parser returns the (possibly normalized) value or raises :class:`InvalidNameError` (a
``ValueError`` answered 400) whose message names the kind of name, the value and the rule it
breaks. The rules are the Hub's as ``huggingface_hub`` checks them on the client side, and
git's ``check-ref-format`` for refs; nothing reaches the disk or a tree without them.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .errors import InvalidNameError

__all__ = [
    "DEFAULT_BRANCH", "PLURAL_TO_TYPE", "PREFIX_TO_TYPE", "REPO_TYPES", "URL_PREFIXES", "parse_commit_id",
    "parse_namespace", "parse_path_in_repo", "parse_read_path", "parse_ref_name", "parse_repo_name",
    "parse_repo_type", "parse_revision", "parse_sha256",
]

REPO_TYPES = ("model", "dataset", "space", "kernel")
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/", "kernel": "kernels/"}
PREFIX_TO_TYPE = {"datasets": "dataset", "spaces": "space", "kernels": "kernel"}
PLURAL_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
DEFAULT_BRANCH = "main"

#: The longest namespace or repository name (each part of a repo id), like the Hub.
MAX_NAME_LENGTH = 96
#: The longest branch or tag name, and the longest revision.
MAX_REF_LENGTH = 255
#: The longest path in a repository (UTF-8 bytes) and the longest file or folder name in it.
MAX_PATH_BYTES = 4096
MAX_SEGMENT_BYTES = 255
#: Folders a commit may not write into (``huggingface_hub`` refuses them too).
FORBIDDEN_FOLDERS = (".git", ".cache")

SHA1_RE = re.compile(r"[0-9a-f]{40}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
HEX_RE = re.compile(r"[0-9a-f]{7,40}")
_NAME_CHARS_RE = re.compile(r"[A-Za-z0-9._-]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_REF_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_PR_REF_RE = re.compile(r"refs/pr/[1-9][0-9]{0,8}")


def json_type(value: Any) -> str:
    """The JSON name of a parsed JSON value's type (for error messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidNameError(f"Invalid {what}: expected a string, got {json_type(value)}")
    return value


def parse_repo_type(value: Any) -> str:
    """A repository type: ``model``, ``dataset``, ``space`` or ``kernel``."""
    if not isinstance(value, str) or value not in REPO_TYPES:
        raise InvalidNameError(f"Invalid repo type {value!r}: expected one of {', '.join(REPO_TYPES)}")
    return value


def _name_problem(value: str) -> Optional[str]:
    if not value:
        return "it is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"it is longer than {MAX_NAME_LENGTH} characters"
    if not _NAME_CHARS_RE.fullmatch(value):
        return "only ASCII letters, digits, '-', '_' and '.' are allowed"
    if value[0] in "-." or value[-1] in "-.":
        return "it must not start or end with '-' or '.'"
    if "--" in value or ".." in value:
        return "it must not contain '--' or '..'"
    if value.endswith(".git"):
        return "it must not end with '.git'"
    return None


def parse_namespace(value: Any) -> str:
    """A user or organization name, under the same rules as a repository name."""
    problem = _name_problem(_string(value, "namespace"))
    if problem:
        raise InvalidNameError(f"Invalid namespace {value!r}: {problem}")
    return value


def parse_repo_name(value: Any) -> str:
    """A repository name (the part after ``namespace/``): ASCII letters, digits, ``-``, ``_``
    and ``.``; not starting or ending with ``-`` or ``.``; no ``--`` or ``..``; not ending with
    ``.git``; at most 96 characters."""
    problem = _name_problem(_string(value, "repo name"))
    if problem:
        raise InvalidNameError(f"Invalid repo name {value!r}: {problem}")
    return value


def _ref_problem(value: str) -> Optional[str]:
    """What git's ``check-ref-format`` (one level allowed) finds wrong with ``value``, plus:
    printable ASCII only, at most 255 characters, no leading ``-``."""
    if not value:
        return "it is empty"
    if len(value) > MAX_REF_LENGTH:
        return f"it is longer than {MAX_REF_LENGTH} characters"
    if not value.isascii():
        return "only printable ASCII characters are allowed"
    if _REF_FORBIDDEN_RE.search(value):
        return "spaces, control characters and any of ~ ^ : ? * [ \\ are not allowed"
    if value.startswith(("/", "-")) or value.endswith(("/", ".")):
        return "it must not start with '/' or '-' nor end with '/' or '.'"
    if "//" in value or ".." in value or "@{" in value or value == "@":
        return "'//', '..', '@{' and a lone '@' are not allowed"
    if any(part.startswith(".") or part.endswith(".lock") for part in value.split("/")):
        return "no part may start with '.' or end with '.lock'"
    return None


def parse_ref_name(value: Any, what: str = "branch name") -> str:
    """A new branch or tag name (``what`` names it in errors): git's ``check-ref-format``
    rules, printable ASCII, at most 255 characters, not starting with ``-`` or ``refs/``."""
    problem = _ref_problem(_string(value, what))
    if problem is None and value.startswith("refs/"):
        problem = "it must not start with 'refs/'"
    if problem:
        raise InvalidNameError(f"Invalid {what} {value!r}: {problem}")
    return value


def parse_revision(value: Any) -> str:
    """A revision to read or commit to: a branch or tag name, ``refs/heads/<branch>``,
    ``refs/tags/<tag>``, ``refs/pr/<n>`` or a (possibly abbreviated) commit id; the same rules
    as :func:`parse_ref_name`, ``refs/`` allowed. Whether it exists is for the caller to find."""
    problem = _ref_problem(_string(value, "revision"))
    if problem is None and value.startswith("refs/pr/") and not _PR_REF_RE.fullmatch(value):
        problem = "a pull request ref is 'refs/pr/<number>'"
    if problem:
        raise InvalidNameError(f"Invalid revision {value!r}: {problem}")
    return value


def _path_problem(value: str, *, writing: bool) -> Optional[str]:
    if not value:
        return "it is empty"
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"it is longer than {MAX_PATH_BYTES} bytes"
    if _CONTROL_RE.search(value):
        return "control characters (line breaks, NUL, ...) are not allowed"
    if "\\" in value:
        return "backslashes are not allowed (use '/')"
    if value.startswith("/"):
        return "it must be relative (no leading '/')"
    for part in value.split("/"):
        if part == "":
            return "empty segments ('//' or a trailing '/') are not allowed"
        if part in (".", ".."):
            return "'.' and '..' segments are not allowed"
        if len(part.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            return f"a file or folder name is longer than {MAX_SEGMENT_BYTES} bytes"
        if writing and part in FORBIDDEN_FOLDERS:
            return f"files under a '{part}/' folder cannot be committed"
        if writing and part[1:2] == ":":
            return "a name like 'C:...' is a Windows drive (huggingface_hub refuses to download it)"
    return None


def parse_path_in_repo(value: Any, what: str = "path") -> str:
    """A file path written by a commit: relative, '/'-separated, no empty, ``.`` or ``..``
    segment, no backslash or control character, no segment that reads as a Windows drive
    (``C:x``), nothing under ``.git/`` or ``.cache/``, at most 4096 bytes (255 per segment).
    Every file so committed can be downloaded by ``huggingface_hub``."""
    problem = _path_problem(_string(value, what), writing=True)
    if problem:
        raise InvalidNameError(f"Invalid {what} {value!r}: {problem}")
    return value


def parse_read_path(value: Any, what: str = "path") -> str:
    """A path to look up (tree listing, paths-info, download): one leading and trailing ``/``
    are dropped (``""`` is the root), the rest follows :func:`parse_path_in_repo` except that
    reserved folders are only absent, not refused."""
    text = _string(value, what)
    if text.startswith("/"):
        text = text[1:]
    if text.endswith("/"):
        text = text[:-1]
    if text == "":
        return ""
    problem = _path_problem(text, writing=False)
    if problem:
        raise InvalidNameError(f"Invalid {what} {value!r}: {problem}")
    return text


def parse_sha256(value: Any, what: str = "LFS oid") -> str:
    """A sha256 hex digest (64 hex digits; upper case is lowered)."""
    text = _string(value, what).lower()
    if not SHA256_RE.fullmatch(text):
        raise InvalidNameError(f"Invalid {what} {value!r}: expected 64 hexadecimal digits (sha256)")
    return text


def parse_commit_id(value: Any, what: str = "commit id") -> str:
    """A (possibly abbreviated) commit id: 7 to 40 hex digits (upper case is lowered)."""
    text = _string(value, what).lower()
    if not HEX_RE.fullmatch(text):
        raise InvalidNameError(f"Invalid {what} {value!r}: expected 7 to 40 hexadecimal digits")
    return text
