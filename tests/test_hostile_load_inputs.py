"""Variants written to take over modules: a metadata id naming a module the kernel does not own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kernels import get_local_kernel
from kernels.errors import KernelTreeError
from test_load import fake_kernel


def _with_id(tmp_path: Path, kid: str, name: str = "grab") -> Path:
    variant = fake_kernel(tmp_path / "k", name=name, files={"__init__.py": "GRABBED = True\n"})
    metadata = json.loads((variant / "metadata.json").read_text())
    metadata["id"] = kid
    (variant / "metadata.json").write_text(json.dumps(metadata))
    return tmp_path / "k"


def test_an_id_naming_an_imported_module_is_refused(tmp_path: Path) -> None:
    assert "_io" in sys.modules
    before = sys.modules["_io"]
    with pytest.raises(KernelTreeError, match="'_io' names a module that is already imported"):
        get_local_kernel(_with_id(tmp_path, "_io"))
    assert sys.modules["_io"] is before  # neither handed out nor replaced


def test_an_id_naming_an_importable_module_is_refused(tmp_path: Path) -> None:
    sys.modules.pop("_pydecimal", None)
    with pytest.raises(KernelTreeError, match="'_pydecimal' names a module that Python can import"):
        get_local_kernel(_with_id(tmp_path, "_pydecimal"))
    assert "_pydecimal" not in sys.modules


def test_a_kernels_own_id_loads(tmp_path: Path) -> None:
    module = get_local_kernel(_with_id(tmp_path, "_grab_cpu_0123456789abcdef"))
    assert module.GRABBED and sys.modules["_grab_cpu_0123456789abcdef"] is module


@pytest.mark.parametrize("repo_id", ["../../etc", "a//b", "org/name\n", "org/na me", "noslash"])
def test_bad_repo_ids_are_one_clear_error(repo_id: str) -> None:
    from kernels import get_kernel
    from kernels.errors import HubError

    with pytest.raises(HubError, match="repository id"):
        get_kernel(repo_id, version=1)


def test_lock_variant_names_and_repo_ids_are_validated() -> None:
    from kernels.errors import LockError
    from kernels.lock import parse_lockfile

    commit = "a" * 40
    escape = [{"repo_id": "org/relu", "sha": commit, "variants": {"../../../../victim": {"hash": "sha256-00"}}}]
    with pytest.raises(LockError, match=r"invalid variant '\.\./\.\./\.\./\.\./victim'"):
        parse_lockfile(json.dumps(escape))
    with pytest.raises(LockError, match=r"'\.\./\.\./etc' is not a kernel repository id"):
        parse_lockfile(json.dumps([{"dependency": {"repo-id": "../../etc", "version": 1}, "lock": {"commit": commit}}]))


def test_variant_names_are_checked_before_they_become_cache_paths() -> None:
    from kernels import hub

    with pytest.raises(ValueError, match="invalid variant"):
        hub.download_variant("org/relu", "a" * 40, "../../../victim")


@pytest.mark.parametrize("repo_id", [
    "org/relu", "kernels-community/relu", "a_b/c.d", "../../etc", "a//b", "org/name\n", "org/na me",
    "org/-x", "org/x-", "org/.x", "org/a--b", "org/a..b", "org/x.git", "org/" + "x" * 100, "/x", "x/",
    "org/näme", "o/b/c", "noslash",
])
def test_repo_id_check_is_as_strict_as_huggingface_hub(repo_id: str) -> None:
    """The check runs without importing huggingface_hub; it refuses whatever its validator does."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    from kernels import hub
    from kernels.errors import HubError

    try:
        validate_repo_id(repo_id)
        hf_ok = "/" in repo_id
    except HFValidationError:
        hf_ok = False
    try:
        hub.check_repo_id(repo_id)
        ours_ok = True
    except HubError:
        ours_ok = False
    assert not ours_ok or hf_ok, f"{repo_id!r} passes ours but not huggingface_hub's"
    if repo_id in ("org/relu", "kernels-community/relu", "a_b/c.d"):
        assert ours_ok
