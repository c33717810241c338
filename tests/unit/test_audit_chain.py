"""The audit hash chain, as pure functions: every kind of tampering is named at the first bad event."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from secretome.domain.audit import (
    GENESIS_HASH,
    Checkpoint,
    StoredEvent,
    chain_hash,
    checkpoint_findings,
    event_content,
    sign_checkpoint,
    verify_chain,
)
from secretome.domain.canonical import canonical_json, sha256_hex

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
KEY = bytes(range(32))


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
        digest = chain_hash(content, previous, KEY)
        events.append(
            StoredEvent(event_id=100 + i, content=content, previous_hash=previous, event_hash=digest)
        )
        previous = digest
    return events


def test_an_untouched_chain_is_intact() -> None:
    report = verify_chain(build_chain(5), KEY)
    assert report.intact and report.events_checked == 5


def test_an_altered_value_is_named_at_that_event() -> None:
    chain = build_chain(5)
    tampered = dict(chain[2].content, after={"volume_ml": 999.0})
    chain[2] = dataclasses.replace(chain[2], content=tampered)
    report = verify_chain(chain, KEY)
    assert report.first_break is not None
    assert report.first_break.event_id == 103
    assert "altered" in report.first_break.problem


def test_a_deleted_event_is_caught_at_the_next_one() -> None:
    chain = build_chain(5)
    del chain[1]
    report = verify_chain(chain, KEY)
    assert report.first_break is not None and report.first_break.event_id == 103
    assert "deleted" in report.first_break.problem


def test_a_deleted_last_event_with_a_renumbered_chain_is_caught() -> None:
    # Someone deletes event 2 and renumbers 3.. to close the gap: the previous-hash link still breaks.
    chain = build_chain(4)
    renumbered = dict(chain[2].content, sequence=2)
    chain = [chain[0], dataclasses.replace(chain[2], content=renumbered), chain[3]]
    report = verify_chain(chain, KEY)
    assert report.first_break is not None and report.first_break.event_id == 103


def test_events_swapped_out_of_order_are_caught() -> None:
    chain = build_chain(4)
    chain[1], chain[2] = chain[2], chain[1]
    report = verify_chain(chain, KEY)
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
    forged = StoredEvent(9, content, chain[1].event_hash, chain_hash(content, chain[1].event_hash, KEY))
    report = verify_chain([*chain, forged], KEY)
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


def _rehash_tail_unkeyed(chain: list[StoredEvent], start: int) -> list[StoredEvent]:
    """What someone without the key does after rewriting an event: recompute the later plain SHA-256 hashes."""
    out = chain[:start]
    previous = chain[start - 1].event_hash if start else GENESIS_HASH
    for event in chain[start:]:
        digest = sha256_hex(canonical_json(event.content) + previous)
        out.append(dataclasses.replace(event, previous_hash=previous, event_hash=digest))
        previous = digest
    return out


def test_the_event_hash_is_hmac_sha256_of_the_canonical_content_and_previous_hash() -> None:
    # RFC 4231 test case 2 checks the primitive the chain hash rests on: HMAC-SHA256("Jefe", ...).
    import hmac

    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert hmac.new(b"Jefe", b"what do ya want for nothing?", "sha256").hexdigest() == expected
    content = build_chain(1)[0].content
    message = (canonical_json(content) + GENESIS_HASH).encode()
    assert chain_hash(content, GENESIS_HASH, KEY) == hmac.new(KEY, message, "sha256").hexdigest()
    assert chain_hash(content, GENESIS_HASH, KEY) != sha256_hex(canonical_json(content) + GENESIS_HASH)


def test_a_rewritten_event_with_a_recomputed_unkeyed_tail_is_named_rewritten() -> None:
    chain = build_chain(5)
    chain[2] = dataclasses.replace(chain[2], content=dict(chain[2].content, reason="rewritten"))
    report = verify_chain(_rehash_tail_unkeyed(chain, 2), KEY)
    assert report.first_break is not None
    assert (report.first_break.event_id, report.first_break.code) == (103, "event_rewritten")


def test_a_chain_hashed_with_another_key_does_not_verify() -> None:
    report = verify_chain(build_chain(3), bytes(32))
    assert report.first_break is not None and report.first_break.sequence == 1


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        chain_hash({}, GENESIS_HASH, b"short")


def _checkpoint_at(sequence: int, chain: list[StoredEvent], key: bytes = KEY) -> Checkpoint:
    event = chain[sequence - 1]
    return sign_checkpoint(
        sequence=sequence, event_id=event.event_id, event_hash=event.event_hash, written_at=T0, key=key
    )


def test_a_chain_that_reaches_its_checkpoint_has_no_findings() -> None:
    chain = build_chain(5)
    checkpoint = _checkpoint_at(5, chain)
    findings = checkpoint_findings(
        checkpoint, KEY, head_sequence=5, hash_at_checkpoint=chain[4].event_hash, highest_id_assigned=105
    )
    assert findings == []


def test_a_chain_shorter_than_its_checkpoint_with_the_id_counter_past_it_is_truncated() -> None:
    chain = build_chain(5)
    findings = checkpoint_findings(
        _checkpoint_at(5, chain), KEY, head_sequence=3, hash_at_checkpoint=None, highest_id_assigned=105
    )
    assert [f.code for f in findings] == ["truncated"] and "2 events were deleted" in findings[0].message


def test_a_database_whose_id_counter_never_reached_the_checkpoint_was_restored_from_an_older_backup() -> None:
    chain = build_chain(5)
    findings = checkpoint_findings(
        _checkpoint_at(5, chain), KEY, head_sequence=3, hash_at_checkpoint=None, highest_id_assigned=103
    )
    assert [f.code for f in findings] == ["restored_from_older_backup"]


def test_a_chain_whose_event_no_longer_has_the_checkpointed_hash_is_a_mismatch() -> None:
    chain = build_chain(5)
    findings = checkpoint_findings(
        _checkpoint_at(4, chain), KEY, head_sequence=5, hash_at_checkpoint="f" * 64, highest_id_assigned=105
    )
    assert [f.code for f in findings] == ["checkpoint_mismatch"]


def test_a_checkpoint_signed_with_another_key_is_named_forged() -> None:
    chain = build_chain(2)
    findings = checkpoint_findings(
        _checkpoint_at(2, chain, bytes(32)),
        KEY,
        head_sequence=2,
        hash_at_checkpoint=chain[1].event_hash,
        highest_id_assigned=102,
    )
    assert [f.code for f in findings] == ["checkpoint_signature_invalid"]


def test_events_without_a_checkpoint_are_reported_and_an_empty_chain_needs_none() -> None:
    assert [
        f.code
        for f in checkpoint_findings(
            None, KEY, head_sequence=2, hash_at_checkpoint=None, highest_id_assigned=2
        )
    ] == ["checkpoint_missing"]
    assert (
        checkpoint_findings(None, KEY, head_sequence=0, hash_at_checkpoint=None, highest_id_assigned=0) == []
    )


def test_a_checkpoint_round_trips_through_its_dictionary() -> None:
    checkpoint = _checkpoint_at(2, build_chain(2))
    assert Checkpoint.from_dict(checkpoint.to_dict()) == checkpoint
    with pytest.raises(ValueError, match="signature"):
        Checkpoint.from_dict({k: v for k, v in checkpoint.to_dict().items() if k != "signature"})
