"""Sigstore signatures of kernel variants: verification.

A variant may carry ``metadata.json.sigstore``, a sigstore bundle over the exact bytes of
its ``metadata.json``; the metadata's ``digest`` then covers every other file of the variant.
Verifying a variant (as the released kernels 0.17.2 does, with the same outcomes) means, in
this order (the metadata is parsed only once its signature holds):

1. the bundle exists and parses (``SignatureBundleMissing`` / ``SignatureBundleInvalid``);
2. ``metadata.json`` exists (``MetadataMissing``);
3. the bundle's signature over it is valid for sigstore's public-good instance and its
   certificate satisfies one of the identity policies (``SignatureVerificationFailure``);
4. the metadata parses (``MetadataInvalid``) and has a digest (``DigestMissing``);
5. every file matches the digest (``DigestVerificationFailure``), else ``Success``.

Certificates, transparency-log proofs and trust roots are sigstore-python's job
(``pip install 'kernels[sigstore]'``); it is imported only when a signature is checked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

from . import limits
from .atomic_files import remember
from .errors import KernelSignatureError, MetadataError, require_extra
from .metadata import METADATA_FILENAME, SIGNATURE_FILENAME, Metadata

__all__ = [
    "DEFAULT_POLICIES",
    "GITHUB_ACTIONS_ISSUER",
    "GitHubWorkflowPolicy",
    "VerificationResult",
    "describe",
    "require_valid_signature",
    "verify_signed_metadata",
    "verify_variant",
]

logger = logging.getLogger("kernels")

#: The OIDC issuer of GitHub Actions' ambient credentials.
GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class GitHubWorkflowPolicy:
    """Accept certificates issued to a GitHub Actions workflow of one repository.

    The certificate must name GitHub Actions as OIDC issuer, ``https://github.com/<repo_id>``
    as source repository, and one of ``signer_uris`` as build signer (the workflow file at a
    ref: ``https://github.com/<org>/<repo>/.github/workflows/<file>.yaml@refs/heads/main``).
    A sigstore ``VerificationPolicy``: it can be combined with sigstore's own policies.

    Raises:
        ValueError: no ``signer_uris``.

    Example::

        >>> GitHubWorkflowPolicy(repo_id="my-org/my-kernels", signer_uris=[
        ...     "https://github.com/my-org/my-kernels/.github/workflows/build.yaml@refs/heads/main"]).repo_id
        'my-org/my-kernels'
    """

    repo_id: str
    signer_uris: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.signer_uris:
            raise ValueError("GitHubWorkflowPolicy needs at least one signer URI (a workflow file at a ref)")
        object.__setattr__(self, "signer_uris", tuple(self.signer_uris))

    def verify(self, cert: Any) -> None:
        """Raise sigstore's ``VerificationError`` unless ``cert`` (an x509 certificate) fits."""
        from sigstore.verify import policy  # noqa: PLC0415

        policy.AllOf([
            policy.OIDCIssuer(GITHUB_ACTIONS_ISSUER),
            policy.OIDCIssuerV2(GITHUB_ACTIONS_ISSUER),
            policy.OIDCSourceRepositoryURI(f"https://github.com/{self.repo_id}"),
            policy.AnyOf([policy.OIDCBuildSignerURI(uri) for uri in self.signer_uris]),
        ]).verify(cert)


#: Who signs by default: the build workflows of the Hugging Face kernels collection (the same
#: identities as kernels 0.17.2 trusts).
DEFAULT_POLICIES: List[Any] = [
    GitHubWorkflowPolicy(
        repo_id="huggingface/kernels-community",
        signer_uris=[
            f"https://github.com/huggingface/kernels-community/.github/workflows/{name}@refs/heads/main"
            for name in ("build.yaml", "build-mac.yaml", "build-windows.yaml", "sign-old-builds.yaml")
        ],
    ),
]


class VerificationResult:
    """The outcomes of :func:`verify_variant` (kernels 0.17.2's names); ``Any`` is their union."""

    @dataclass(frozen=True)
    class Success:
        """The metadata is signed by an accepted identity and every file matches its digest."""

    @dataclass(frozen=True)
    class SignatureBundleMissing:
        """The variant has no ``metadata.json.sigstore``."""

    @dataclass(frozen=True)
    class SignatureBundleInvalid:
        """The bundle is not a sigstore bundle (``reason`` says why)."""

        reason: str

    @dataclass(frozen=True)
    class MetadataMissing:
        """The variant has no ``metadata.json``."""

    @dataclass(frozen=True)
    class SignatureVerificationFailure:
        """The signature does not verify, or its certificate fits no policy (``reason``)."""

        reason: str

    @dataclass(frozen=True)
    class MetadataInvalid:
        """The (signed) metadata does not parse (``reason``)."""

        reason: str

    @dataclass(frozen=True)
    class DigestMissing:
        """The (signed) metadata has no ``digest``, so the other files are not covered."""

    @dataclass(frozen=True)
    class DigestVerificationFailure:
        """Files differ from the digest: ``violations`` are ``"changed file: <path>"``,
        ``"missing file: <path>"`` or ``"extra file: <path>"``."""

        violations: List[str]

    Any = Union[Success, SignatureBundleMissing, SignatureBundleInvalid, MetadataMissing,
                SignatureVerificationFailure, MetadataInvalid, DigestMissing, DigestVerificationFailure]


def verify_variant(variant_path: Union[str, "os.PathLike[str]"], policies: Optional[Sequence[Any]] = None, *,
                   verifier: Any = None) -> "VerificationResult.Any":
    """Verify the signature and the files of one variant directory.

    Args:
        variant_path: a variant directory (``build/<variant>/``).
        policies: sigstore verification policies, any of which may accept the signing
            certificate (default: :data:`DEFAULT_POLICIES`).
        verifier: a ``sigstore.verify.Verifier`` (default: sigstore's public-good instance; its
            trust root is refreshed online, else the cached or bundled one is used; with
            ``KERNELS_SIGSTORE_OFFLINE=1`` or ``HF_HUB_OFFLINE=1`` it is not refreshed).

    Returns:
        One of :class:`VerificationResult`'s outcomes (see the module docstring for the order).

    Raises:
        MissingExtraError: sigstore-python is not installed (``kernels[sigstore]``).

    Example::

        >>> from kernels.signatures import VerificationResult, verify_variant
        >>> verify_variant("relu/build/torch-cpu")                              # doctest: +SKIP
        VerificationResult.Success()
    """
    require_extra("verifying signatures", "sigstore", "sigstore")
    from sigstore.errors import VerificationError  # noqa: PLC0415
    from sigstore.models import Bundle, InvalidBundle  # noqa: PLC0415
    from sigstore.verify import policy  # noqa: PLC0415

    variant = Path(variant_path)
    try:
        bundle_bytes = limits.read_regular_file(variant / SIGNATURE_FILENAME, "metadata_bytes")
    except FileNotFoundError:
        return VerificationResult.SignatureBundleMissing()
    except (OSError, ValueError) as exc:
        return VerificationResult.SignatureBundleInvalid(reason=str(exc))
    try:
        bundle = Bundle.from_json(bundle_bytes)
    except (InvalidBundle, ValueError) as exc:
        return VerificationResult.SignatureBundleInvalid(reason=str(exc) or type(exc).__name__)
    try:
        metadata_bytes = limits.read_regular_file(variant / METADATA_FILENAME, "metadata_bytes")
    except FileNotFoundError:
        return VerificationResult.MetadataMissing()
    except (OSError, ValueError) as exc:
        return VerificationResult.MetadataInvalid(reason=str(exc))
    # The metadata is parsed only after its signature holds: untrusted JSON never reaches the parser.
    try:
        (verifier or _public_good_verifier()).verify_artifact(
            metadata_bytes, bundle, policy.AnyOf(list(DEFAULT_POLICIES if policies is None else policies)))
    except VerificationError as exc:
        return VerificationResult.SignatureVerificationFailure(reason=str(exc))
    return verify_signed_metadata(variant, metadata_bytes)


def verify_signed_metadata(variant_path: Union[str, "os.PathLike[str]"],
                           metadata_bytes: bytes) -> "VerificationResult.Any":
    """Steps 4 and 5 of :func:`verify_variant`, for metadata whose signature holds: it parses
    (``MetadataInvalid``), has a digest (``DigestMissing``) and every file of the variant
    matches it (``DigestVerificationFailure``); else ``Success``.

    Example::

        >>> verify_signed_metadata("relu/build/torch-cpu", signed_bytes)         # doctest: +SKIP
        VerificationResult.Success()
    """
    variant = Path(variant_path)
    try:
        metadata = Metadata.from_bytes(metadata_bytes, source=str(variant / METADATA_FILENAME))
    except MetadataError as exc:
        return VerificationResult.MetadataInvalid(reason=str(exc))
    if metadata.digest is None:
        return VerificationResult.DigestMissing()
    try:
        violations = metadata.verify_digest(variant)
    except (OSError, ValueError) as exc:
        return VerificationResult.DigestVerificationFailure(violations=[str(exc)])
    if violations:
        return VerificationResult.DigestVerificationFailure(violations=violations)
    return VerificationResult.Success()


def describe(result: "VerificationResult.Any") -> str:
    """One line (plus the violations) saying what ``result`` means for a user.

    >>> describe(VerificationResult.SignatureBundleMissing())
    'not signed (no metadata.json.sigstore)'
    """
    kind = type(result).__name__
    messages = {
        "Success": "signed by an accepted identity, every file matches the signed digest",
        "SignatureBundleMissing": f"not signed (no {SIGNATURE_FILENAME})",
        "SignatureBundleInvalid": f"{SIGNATURE_FILENAME} is not a valid sigstore bundle",
        "MetadataMissing": f"no {METADATA_FILENAME} to verify",
        "SignatureVerificationFailure": f"the signature of {METADATA_FILENAME} does not verify",
        "MetadataInvalid": f"the signed {METADATA_FILENAME} is not valid",
        "DigestMissing": f"the signed {METADATA_FILENAME} has no digest, so the other files are not covered",
        "DigestVerificationFailure": "files differ from the signed digest",
    }
    text = messages[kind]
    reason = getattr(result, "reason", None)
    if reason:
        text += f": {reason}"
    for violation in getattr(result, "violations", ()):
        text += f"\n  {violation}"
    return text


def require_valid_signature(variant_dir: Path, cache_root: Optional[Path] = None,
                            policies: Optional[Sequence[Any]] = None, *, verifier: Any = None) -> None:
    """Raise :class:`~kernels.errors.KernelSignatureError` unless ``variant_dir`` verifies.

    A success is remembered under ``<cache_root>/.kernels/signatures/`` for these exact
    metadata, bundle and file sizes and times, so a cached variant is verified once, not on
    every load; anything that changes is verified again. ``policies`` and ``verifier`` as for
    :func:`verify_variant`.
    """
    stamp = _stamp(variant_dir, cache_root) if cache_root is not None else None
    key = _fingerprint(variant_dir)
    if stamp is not None and key is not None:
        try:
            if stamp.read_text() == key:
                return
        except OSError:
            pass
    result = verify_variant(variant_dir, policies, verifier=verifier)
    if not isinstance(result, VerificationResult.Success):
        raise KernelSignatureError(f"{variant_dir}: signature check failed: {describe(result)}; the kernel is "
                                   "not loaded (verification was asked for with verify_signature=True or "
                                   "KERNELS_VERIFY_SIGNATURES=1)")
    if stamp is not None and key is not None:
        remember(stamp, key)  # a read-only cache: verify again next time


def _public_good_verifier():  # -> sigstore.verify.Verifier
    from sigstore.verify import Verifier  # noqa: PLC0415

    from .hub import offline  # noqa: PLC0415

    if offline() or os.environ.get("KERNELS_SIGSTORE_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return Verifier.production(offline=True)
    try:
        return Verifier.production()
    except Exception as exc:  # noqa: BLE001 - sigstore's TUF client raises many types for a failed refresh
        logger.warning("could not refresh sigstore's trust root (%s); using the cached or bundled one", exc)
        return Verifier.production(offline=True)


def _stamp(variant_dir: Path, cache_root: Path) -> Path:
    key = hashlib.sha256(str(variant_dir.resolve(strict=False)).encode()).hexdigest()[:32]
    return cache_root / ".kernels" / "signatures" / key


def _fingerprint(variant_dir: Path) -> Optional[str]:
    """The metadata and bundle contents and every file's size and mtime, as one string."""
    try:
        files = sorted(p for p in variant_dir.rglob("*") if p.is_file())
        parts = {str(p.relative_to(variant_dir)): [p.stat().st_size, p.stat().st_mtime_ns] for p in files}
        body = {name: hashlib.sha256((variant_dir / name).read_bytes()).hexdigest()
                for name in (METADATA_FILENAME, SIGNATURE_FILENAME)}
    except OSError:
        return None
    return json.dumps({"files": parts, "signed": body}, sort_keys=True)
