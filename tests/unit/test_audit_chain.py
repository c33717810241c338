"""The audit hash chain, as pure functions: every kind of tampering is named at the first bad event."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from secretome.domain.audit import GENESIS_HASH, StoredEvent, chain_hash, event_content, verify_chain
from secretome.domain.canonical import canonical_json

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def build_chain(n: int) -> list[StoredEvent]:
    events: list[StoredEvent] = []
    previous = GENESIS_HASH
    for i in range(1, n + 1):
        content = event_content(
            sequence=i,
            actor="ana",
            occurred_at=T0 + dt.timedelta(minutes=i),
            action="create",
            object_type="lot",
            object_id=f"L{i}",
            reason="test",
            before=None,
            after={"volume_ml": 10.0 * i},
        )
        digest = chain_hash(content, previous)
        events.append(
            StoredEvent(event_id=100 + i, content=content, previous_hash=previous, event_hash=digest)
        )
        previous = digest
    return events


def test_an_untouched_chain_is_intact() -> None:
    report = verify_chain(build_chain(5))
    assert report.intact and report.events_checked == 5


def test_an_altered_value_is_named_at_that_event() -> None:
    chain = build_chain(5)
    tampered = dict(chain[2].content, after={"volume_ml": 999.0})
    chain[2] = dataclasses.replace(chain[2], content=tampered)
    report = verify_chain(chain)
    assert report.first_break is not None
    assert report.first_break.event_id == 103
    assert "altered" in report.first_break.problem


def test_a_deleted_event_is_caught_at_the_next_one() -> None:
    chain = build_chain(5)
    del chain[1]
    report = verify_chain(chain)
    assert report.first_break is not None and report.first_break.event_id == 103
    assert "deleted" in report.first_break.problem


def test_a_deleted_last_event_with_a_renumbered_chain_is_caught() -> None:
    # Someone deletes event 2 and renumbers 3.. to close the gap: the previous-hash link still breaks.
    chain = build_chain(4)
    renumbered = dict(chain[2].content, sequence=2)
    chain = [chain[0], dataclasses.replace(chain[2], content=renumbered), chain[3]]
    report = verify_chain(chain)
    assert report.first_break is not None and report.first_break.event_id == 103


def test_events_swapped_out_of_order_are_caught() -> None:
    chain = build_chain(4)
    chain[1], chain[2] = chain[2], chain[1]
    report = verify_chain(chain)
    assert report.first_break is not None and report.first_break.event_id == 103


def test_a_forged_event_with_a_rehashed_tail_but_earlier_time_is_caught() -> None:
    chain = build_chain(2)
    content = event_content(
        sequence=3,
        actor="mallory",
        occurred_at=T0,
        action="create",
        object_type="lot",
        object_id="X",
        reason="backdated",
        before=None,
        after=None,
    )
    forged = StoredEvent(9, content, chain[1].event_hash, chain_hash(content, chain[1].event_hash))
    report = verify_chain([*chain, forged])
    assert report.first_break is not None and "backwards" in report.first_break.problem


def test_canonical_json_is_order_independent_and_utc() -> None:
    a = canonical_json({"b": 1, "a": [1.5, None], "t": T0})
    b = canonical_json({"t": T0.astimezone(dt.timezone(dt.timedelta(hours=5))), "a": [1.5, None], "b": 1})
    assert a == b == '{"a":[1.5,null],"b":1,"t":"2026-01-01T12:00:00Z"}'


def test_canonical_json_refuses_naive_times_and_nan() -> None:
    with pytest.raises(ValueError, match="naive"):
        canonical_json({"t": dt.datetime(2026, 1, 1)})  # noqa: DTZ001
    with pytest.raises(ValueError, match="non-finite"):
        canonical_json({"x": float("nan")})
