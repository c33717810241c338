"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): re-authentication, binding, voiding.

Signing asks for the password again, every time. The password is checked by Django's ``authenticate``
outside the use case's transaction, so that django-axes counts a failed attempt even though the signing
use case itself is refused and rolled back; after ``AXES_FAILURE_LIMIT`` failures the account is locked.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from secretome.db.quality.models import Signature
from secretome.domain.signature import Meaning, SignatureManifest, record_sha256, signature_matches
from secretome.services.accounts import SIGNATURE, check_password_again, require_current_password
from secretome.services.audit import record_event
from secretome.services.errors import Forbidden, ServiceError
from secretome.services.users import full_name


def reauthenticate(actor: User, password: str, request: HttpRequest | None = None) -> None:
    """Check ``actor``'s password again (11.200). Failures count towards the account lockout and are audited
    as refused signatures; an expired password signs nothing (11.300(b)).

    Must run outside any transaction that may be rolled back, or django-axes' failure record goes too.
    """
    if not password:
        raise Forbidden("signing needs your password again (21 CFR 11.200)")
    if not check_password_again(actor, password, SIGNATURE, request):
        raise Forbidden(
            f"signature refused: wrong password for {actor.get_username()}, or the account is locked"
        )
    require_current_password(actor)


def require_expected_sha256(expected_sha256: str | None, shown_by: str) -> None:
    """Refuse a signature request that does not carry the hash of the record the signer reviewed.

    Required on every surface (web dialog, ``--expect``, API): without it a captured signing request could
    be replayed onto another record, or onto the same record after it changed.
    """
    text = (expected_sha256 or "").strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ServiceError(
            f"expected_sha256: give the SHA-256 of the record you reviewed (64 hex digits, from {shown_by}); "
            "a signature without it could be replayed onto a changed record"
        )


def manifest_of(signature: Signature) -> SignatureManifest:
    return SignatureManifest(
        record_type=signature.record_type,
        record_id=signature.record_id,
        record_version=signature.record_version,
        record_sha256=signature.record_sha256,
        signer=signature.signer.get_username(),
        printed_name=signature.printed_name,
        meaning=Meaning(signature.meaning),
        signed_at=signature.signed_at,
    )


def create_signature(
    actor: User,
    reason: str,
    *,
    record_type: str,
    record_id: str,
    version: int,
    content: Any,
    meaning: Meaning,
    expected_sha256: str | None = None,
) -> Signature:
    """Store a signature on one version of one record. Call inside the use case's transaction, after
    :func:`reauthenticate`.

    ``expected_sha256`` is the record hash the signer was shown; when it differs from the record's hash now,
    the signature is refused, so a signing form cannot be replayed onto another record or a changed one.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("create_signature must run inside the use case's transaction")
    record_hash = record_sha256(record_type, record_id, version, content)
    if expected_sha256 is not None and expected_sha256 != record_hash:
        raise ServiceError(
            f"signature refused: the record shown for signing ({expected_sha256[:12]}…) is not "
            f"{record_type} {record_id} version {version} as it stands ({record_hash[:12]}…)"
        )
    manifest = SignatureManifest(
        record_type=record_type,
        record_id=str(record_id),
        record_version=version,
        record_sha256=record_hash,
        signer=actor.get_username(),
        printed_name=full_name(actor),
        meaning=meaning,
        signed_at=timezone.now(),
    )
    signature = Signature.objects.create(
        record_type=record_type,
        record_id=str(record_id),
        record_version=version,
        record_sha256=record_hash,
        signer=actor,
        printed_name=manifest.printed_name,
        meaning=meaning.value,
        signed_at=manifest.signed_at,
        signature_sha256=manifest.sha256,
    )
    record_event(actor, "sign", record_type, record_id, reason, None, manifest.to_dict())
    return signature


def void_signatures(actor: User | str, reason: str, record_type: str, record_id: str) -> list[Signature]:
    """Void every active signature on a record (the record is about to change); each stays visible."""
    voided = []
    now = timezone.now()
    for signature in Signature.objects.filter(
        record_type=record_type, record_id=record_id, voided_at__isnull=True
    ):
        signature.voided_at = now
        signature.void_reason = reason
        signature.save(update_fields=["voided_at", "void_reason"])
        record_event(
            actor,
            "void signature",
            record_type,
            record_id,
            reason,
            {"signature": signature.signature_sha256, "meaning": signature.meaning, "voided": False},
            {"signature": signature.signature_sha256, "meaning": signature.meaning, "voided": True},
        )
        voided.append(signature)
    return voided


def signatures_on(record_type: str, record_id: str) -> list[Signature]:
    return list(
        Signature.objects.select_related("signer").filter(record_type=record_type, record_id=str(record_id))
    )


def signature_state(signature: Signature, version: int, content: Any) -> str:
    """``valid``, ``voided``, or ``broken`` (the stored signature or the record no longer matches)."""
    if signature.voided_at is not None:
        return "voided"
    intact = signature_matches(
        manifest_of(signature),
        signature.signature_sha256,
        signature.record_type,
        signature.record_id,
        version,
        content,
    )
    return "valid" if intact else "broken"


def signature_dict(signature: Signature, state: str) -> dict[str, Any]:
    manifest = manifest_of(signature)
    return {
        **manifest.to_dict(),
        "signature_sha256": signature.signature_sha256,
        "state": state,
        "voided_at": signature.voided_at,
        "void_reason": signature.void_reason,
        "manifestation": manifest.describe(),
    }
