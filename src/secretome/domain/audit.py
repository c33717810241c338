"""The audit trail's hash chain (21 CFR Part 11 §11.10(e)), as pure functions.

Each event's hash is SHA-256 over the canonical JSON of its content followed by the previous event's hash,
so altering, deleting or reordering any event breaks every hash after it. The database refuses UPDATE
and DELETE too; the chain catches what someone does after dropping those triggers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from secretome.domain.canonical import canonical_json, sha256_hex

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


def chain_hash(content: Mapping[str, Any], previous_hash: str) -> str:
    """SHA-256 over the canonical JSON of ``content`` followed by ``previous_hash``."""
    return sha256_hex(canonical_json(content) + previous_hash)


@dataclass(frozen=True)
class ChainBreak:
    """The first event at which the audit chain no longer holds."""

    event_id: int
    sequence: int
    problem: str


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
            },
        }


@dataclass(frozen=True)
class StoredEvent:
    """An audit event as read back from storage."""

    event_id: int
    content: Mapping[str, Any]
    previous_hash: str
    event_hash: str


def verify_chain(events: Iterable[StoredEvent]) -> ChainReport:
    """Recompute the chain over ``events`` (in storage order) and report the first break.

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
        problem = _link_problem(event, expected_sequence, expected_previous, last_time)
        if problem is not None:
            return ChainReport(checked, ChainBreak(event.event_id, int(event.content["sequence"]), problem))
        last_time = event.content["occurred_at"]
        expected_previous = event.event_hash
        expected_sequence += 1
    return ChainReport(checked, None)


def _link_problem(
    event: StoredEvent, expected_sequence: int, expected_previous: str, last_time: dt.datetime | None
) -> str | None:
    """What is wrong with ``event`` as the next link of the chain, or None."""
    sequence = int(event.content["sequence"])
    if sequence != expected_sequence:
        return f"sequence {sequence} where {expected_sequence} was expected: an event was deleted or inserted"
    if event.previous_hash != expected_previous:
        return "previous-hash link does not match the event before it: the chain was cut or reordered"
    if chain_hash(event.content, event.previous_hash) != event.event_hash:
        return "stored values do not match the event's hash: the event was altered"
    if last_time is not None and event.content["occurred_at"] < last_time:
        return "time goes backwards: the event was inserted out of order"
    return None
