"""When an entry says something happened, against when it is recorded: future dates and late entries.

ALCOA+ asks records to be contemporaneous. A time after the moment of recording cannot be an observation
(a passage "seeded" in 2030 is a typing error or a fabrication), so it is refused. A time long before the
moment of recording is allowed (the paper batch record is entered later) but the entry is flagged as late,
in the record and in the audit trail, so that a reviewer sees that it was written from memory or paper.

Pure: the clock reading comes in as an argument.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

#: How far ahead of the server's clock a time may be and still count as now: instrument and workstation
#: clocks drift by seconds to a few minutes.
CLOCK_TOLERANCE = dt.timedelta(minutes=5)


class FutureTimeError(ValueError):
    """A time after the moment of recording; the message names the field."""


@dataclass(frozen=True)
class LateEntry:
    """An entry recorded more than the allowed delay after the event it records."""

    field: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    allowed_hours: float

    @property
    def delay_hours(self) -> float:
        return (self.recorded_at - self.occurred_at).total_seconds() / 3600

    def describe(self) -> str:
        return (
            f"late entry: {self.field} {self.occurred_at:%Y-%m-%d %H:%M} UTC recorded "
            f"{self.delay_hours:.0f} h later (allowed {self.allowed_hours:g} h)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "occurred_at": _iso(self.occurred_at),
            "recorded_at": _iso(self.recorded_at),
            "delay_hours": round(self.delay_hours, 1),
            "allowed_hours": self.allowed_hours,
        }


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _as_datetime(value: dt.datetime | dt.date) -> dt.datetime:
    """A date counts from its first moment (UTC): a date of today is never in the future."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("give times with a time zone (UTC)")
        return value
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def refuse_future(field: str, value: dt.datetime | dt.date, now: dt.datetime) -> None:
    """Raise :class:`FutureTimeError` naming ``field`` when ``value`` is after ``now`` (beyond the clock
    tolerance)."""
    when = _as_datetime(value)
    if when > now + CLOCK_TOLERANCE:
        shown = value.isoformat() if not isinstance(value, dt.datetime) else _iso(value)
        raise FutureTimeError(
            f"{field}: {shown} is in the future (now {_iso(now)}); record what has happened, when it happened"
        )


def late_entry(
    field: str, occurred_at: dt.datetime | dt.date, recorded_at: dt.datetime, allowed_hours: float
) -> LateEntry | None:
    """The late-entry flag of an entry, or None when it was recorded within ``allowed_hours``.

    A date (no time of day) counts from the end of its day, so an entry made on the same day or the next
    morning is not late merely because the date carries no hour.
    """
    if not allowed_hours > 0:
        raise ValueError(f"allowed_hours: must be positive, got {allowed_hours}")
    when = _as_datetime(occurred_at)
    if not isinstance(occurred_at, dt.datetime):
        when = when + dt.timedelta(days=1)
    if recorded_at - when > dt.timedelta(hours=allowed_hours):
        return LateEntry(field, when, recorded_at, float(allowed_hours))
    return None
