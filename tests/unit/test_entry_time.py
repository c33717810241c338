"""Future times are refused naming the field; entries recorded long after the event are flagged late."""

from __future__ import annotations

import datetime as dt

import pytest

from secretome.domain.entry_time import CLOCK_TOLERANCE, FutureTimeError, late_entry, refuse_future

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def test_a_time_in_2030_is_refused_naming_the_field() -> None:
    with pytest.raises(FutureTimeError, match=r"^seeded_at: 2030-01-01T09:00:00Z is in the future"):
        refuse_future("seeded_at", dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC), NOW)


def test_a_date_of_tomorrow_is_refused_and_today_is_not() -> None:
    refuse_future("observed_on", NOW.date(), NOW)
    with pytest.raises(FutureTimeError, match="observed_on: 2026-12-06"):
        refuse_future("observed_on", NOW.date() + dt.timedelta(days=1), NOW)


def test_clock_drift_within_the_tolerance_counts_as_now() -> None:
    refuse_future("tested_at", NOW + CLOCK_TOLERANCE, NOW)
    with pytest.raises(FutureTimeError):
        refuse_future("tested_at", NOW + CLOCK_TOLERANCE + dt.timedelta(seconds=1), NOW)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        refuse_future("performed_at", dt.datetime(2026, 1, 1), NOW)  # noqa: DTZ001 - the naive time under test


def test_an_entry_just_within_the_allowed_hours_is_not_late() -> None:
    assert late_entry("performed_at", NOW - dt.timedelta(hours=72), NOW, 72) is None


def test_an_entry_five_days_after_the_event_is_late_by_120_hours() -> None:
    late = late_entry("performed_at", NOW - dt.timedelta(days=5), NOW, 72)
    assert late is not None
    assert late.delay_hours == pytest.approx(120)
    assert late.to_dict() == {
        "field": "performed_at",
        "occurred_at": "2026-11-30T12:00:00Z",
        "recorded_at": "2026-12-05T12:00:00Z",
        "delay_hours": 120.0,
        "allowed_hours": 72.0,
    }
    assert "recorded 120 h later (allowed 72 h)" in late.describe()


def test_a_date_counts_from_the_end_of_its_day() -> None:
    assert late_entry("observed_on", dt.date(2026, 12, 2), NOW, 72) is None
    late = late_entry("observed_on", dt.date(2026, 12, 1), NOW, 72)
    assert late is not None and late.delay_hours == pytest.approx(84)


def test_the_allowed_hours_must_be_positive() -> None:
    with pytest.raises(ValueError, match="allowed_hours"):
        late_entry("performed_at", NOW, NOW, 0)
