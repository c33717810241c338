"""Writing and reading the append-only audit trail, and anchoring its end outside the database.

Every event's hash is keyed with the audit key (``$SECRETOME_HOME/audit_key``, read with the settings). After every commit that
wrote audit events, the chain's head is written, signed, to ``$SECRETOME_HOME/audit_checkpoint.json``
(atomically, synced), so that :func:`verify` can tell a complete chain from one cut short or wound back.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.utils import timezone

from secretome.config import AUDIT_CHECKPOINT_FILE
from secretome.db.core.models import AuditEvent
from secretome.domain.audit import (
    GENESIS_HASH,
    AuditReport,
    Checkpoint,
    audit_report,
    chain_hash,
    checkpoint_findings,
    event_content,
    sign_checkpoint,
    verify_chain,
)
from secretome.domain.canonical import canonical_json
from secretome.services.durable import write_atomically
from secretome.services.errors import ServiceError

_log = logging.getLogger(__name__)

#: The actor name used for events written by the system itself (``secretome init``, migrations).
SYSTEM_ACTOR = "system"

# Any constant works: it only has to be the same number for every writer of the audit chain.
_POSTGRES_CHAIN_LOCK = 0x5EC7E7


def actor_name(actor: User | AnonymousUser | str) -> str:
    """The stored name of ``actor``: the username, or a fixed system name."""
    if isinstance(actor, str):
        return actor
    if not actor.is_authenticated:
        raise ServiceError("an anonymous user cannot change records")
    return str(actor.get_username())


def require_reason(reason: str) -> str:
    """Every change needs a reason (EU GMP Annex 11 §9)."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise ServiceError("reason: every change needs a reason; none was given")
    return cleaned


def record_event(
    actor: User | AnonymousUser | str,
    action: str,
    object_type: str,
    object_id: object,
    reason: str,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event to the audit chain. Must run inside the use case's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must run inside the use case's transaction")
    if connection.vendor == "postgresql":
        # Serialise chain appends across connections; SQLite's IMMEDIATE transactions already do.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_POSTGRES_CHAIN_LOCK])
    last = AuditEvent.objects.order_by("-sequence").first()
    sequence = 1 if last is None else last.sequence + 1
    previous_hash = GENESIS_HASH if last is None else last.event_hash
    occurred_at = timezone.now()
    if last is not None and occurred_at < last.occurred_at:
        occurred_at = last.occurred_at  # a clock step backwards must not break the chain's time order
    before_json = canonical_json(before)
    after_json = canonical_json(after)
    content = event_content(
        sequence=sequence,
        actor=actor_name(actor),
        occurred_at=occurred_at,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=require_reason(reason),
        before=json.loads(before_json),
        after=json.loads(after_json),
    )
    key = audit_key()
    event = AuditEvent.objects.create(
        sequence=sequence,
        actor=content["actor"],
        occurred_at=occurred_at,
        action=action,
        object_type=object_type,
        object_id=content["object_id"],
        reason=content["reason"],
        before_json=before_json,
        after_json=after_json,
        previous_hash=previous_hash,
        event_hash=chain_hash(content, previous_hash, key),
    )
    _checkpoint_on_commit()
    return event


def audit_key() -> bytes:
    """The audit chain's HMAC key, read from the site's data directory when the settings loaded."""
    return bytes(settings.AUDIT_HMAC_KEY)


def checkpoint_path() -> Path:
    """The checkpoint file of the site whose settings are loaded."""
    return Path(settings.HOME) / AUDIT_CHECKPOINT_FILE


def _checkpoint_on_commit() -> None:
    """Have the checkpoint written once the outermost transaction commits (once per transaction)."""
    conn = transaction.get_connection()
    pending = getattr(conn, "run_on_commit", [])
    # A callback registered in a savepoint that was rolled back is gone from this list, so a later event
    # in the same transaction registers it again.
    if any(entry[1] is write_checkpoint for entry in pending):
        return
    transaction.on_commit(write_checkpoint, robust=True)


@contextlib.contextmanager
def _checkpoint_lock() -> Iterator[None]:
    # Several server processes commit at once; the lock keeps the checkpoint's sequence from going back.
    path = checkpoint_path().with_name(".audit_checkpoint.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_checkpoint() -> Checkpoint | None:
    """The last checkpoint written outside the database, or None when there is none.

    A file that cannot be read as a checkpoint raises :class:`ServiceError` naming it.
    """
    path = checkpoint_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ServiceError(f"{path}: the audit checkpoint cannot be read ({exc})") from None
    try:
        return Checkpoint.from_dict(raw)
    except ValueError as exc:
        raise ServiceError(f"{path}: {exc}") from None


def store_checkpoint(checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to the data directory, replacing the one there (atomic, synced)."""
    text = json.dumps(checkpoint.to_dict(), indent=2, sort_keys=True) + "\n"
    write_atomically(checkpoint_path(), text.encode("utf-8"), 0o600)


def write_checkpoint() -> Checkpoint | None:
    """Sign the chain's committed head and write it outside the database; never move it backwards.

    Runs after every commit that wrote audit events. Returns the checkpoint now on disk.
    """
    head = AuditEvent.objects.order_by("-sequence").first()
    if head is None:
        return None
    key = audit_key()
    with _checkpoint_lock():
        try:
            current = read_checkpoint()
        except ServiceError:
            current = None  # an unreadable checkpoint is replaced by a good one
        if current is not None and current.sequence >= head.sequence:
            return current
        checkpoint = sign_checkpoint(
            sequence=head.sequence,
            event_id=head.pk,
            event_hash=head.event_hash,
            written_at=timezone.now(),
            key=key,
        )
        store_checkpoint(checkpoint)
    _log.debug("audit checkpoint at sequence %s", checkpoint.sequence)
    return checkpoint


def _highest_id_assigned() -> int | None:
    """The audit table's id counter: deleting rows leaves it standing, restoring a backup winds it back."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            return None if row is None else int(row[0])
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence_name = cursor.fetchone()[0]
            if sequence_name is None:
                return None
            cursor.execute(f"SELECT last_value, is_called FROM {sequence_name}")
            last_value, is_called = cursor.fetchone()
            return int(last_value) if is_called else int(last_value) - 1
    return None


def _stored_events() -> Iterator[Any]:
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        yield event.as_stored()


def verify() -> AuditReport:
    """Recompute the whole audit chain with the audit key, and check its end against the checkpoint.

    Names (``findings[].code``) a rewritten, deleted or inserted event, a chain shorter than its last
    checkpoint (``truncated``), a database older than the checkpoint (``restored_from_older_backup``),
    and a missing, forged or contradicted checkpoint.
    """
    key = audit_key()
    checkpoint = read_checkpoint()
    chain = verify_chain(_stored_events(), key)
    head = AuditEvent.objects.order_by("-sequence").first()
    at_checkpoint = (
        None
        if checkpoint is None
        else AuditEvent.objects.filter(sequence=checkpoint.sequence)
        .values_list("event_hash", flat=True)
        .first()
    )
    end = checkpoint_findings(
        checkpoint,
        key,
        head_sequence=0 if head is None else head.sequence,
        hash_at_checkpoint=at_checkpoint,
        highest_id_assigned=_highest_id_assigned(),
    )
    return audit_report(chain, checkpoint, end)


def events(
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
) -> list[AuditEvent]:
    """Audit events, oldest first, filtered by object and actor."""
    query = AuditEvent.objects.all()
    if object_type:
        query = query.filter(object_type=object_type)
    if object_id:
        query = query.filter(object_id=object_id)
    if actor:
        query = query.filter(actor=actor)
    query = query.order_by("sequence")
    if limit is not None:
        total = query.count()
        query = query[max(0, total - limit) :]
    return list(query)
