"""Writing and reading the append-only audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.utils import timezone

from secretome.db.core.models import AuditEvent
from secretome.domain.audit import GENESIS_HASH, ChainReport, chain_hash, event_content, verify_chain
from secretome.domain.canonical import canonical_json
from secretome.services.errors import ServiceError

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
    return AuditEvent.objects.create(
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
        event_hash=chain_hash(content, previous_hash),
    )


def _stored_events() -> Iterator[Any]:
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        yield event.as_stored()


def verify() -> ChainReport:
    """Recompute the whole audit chain, in the order the events were stored."""
    return verify_chain(_stored_events())


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
