"""What an electronic signature signs (21 CFR 11.50, 11.70).

A signature is bound to one version of one record: the SHA-256 of the record's canonical content, which
itself names the record's type, identifier and version. The signature's own digest covers that record
hash, the signer, the printed name, the meaning and the UTC time, so neither the signature nor the record
can change without the digests disagreeing, and a signature copied onto another record (or another
version of the same record) no longer matches it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from secretome.domain.canonical import canonical_json, digest, sha256_hex


class Meaning(StrEnum):
    """What the signer means by signing (11.50(a)(3))."""

    REVIEWED = "reviewed"
    APPROVED = "approved"
    RELEASED = "released"
    REJECTED = "rejected"


def record_content(record_type: str, record_id: str, version: int, content: Any) -> str:
    """The canonical JSON a signature covers: the record's identity and version wrapped round its content."""
    if not record_type or not str(record_id):
        raise ValueError("record_type: a signed record needs a type and an identifier")
    if version < 1:
        raise ValueError(f"version: must be 1 or more, got {version}")
    return canonical_json(
        {"record_type": record_type, "record_id": str(record_id), "version": version, "content": content}
    )


def record_sha256(record_type: str, record_id: str, version: int, content: Any) -> str:
    """SHA-256 of :func:`record_content`."""
    return sha256_hex(record_content(record_type, record_id, version, content))


@dataclass(frozen=True)
class SignatureManifest:
    """The signature as stored and shown: who, printed name, when (UTC), meaning, and the record hash."""

    record_type: str
    record_id: str
    record_version: int
    record_sha256: str
    signer: str
    printed_name: str
    meaning: Meaning
    signed_at: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "meaning", Meaning(self.meaning))
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at: signatures carry UTC times, not naive ones")
        if len(self.record_sha256) != 64:
            raise ValueError("record_sha256: expected 64 hex digits")
        if not self.printed_name.strip():
            raise ValueError("printed_name: a signature shows the signer's printed name")

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_type": self.record_type,
            "record_id": self.record_id,
            "record_version": self.record_version,
            "record_sha256": self.record_sha256,
            "signer": self.signer,
            "printed_name": self.printed_name,
            "meaning": self.meaning.value,
            "signed_at": self.signed_at,
        }

    @property
    def sha256(self) -> str:
        """The signature's own digest, over every field of the manifest."""
        return digest(self.to_dict())

    def describe(self) -> str:
        """The manifestation 11.50 asks for, e.g. ``Quinn QA — released — 2026-01-01 10:00:00 UTC``."""
        when = self.signed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.printed_name} ({self.signer}) — {self.meaning.value} — {when}"


def signature_matches(
    manifest: SignatureManifest,
    stored_sha256: str,
    record_type: str,
    record_id: str,
    version: int,
    content: Any,
) -> bool:
    """True when ``manifest`` is intact (its digest equals ``stored_sha256``) and covers exactly this record."""
    return (
        manifest.sha256 == stored_sha256
        and manifest.record_type == record_type
        and manifest.record_id == str(record_id)
        and manifest.record_version == version
        and manifest.record_sha256 == record_sha256(record_type, record_id, version, content)
    )
