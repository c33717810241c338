"""Reviewing the audit trail: the filters a reviewer needs, before/after shown whole as a diff, CSV and PDF exports.

Filters: a time range (UTC), an action, a user, and a record. The record filter is a partial match on the
record id, optionally typed (``lot:CM-WJ-26``), and takes in child records: events on other records whose
stored values name the record (a processing step, a result or a signature naming the lot).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.template.loader import render_to_string

from secretome.db.core.models import AuditEvent
from secretome.domain.diff import DiffRow, value_diff
from secretome.services.errors import ServiceError

#: A PDF is for reading: beyond this many events the filters should be narrowed (CSV takes any number).
MAX_PDF_EVENTS = 2000

# Child records are found by the record's name inside their stored values; below this length (a bare "4")
# that would match nearly every event, so short terms match record ids only.
_MIN_CHILD_TERM = 4

CSV_COLUMNS = (
    "sequence",
    "occurred_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "reason",
    "before",
    "after",
    "previous_hash",
    "event_hash",
)


@dataclass(frozen=True)
class AuditQuery:
    """What a reviewer asks of the trail. Empty fields do not filter; ``until`` is exclusive."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    action: str = ""
    actor: str = ""
    record: str = ""
    object_type: str = ""
    object_id: str = ""

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name}: a naive time; audit times are UTC")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ServiceError("since: the start of the range must come before its end")

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since),
            "until": _iso(self.until),
            "action": self.action,
            "actor": self.actor,
            "record": self.record,
            "object_type": self.object_type,
            "object_id": self.object_id,
        }

    def describe(self) -> str:
        """The filters in one line, for the head of an export."""
        parts = [f"{k} {v}" for k, v in self.to_dict().items() if v]
        return "; ".join(parts) if parts else "the whole trail"


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_moment(text: str | None, field: str, *, end: bool = False) -> dt.datetime | None:
    """A UTC time from ``2026-03-01`` (a whole day) or an ISO 8601 time (without a zone: UTC).

    With ``end``, a bare date means the end of that day, so ``--until 2026-03-31`` takes in the 31st.
    """
    if text is None or not text.strip():
        return None
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            day = dt.date.fromisoformat(cleaned)
            start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        moment = dt.datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(
            f"{field}: {cleaned[:40]!r} is not a date (2026-03-01) or an ISO 8601 time"
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _record_filter(term: str) -> Q:
    kind, colon, ident = term.partition(":")
    if not colon or not kind.strip() or " " in kind.strip():
        kind, ident = "", term
    kind, ident = kind.strip(), ident.strip()
    own = Q(object_id__icontains=ident) if ident else Q()
    if kind:
        own &= Q(object_type__iexact=kind)
    if len(ident) < _MIN_CHILD_TERM:
        return own
    children = Q(before_json__icontains=ident) | Q(after_json__icontains=ident)
    return own | children


def search(query: AuditQuery) -> QuerySet[AuditEvent]:
    """The events ``query`` selects, oldest first."""
    events = AuditEvent.objects.all()
    if query.since is not None:
        events = events.filter(occurred_at__gte=query.since)
    if query.until is not None:
        events = events.filter(occurred_at__lt=query.until)
    if query.action:
        events = events.filter(action=query.action)
    if query.actor:
        events = events.filter(actor__iexact=query.actor)
    if query.object_type:
        events = events.filter(object_type=query.object_type)
    if query.object_id:
        events = events.filter(object_id=query.object_id)
    if query.record.strip():
        events = events.filter(_record_filter(query.record.strip()))
    return events.order_by("sequence")


def no_events() -> QuerySet[AuditEvent]:
    """No events (what filters that could not be read select)."""
    return AuditEvent.objects.none()


def actions() -> list[str]:
    """Every action on the trail, for the filter's choices."""
    return sorted(set(AuditEvent.objects.values_list("action", flat=True).distinct()))


def actors() -> list[str]:
    """Everyone (and the system) who acted on the trail."""
    return sorted(set(AuditEvent.objects.values_list("actor", flat=True).distinct()))


@dataclass(frozen=True)
class ReviewedEvent:
    """An event with its before/after diff, as the review page and the PDF show it."""

    event: AuditEvent
    diff: list[DiffRow]

    @property
    def changed(self) -> int:
        return sum(1 for row in self.diff if row.change != "same")


def reviewed(events: Iterable[AuditEvent]) -> list[ReviewedEvent]:
    return [ReviewedEvent(event, value_diff(event.before, event.after)) for event in events]


def event_dict(event: AuditEvent) -> dict[str, Any]:
    """One event as JSON, with its diff."""
    return {**event.to_dict(), "diff": [row.to_dict() for row in value_diff(event.before, event.after)]}


# --- exports -----------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts with one of these as a formula: reasons are typed by people.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(query: AuditQuery) -> Iterator[str]:
    """The selected events as CSV lines (header first), streamed: any number of events."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for event in search(query).iterator(chunk_size=2000):
        writer.writerow(
            [
                event.sequence,
                _iso(event.occurred_at),
                _cell(event.actor),
                _cell(event.action),
                _cell(event.object_type),
                _cell(event.object_id),
                _cell(event.reason),
                event.before_json,
                event.after_json,
                event.previous_hash,
                event.event_hash,
            ]
        )
        yield flush()


def render_pdf(query: AuditQuery, *, exported_by: str, now: dt.datetime) -> bytes:
    """The selected events as a PDF for a reviewer's file: filters, chain verdict, every event with its diff."""
    from weasyprint import HTML

    from secretome.services.audit import verify

    selected = search(query)
    count = selected.count()
    if count > MAX_PDF_EVENTS:
        raise ServiceError(
            f"filters: {count} events match; a PDF holds at most {MAX_PDF_EVENTS}. "
            "Narrow the filters, or export CSV"
        )
    html = render_to_string(
        "secretome/audit_pdf.html",
        {
            "events": reviewed(selected),
            "count": count,
            "filters": query.describe(),
            "exported_by": exported_by,
            "exported_at": now,
            "chain": verify().to_dict(),
        },
    )
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
