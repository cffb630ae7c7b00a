"""Signing variants: a sigstore bundle over each variant's ``metadata.json``.

The bundle is written next to it as ``metadata.json.sigstore`` and uploaded like any file;
:func:`kernels.signatures.verify_variant` checks it. The metadata's ``digest`` (written by
``kernels from-wheel``) covers the other files, so signing the metadata signs the variant.

The identity is an OIDC token: the ambient credential of a CI system (GitHub Actions with
``permissions: id-token: write``; sigstore-python detects it), or one given explicitly. The
signing itself (Fulcio certificate, Rekor entry) is sigstore-python's, against sigstore's
public-good instance (``staging=True``: its staging instance, for trials).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Union

from ..errors import AuthoringError, require_extra
from ..metadata import METADATA_FILENAME, SIGNATURE_FILENAME

__all__ = ["ambient_identity_token", "sign_tree"]


def ambient_identity_token() -> str:
    """The OIDC token of the CI job this runs in (sigstore-python's ``detect_credential``).

    Raises:
        MissingExtraError: sigstore-python is not installed (``kernels[sigstore]``).
        AuthoringError: no ambient credential (not in a CI job that grants one).
    """
    require_extra("signing kernels", "sigstore", "sigstore")
    from sigstore.oidc import IdentityError, detect_credential  # noqa: PLC0415

    try:
        token = detect_credential()
    except IdentityError as exc:
        raise AuthoringError(f"signing: the CI credential could not be read ({exc})") from None
    if not token:
        raise AuthoringError(
            "signing needs an OIDC identity and none was found: run in GitHub Actions with "
            "`permissions: id-token: write` (sigstore-python reads the ambient credential), or pass "
            "--identity-token / SIGSTORE_ID_TOKEN")
    return token


def sign_tree(tree: Union[str, Path], *, identity_token: Optional[str] = None, staging: bool = False,
              echo: Callable[[str], None] = print) -> List[Path]:
    """Sign the ``metadata.json`` of every variant under ``tree`` (a tree, its ``build/`` or one
    variant directory); return the bundles written (``<variant>/metadata.json.sigstore``).

    Args:
        tree: what ``kernels from-wheel`` or ``kernels build`` wrote.
        identity_token: an OIDC token; default: the ambient CI credential
            (:func:`ambient_identity_token`).
        staging: sign with sigstore's staging instance (bundles that only staging verifies).
        echo: receives one line per signed variant.

    Raises:
        MissingExtraError: sigstore-python is not installed.
        AuthoringError: no identity, a variant without ``metadata.json`` or ``digest``, or
            sigstore refused to sign (the message says why). No bundle is left half-written.

    Example::

        >>> sign_tree("relu-hub")                                           # doctest: +SKIP
        [PosixPath('relu-hub/build/torch213-cxx11-cpu-x86_64-linux/metadata.json.sigstore')]
    """
    require_extra("signing kernels", "sigstore", "sigstore")
    from sigstore.models import ClientTrustConfig  # noqa: PLC0415
    from sigstore.oidc import IdentityToken  # noqa: PLC0415
    from sigstore.sign import SigningContext  # noqa: PLC0415

    from ..check import variant_dirs  # noqa: PLC0415
    from ..errors import KernelsError  # noqa: PLC0415
    from ..metadata import Metadata  # noqa: PLC0415

    variants = variant_dirs(tree)
    if not variants:
        raise AuthoringError(f"{tree}: no build variants to sign")
    for variant in variants:  # refuse before the first signature: nothing is signed half
        try:
            metadata = Metadata.read_from_file(variant / METADATA_FILENAME)
        except (OSError, KernelsError) as exc:
            raise AuthoringError(f"{variant}: cannot sign, {METADATA_FILENAME} is not readable ({exc})") from None
        if metadata.digest is None:
            raise AuthoringError(f"{variant}: {METADATA_FILENAME} has no digest, so a signature would cover no "
                                 "other file; make the tree with `kernels from-wheel` (it writes the digest)")
    token = identity_token or ambient_identity_token()
    try:
        identity = IdentityToken(token)
        config = ClientTrustConfig.staging() if staging else ClientTrustConfig.production()
        context = SigningContext.from_trust_config(config)
        written = []
        with context.signer(identity, cache=True) as signer:
            for variant in variants:
                bundle = signer.sign_artifact((variant / METADATA_FILENAME).read_bytes())
                target = variant / SIGNATURE_FILENAME
                tmp = target.with_name(f".{target.name}.tmp")
                tmp.write_text(bundle.to_json(), encoding="utf-8")
                tmp.replace(target)
                written.append(target)
                echo(f"      signed {variant.name}/{METADATA_FILENAME} as {identity.identity} "
                     f"({identity.issuer}) -> {SIGNATURE_FILENAME}")
    except AuthoringError:
        raise
    except Exception as exc:  # noqa: BLE001 - sigstore's network and identity errors have many types
        raise AuthoringError(f"signing with sigstore failed: {type(exc).__name__}: {exc}") from None
    return written
