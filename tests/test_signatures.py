"""Sigstore signatures: ``kernels.signatures`` outcomes, ``kernels verify-signature`` and
``get_kernel(verify_signature=True)``.

What runs here, offline: a real signature check of a real production bundle
(tests/data/sigstore, see its README) with sigstore-python's bundled trust root: accepted
or refused by identity policies evaluated on its real certificate, refused for tampered
bytes; every outcome before and after the signature step on real files; the CLI's lines and
exit codes, locally and through the local Hub server. What cannot run offline: a signature
over a kernel's own ``metadata.json`` (signing needs sigstore's online Fulcio and Rekor), so
the ``Success`` outcome is reached only with a verifier that stands in for sigstore's check
(``_AcceptingVerifier``, used in the two tests that say so).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kernels.testing.fixtures  # noqa: F401  (sets HF_HUB_DISABLE_XET before huggingface_hub)

pytest.importorskip("sigstore")

from kernels.errors import KernelSignatureError  # noqa: E402
from kernels.metadata import METADATA_FILENAME, SIGNATURE_FILENAME, Metadata  # noqa: E402
from kernels.signatures import (  # noqa: E402
    GitHubWorkflowPolicy,
    VerificationResult,
    describe,
    require_valid_signature,
    verify_signed_metadata,
    verify_variant,
)

pytest_plugins = ["kernels.testing.fixtures"]

DATA = Path(__file__).resolve().parent / "data" / "sigstore"
SRC = Path(__file__).resolve().parents[1] / "src"
#: The identity in the real bundle's certificate (see tests/data/sigstore/README.md).
SIGNER = ("aryadeeptade@gmail.com", "https://github.com/login/oauth")


@pytest.fixture(autouse=True)
def _offline_trust_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use sigstore-python's bundled trust root: no TUF refresh (no network here). (Not
    HF_HUB_OFFLINE: huggingface_hub reads it once, at import, for the whole test session.)"""
    monkeypatch.setenv("KERNELS_SIGSTORE_OFFLINE", "1")


def _signed_dir(tmp_path: Path) -> Path:
    """A directory whose ``metadata.json`` bytes carry a real signature (not JSON, though)."""
    variant = tmp_path / "signed"
    variant.mkdir()
    shutil.copy(DATA / "regression.txt", variant / METADATA_FILENAME)
    shutil.copy(DATA / "regression.txt.sigstore.json", variant / SIGNATURE_FILENAME)
    return variant


def _signer_policy():  # -> sigstore.verify.policy.Identity
    from sigstore.verify import policy

    return policy.Identity(identity=SIGNER[0], issuer=SIGNER[1])


def _kernel_variant(root: Path, name: str = "signme") -> Path:
    from test_load import fake_kernel

    variant = fake_kernel(root, name=name, files={"__init__.py": "VALUE = 42\n", "_ops.py": "OPS = 1\n"})
    Metadata.read_from_file(variant / METADATA_FILENAME).with_digest(variant).write_to_file(variant / METADATA_FILENAME)
    return variant


class _AcceptingVerifier:
    """Stands in for sigstore's signature check, which needs a bundle made online: accepts any
    bundle and counts the calls. Only the tests that say so use it."""

    def __init__(self) -> None:
        self.calls = 0

    def verify_artifact(self, data: bytes, bundle, policy) -> None:  # type: ignore[no-untyped-def]
        self.calls += 1


# --------------------------------------------------------------------------- the real signature


def test_a_real_bundle_verifies_offline_and_the_policy_judges_its_certificate(tmp_path: Path) -> None:
    variant = _signed_dir(tmp_path)
    # The default signers are the kernels collection's workflows: an e-mail identity is refused.
    refused = verify_variant(variant)
    assert isinstance(refused, VerificationResult.SignatureVerificationFailure), refused
    assert "0 of 1 policies succeeded" in refused.reason
    other_repo = GitHubWorkflowPolicy(repo_id="sigstore/sigstore-python", signer_uris=[
        "https://github.com/sigstore/sigstore-python/.github/workflows/ci.yml@refs/heads/main"])
    assert isinstance(verify_variant(variant, [other_repo]), VerificationResult.SignatureVerificationFailure)
    # The certificate's own identity is accepted: the signature holds, so the metadata is parsed
    # next, and these bytes are no metadata.json.
    accepted = verify_variant(variant, [other_repo, _signer_policy()])
    assert isinstance(accepted, VerificationResult.MetadataInvalid), accepted
    assert "invalid JSON" in accepted.reason


def test_tampered_metadata_fails_the_signature(tmp_path: Path) -> None:
    variant = _signed_dir(tmp_path)
    (variant / METADATA_FILENAME).write_bytes((DATA / "regression.txt").read_bytes() + b" ")
    result = verify_variant(variant, [_signer_policy()])
    assert isinstance(result, VerificationResult.SignatureVerificationFailure)
    assert "digest mismatch" in result.reason


# --------------------------------------------------------------------------- outcomes before the signature


def test_unsigned_missing_and_malformed_inputs(tmp_path: Path) -> None:
    variant = _kernel_variant(tmp_path / "k")
    assert verify_variant(variant) == VerificationResult.SignatureBundleMissing()
    for text in ("not json", "{}", json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"})):
        (variant / SIGNATURE_FILENAME).write_text(text)
        result = verify_variant(variant)
        assert isinstance(result, VerificationResult.SignatureBundleInvalid), (text, result)
    signed = _signed_dir(tmp_path)
    (signed / METADATA_FILENAME).unlink()
    assert verify_variant(signed) == VerificationResult.MetadataMissing()


def test_a_fifo_bundle_is_refused_without_blocking(tmp_path: Path) -> None:
    variant = _kernel_variant(tmp_path / "k")
    os.mkfifo(variant / SIGNATURE_FILENAME)
    result = verify_variant(variant)
    assert isinstance(result, VerificationResult.SignatureBundleInvalid) and "regular file" in result.reason


# --------------------------------------------------------------------------- outcomes after the signature


def test_signed_metadata_outcomes_on_real_files(tmp_path: Path) -> None:
    variant = _kernel_variant(tmp_path / "k")
    signed = (variant / METADATA_FILENAME).read_bytes()
    assert verify_signed_metadata(variant, signed) == VerificationResult.Success()
    (variant / "_ops.py").write_text("OPS = 2\n")
    (variant / "extra.py").write_text("")
    result = verify_signed_metadata(variant, signed)
    assert result == VerificationResult.DigestVerificationFailure(
        violations=["changed file: _ops.py", "extra file: extra.py"])
    assert describe(result) == "files differ from the signed digest\n  changed file: _ops.py\n  extra file: extra.py"
    without_digest = Metadata.read_from_file(variant / METADATA_FILENAME)
    without_digest = Metadata.from_dict({k: v for k, v in without_digest.to_dict().items() if k != "digest"})
    assert verify_signed_metadata(variant, without_digest.to_json().encode()) == VerificationResult.DigestMissing()
    assert isinstance(verify_signed_metadata(variant, b'{"name": 1}'), VerificationResult.MetadataInvalid)


def test_a_verified_variant_is_checked_once_until_it_changes(tmp_path: Path) -> None:
    """Uses ``_AcceptingVerifier`` in place of sigstore's check (see the module docstring)."""
    variant = _kernel_variant(tmp_path / "k")
    shutil.copy(DATA / "regression.txt.sigstore.json", variant / SIGNATURE_FILENAME)
    verifier = _AcceptingVerifier()
    cache = tmp_path / "cache"
    require_valid_signature(variant, cache, verifier=verifier)
    require_valid_signature(variant, cache, verifier=verifier)
    assert verifier.calls == 1
    (variant / "_ops.py").write_text("OPS = 3\n")  # the stamp no longer fits: verified again, and refused
    with pytest.raises(KernelSignatureError, match="files differ from the signed digest"):
        require_valid_signature(variant, cache, verifier=verifier)
    assert verifier.calls == 2
    with pytest.raises(KernelSignatureError):  # failures are never remembered
        require_valid_signature(variant, cache, verifier=verifier)
    assert verifier.calls == 3


# --------------------------------------------------------------------------- the CLI


def _cli(*args: str, env: dict = None) -> subprocess.CompletedProcess:  # type: ignore[assignment]
    full = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run([sys.executable, "-m", "kernels.cli", "verify-signature", *args], capture_output=True,
                          text=True, env=full, timeout=300)


def test_cli_outcomes_and_exit_codes_on_local_directories(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    variant = _kernel_variant(tree)
    proc = _cli("--all-variants", str(tree))
    assert proc.returncode == 1 and proc.stdout == f"❌ {variant.name}: not signed (no metadata.json.sigstore)\n"
    proc = _cli("--all-variants", "--filter-unsigned", str(tree))
    assert (proc.returncode, proc.stdout) == (0, "")
    signed = _signed_dir(tmp_path)
    proc = _cli(str(signed))
    assert proc.returncode == 1 and "❌ signed: the signature of metadata.json does not verify" in proc.stdout
    proc = _cli("--github-repo", "sigstore/sigstore-python", str(signed))
    assert proc.returncode == 1 and proc.stderr.startswith("kernels verify-signature: error: --github-repo and")
    proc = _cli(str(signed), "1")
    assert proc.returncode == 1 and "VERSION applies to Hub repositories only" in proc.stderr
    proc = _cli(str(tmp_path / "no" / "such"))
    assert proc.returncode == 1 and "no such file or directory" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_on_a_hub_kernel_downloads_the_bundles(hub_server, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from kernels.upload import upload_tree

    hub_server.set_trusted_publisher("sig-org")
    tree = tmp_path / "tree"
    variant = _kernel_variant(tree, name="hubsigned")
    shutil.copy(DATA / "regression.txt.sigstore.json", variant / SIGNATURE_FILENAME)  # a bundle over other bytes
    upload_tree(tree, repo_id="sig-org/hubsigned")
    env = {"HF_HUB_CACHE": str(tmp_path / "cache"), "KERNELS_CACHE": str(tmp_path / "cache")}
    for args in (["sig-org/hubsigned", "1"], ["--all-variants", "sig-org/hubsigned", "1"]):
        proc = _cli(*args, env=env)
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout.startswith("❌ torch-cpu: the signature of metadata.json does not verify"), proc.stdout
    cached = list((tmp_path / "cache").rglob(f"build/torch-cpu/{SIGNATURE_FILENAME}"))
    assert cached and cached[0].read_bytes() == (DATA / "regression.txt.sigstore.json").read_bytes()
    proc = _cli("sig-org/hubsigned", env=env)
    assert proc.returncode == 1 and "give the kernel VERSION" in proc.stderr


# --------------------------------------------------------------------------- loading


def test_loading_with_verification_refuses_an_unsigned_kernel(hub_server, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from kernels import get_kernel
    from kernels.upload import upload_tree

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub_server.set_trusted_publisher("sig-org")
    marker = tmp_path / "ran"
    variant = _kernel_variant(tmp_path / "tree", name="unsigned")
    (variant / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nVALUE = 42\n")
    Metadata.read_from_file(variant / METADATA_FILENAME).with_digest(variant).write_to_file(variant / METADATA_FILENAME)
    upload_tree(tmp_path / "tree", repo_id="sig-org/unsigned")
    with pytest.raises(KernelSignatureError, match="not signed"):
        get_kernel("sig-org/unsigned", version=1, backend="cpu", verify_signature=True)
    monkeypatch.setenv("KERNELS_VERIFY_SIGNATURES", "1")
    with pytest.raises(KernelSignatureError, match="KERNELS_VERIFY_SIGNATURES=1"):
        get_kernel("sig-org/unsigned", version=1, backend="cpu")
    assert not marker.exists()  # nothing of the kernel ran
    assert get_kernel("sig-org/unsigned", version=1, backend="cpu", verify_signature=False).VALUE == 42


# --------------------------------------------------------------------------- signing (its failures)


def _sign_cli(*args: str, env: dict = None) -> subprocess.CompletedProcess:  # type: ignore[assignment]
    full = {k: v for k, v in os.environ.items() if k not in ("SIGSTORE_ID_TOKEN", "GITHUB_ACTIONS",
                                                              "ACTIONS_ID_TOKEN_REQUEST_URL")}
    full.update({"PYTHONPATH": str(SRC), **(env or {})})
    return subprocess.run([sys.executable, "-m", "kernels.cli", "sign", *args], capture_output=True, text=True,
                          env=full, timeout=300)


def test_signing_without_an_identity_or_with_a_bad_one_is_one_clear_error(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    variant = _kernel_variant(tree)
    proc = _sign_cli(str(tree))
    assert proc.returncode == 1 and proc.stderr.startswith("kernels sign: error: signing needs an OIDC identity")
    assert "id-token: write" in proc.stderr
    proc = _sign_cli(str(tree), "--identity-token", "not-a-jwt")
    assert proc.returncode == 1 and proc.stderr.startswith("kernels sign: error: signing with sigstore failed")
    assert "Traceback" not in proc.stderr
    assert not (variant / SIGNATURE_FILENAME).exists()


def test_signing_refuses_metadata_without_a_digest_before_asking_for_an_identity(tmp_path: Path) -> None:
    from test_load import fake_kernel

    fake_kernel(tmp_path / "tree", name="nodigest")
    proc = _sign_cli(str(tmp_path / "tree"))
    assert proc.returncode == 1 and "has no digest, so a signature would cover no other file" in proc.stderr


def test_release_with_sign_stops_before_building_without_an_identity(tmp_path: Path) -> None:
    from conftest import copy_example

    from kernels.author.release import release
    from kernels.errors import AuthoringError

    repo = copy_example("relu", tmp_path)
    lines: list = []
    env_keys = ("SIGSTORE_ID_TOKEN", "GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL")
    saved = {k: os.environ.pop(k) for k in env_keys if k in os.environ}
    try:
        with pytest.raises(AuthoringError, match="signing needs an OIDC identity"):
            release(repo, repo_id="sig-org/relu", dry_run=True, sign=True, echo=lines.append)
    finally:
        os.environ.update(saved)
    assert not any(line.startswith("[1/") for line in lines), lines


def test_empty_directories_and_bad_workflows_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "build").mkdir(parents=True)
    proc = _sign_cli(str(empty))
    assert proc.returncode == 1 and "no build variants to sign" in proc.stderr
    for args in ([str(empty)], ["--all-variants", str(empty)]):
        proc = _cli(*args)
        assert proc.returncode == 1 and "no build variants to verify" in proc.stderr, proc.stderr
    proc = _cli("--github-repo", "my-org/k", "--workflow", "notaurl", str(_signed_dir(tmp_path)))
    assert proc.returncode == 1 and "expected a workflow of my-org/k at a ref" in proc.stderr
