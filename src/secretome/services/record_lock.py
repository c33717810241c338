"""The lock on a lot's record after disposition, the lot row lock, future dates and late entries.

Once a lot is released or rejected its record (results, investigations, processing steps, the passages
its cells came through) is locked: every use case that writes to it calls :func:`refuse_if_locked` (or
:func:`refuse_if_passage_locked`) first and is refused. The lock holds as long as the lot carries a
disposition signature that has not been voided, so it also holds while a released lot is quarantined;
only a QA-approved deviation reopens the record (:func:`secretome.services.release.reopen_lot`), which
voids the signatures and starts a new record version.

:func:`lock_lot_row` takes the lot's row lock (``SELECT ... FOR UPDATE``) so that a transition, a
signature or a write that checks the lot's state holds that state until it commits; on PostgreSQL a
second writer waits and then sees the new state. SQLite serialises writers already (IMMEDIATE
transactions), where the row lock is a no-op.

Times are checked here too: a time after now is refused naming its field, and an entry recorded longer
after its event than ``SECRETOME_LATE_ENTRY_HOURS`` is flagged as a late entry, beside the record and in
the audit trail.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from secretome.db.genealogy.models import Lot, Passage
from secretome.db.quality.models import Signature
from secretome.db.recordlock.models import LateEntryFlag
from secretome.domain import entry_time
from secretome.domain.signature import Meaning
from secretome.services.audit import record_event
from secretome.services.errors import GuardFailed, NotFound, ServiceError

#: Signing meanings that dispose of a lot; while one of them stands, the lot's record is locked.
DISPOSITION_MEANINGS = (Meaning.RELEASED.value, Meaning.REJECTED.value)

#: Hours after the event within which an entry is contemporaneous (``SECRETOME_LATE_ENTRY_HOURS``).
DEFAULT_LATE_ENTRY_HOURS = 72.0


class RecordLocked(GuardFailed):
    """A write to the record of a disposed lot; a QA-approved deviation must reopen it first."""


def late_entry_hours() -> float:
    """The late-entry threshold in hours, from ``SECRETOME_LATE_ENTRY_HOURS`` (default 72)."""
    raw = os.environ.get("SECRETOME_LATE_ENTRY_HOURS", "").strip()
    if not raw:
        return DEFAULT_LATE_ENTRY_HOURS
    try:
        hours = float(raw)
    except ValueError:
        raise ServiceError(f"SECRETOME_LATE_ENTRY_HOURS: {raw!r} is not a number of hours") from None
    if not hours > 0:
        raise ServiceError(f"SECRETOME_LATE_ENTRY_HOURS: must be positive, got {raw}")
    return hours


def lock_lot_row(number: str) -> Lot:
    """Take the row lock of lot ``number`` for the rest of the transaction and return the lot.

    Call first in a use case that reads the lot's state and then writes depending on it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_lot_row must run inside the use case's transaction")
    locked = Lot.objects.select_for_update().filter(number=number.strip().upper()).first()
    if locked is None:
        locked = Lot.objects.select_for_update().filter(number=number.strip()).first()
    if locked is None:
        raise NotFound(f"lot {number!r} does not exist")
    return locked


def disposition_signature(lot: Lot) -> Signature | None:
    """The lot's disposition signature (released or rejected) that still stands, or None."""
    return (
        Signature.objects.select_related("signer")
        .filter(
            record_type="lot",
            record_id=lot.number,
            meaning__in=DISPOSITION_MEANINGS,
            voided_at__isnull=True,
        )
        .order_by("-signed_at", "-pk")
        .first()
    )


def is_locked(lot: Lot) -> bool:
    """Is the lot's record locked (a disposition signature stands on it)?"""
    return disposition_signature(lot) is not None


def lock_reason(lot: Lot, signature: Signature) -> str:
    return (
        f"lot {lot.number} was {signature.meaning} on {signature.signed_at:%Y-%m-%d %H:%M} UTC by "
        f"{signature.signer.get_username()}: its record is locked; a QA-approved deviation must reopen "
        f"it first (secretome lot reopen {lot.number} --deviation DEV-...)"
    )


def refuse_if_locked(lot: Lot, action: str) -> None:
    """Raise :class:`RecordLocked` naming ``action`` when the lot's record is locked."""
    signature = disposition_signature(lot)
    if signature is not None:
        raise RecordLocked(f"{action}: " + lock_reason(lot, signature))


def lots_fed_by(passage: Passage) -> list[Lot]:
    """Every lot whose cells passed through ``passage``: lots of its descendants, across banks and thaws."""
    seen = {passage.pk}
    frontier = [passage.pk]
    while frontier:
        children = set(Passage.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) | set(
            Passage.objects.filter(source_vial__bank__source_passage_id__in=frontier).values_list(
                "pk", flat=True
            )
        )
        frontier = [pk for pk in children if pk not in seen]
        seen.update(frontier)
    return list(Lot.objects.filter(conditioning_run__passage_id__in=seen).order_by("number"))


def refuse_if_passage_locked(passage: Passage, action: str) -> None:
    """Refuse a write to a passage that is part of the genealogy of a lot whose record is locked."""
    for lot in lots_fed_by(passage):
        signature = disposition_signature(lot)
        if signature is not None:
            raise RecordLocked(
                f"{action}: passage #{passage.pk} (P{passage.number}) is in the genealogy of lot "
                + lock_reason(lot, signature).removeprefix("lot ")
            )


def refuse_future(field: str, value: dt.datetime | dt.date | None) -> None:
    """Refuse a time after now (beyond a few minutes of clock drift), naming ``field``."""
    if value is None:
        return
    try:
        entry_time.refuse_future(field, value, timezone.now())
    except ValueError as exc:
        raise ServiceError(str(exc)) from None


def flag_late_entry(
    actor: User,
    *,
    record_type: str,
    record_id: Any,
    action: str,
    field: str,
    occurred_at: dt.datetime | dt.date | None,
    lot: Lot | None = None,
    reason: str = "",
) -> entry_time.LateEntry | None:
    """Flag the entry as late when it is recorded more than the late-entry hours after ``occurred_at``.

    The flag is stored beside the record and written to the audit trail, inside the caller's transaction.
    """
    if occurred_at is None:
        return None
    now = timezone.now()
    late = entry_time.late_entry(field, occurred_at, now, late_entry_hours())
    if late is None:
        return None
    LateEntryFlag.objects.create(
        record_type=record_type,
        record_id=str(record_id),
        lot=lot,
        action=action,
        field=field,
        occurred_at=late.occurred_at,
        recorded_at=late.recorded_at,
        allowed_hours=late.allowed_hours,
        recorded_by=actor,
    )
    record_event(
        actor,
        "late entry",
        record_type,
        record_id,
        reason or late.describe(),
        None,
        {"action": action, **late.to_dict()},
    )
    return late


def guard_result_entry(
    actor: User, lot_number: str, attribute_code: str, tested_at: dt.datetime | None, reason: str = ""
) -> None:
    """What a new result of a lot must pass first: the lot row lock, the record lock, a tested time that is
    not in the future; a result entered long after its test is flagged as a late entry."""
    try:
        lot = lock_lot_row(lot_number)
    except NotFound:
        return  # the use case names the missing lot in its own words
    refuse_if_locked(lot, f"add result {attribute_code}")
    refuse_future("tested_at", tested_at)
    flag_late_entry(
        actor,
        record_type="lot",
        record_id=lot.number,
        action=f"add result {attribute_code}",
        field="tested_at",
        occurred_at=tested_at,
        lot=lot,
        reason=reason,
    )


def late_entries_of_lot(lot: Lot) -> list[dict[str, Any]]:
    """Every late-entry flag on the lot's record, oldest first."""
    return [
        late_entry_dict(flag) for flag in LateEntryFlag.objects.filter(lot=lot).select_related("recorded_by")
    ]


def late_entries_of(record_type: str, record_ids: list[Any]) -> dict[str, dict[str, Any]]:
    """Record id -> its late-entry flag (the first), for records of one type."""
    flags: dict[str, dict[str, Any]] = {}
    for flag in LateEntryFlag.objects.filter(
        record_type=record_type, record_id__in=[str(r) for r in record_ids]
    ).select_related("recorded_by"):
        flags.setdefault(flag.record_id, late_entry_dict(flag))
    return flags


def late_entry_dict(flag: LateEntryFlag) -> dict[str, Any]:
    late = entry_time.LateEntry(flag.field, flag.occurred_at, flag.recorded_at, flag.allowed_hours)
    return {
        "record_type": flag.record_type,
        "record_id": flag.record_id,
        "action": flag.action,
        "recorded_by": flag.recorded_by.get_username(),
        **late.to_dict(),
        "description": late.describe(),
    }
