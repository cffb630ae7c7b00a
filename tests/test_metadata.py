"""metadata.json reading, writing, validation and digests (contract section 3.1)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:  # run from the source tree when the project is not installed
    sys.path.insert(0, str(SRC))

from kernels.errors import KernelsError, MetadataError  # noqa: E402
from kernels.metadata import BackendInfo, Metadata, compute_digest  # noqa: E402

COMMIT = "0123456789abcdef0123456789abcdef01234567"
B64_SHA256 = base64.b64encode(hashlib.sha256(b"x").digest()).decode()


def sample() -> Dict[str, Any]:
    """The contract's composed sample (section 13) with concrete digest values."""
    return {
        "name": "my-relu",
        "id": "_my_relu_cuda_1a2b3c4",
        "version": 1,
        "license": "Apache-2.0",
        "python-depends": [],
        "kernel-depends": [],
        "backend": {"type": "cuda", "archs": ["10.0", "12.0+PTX", "8.0", "9.0"]},
        "digest": {"algorithm": "sha256", "files": {
            "__init__.py": B64_SHA256,
            "_my_relu_cuda_1a2b3c4.abi3.so": B64_SHA256,
            "_ops.py": B64_SHA256,
        }},
        "provenance": {"kernel-builder": {"version": "0.17.0"},
                       "kernel": {"commit": COMMIT, "dirty": False}},
    }


def full() -> Metadata:
    return Metadata(
        name="my-relu", id="_my_relu_cuda_1a2b3c4", version=2, license="MIT",
        python_depends=("einops",), backend=BackendInfo("cuda", ("8.0", "9.0a")),
        kernels_minver="0.17.0", upstream="https://github.com/o/relu", source="git@github.com:o/r",
        kernel_depends=({"repo-id": "org/dep", "version": 1}, {"repo-id": "org/b", "revision": "main"}),
        digest={"algorithm": "sha256", "files": {"_ops.py": B64_SHA256}},
        provenance={"kernel-builder": {"version": "0.17.0", "commit": COMMIT, "dirty": True},
                    "kernel": {"commit": COMMIT, "dirty": False}},
    )


# ------------------------------------------------------------------ parsing and writing


def test_contract_sample_parses() -> None:
    m = Metadata.from_bytes(json.dumps(sample()).encode())
    assert m.name == "my-relu" and m.python_name == "my_relu"
    assert m.id == "_my_relu_cuda_1a2b3c4" and m.version == 1 and m.license == "Apache-2.0"
    assert m.backend == BackendInfo("cuda", ("10.0", "12.0+PTX", "8.0", "9.0"))
    assert m.backend.backend_type == "cuda"
    assert m.kernel_depends == () and m.python_depends == ()
    assert m.digest is not None and m.digest["algorithm"] == "sha256"
    assert m.provenance == sample()["provenance"]
    assert m.kernels_minver is None and m.upstream is None and m.source is None


def test_to_json_reproduces_sample_bytes() -> None:
    data = sample()
    expected = json.dumps(data, indent=2) + "\n"
    assert Metadata.from_dict(data).to_json() == expected


def test_round_trip_full() -> None:
    m = full()
    assert Metadata.from_dict(m.to_dict()) == m
    assert Metadata.from_bytes(m.to_json().encode()) == m


def test_to_json_key_order_and_format() -> None:
    text = full().to_json()
    assert text.endswith("}\n")
    assert text.splitlines()[1] == '  "name": "my-relu",'
    assert list(json.loads(text)) == [
        "name", "id", "version", "kernels-minver", "license", "upstream", "source",
        "python-depends", "kernel-depends", "backend", "digest", "provenance",
    ]


def test_optional_keys_omitted_kernel_depends_always_written() -> None:
    m = Metadata(name="relu", id="_relu_cpu_abc", version=0, license="MIT",
                 python_depends=[], backend=BackendInfo("cpu"))
    d = m.to_dict()
    assert list(d) == ["name", "id", "version", "license", "python-depends", "kernel-depends", "backend"]
    assert d["kernel-depends"] == [] and d["backend"] == {"type": "cpu"}
    assert m.python_depends == ()  # lists are normalised to tuples


def test_to_dict_is_a_copy() -> None:
    m = full()
    d = m.to_dict()
    d["digest"]["files"].clear()
    d["kernel-depends"][0]["version"] = 9
    assert m == full()


def test_unknown_keys_ignored_and_null_optionals() -> None:
    data = sample()
    data["future-key"] = {"anything": 1}
    data["backend"]["future"] = True
    data["upstream"] = None
    data["kernel-depends"] = None
    m = Metadata.from_dict(data)
    assert m.upstream is None and m.kernel_depends == ()


def test_provenance_sha_alias_and_builder_name() -> None:
    data = sample()
    data["provenance"] = {"kernel-builder": {"version": "0.16.0", "sha": COMMIT.upper() + "0" * 24},
                          "kernels-build": {"version": "0.18.0"}}
    m = Metadata.from_dict(data)
    assert m.provenance == {"kernel-builder": {"version": "0.16.0", "commit": COMMIT + "0" * 24},
                            "kernels-build": {"version": "0.18.0"}}


def test_kernel_depends_normalised() -> None:
    data = sample()
    data["kernel-depends"] = [{"revision": "abc", "repo-id": "o/n", "extra": 1}, {"repo-id": "o/m", "version": 3}]
    m = Metadata.from_dict(data)
    assert m.kernel_depends == ({"repo-id": "o/n", "revision": "abc"}, {"repo-id": "o/m", "version": 3})


def test_read_from_file(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    full().write_to_file(path)
    assert Metadata.read_from_file(path) == full()
    assert Metadata.read_from_file(str(path)) == full()


# ------------------------------------------------------------------ validation


def _set(key: str, value: Any) -> Callable[[Dict[str, Any]], None]:
    def apply(d: Dict[str, Any]) -> None:
        target = d
        *parents, last = key.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    return apply


def _delete(key: str) -> Callable[[Dict[str, Any]], None]:
    def apply(d: Dict[str, Any]) -> None:
        target = d
        *parents, last = key.split(".")
        for part in parents:
            target = target[part]
        del target[last]
    return apply


INVALID = [
    (_set("name", 3), "name", "expected a string"),
    (_set("name", "My_Relu"), "name", "kernel name"),
    (_set("id", "relu_cpu"), "id", "starting with '_'"),
    (_set("id", "_relu-cpu"), "id", "Python identifier"),
    (_set("version", "1"), "version", "expected an integer"),
    (_set("version", True), "version", "got boolean"),
    (_set("version", 1.0), "version", "got number"),
    (_set("version", -1), "version", "non-negative"),
    (_set("license", None), "license", "got null"),
    (_set("python-depends", "einops"), "python-depends", "expected an array"),
    (_set("python-depends", ["einops", 1]), "python-depends[1]", "expected a string"),
    (_set("kernels-minver", 17), "kernels-minver", "expected a string"),
    (_set("upstream", ["x"]), "upstream", "expected a string"),
    (_set("backend", "cuda"), "backend", "expected an object"),
    (_set("backend.type", "npu"), "backend.type", "expected one of cann, cpu, cuda"),
    (_delete("backend.type"), "backend", "'type'"),
    (_set("backend.archs", "8.0"), "backend.archs", "expected an array"),
    (_set("backend.archs", [8.0]), "backend.archs[0]", "expected a string"),
    (_set("kernel-depends", {}), "kernel-depends", "expected an array"),
    (_set("kernel-depends", [{"version": 1}]), "kernel-depends[0]", "'repo-id'"),
    (_set("kernel-depends", [{"repo-id": "noslash", "version": 1}]), "kernel-depends[0].repo-id", "owner/name"),
    (_set("kernel-depends", [{"repo-id": "o/n"}]), "kernel-depends[0]", "neither"),
    (_set("kernel-depends", [{"repo-id": "o/n", "version": 1, "revision": "main"}]),
     "kernel-depends[0]", "version and revision"),
    (_set("kernel-depends", [{"repo-id": "o/n", "version": "1"}]), "kernel-depends[0].version", "integer"),
    (_set("kernel-depends", [{"repo-id": "o/n", "revision": 5}]), "kernel-depends[0].revision", "string"),
    (_set("digest.algorithm", "md5"), "digest.algorithm", "sha256, sha512"),
    (_delete("digest.files"), "digest", "'files'"),
    (_set("digest.files", {"_ops.py": "not base64!"}), "digest.files._ops.py", "base64"),
    (_set("digest.files", {"_ops.py": base64.b64encode(b"short").decode()}), "digest.files._ops.py", "32 bytes"),
    (_set("digest.files", {"_ops.py": B64_SHA256.rstrip("=")}), "digest.files._ops.py", "base64"),
    (_set("digest.files", {"../escape.py": B64_SHA256}), "digest.files.../escape.py", "relative POSIX path"),
    (_set("digest.files", {"/abs.py": B64_SHA256}), "digest.files./abs.py", "relative POSIX path"),
    (_set("provenance", []), "provenance", "expected an object"),
    (_set("provenance.kernel", {"commit": "abc", "dirty": False}), "provenance.kernel.commit", "40 or 64 hex"),
    (_set("provenance.kernel", {"commit": COMMIT}), "provenance.kernel", "'dirty'"),
    (_set("provenance.kernel", {"commit": COMMIT, "dirty": "no"}), "provenance.kernel.dirty", "boolean"),
    (_set("provenance.kernel-builder", {"commit": COMMIT}), "provenance.kernel-builder", "'version'"),
    (_set("provenance.kernel-builder", {"version": "0.17", "sha": "xyz"}),
     "provenance.kernel-builder.commit", "hex"),
]


@pytest.mark.parametrize("mutate,key,expected", INVALID, ids=[f"{k}:{e}" for _, k, e in INVALID])
def test_validation_failures(mutate: Callable[[Dict[str, Any]], None], key: str, expected: str) -> None:
    data = copy.deepcopy(sample())
    mutate(data)
    with pytest.raises(MetadataError) as info:
        Metadata.from_dict(data, source="build/torch-cuda/metadata.json")
    message = str(info.value)
    assert message.startswith(f"build/torch-cuda/metadata.json: {key}: "), message
    assert expected in message
    assert info.value.key == key


def test_old_minimal_file_names_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    path.write_text('{"python-depends":[],"version":1}')
    with pytest.raises(MetadataError) as info:
        Metadata.read_from_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "missing required keys: name, id, license, backend" in message
    assert "old-format" in message


def test_missing_keys_listed() -> None:
    data = sample()
    del data["license"], data["python-depends"]
    with pytest.raises(MetadataError, match="missing required keys: license, python-depends$"):
        Metadata.from_dict(data)


def test_invalid_json_reports_position() -> None:
    with pytest.raises(MetadataError, match=r"^m\.json: invalid JSON at line 2, column 3: "):
        Metadata.from_bytes(b'{"name": "x",\n  ]', source="m.json")


def test_not_utf8_and_not_an_object() -> None:
    with pytest.raises(MetadataError, match="UTF-8"):
        Metadata.from_bytes(b'{"name": "\xff"}')
    with pytest.raises(MetadataError, match="expected a JSON object at the top level, got array"):
        Metadata.from_bytes(b"[]")


def test_error_types() -> None:
    with pytest.raises(ValueError):
        Metadata.from_bytes(b"{}")
    with pytest.raises(KernelsError):
        Metadata.from_bytes(b"{}")
    with pytest.raises(MetadataError, match="backend.type"):
        BackendInfo("gpu")


def test_metadata_error_pickles() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(MetadataError("bad", source="m.json", key="id")))
    assert (str(err), err.source, err.key) == ("m.json: id: bad", "m.json", "id")


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Metadata.read_from_file(tmp_path / "metadata.json")


# ------------------------------------------------------------------ digest


def _variant(tmp_path: Path) -> Path:
    d = tmp_path / "torch-cpu"
    (d / "sub" / "__pycache__").mkdir(parents=True)
    (d / "__pycache__").mkdir()
    (d / "__init__.py").write_text("from ._ops import ops\n")
    (d / "_ops.py").write_text("ops = None\n")
    (d / "sub" / "data.bin").write_bytes(b"\x00\x01")
    (d / "sub" / "metadata.json").write_text("{}")  # only the top-level one is excluded
    (d / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"pyc")
    (d / "sub" / "__pycache__" / "y.cpython-311.pyc").write_bytes(b"pyc")
    (d / "stray.pyc").write_bytes(b"pyc")
    (d / "metadata.json").write_text("{}")
    (d / "metadata.json.sigstore").write_text("{}")
    return d


def _b64(data: bytes, algorithm: str = "sha256") -> str:
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode()


def test_compute_digest_files_and_values(tmp_path: Path) -> None:
    d = _variant(tmp_path)
    digest = compute_digest(d)
    assert digest["algorithm"] == "sha256"
    assert digest["files"] == {
        "__init__.py": _b64(b"from ._ops import ops\n"),
        "_ops.py": _b64(b"ops = None\n"),
        "sub/data.bin": _b64(b"\x00\x01"),
        "sub/metadata.json": _b64(b"{}"),
    }
    assert list(digest["files"]) == sorted(digest["files"])
    assert compute_digest(d, "sha512")["files"]["_ops.py"] == _b64(b"ops = None\n", "sha512")


def test_with_digest_and_verify(tmp_path: Path) -> None:
    d = _variant(tmp_path)
    m = full().with_digest(d)
    assert m.digest == compute_digest(d)
    assert m.verify_digest(d) == []

    # Written and read back, the digest still verifies (metadata.json itself is excluded).
    m.write_to_file(d / "metadata.json")
    assert Metadata.read_from_file(d / "metadata.json").verify_digest(d) == []

    # Bytecode and caches never matter.
    (d / "sub" / "__pycache__" / "z.pyc").write_bytes(b"new")
    (d / "new.pyc").write_bytes(b"new")
    assert m.verify_digest(d) == []

    (d / "_ops.py").write_text("ops = 'tampered'\n")
    (d / "sub" / "data.bin").unlink()
    (d / "extra.py").write_text("")
    assert m.verify_digest(d) == [
        "changed file: _ops.py",
        "extra file: extra.py",
        "missing file: sub/data.bin",
    ]


def test_with_digest_sha512_round_trip(tmp_path: Path) -> None:
    d = _variant(tmp_path)
    m = full().with_digest(d, algorithm="sha512")
    again = Metadata.from_bytes(m.to_json().encode())
    assert again == m and again.digest["algorithm"] == "sha512"
    assert again.verify_digest(d) == []


def test_digest_errors(tmp_path: Path) -> None:
    d = _variant(tmp_path)
    with pytest.raises(MetadataError, match="sha256, sha512"):
        full().with_digest(d, algorithm="md5")
    with pytest.raises(MetadataError, match="no digest"):
        Metadata.from_dict({**sample(), "digest": None}).verify_digest(d)
    with pytest.raises(NotADirectoryError):
        compute_digest(tmp_path / "missing")


# ------------------------------------------------------------------ import cost


def test_import_does_not_load_torch() -> None:
    code = "import sys, kernels.metadata, kernels.errors; sys.exit('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
