"""The audit trail's keyed hash chain (21 CFR Part 11 §11.10(e)), as pure functions.

Each event's hash is HMAC-SHA256, under a key kept outside the database, over the canonical JSON of its
content followed by the previous event's hash, so altering, deleting or reordering any event breaks every
hash after it, and nobody without the key can recompute the hashes after a rewrite. The database refuses
UPDATE and DELETE too; the chain catches what someone does after dropping those triggers.

The chain alone cannot see its newest events cut off: a shorter chain is still a valid chain. A signed
:class:`Checkpoint` of the head (sequence, event id, hash, time), kept outside the database, anchors it:
:func:`checkpoint_findings` names a chain shorter than its checkpoint, a database older than it, and a
chain whose event at the checkpoint's sequence no longer has the recorded hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from secretome.domain.canonical import canonical_json

#: The hash a chain starts from.
GENESIS_HASH = "0" * 64

#: The fields covered by an event's hash, in the order they appear in the audit table.
HASHED_FIELDS = (
    "sequence",
    "actor",
    "occurred_at",
    "action",
    "object_type",
    "object_id",
    "reason",
    "before",
    "after",
)


def event_content(
    *,
    sequence: int,
    actor: str,
    occurred_at: dt.datetime,
    action: str,
    object_type: str,
    object_id: str,
    reason: str,
    before: Any,
    after: Any,
) -> dict[str, Any]:
    """The hashed content of one audit event, as a plain dictionary."""
    return {
        "sequence": sequence,
        "actor": actor,
        "occurred_at": occurred_at,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "reason": reason,
        "before": before,
        "after": after,
    }


#: Smallest audit key accepted, in bytes: HMAC-SHA256 wants at least the digest size.
MINIMUM_KEY_BYTES = 32


def _checked_key(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) < MINIMUM_KEY_BYTES:
        raise ValueError(f"key: the audit key must be at least {MINIMUM_KEY_BYTES} bytes")
    return key


def chain_hash(content: Mapping[str, Any], previous_hash: str, key: bytes) -> str:
    """HMAC-SHA256 under ``key`` over the canonical JSON of ``content`` followed by ``previous_hash``."""
    message = (canonical_json(content) + previous_hash).encode("utf-8")
    return hmac.new(_checked_key(key), message, hashlib.sha256).hexdigest()


#: Finding codes, one per way the trail can be found wrong. ``audit verify`` reports them by these names.
EVENT_REWRITTEN = "event_rewritten"
EVENT_DELETED_OR_INSERTED = "event_deleted_or_inserted"
CHAIN_CUT_OR_REORDERED = "chain_cut_or_reordered"
TIME_BACKWARDS = "time_backwards"
CHECKPOINT_MISSING = "checkpoint_missing"
CHECKPOINT_FORGED = "checkpoint_signature_invalid"
TRUNCATED = "truncated"
RESTORED_FROM_OLDER_BACKUP = "restored_from_older_backup"
CHECKPOINT_MISMATCH = "checkpoint_mismatch"


@dataclass(frozen=True)
class ChainBreak:
    """The first event at which the audit chain no longer holds."""

    event_id: int
    sequence: int
    problem: str
    code: str = EVENT_REWRITTEN


@dataclass(frozen=True)
class ChainReport:
    """What verifying the audit chain found."""

    events_checked: int
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "events_checked": self.events_checked,
            "first_break": None
            if self.first_break is None
            else {
                "event_id": self.first_break.event_id,
                "sequence": self.first_break.sequence,
                "problem": self.first_break.problem,
                "code": self.first_break.code,
            },
        }


@dataclass(frozen=True)
class StoredEvent:
    """An audit event as read back from storage."""

    event_id: int
    content: Mapping[str, Any]
    previous_hash: str
    event_hash: str


def verify_chain(events: Iterable[StoredEvent], key: bytes) -> ChainReport:
    """Recompute the chain over ``events`` (in storage order) under ``key`` and report the first break.

    Catches an altered event (its hash no longer matches its content), a deleted event (a gap in the
    sequence, or a previous-hash link that points at nothing), and an event inserted out of order (a
    sequence or time that goes backwards, or a link to the wrong predecessor).
    """
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    last_time: dt.datetime | None = None
    checked = 0
    for event in events:
        checked += 1
        found = _link_problem(event, expected_sequence, expected_previous, last_time, key)
        if found is not None:
            code, problem = found
            return ChainReport(
                checked, ChainBreak(event.event_id, int(event.content["sequence"]), problem, code)
            )
        last_time = event.content["occurred_at"]
        expected_previous = event.event_hash
        expected_sequence += 1
    return ChainReport(checked, None)


def _link_problem(
    event: StoredEvent,
    expected_sequence: int,
    expected_previous: str,
    last_time: dt.datetime | None,
    key: bytes,
) -> tuple[str, str] | None:
    """What is wrong with ``event`` as the next link of the chain (code, explanation), or None."""
    sequence = int(event.content["sequence"])
    if sequence != expected_sequence:
        return (
            EVENT_DELETED_OR_INSERTED,
            f"sequence {sequence} where {expected_sequence} was expected: an event was deleted or inserted",
        )
    if event.previous_hash != expected_previous:
        return (
            CHAIN_CUT_OR_REORDERED,
            "previous-hash link does not match the event before it: the chain was cut or reordered",
        )
    if not hmac.compare_digest(chain_hash(event.content, event.previous_hash, key), event.event_hash):
        return (
            EVENT_REWRITTEN,
            "stored values do not match the event's keyed hash: the event was altered or rewritten",
        )
    if last_time is not None and event.content["occurred_at"] < last_time:
        return TIME_BACKWARDS, "time goes backwards: the event was inserted out of order"
    return None


# --- the head checkpoint ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The signed head of the chain at one commit: kept outside the database, it anchors the chain's end."""

    sequence: int
    event_id: int
    event_hash: str
    written_at: dt.datetime
    signature: str

    def signed_content(self) -> dict[str, Any]:
        return {
            "purpose": "secretome audit checkpoint",
            "sequence": self.sequence,
            "event_id": self.event_id,
            "event_hash": self.event_hash,
            "written_at": self.written_at,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "event_id": self.event_id,
            "event_hash": self.event_hash,
            "written_at": self.written_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Checkpoint:
        """Read a checkpoint back; ``ValueError`` naming the field when it is malformed."""
        try:
            written_at = dt.datetime.fromisoformat(str(raw["written_at"]).replace("Z", "+00:00"))
            checkpoint = cls(
                sequence=int(raw["sequence"]),
                event_id=int(raw["event_id"]),
                event_hash=str(raw["event_hash"]),
                written_at=written_at,
                signature=str(raw["signature"]),
            )
        except KeyError as exc:
            raise ValueError(f"checkpoint: field {exc.args[0]!r} is missing") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint: malformed field ({exc})") from None
        if written_at.tzinfo is None:
            raise ValueError("checkpoint: written_at must be a UTC time")
        return checkpoint


def _checkpoint_signature(content: Mapping[str, Any], key: bytes) -> str:
    message = canonical_json(content).encode("utf-8")
    return hmac.new(_checked_key(key), message, hashlib.sha256).hexdigest()


def sign_checkpoint(
    *, sequence: int, event_id: int, event_hash: str, written_at: dt.datetime, key: bytes
) -> Checkpoint:
    """A checkpoint of the chain's head, signed with ``key`` (the audit key)."""
    if sequence < 1:
        raise ValueError("sequence: a checkpoint records an event, sequence 1 or later")
    unsigned = Checkpoint(sequence, event_id, event_hash, written_at, "")
    return Checkpoint(
        sequence, event_id, event_hash, written_at, _checkpoint_signature(unsigned.signed_content(), key)
    )


def checkpoint_signature_valid(checkpoint: Checkpoint, key: bytes) -> bool:
    return hmac.compare_digest(_checkpoint_signature(checkpoint.signed_content(), key), checkpoint.signature)


@dataclass(frozen=True)
class Finding:
    """One thing ``audit verify`` found wrong, by code, with what it means for people."""

    code: str
    message: str
    sequence: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "sequence": self.sequence}


def checkpoint_findings(
    checkpoint: Checkpoint | None,
    key: bytes,
    *,
    head_sequence: int,
    hash_at_checkpoint: str | None,
    highest_id_assigned: int | None,
) -> list[Finding]:
    """Compare the database's chain with the last checkpoint written outside it.

    Parameters
    ----------
    checkpoint
        The last checkpoint, or None when there is none.
    key
        The audit key that signed it.
    head_sequence
        The highest sequence in the database's chain (0 for an empty chain).
    hash_at_checkpoint
        The stored hash of the database's event with the checkpoint's sequence (None when there is none).
    highest_id_assigned
        The highest id the database has ever handed out to an audit event (its autoincrement counter),
        or None when unknown. Deleting rows leaves it standing; restoring an older backup winds it back.
    """
    if checkpoint is None:
        if head_sequence == 0:
            return []
        return [
            Finding(
                CHECKPOINT_MISSING,
                f"no checkpoint outside the database for a chain of {head_sequence} events: "
                "its end cannot be checked",
            )
        ]
    if not checkpoint_signature_valid(checkpoint, key):
        return [
            Finding(
                CHECKPOINT_FORGED,
                "the checkpoint's signature does not match the audit key: it was altered or forged",
                checkpoint.sequence,
            )
        ]
    when = checkpoint.to_dict()["written_at"]
    if head_sequence < checkpoint.sequence:
        missing = checkpoint.sequence - head_sequence
        if highest_id_assigned is not None and highest_id_assigned >= checkpoint.event_id:
            return [
                Finding(
                    TRUNCATED,
                    f"the chain ends at sequence {head_sequence} but the checkpoint of {when} records "
                    f"sequence {checkpoint.sequence}: the newest {missing} events were deleted",
                    checkpoint.sequence,
                )
            ]
        return [
            Finding(
                RESTORED_FROM_OLDER_BACKUP,
                f"the database ends at sequence {head_sequence} and never held the checkpoint's event "
                f"{checkpoint.sequence} of {when}: it was restored from an older backup ({missing} events "
                "are not in it)",
                checkpoint.sequence,
            )
        ]
    if hash_at_checkpoint is None or not hmac.compare_digest(hash_at_checkpoint, checkpoint.event_hash):
        return [
            Finding(
                CHECKPOINT_MISMATCH,
                f"the event at sequence {checkpoint.sequence} no longer has the hash the checkpoint of {when} "
                "recorded: the chain was rewritten, or this database belongs to another site",
                checkpoint.sequence,
            )
        ]
    return []


@dataclass(frozen=True)
class AuditReport:
    """What verifying the audit trail found: the chain itself, and its end against the checkpoint."""

    chain: ChainReport
    checkpoint: Checkpoint | None
    findings: tuple[Finding, ...]

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def events_checked(self) -> int:
        return self.chain.events_checked

    @property
    def first_break(self) -> ChainBreak | None:
        return self.chain.first_break

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.chain.to_dict(),
            "intact": self.intact,
            "checkpoint": None if self.checkpoint is None else self.checkpoint.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }


def audit_report(chain: ChainReport, checkpoint: Checkpoint | None, end: list[Finding]) -> AuditReport:
    """The whole verdict: the chain's first break (if any) first, then what the checkpoint shows."""
    findings: list[Finding] = []
    if chain.first_break is not None:
        brk = chain.first_break
        findings.append(Finding(brk.code, brk.problem, brk.sequence))
    findings.extend(end)
    return AuditReport(chain, checkpoint, tuple(findings))
