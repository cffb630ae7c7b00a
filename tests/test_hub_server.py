"""The local Hub server (kernels.testing.hub_server) against the real huggingface_hub client.

Everything goes over HTTP on 127.0.0.1; huggingface_hub is used as is (no patching). The client
reads HF_ENDPOINT/HF_HUB_CACHE at import time, so every call passes ``endpoint=`` and
``cache_dir=`` explicitly.
"""

from __future__ import annotations

import os

# huggingface_hub uploads "lfs" files through Xet when hf_xet is installed, unless this is set
# before huggingface_hub is imported (the server speaks the classic LFS protocol only).
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

import hashlib
import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import get_hf_file_metadata

from kernels.testing.fixtures import client_uses_xet
from kernels.testing.hub_server import HubServer, git_blob_sha1, lfs_pointer

pytest_plugins = ["kernels.testing.fixtures"]

REPO_ROOT = Path(__file__).resolve().parents[1]
VARIANT = "torch213-cxx11-cpu-x86_64-linux"
REPO = "kernels-test/relu"
SO_NAME = "_relu_cpu_x.abi3.so"


@pytest.fixture
def http() -> "httpx2.Client":
    """A raw HTTP client, to look at headers and error bodies (one client: SSL setup is slow)."""
    with httpx2.Client() as client:
        yield client


def _api(server: HubServer) -> HfApi:
    return HfApi(endpoint=server.url, token=server.token)


def _write_kernel_tree(root: Path, so_bytes: bytes, ops: str = "ops = None\n", extra: dict | None = None) -> Path:
    """A kernel build folder ``root/build/<VARIANT>/...``; returns ``root``."""
    variant = root / "build" / VARIANT
    variant.mkdir(parents=True)
    files = {
        "__init__.py": "from ._ops import ops\n\n__all__ = ['ops']\n",
        "_ops.py": ops,
        "metadata.json": json.dumps({"name": "relu", "id": "_relu_cpu_x", "version": 1}, indent=2),
    }
    files.update(extra or {})
    for name, text in files.items():
        (variant / name).write_text(text)
    (variant / SO_NAME).write_bytes(so_bytes)
    return root


def _variant_files(root: Path) -> dict:
    variant = root / "build" / VARIANT
    return {p.name: p.read_bytes() for p in variant.iterdir()}


@pytest.mark.parametrize("repo_type,prefix", [("kernel", "kernels/"), ("model", "")])
def test_create_exists_delete(hub_server: HubServer, repo_type: str, prefix: str) -> None:
    api = _api(hub_server)
    url = api.create_repo(REPO, repo_type=repo_type, private=False)
    assert str(url) == f"{hub_server.url}/{prefix}{REPO}"
    assert url.repo_type == repo_type and url.repo_id == REPO
    # Existing repo: 409, which exist_ok swallows.
    assert str(api.create_repo(REPO, repo_type=repo_type, exist_ok=True)) == str(url)
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo(REPO, repo_type=repo_type)
    assert excinfo.value.response.status_code == 409

    assert api.repo_exists(REPO, repo_type=repo_type)
    assert not api.repo_exists("kernels-test/other", repo_type=repo_type)
    other_type = "dataset" if repo_type == "kernel" else "kernel"
    assert not api.repo_exists(REPO, repo_type=other_type)

    info = api.repo_info(REPO, repo_type=repo_type)
    assert len(info.sha) == 40 and info.private is False
    assert info.last_modified is not None
    # KernelInfo keeps the raw JSON of fields it does not model (siblings); ModelInfo parses them.
    names = [s["rfilename"] if isinstance(s, dict) else s.rfilename for s in info.siblings]
    assert names == [".gitattributes"]

    api.delete_repo(REPO, repo_type=repo_type)
    assert not api.repo_exists(REPO, repo_type=repo_type)
    api.delete_repo(REPO, repo_type=repo_type, missing_ok=True)
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(REPO, repo_type=repo_type)

    # Private repositories need a token.
    api.create_repo("kernels-test/secret", repo_type=repo_type, private=True)
    assert api.repo_info("kernels-test/secret", repo_type=repo_type).private is True
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub_server.url, token=False).repo_info("kernels-test/secret", repo_type=repo_type)


def test_kernel_upload_download_flow(hub_server: HubServer, tmp_path: Path, http: httpx2.Client) -> None:
    api = _api(hub_server)
    log = hub_server.request_log
    so_bytes = os.urandom(20000) + b"\x00"  # binary content: uploaded as LFS like on the Hub
    src = _write_kernel_tree(tmp_path / "src1", so_bytes, extra={"stale.py": "# removed later\n"})
    api.create_repo(REPO, repo_type="kernel")
    api.create_branch(REPO, branch="v1", repo_type="kernel")

    log.clear()
    info = api.upload_folder(repo_id=REPO, repo_type="kernel", folder_path=src, revision="v1",
                             commit_message="Upload relu v1")
    assert len(log.matching("POST", "/commit/")) == 1  # one commit for the whole tree
    if hub_server.lfs:  # classic LFS transfer: batch, PUT back to this server, verify
        assert log.matching("POST", "/kernels/kernels-test/relu.git/info/lfs/objects/batch")
        assert len(log.matching("PUT", ".git/info/lfs/objects/")) == 1
    assert not log.matching(contains="xet")
    first_commit = info.oid
    assert info.commit_url == f"{hub_server.url}/kernels/{REPO}/commit/{first_commit}"

    commits = api.list_repo_commits(REPO, repo_type="kernel", revision="v1")
    assert [c.commit_id for c in commits][0] == first_commit and len(commits) == 2
    assert commits[0].title == "Upload relu v1"

    refs = api.list_repo_refs(REPO, repo_type="kernel")
    branches = {b.name: b.target_commit for b in refs.branches}
    assert set(branches) == {"main", "v1"} and branches["v1"] == first_commit
    assert refs.tags == []

    folders = list(api.list_repo_tree(REPO, "build", repo_type="kernel", revision="v1"))
    assert [f.path for f in folders] == [f"build/{VARIANT}"]
    assert len(folders[0].tree_id) == 40

    entries = {e.path.rsplit("/", 1)[-1]: e for e in api.list_repo_tree(
        REPO, f"build/{VARIANT}", repo_type="kernel", revision="v1")}
    local = _variant_files(src)
    assert set(entries) == set(local)
    for name, data in local.items():
        assert entries[name].size == len(data)
        if name == SO_NAME and hub_server.lfs:
            assert entries[name].lfs.sha256 == hashlib.sha256(data).hexdigest()
            assert entries[name].blob_id == git_blob_sha1(lfs_pointer(hashlib.sha256(data).hexdigest(), len(data)))
        else:
            assert entries[name].lfs is None and entries[name].blob_id == git_blob_sha1(data)

    # snapshot_download of one variant: identical bytes, under snapshots/<commit sha>.
    cache = tmp_path / "cache"
    log.clear()
    path = Path(snapshot_download(REPO, repo_type="kernel", revision="v1", allow_patterns=[f"build/{VARIANT}/*"],
                                  cache_dir=cache, endpoint=hub_server.url))
    assert path == cache / "kernels--kernels-test--relu" / "snapshots" / first_commit
    assert (cache / "kernels--kernels-test--relu" / "refs" / "v1").read_text() == first_commit
    assert {p.name: p.read_bytes() for p in (path / "build" / VARIANT).iterdir()} == local
    assert sorted(p.name for p in path.iterdir()) == ["build"]  # .gitattributes not matched
    assert len(log.matching("GET", "/resolve/")) == len(local)

    single = hf_hub_download(REPO, f"build/{VARIANT}/metadata.json", repo_type="kernel", revision="v1",
                             cache_dir=tmp_path / "cache2", endpoint=hub_server.url)
    assert Path(single).read_bytes() == local["metadata.json"]
    assert f"/snapshots/{first_commit}/" in single
    # Cached and addressed by commit sha: no request at all.
    log.clear()
    hf_hub_download(REPO, f"build/{VARIANT}/metadata.json", repo_type="kernel", revision=first_commit,
                    cache_dir=tmp_path / "cache2", endpoint=hub_server.url)
    assert list(log) == []

    # HEAD metadata as the client sees it, and the raw headers.
    url = hf_hub_url(REPO, f"build/{VARIANT}/metadata.json", repo_type="kernel", revision="v1",
                     endpoint=hub_server.url)
    meta = get_hf_file_metadata(url, token=hub_server.token)
    assert meta.commit_hash == first_commit and meta.size == len(local["metadata.json"])
    assert meta.etag == git_blob_sha1(local["metadata.json"])
    so_url = hf_hub_url(REPO, f"build/{VARIANT}/{SO_NAME}", repo_type="kernel", revision="v1", endpoint=hub_server.url)
    head = http.head(so_url)
    assert head.status_code == 200 and head.headers["X-Repo-Commit"] == first_commit
    assert head.headers["Content-Length"] == str(len(so_bytes))
    if hub_server.lfs:
        assert head.headers["X-Linked-Etag"] == f'"{hashlib.sha256(so_bytes).hexdigest()}"'
        assert head.headers["X-Linked-Size"] == str(len(so_bytes))
    assert not any(h.lower().startswith("x-xet") for h in head.headers)
    ranged = http.get(so_url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == so_bytes[100:200]
    assert ranged.headers["Content-Range"] == f"bytes 100-199/{len(so_bytes)}"

    # Re-upload: _ops.py changes, stale.py is deleted (delete_patterns), in one commit.
    src2 = _write_kernel_tree(tmp_path / "src2", so_bytes, ops="ops = 'v2'\n")
    log.clear()
    info2 = api.upload_folder(repo_id=REPO, repo_type="kernel", folder_path=src2, revision="v1",
                              commit_message="Upload relu v1 (2)", delete_patterns=[f"build/{VARIANT}/*"])
    assert len(log.matching("POST", "/commit/")) == 1
    assert not log.matching("PUT")  # the .so did not change: nothing uploaded again
    files = api.list_repo_files(REPO, repo_type="kernel", revision="v1")
    assert f"build/{VARIANT}/stale.py" not in files and f"build/{VARIANT}/{SO_NAME}" in files
    new_ops = hf_hub_download(REPO, f"build/{VARIANT}/_ops.py", repo_type="kernel", revision="v1",
                              cache_dir=cache, endpoint=hub_server.url)
    assert Path(new_ops).read_text() == "ops = 'v2'\n" and info2.oid in new_ops
    # The old commit stays downloadable by sha.
    old = hf_hub_download(REPO, f"build/{VARIANT}/stale.py", repo_type="kernel", revision=first_commit,
                          cache_dir=tmp_path / "cache3", endpoint=hub_server.url)
    assert Path(old).read_text() == "# removed later\n"
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, f"build/{VARIANT}/stale.py", repo_type="kernel", revision="v1",
                        cache_dir=tmp_path / "cache3", endpoint=hub_server.url)
    assert api.repo_info(REPO, repo_type="kernel", revision=first_commit).sha == first_commit
    assert api.repo_info(REPO, repo_type="kernel", revision=first_commit[:12]).sha == first_commit

    # Tags.
    api.create_tag(REPO, tag="v1.0.0", revision="v1", repo_type="kernel")
    api.create_tag(REPO, tag="first", revision=first_commit, repo_type="kernel", tag_message="first upload")
    tags = {t.name: t.target_commit for t in api.list_repo_refs(REPO, repo_type="kernel").tags}
    assert tags == {"v1.0.0": info2.oid, "first": first_commit}
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_tag(REPO, tag="first", repo_type="kernel")
    assert excinfo.value.response.status_code == 409
    api.create_tag(REPO, tag="first", repo_type="kernel", exist_ok=True)
    tagged = hf_hub_download(REPO, f"build/{VARIANT}/_ops.py", repo_type="kernel", revision="first",
                             cache_dir=tmp_path / "cache4", endpoint=hub_server.url)
    assert Path(tagged).read_text() == "ops = None\n" and first_commit in tagged
    api.delete_tag(REPO, tag="first", repo_type="kernel")
    assert [t.name for t in api.list_repo_refs(REPO, repo_type="kernel").tags] == ["v1.0.0"]

    # Branches: from a starting point, existing, deleted.
    api.create_branch(REPO, branch="v2", revision=first_commit, repo_type="kernel")
    assert api.repo_info(REPO, repo_type="kernel", revision="v2").sha == first_commit
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_branch(REPO, branch="v2", repo_type="kernel")
    assert excinfo.value.response.status_code == 409
    api.create_branch(REPO, branch="v2", repo_type="kernel", exist_ok=True)
    api.delete_branch(REPO, branch="v2", repo_type="kernel")
    assert {b.name for b in api.list_repo_refs(REPO, repo_type="kernel").branches} == {"main", "v1"}


def test_create_commit_operations(hub_server: HubServer, tmp_path: Path) -> None:
    api = _api(hub_server)
    repo = "kernels-test/model"
    api.create_repo(repo)
    hub_server.lfs_threshold = 1000  # "large" text files go to LFS
    big_text = b"x" * 3000
    log = hub_server.request_log
    log.clear()
    first = api.create_commit(repo, operations=[
        CommitOperationAdd("README.md", b"# model\n"),
        CommitOperationAdd("dir/a.txt", b"a\n"),
        CommitOperationAdd("dir/sub/b.txt", b"b\n"),
        CommitOperationAdd("big.txt", big_text),
        CommitOperationAdd("keep.txt", b"keep\n"),
        CommitOperationAdd("données/é t.txt", "ünïcode\n".encode()),
    ], commit_message="first", commit_description="details")
    assert log.matching("POST", "/api/validate-yaml")  # README.md is validated first
    commit = api.list_repo_commits(repo)[0]
    assert commit.commit_id == first.oid and commit.title == "first" and "details" in commit.message
    files = {f.path: f for f in api.list_repo_tree(repo, recursive=True) if hasattr(f, "size")}
    assert set(files) == {".gitattributes", "README.md", "dir/a.txt", "dir/sub/b.txt", "big.txt", "keep.txt",
                          "données/é t.txt"}
    unicode_file = hf_hub_download(repo, "données/é t.txt", cache_dir=tmp_path / "c", endpoint=hub_server.url)
    assert Path(unicode_file).read_text() == "ünïcode\n"
    assert (files["big.txt"].lfs is not None) == hub_server.lfs
    assert files["dir/a.txt"].lfs is None

    # get_paths_info: files and folders, missing paths omitted.
    infos = {p.path: p for p in api.get_paths_info(repo, ["dir/a.txt", "dir", "missing.txt"], expand=True)}
    assert set(infos) == {"dir/a.txt", "dir"}
    assert infos["dir/a.txt"].last_commit.oid == first.oid
    assert api.file_exists(repo, "dir/sub/b.txt") and not api.file_exists(repo, "dir/nope.txt")

    # Deletions of a file and a folder, upload_file, create_commit with a stale parent.
    second = api.create_commit(repo, operations=[
        CommitOperationDelete("keep.txt"),
        CommitOperationDelete("dir/", is_folder=True),
        CommitOperationDelete("données/", is_folder=True),
        CommitOperationAdd("new.bin", os.urandom(64) + b"\x00"),
    ], commit_message="second", parent_commit=first.oid)
    api.upload_file(path_or_fileobj=b"uploaded\n", path_in_repo="nested/file.txt", repo_id=repo)
    assert sorted(api.list_repo_files(repo)) == [".gitattributes", "README.md", "big.txt", "nested/file.txt",
                                                  "new.bin"]
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_commit(repo, operations=[CommitOperationAdd("x.txt", b"x")], commit_message="late",
                          parent_commit=second.oid)
    assert excinfo.value.response.status_code == 412
    with pytest.raises(EntryNotFoundError):
        api.create_commit(repo, operations=[CommitOperationDelete("keep.txt")], commit_message="again")
    # An unchanged file is detected through the preupload oid: no commit.
    log.clear()
    api.upload_file(path_or_fileobj=b"uploaded\n", path_in_repo="nested/file.txt", repo_id=repo)
    assert not log.matching("POST", "/commit/")
    # Large files committed with the old revision of the file are still served from history.
    old_big = hf_hub_download(repo, "big.txt", revision=first.oid, cache_dir=tmp_path / "c", endpoint=hub_server.url)
    assert Path(old_big).read_bytes() == big_text

    # Pagination of the tree (Link: rel="next") and of the commits.
    hub_server.page_size = 2
    log.clear()
    listed = [f.path for f in api.list_repo_tree(repo, recursive=True)]
    assert len(listed) == len(set(listed)) == 6  # 5 files + the "nested" folder
    assert len(log.matching("GET", "/tree/")) == 3
    assert len(api.list_repo_commits(repo)) == 4

    # Pull requests through create_commit(create_pr=True).
    pr = api.create_commit(repo, operations=[CommitOperationAdd("pr.txt", b"pr\n")], commit_message="pr",
                           create_pr=True)
    assert pr.pr_num == 1 and pr.pr_revision == "refs/pr/1"
    prs = api.list_repo_refs(repo, include_pull_requests=True).pull_requests
    assert [p.ref for p in prs] == ["refs/pr/1"] and prs[0].target_commit == pr.oid
    pr_file = hf_hub_download(repo, "pr.txt", revision="refs/pr/1", cache_dir=tmp_path / "c", endpoint=hub_server.url)
    assert Path(pr_file).read_bytes() == b"pr\n"
    assert "pr.txt" not in api.list_repo_files(repo)


def test_concurrent_commits(hub_server: HubServer) -> None:
    """Commits to one branch from many threads: serialized by the server, none lost."""
    api = _api(hub_server)
    repo = "kernels-test/busy"
    api.create_repo(repo, repo_type="kernel")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: api.upload_file(path_or_fileobj=f"{i}\n".encode(), path_in_repo=f"f{i}.txt",
                                                repo_id=repo, repo_type="kernel"), range(8)))
    files = api.list_repo_files(repo, repo_type="kernel")
    assert sorted(files) == sorted([".gitattributes"] + [f"f{i}.txt" for i in range(8)])
    assert len(api.list_repo_commits(repo, repo_type="kernel")) == 9


def test_errors(hub_server: HubServer, tmp_path: Path, http: httpx2.Client) -> None:
    api = _api(hub_server)
    api.create_repo(REPO, repo_type="kernel")
    cache = tmp_path / "cache"
    with pytest.raises(RepositoryNotFoundError):
        api.repo_info("kernels-test/missing", repo_type="kernel")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("kernels-test/missing", "x.py", repo_type="kernel", cache_dir=cache, endpoint=hub_server.url)
    with pytest.raises(RepositoryNotFoundError):
        api.list_repo_refs("kernels-test/missing", repo_type="kernel")
    with pytest.raises(RevisionNotFoundError):
        api.repo_info(REPO, repo_type="kernel", revision="v9")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, ".gitattributes", repo_type="kernel", revision="v9", cache_dir=cache,
                        endpoint=hub_server.url)
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(REPO, repo_type="kernel", revision="v9", cache_dir=cache, endpoint=hub_server.url)
    with pytest.raises(RevisionNotFoundError):
        list(api.list_repo_tree(REPO, "build", repo_type="kernel", revision="v9"))
    with pytest.raises(RevisionNotFoundError):
        api.create_branch(REPO, branch="v3", revision="nope", repo_type="kernel")
    with pytest.raises(RevisionNotFoundError):  # committing needs an existing branch
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO, repo_type="kernel", revision="v7")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "build/missing.py", repo_type="kernel", cache_dir=cache, endpoint=hub_server.url)
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(REPO, "build", repo_type="kernel"))
    missing = http.head(hf_hub_url(REPO, "nope.txt", repo_type="kernel", endpoint=hub_server.url))
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
    assert len(missing.headers["X-Repo-Commit"]) == 40

    # Unknown routes and bad payloads: JSON errors, the server keeps serving.
    for method, path in [("GET", "/api/nothing/here"), ("POST", "/api/kernels/a/b/unknown"), ("GET", "/foo"),
                         ("DELETE", "/"), ("PATCH", "/api/models")]:
        response = http.request(method, hub_server.url + path)
        assert response.status_code == 404, (method, path)
        assert "error" in response.json()
    auth = {"Authorization": f"Bearer {hub_server.token}"}
    bad = http.post(f"{hub_server.url}/api/kernels/{REPO}/commit/main", content=b"{not json\n", headers=auth)
    assert bad.status_code == 400 and "error" in bad.json()
    assert http.post(f"{hub_server.url}/api/repos/create", json={"name": "x"}).status_code == 401  # no token
    assert http.get(f"{hub_server.url}/api/kernels/{REPO}/xet-read-token/main").status_code == 404
    assert api.repo_exists(REPO, repo_type="kernel")

    # LFS uploads are checked against their sha256.
    data = os.urandom(1000)
    oid = hashlib.sha256(data).hexdigest()
    batch = http.post(f"{hub_server.url}/kernels/{REPO}.git/info/lfs/objects/batch", headers=auth, json={
        "operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]}).json()
    href = batch["objects"][0]["actions"]["upload"]["href"]
    assert href.startswith(hub_server.url + "/")
    assert http.put(href, content=b"wrong" + data[5:]).status_code == 400
    assert http.put(href.split("?")[0], content=data).status_code == 401  # unsigned and no token
    assert http.put(href, content=data).status_code == 200
    again = http.post(f"{hub_server.url}/kernels/{REPO}.git/info/lfs/objects/batch", headers=auth, json={
        "operation": "upload", "objects": [{"oid": oid, "size": len(data)}]}).json()
    assert "actions" not in again["objects"][0]  # already present


def test_organization_overview_and_whoami(hub_server: HubServer, http: httpx2.Client) -> None:
    api = _api(hub_server)
    me = api.whoami()
    assert me["name"] == hub_server.user and me["type"] == "user"
    assert http.get(f"{hub_server.url}/api/whoami-v2").status_code == 401

    hub_server.set_trusted_publisher("kernels-community", True)
    overview = http.get(f"{hub_server.url}/api/organizations/kernels-community/overview").json()
    assert overview["name"] == "kernels-community" and overview["trustedKernelPublisher"] is True
    assert api.get_organization_overview("kernels-community").name == "kernels-community"
    hub_server.set_trusted_publisher("kernels-community", False)
    overview = http.get(f"{hub_server.url}/api/organizations/kernels-community/overview").json()
    assert overview["trustedKernelPublisher"] is False
    # Namespaces that hold repositories are organizations too (not trusted by default).
    api.create_repo("some-org/thing", repo_type="kernel")
    assert http.get(f"{hub_server.url}/api/organizations/some-org/overview").json()["trustedKernelPublisher"] is False
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.get_organization_overview("unknown-org")
    assert excinfo.value.response.status_code == 404


def test_restart_keeps_data(tmp_path: Path, http: httpx2.Client) -> None:
    root = tmp_path / "storage"
    so_bytes = os.urandom(5000) + b"\x00"
    src = _write_kernel_tree(tmp_path / "src", so_bytes)
    lfs = not client_uses_xet()  # like the fixtures (see kernels.testing.fixtures)
    with HubServer(root, lfs=lfs) as server:
        api = HfApi(endpoint=server.url, token="hf_x")
        api.create_repo(REPO, repo_type="kernel")
        api.create_branch(REPO, branch="v1", repo_type="kernel")
        commit = api.upload_folder(repo_id=REPO, repo_type="kernel", folder_path=src, revision="v1",
                                   commit_message="upload").oid
        api.create_tag(REPO, tag="release", revision="v1", repo_type="kernel")
        server.set_trusted_publisher("kernels-test", True)
        first_url = server.url
    with pytest.raises(httpx2.ConnectError):
        http.get(first_url + "/api/whoami-v2")

    with HubServer(root, lfs=lfs) as server:
        assert server.request_log == []
        api = HfApi(endpoint=server.url, token="hf_x")
        refs = api.list_repo_refs(REPO, repo_type="kernel")
        assert {b.name: b.target_commit for b in refs.branches}["v1"] == commit
        assert {t.name: t.target_commit for t in refs.tags} == {"release": commit}
        path = snapshot_download(REPO, repo_type="kernel", revision="release", cache_dir=tmp_path / "cache",
                                 endpoint=server.url)
        assert (Path(path) / "build" / VARIANT / SO_NAME).read_bytes() == so_bytes
        overview = http.get(f"{server.url}/api/organizations/kernels-test/overview").json()
        assert overview["trustedKernelPublisher"] is True
        # request_log counts every request of this server instance.
        assert len(server.request_log) > 0 and all(isinstance(m, str) for m, _ in server.request_log)
        server.request_log.clear()
        api.repo_info(REPO, repo_type="kernel")
        assert server.request_log == [("GET", f"/api/kernels/{REPO}")]


_CLIENT_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from huggingface_hub import HfApi
    endpoint, blob = sys.argv[1], sys.argv[2]
    api = HfApi(endpoint=endpoint, token="hf_subprocess")
    api.create_repo("kernels-test/lfs", repo_type="kernel")
    api.upload_file(path_or_fileobj=blob, path_in_repo="build/x/_lib.abi3.so", repo_id="kernels-test/lfs",
                    repo_type="kernel", commit_message="binary")
    """
)


def test_lfs_upload_and_cli(hub_server: HubServer, tmp_path: Path, http: httpx2.Client) -> None:
    """Classic LFS uploads from a fresh client process (Xet off), and the command line server."""
    blob = tmp_path / "lib.so"
    data = os.urandom(50000)
    blob.write_bytes(data)
    env = dict(os.environ, HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    hub_server.lfs = True
    hub_server.request_log.clear()
    subprocess.run([sys.executable, "-c", _CLIENT_SCRIPT, hub_server.url, str(blob)], env=env, check=True,
                   timeout=60)
    log = hub_server.request_log
    assert log.matching("POST", "/kernels/kernels-test/lfs.git/info/lfs/objects/batch")
    assert len(log.matching("PUT", f"/lfs/objects/{hashlib.sha256(data).hexdigest()}")) == 1
    assert log.matching("POST", "/verify")
    [entry] = _api(hub_server).get_paths_info("kernels-test/lfs", ["build/x/_lib.abi3.so"], repo_type="kernel")
    assert entry.lfs.sha256 == hashlib.sha256(data).hexdigest() and entry.size == len(data)
    downloaded = hf_hub_download("kernels-test/lfs", "build/x/_lib.abi3.so", repo_type="kernel",
                                 cache_dir=tmp_path / "cache", endpoint=hub_server.url)
    assert Path(downloaded).read_bytes() == data
    blobs = tmp_path / "cache" / "kernels--kernels-test--lfs" / "blobs"
    assert [p.name for p in blobs.iterdir()] == [hashlib.sha256(data).hexdigest()]

    # python -m kernels.testing.hub_server: serves on the printed URL, quiet, stops on SIGTERM;
    # --token registers tokens, --reject-unknown-tokens refuses the others.
    cli_env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "kernels.testing.hub_server", "--root", str(tmp_path / "cli"),
                             "--port", "0", "--trusted-publisher", "kernels-community", "--token", "hf_x:write",
                             "--token", "hf_ro:read", "--reject-unknown-tokens"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env)
    try:
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        api = HfApi(endpoint=url, token="hf_x")
        api.create_repo(REPO, repo_type="kernel")
        assert api.repo_exists(REPO, repo_type="kernel")
        assert http.get(f"{url}/api/organizations/kernels-community/overview").json()["trustedKernelPublisher"]
        assert http.get(f"{url}/does/not/exist").status_code == 404
        with pytest.raises(HfHubHTTPError) as excinfo:
            HfApi(endpoint=url, token="hf_ro").create_repo("kernels-test/other", repo_type="kernel")
        assert excinfo.value.response.status_code == 403
        assert http.get(f"{url}/api/whoami-v2", headers={"Authorization": "Bearer hf_other"}).status_code == 401
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert stderr == ""


def test_an_oversized_body_is_413_before_it_is_read(hub_server: HubServer) -> None:
    """A request that claims 1.5 GB gets 413 at once; the server never buffers it."""
    import http.client
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    connection = http.client.HTTPConnection(hub_server.host, hub_server.port, timeout=30)
    connection.putrequest("POST", "/api/repos/create")
    connection.putheader("Authorization", f"Bearer {hub_server.token}")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(1_500_000_000))
    connection.endheaders()
    connection.send(b'{"name": "x", ' + b" " * 65536)  # a little of it; the rest never comes
    response = connection.getresponse()
    assert response.status == 413
    assert "exceeds the limit" in response.getheader("X-Error-Message", "")
    connection.close()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KB: no 1.5 GB buffer


def test_a_chunked_body_past_the_limit_is_413(tmp_path: Path) -> None:
    import http.client

    with HubServer(tmp_path / "hub", max_body_bytes=1000) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        # Much more than the limit, sent after the server has answered: it reads and drops the
        # rest before closing (a close with unread data would reset the connection, and the
        # reset could overtake the 413).
        body = iter([b'{"name": "', *([b"x" * 8192] * 1024), b'"}'])  # 8 MiB
        connection.request("POST", "/api/repos/create", body=body, headers={
            "Authorization": "Bearer hf_dummy", "Content-Type": "application/json"}, encode_chunked=True)
        assert connection.getresponse().status == 413
        connection.close()
        bad = http.client.HTTPConnection(server.host, server.port, timeout=30)
        bad.putrequest("POST", "/api/repos/create")
        bad.putheader("Content-Length", "12x")
        bad.endheaders()
        assert bad.getresponse().status == 400


# --------------------------------------------------------------------------------------------
# Validation of names, paths and payloads; tokens and permissions
# --------------------------------------------------------------------------------------------


def _raw(server: HubServer, method: str, path: str, body=None, token: str | None = None,
         headers: dict | None = None) -> tuple:
    """One request as sent (http.client does not normalize ``..`` or ``//`` in paths):
    ``(status, parsed JSON or raw bytes, response headers)``."""
    import http.client

    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        data = json.loads(data)
    except ValueError:
        pass
    return response.status, data, response.headers


def _refused(server: HubServer, method: str, path: str, body=None, *, status: int = 400, mentions: str = "",
             token: str | None = "default", headers: dict | None = None) -> str:
    """Send a request that must be refused with ``status`` and a JSON error mentioning ``mentions``."""
    token = server.token if token == "default" else token
    got, data, response_headers = _raw(server, method, path, body, token=token, headers=headers)
    assert got == status, (method, path, body, got, data)
    assert isinstance(data, dict) and isinstance(data.get("error"), str), data
    assert mentions.lower() in data["error"].lower(), (data["error"], mentions)
    assert response_headers["X-Error-Message"] and "\n" not in response_headers["X-Error-Message"]
    return data["error"]


def _disk(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _ndjson(*items) -> bytes:
    return b"\n".join(item if isinstance(item, bytes) else json.dumps(item).encode() for item in items)


def _header(summary="change", **extra) -> dict:
    return {"key": "header", "value": {"summary": summary, "description": "", **extra}}


def _add(path, content: bytes = b"x\n") -> dict:
    import base64

    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(),
                                     "encoding": "base64"}}


def _setup_repo(server: HubServer) -> HfApi:
    """REPO (kernel) with one commit adding ``a/file.txt``; returns the client."""
    api = _api(server)
    api.create_repo(REPO, repo_type="kernel")
    api.upload_file(path_or_fileobj=b"content\n", path_in_repo="a/file.txt", repo_id=REPO, repo_type="kernel")
    return api


def _assert_main_intact(server: HubServer, api: HfApi, tmp_path: Path, commits: int = 2) -> None:
    """main still has its commits, and downloads as a whole."""
    assert len(api.list_repo_commits(REPO, repo_type="kernel")) == commits
    path = Path(snapshot_download(REPO, repo_type="kernel", cache_dir=tmp_path / "check-cache",
                                  endpoint=server.url, token=server.token))
    assert (path / "a" / "file.txt").read_bytes() == b"content\n"
    assert sorted(api.list_repo_files(REPO, repo_type="kernel")) == [".gitattributes", "a/file.txt"]


BAD_REPO_NAMES = ["relu\n", "a..b", "a--b", "x" * 97, "bad name", "bad/name", "-lead", "trail.", ".hidden",
                  "name.git", "", "caf\u00e9", "..", "a\x00b", "a\\b"]


def test_invalid_repo_names_are_refused_and_create_nothing(hub_server: HubServer) -> None:
    root = hub_server.root
    _api(hub_server).create_repo(REPO, repo_type="kernel")
    before = _disk(root)
    for name in BAD_REPO_NAMES:
        _refused(hub_server, "POST", "/api/repos/create", {"name": name, "organization": "kernels-test",
                                                           "type": "kernel"}, mentions="repo name")
        _refused(hub_server, "POST", "/api/repos/create", {"name": "ok", "organization": name, "type": "kernel"},
                 mentions="namespace")
        if name:  # (an empty last segment is just a trailing slash)
            _refused(hub_server, "GET", f"/api/kernels/kernels-test/{quote(name, safe='')}", token=None,
                     mentions="repo name")
        _refused(hub_server, "DELETE", "/api/repos/delete", {"name": name, "organization": "kernels-test",
                                                             "type": "kernel"}, mentions="repo name")
    _refused(hub_server, "GET", f"/kernels/{quote('../..', safe='')}/x/resolve/main/f", mentions="namespace")
    # Wrong JSON types and bodies that are not objects: 400, not 500.
    for body, mentions in [
        ({"name": 5}, "'name'"), ({"name": ["x"]}, "'name'"), ({"name": "x", "organization": 7}, "'organization'"),
        ({"name": "x", "type": "weird"}, "repo type"), ({"name": "x", "type": 3}, "'type'"),
        ({"name": "x", "private": "yes"}, "'private'"), ({"name": "x", "visibility": "secret"}, "'visibility'"),
        ({}, "'name'"), ([], "object"), ("just a string", "json"), ("{not json", "json"),
        ("[" * 100000, "json"), (b"\xff\xfe", "json"),
    ]:
        _refused(hub_server, "POST", "/api/repos/create", body, mentions=mentions,
                 headers={"Content-Type": "application/json"})
    assert _disk(root) == before
    assert not any(p.name.endswith("\n") for p in root.rglob("*"))

    # The storage layer refuses them to Python callers too (ValueError), before touching the disk.
    from kernels.testing.hub_server import HubStorage, InvalidNameError

    storage = HubStorage(root)
    for name in BAD_REPO_NAMES:
        with pytest.raises(ValueError):
            storage.repo("kernel", "kernels-test", name)
        with pytest.raises(ValueError):
            storage.repo("kernel", name, "ok")
        with pytest.raises(ValueError):
            storage.set_org(name)
    with pytest.raises(InvalidNameError):
        storage.repo("weird", "kernels-test", "ok")
    repo = storage.repo("kernel", *REPO.split("/"))
    head = storage.resolve(repo, "main")
    for path in ["..\\..\\x", "a//b", "./x", "/abs", ".git/x", "a/../b"]:
        with pytest.raises(InvalidNameError):
            storage.commit(repo, ("branches", "main"), [("file", {"path": path, "content": b"x"})], "bad")
    for bad_ref in ["a..b", "-x", "x.lock", "refs/heads/x", "a b", "x\n"]:
        with pytest.raises(InvalidNameError):
            storage.create_ref(repo, "branches", bad_ref, head)
    with pytest.raises(InvalidNameError):
        storage.put_lfs_stream(repo, "../" + "0" * 61, None, [b"x"])
    with pytest.raises(InvalidNameError):
        repo.object_path("blob", "../../../etc/passwd")
    assert storage.resolve(repo, "main") == head
    assert _disk(root) == before


BAD_PATHS = ["..\\..\\x", "C:x", "a/b:c", "a//b", "./x", "/abs", ".git/x", "a/.git/config", "a/../b", "a/", "..",
             ".", "a/./b", "x\ny", "nul\x00byte", ".cache/huggingface/x", "", "x" * 256]


def test_invalid_paths_in_commits_are_400_and_the_branch_stays_downloadable(hub_server: HubServer,
                                                                            tmp_path: Path) -> None:
    api = _setup_repo(hub_server)
    url = f"/api/kernels/{REPO}/commit/main"
    for path in BAD_PATHS:
        _refused(hub_server, "POST", url, _ndjson(_header(), _add(path)), mentions="path")
        _refused(hub_server, "POST", url, _ndjson(_header(), {"key": "deletedFile", "value": {"path": path}}),
                 mentions="path")
        _refused(hub_server, "POST", url, _ndjson(_header(), {"key": "lfsFile", "value": {
            "path": path, "algo": "sha256", "oid": "0" * 64, "size": 1}}), mentions="path")
        _refused(hub_server, "POST", f"/api/kernels/{REPO}/preupload/main",
                 {"files": [{"path": path, "size": 1, "sample": ""}]}, mentions="path")
    # A folder deletion may end with one '/', not more.
    _refused(hub_server, "POST", url, _ndjson(_header(), {"key": "deletedFolder", "value": {"path": "a//"}}),
             mentions="path")
    # Reads: malformed paths are 400, well-formed missing ones stay 404.
    for path in ["a/../a/file.txt", "a//file.txt", "a/./file.txt", "a%5Cfile.txt"]:
        _refused(hub_server, "GET", f"/kernels/{REPO}/resolve/main/{path}", token=None, mentions="path")
        _refused(hub_server, "GET", f"/api/kernels/{REPO}/tree/main/{path}", token=None, mentions="path")
    assert _raw(hub_server, "GET", f"/kernels/{REPO}/resolve/main/a/missing.txt")[0] == 404
    _assert_main_intact(hub_server, api, tmp_path)


def test_malformed_commit_payloads_are_400_and_the_branch_stays_downloadable(hub_server: HubServer,
                                                                            tmp_path: Path) -> None:
    api = _setup_repo(hub_server)
    url = f"/api/kernels/{REPO}/commit/main"
    oid = "0" * 64
    cases = [
        (_ndjson({"key": "header", "value": "not an object"}), "value"),
        (_ndjson({"key": "header", "value": {"summary": 5}}), "summary"),
        (_ndjson({"key": "header", "value": {"description": "no summary"}}), "summary"),
        (_ndjson(_header(summary="   ")), "summary"),
        (_ndjson(_header(description=["x"])), "description"),
        (_ndjson(_header(parentCommit=5)), "parentCommit"),
        (_ndjson(_header(parentCommit="not-hex")), "parent commit"),
        (_ndjson(_header(), {"key": "file", "value": {"path": "x.txt", "content": 5}}), "content"),
        (_ndjson(_header(), {"key": "file", "value": {"path": "x.txt"}}), "content"),
        (_ndjson(_header(), {"key": "file", "value": {"path": "x.txt", "content": "eA==", "encoding": "rot13"}}),
         "encoding"),
        (_ndjson(_header(), {"key": "file", "value": {"path": "x.txt", "content": "!!not base64!!"}}), "base64"),
        (_ndjson(_header(), {"key": "file", "value": {"path": 5, "content": "eA=="}}), "path"),
        (_ndjson(_header(), {"key": "file", "value": {"content": "eA=="}}), "path"),
        (_ndjson(_header(), {"key": "file", "value": "x.txt"}), "value"),
        (_ndjson(_header(), {"key": "lfsFile", "value": {"path": "x.bin", "oid": 5, "size": 1}}), "oid"),
        (_ndjson(_header(), {"key": "lfsFile", "value": {"path": "x.bin", "oid": "abc", "size": 1}}), "oid"),
        (_ndjson(_header(), {"key": "lfsFile", "value": {"path": "x.bin", "oid": oid, "size": "1"}}), "size"),
        (_ndjson(_header(), {"key": "lfsFile", "value": {"path": "x.bin", "oid": oid, "size": -1}}), "size"),
        (_ndjson(_header(), {"key": "lfsFile", "value": {"path": "x.bin", "oid": oid, "size": True}}), "size"),
        (_ndjson(_header(), {"key": "lfsFile", "value": {"path": "x.bin", "oid": oid, "algo": "md5"}}), "algo"),
        (_ndjson(_header(), {"key": "lfsFile", "value": {"path": "x.bin", "oid": oid, "size": 1}}), "does not exist"),
        (_ndjson(_header(), {"key": "copy", "value": {"path": "x"}}), "unknown commit operation"),
        (_ndjson(_header(), {"value": {"path": "x"}}), "'key'"),
        (_ndjson(_header(), {"key": 5, "value": {"path": "x"}}), "'key'"),
        (_ndjson(_header(), b"{not json"), "json"),
        (_ndjson(_header(), b"[1, 2]"), "object"),
        (_ndjson(_header(), b'"a string"'), "object"),
        (_ndjson(_add("x.txt")), "no header"),
        (_ndjson(_header(), _header(), _add("x.txt")), "more than one header"),
        (b"", "no header"),
        (_ndjson(_header(), _add("a/file.txt/under-a-file")), "conflicts"),
    ]
    for body, mentions in cases:
        _refused(hub_server, "POST", url, body, mentions=mentions)
    # Bad revisions to commit to.
    _refused(hub_server, "POST", f"/api/kernels/{REPO}/commit/{quote('a..b', safe='')}",
             _ndjson(_header(), _add("x.txt")), mentions="revision")
    _assert_main_intact(hub_server, api, tmp_path)


def test_malformed_json_fields_per_route_are_400(hub_server: HubServer, tmp_path: Path) -> None:
    api = _setup_repo(hub_server)
    base = f"/api/kernels/{REPO}"
    lfs = f"/kernels/{REPO}.git/info/lfs/objects"
    good_oid = "a" * 64
    cases = [
        ("POST", f"{base}/preupload/main", [], "object"),
        ("POST", f"{base}/preupload/main", {"files": "x"}, "'files'"),
        ("POST", f"{base}/preupload/main", {"files": [5]}, "files[0]"),
        ("POST", f"{base}/preupload/main", {"files": [{"path": 5}]}, "'path'"),
        ("POST", f"{base}/preupload/main", {"files": [{"path": "x", "size": "1"}]}, "'size'"),
        ("POST", f"{base}/preupload/main", {"files": [{"path": "x", "size": -5}]}, "'size'"),
        ("POST", f"{base}/preupload/main", {"files": [{"path": "x", "size": 1, "sample": 5}]}, "'sample'"),
        ("POST", f"{base}/preupload/main", {"files": [{"path": "x", "size": 1, "sample": "%%"}]}, "base64"),
        ("POST", f"{base}/paths-info/main", {"paths": 5}, "'paths'"),
        ("POST", f"{base}/paths-info/main", {"paths": [5]}, "paths[0]"),
        ("POST", f"{base}/paths-info/main", {"paths": ["a/../b"]}, "path"),
        ("POST", f"{base}/paths-info/main", {"paths": ["a"], "expand": "yes"}, "'expand'"),
        ("POST", f"{base}/paths-info/main", "{oops", "json"),
        ("POST", f"{base}/branch/new", {"startingPoint": 5}, "'startingPoint'"),
        ("POST", f"{base}/branch/new", {"startingPoint": "a..b"}, "revision"),
        ("POST", f"{base}/branch/new", [], "object"),
        ("POST", f"{base}/tag/main", {"tag": 5}, "'tag'"),
        ("POST", f"{base}/tag/main", {}, "'tag'"),
        ("POST", f"{base}/tag/main", {"tag": "v1", "message": 5}, "'message'"),
        ("POST", f"{base}/tag/main", {"tag": "bad..tag"}, "tag name"),
        ("POST", f"{base}/tag/{quote('a b', safe='')}", {"tag": "v1"}, "revision"),
        ("PUT", f"{base}/settings", {"private": "yes"}, "'private'"),
        ("PUT", f"{base}/settings", {"visibility": "secret"}, "'visibility'"),
        ("PUT", f"{base}/settings", {"gated": "always"}, "gated"),
        ("PUT", f"{base}/settings", {"gated": True}, "gated"),
        ("PUT", f"{base}/settings", "[1]", "object"),
        ("POST", f"{lfs}/batch", {"operation": 5}, "'operation'"),
        ("POST", f"{lfs}/batch", {"operation": "delete"}, "'operation'"),
        ("POST", f"{lfs}/batch", {"operation": "upload", "objects": "x"}, "'objects'"),
        ("POST", f"{lfs}/batch", {"operation": "upload", "objects": [5]}, "objects[0]"),
        ("POST", f"{lfs}/batch", {"operation": "upload", "objects": [{"oid": 5, "size": 1}]}, "'oid'"),
        ("POST", f"{lfs}/batch", {"operation": "upload", "objects": [{"oid": good_oid, "size": "1"}]}, "'size'"),
        ("POST", f"{lfs}/batch", {"operation": "upload", "objects": [], "hash_algo": "md5"}, "'hash_algo'"),
        ("POST", f"{lfs}/batch", [], "object"),
        ("POST", f"{lfs}/{good_oid}/verify", {"oid": good_oid, "size": "1"}, "'size'"),
        ("DELETE", "/api/repos/delete", {"name": 5, "type": "kernel"}, "'name'"),
        ("POST", "/api/validate-yaml", "[]", "object"),
        ("GET", "/api/kernels?limit=abc", None, "limit"),
        ("GET", f"{base}/commits/main?limit=abc", None, "limit"),
        ("GET", f"{base}/tree/main?cursor=-1", None, "cursor"),
        ("GET", "/api/organizations/bad..org/overview", None, "namespace"),
    ]
    for method, path, body, mentions in cases:
        _refused(hub_server, method, path, body, mentions=mentions, headers={"Content-Type": "application/json"})
    # Bad branch names in the URL, on creation and deletion.
    for name in ["bad..name", "-x", "a b", "x.lock", "refs/heads/x", ".hidden", "a:b", "x\n", "a@{1}", "@"]:
        _refused(hub_server, "POST", f"{base}/branch/{quote(name, safe='')}", {}, mentions="branch name")
    _refused(hub_server, "DELETE", f"{base}/branch/main", status=403, mentions="default branch")
    _refused(hub_server, "DELETE", f"{base}/tag/missing", status=404)
    assert api.list_repo_refs(REPO, repo_type="kernel").tags == []
    assert {b.name for b in api.list_repo_refs(REPO, repo_type="kernel").branches} == {"main"}
    _assert_main_intact(hub_server, api, tmp_path)


def test_invalid_revisions_are_400_missing_ones_404(hub_server: HubServer) -> None:
    _setup_repo(hub_server)
    for revision in ["a..b", "x\n", "-x", "a b", "refs/pr/abc", "@", "x.lock", "a//b", "/x", "x/", "a~1", "a^",
                     "a:b", "a?b", "a*b", "a[b", "a\\b", "a@{0}", "x" * 256, "caf\u00e9"]:
        encoded = quote(revision, safe="")
        _refused(hub_server, "GET", f"/api/kernels/{REPO}/revision/{encoded}", token=None, mentions="revision")
        _refused(hub_server, "GET", f"/kernels/{REPO}/resolve/{encoded}/a/file.txt", token=None,
                 mentions="revision")
        _refused(hub_server, "GET", f"/api/kernels/{REPO}/tree/{encoded}", token=None, mentions="revision")
    status, _, headers = _raw(hub_server, "GET", f"/api/kernels/{REPO}/revision/v9")
    assert status == 404 and headers["X-Error-Code"] == "RevisionNotFound"
    for good in ["main", "refs/heads/main", "refs%2Fheads%2Fmain"]:
        assert _raw(hub_server, "GET", f"/api/kernels/{REPO}/revision/{good}")[0] == 200


def test_tokens_read_only_org_scoped_unknown_and_anonymous(hub_server: HubServer, tmp_path: Path) -> None:
    admin = _api(hub_server)
    admin.create_repo(REPO, repo_type="kernel")
    admin.create_repo("kernels-test/private", repo_type="kernel", private=True)
    admin.create_repo("team/private", repo_type="kernel", private=True)
    hub_server.add_token("hf_reader", role="read")
    hub_server.add_token("hf_alice", user="alice", role="write", orgs=["team"])
    hub_server.add_token("hf_bob", user="bob", role="read", orgs=["team"])
    with pytest.raises(ValueError):
        hub_server.add_token("hf_x", role="admin")
    with pytest.raises(ValueError):
        hub_server.add_token("has space", role="read")
    with pytest.raises(ValueError):
        hub_server.add_token("hf_y", role="write", orgs=["bad..org"])

    def forbidden(call, mentions: str) -> None:
        with pytest.raises(HfHubHTTPError) as excinfo:
            call()
        assert excinfo.value.response.status_code == 403, excinfo.value
        assert mentions in excinfo.value.response.json()["error"]

    # A read token reads everything an unscoped token sees, writes nothing.
    reader = HfApi(endpoint=hub_server.url, token="hf_reader")
    assert reader.repo_info("kernels-test/private", repo_type="kernel").private is True
    assert reader.whoami()["auth"]["accessToken"]["role"] == "read"
    forbidden(lambda: reader.create_repo("kernels-test/new", repo_type="kernel"), "read-only")
    forbidden(lambda: reader.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO,
                                         repo_type="kernel"), "read-only")
    forbidden(lambda: reader.create_branch(REPO, branch="v1", repo_type="kernel"), "read-only")
    forbidden(lambda: reader.create_tag(REPO, tag="v1", repo_type="kernel"), "read-only")
    forbidden(lambda: reader.delete_repo(REPO, repo_type="kernel"), "read-only")
    _refused(hub_server, "PUT", f"/api/kernels/{REPO}/settings", {"private": True}, token="hf_reader", status=403,
             mentions="read-only")  # (update_repo_settings does not take kernels)
    _refused(hub_server, "DELETE", f"/api/kernels/{REPO}/branch/main", token="hf_reader", status=403,
             mentions="read-only")
    _refused(hub_server, "POST", f"/api/kernels/{REPO}/commit/main", _ndjson(_header(), _add("x.txt")),
             token="hf_reader", status=403, mentions="read-only")
    oid = "b" * 64
    _refused(hub_server, "POST", f"/kernels/{REPO}.git/info/lfs/objects/batch",
             {"operation": "upload", "objects": [{"oid": oid, "size": 1}]}, token="hf_reader", status=403)
    _refused(hub_server, "PUT", f"/kernels/{REPO}.git/info/lfs/objects/{oid}", b"x", token="hf_reader", status=403)
    status, batch, _ = _raw(hub_server, "POST", f"/kernels/{REPO}.git/info/lfs/objects/batch",
                            {"operation": "download", "objects": [{"oid": oid, "size": 1}]}, token="hf_reader")
    assert status == 200 and batch["objects"][0]["error"]["code"] == 404
    assert len(admin.list_repo_commits(REPO, repo_type="kernel")) == 1
    assert not admin.repo_exists("kernels-test/new", repo_type="kernel")

    # An organisation-scoped write token writes in its namespace and its orgs only.
    alice = HfApi(endpoint=hub_server.url, token="hf_alice")
    me = alice.whoami()
    assert me["name"] == "alice" and [o["name"] for o in me["orgs"]] == ["team"]
    assert me["auth"]["accessToken"]["role"] == "write"
    alice.create_repo("team/relu", repo_type="kernel")
    alice.create_repo("alice/mine", repo_type="kernel")
    assert str(alice.create_repo("mine2", repo_type="kernel")).endswith("/kernels/alice/mine2")  # own namespace
    alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="team/private", repo_type="kernel")
    commit = alice.list_repo_commits("team/private", repo_type="kernel")[0]
    assert commit.authors == ["alice"]
    forbidden(lambda: alice.create_repo("kernels-test/nope", repo_type="kernel"), "namespace 'kernels-test'")
    forbidden(lambda: alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO,
                                        repo_type="kernel"), "namespace 'kernels-test'")
    forbidden(lambda: alice.delete_repo(REPO, repo_type="kernel"), "namespace 'kernels-test'")
    with pytest.raises(RepositoryNotFoundError):  # private elsewhere: hidden, as on the Hub (404)
        alice.repo_info("kernels-test/private", repo_type="kernel")
    assert alice.repo_info(REPO, repo_type="kernel").id == REPO  # public: readable

    # A scoped read token sees its org's private repositories only.
    bob = HfApi(endpoint=hub_server.url, token="hf_bob")
    assert bob.repo_info("team/private", repo_type="kernel").private is True
    with pytest.raises(RepositoryNotFoundError):
        bob.repo_info("kernels-test/private", repo_type="kernel")
    listed = _raw(hub_server, "GET", "/api/kernels", token="hf_bob")[1]
    assert {r["id"] for r in listed} == {REPO, "team/private", "team/relu", "alice/mine", "alice/mine2"}
    assert {r["id"] for r in _raw(hub_server, "GET", "/api/kernels", token=None)[1]} == {
        REPO, "team/relu", "alice/mine", "alice/mine2"}
    forbidden(lambda: bob.create_repo("team/other", repo_type="kernel"), "read-only")

    # Anonymous: public reads only.
    anonymous = HfApi(endpoint=hub_server.url, token=False)
    assert anonymous.repo_info(REPO, repo_type="kernel").id == REPO
    with pytest.raises(RepositoryNotFoundError):
        anonymous.repo_info("team/private", repo_type="kernel")
    assert _raw(hub_server, "POST", "/api/repos/create", {"name": "x"})[0] == 401

    # Unknown tokens: accepted as the default user by default, 401 everywhere once refused.
    stranger = HfApi(endpoint=hub_server.url, token="hf_unknown")
    assert stranger.whoami()["name"] == hub_server.user
    hub_server.accept_any_token = False
    with pytest.raises(HfHubHTTPError) as excinfo:
        stranger.repo_info(REPO, repo_type="kernel")
    assert excinfo.value.response.status_code == 401
    assert not isinstance(excinfo.value, RepositoryNotFoundError)  # "Invalid credentials": a bad token
    with pytest.raises(HfHubHTTPError) as excinfo:
        stranger.whoami()
    assert excinfo.value.response.status_code == 401
    assert admin.whoami()["auth"]["accessToken"]["role"] == "write"  # the fixture's token is registered
    hub_server.remove_token("hf_reader")
    with pytest.raises(HfHubHTTPError):
        reader.repo_info(REPO, repo_type="kernel")
