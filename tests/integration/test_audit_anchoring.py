"""The audit chain's end anchored outside the database: cutting, rewriting and winding back are named.

Each test does what an attacker with write access to the database (but not to the data directory) can
do: drop the append-only triggers, then delete, rewrite or restore. Runs on SQLite and, with
DATABASE_URL set, on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from secretome.db.core import triggers
from secretome.db.core.models import AuditEvent
from secretome.domain.audit import Checkpoint, checkpoint_signature_valid
from secretome.domain.canonical import canonical_json, sha256_hex
from secretome.services import audit, backup
from secretome.services.audit import SYSTEM_ACTOR, record_event

pytestmark = pytest.mark.django_db(transaction=True)


def _commit_events(count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        with transaction.atomic():
            record_event(SYSTEM_ACTOR, "create", "lot", f"L{i}", "test", None, {"volume_ml": 10 * i})


def _codes() -> list[str]:
    return [f.code for f in audit.verify().findings]


def test_every_commit_that_wrote_events_leaves_a_signed_checkpoint_of_the_head() -> None:
    _commit_events(3)
    head = AuditEvent.objects.order_by("-sequence").first()
    assert head is not None
    checkpoint = audit.read_checkpoint()
    assert checkpoint is not None
    assert (checkpoint.sequence, checkpoint.event_id, checkpoint.event_hash) == (3, head.pk, head.event_hash)
    assert checkpoint_signature_valid(checkpoint, audit.audit_key())
    assert audit.checkpoint_path().stat().st_mode & 0o777 == 0o600
    assert audit.verify().intact


def test_one_transaction_writes_the_checkpoint_once_after_its_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    original = audit.store_checkpoint

    def counted(checkpoint: Checkpoint) -> None:
        writes.append(checkpoint.sequence)
        original(checkpoint)

    monkeypatch.setattr(audit, "store_checkpoint", counted)
    with transaction.atomic():
        for i in range(5):
            record_event(SYSTEM_ACTOR, "create", "lot", f"L{i}", "test")
        assert writes == []  # nothing outside the database before the commit
    assert writes == [5]


def test_a_rolled_back_transaction_leaves_the_checkpoint_where_it_was() -> None:
    _commit_events(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(SYSTEM_ACTOR, "create", "lot", "doomed", "test")
        raise RuntimeError("the use case failed after its audit event")
    checkpoint = audit.read_checkpoint()
    assert checkpoint is not None and checkpoint.sequence == 2
    assert audit.verify().intact


def test_a_savepoint_rolled_back_inside_a_committed_transaction_does_not_advance_the_checkpoint() -> None:
    with transaction.atomic():
        record_event(SYSTEM_ACTOR, "create", "lot", "kept", "test")
        with pytest.raises(RuntimeError), transaction.atomic():
            record_event(SYSTEM_ACTOR, "create", "lot", "dropped", "test")
            raise RuntimeError("inner use case failed")
    checkpoint = audit.read_checkpoint()
    assert checkpoint is not None and checkpoint.sequence == 1
    assert audit.verify().intact


def test_deleting_the_newest_events_with_the_triggers_dropped_is_named_truncated() -> None:
    _commit_events(5)
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE sequence > 3")
    report = audit.verify()
    assert report.chain.intact  # what remains is a valid chain: only the checkpoint can tell
    assert [f.code for f in report.findings] == ["truncated"]
    assert "newest 2 events were deleted" in report.findings[0].message


def test_a_rewritten_event_with_the_later_hashes_recomputed_unkeyed_is_named_rewritten() -> None:
    _commit_events(4)
    triggers.remove(connection)
    # The attacker's tools: the project's former, unkeyed hash function applied from the rewritten event on.
    events = list(AuditEvent.objects.order_by("sequence"))
    previous = events[0].event_hash
    with connection.cursor() as cursor:
        for event in events[1:]:
            if event.sequence == 2:
                event.reason = "rewritten after the fact"
            stored = event.as_stored()
            digest = sha256_hex(canonical_json(stored.content) + previous)
            cursor.execute(
                "UPDATE core_auditevent SET reason = %s, previous_hash = %s, event_hash = %s WHERE id = %s",
                [event.reason, previous, digest, event.pk],
            )
            previous = digest
    report = audit.verify()
    assert report.first_break is not None
    assert (report.first_break.sequence, report.first_break.code) == (2, "event_rewritten")
    assert "event_rewritten" in _codes() and "checkpoint_mismatch" in _codes()


def test_a_database_restored_from_an_older_backup_is_named(tmp_path: Path) -> None:
    _commit_events(2)
    snapshot = tmp_path / "older"
    backup.snapshot_database(snapshot)
    _commit_events(2, start=2)
    assert audit.read_checkpoint() is not None and audit.read_checkpoint().sequence == 4  # type: ignore[union-attr]
    triggers.remove(connection)  # the snapshot's own triggers come back with it on PostgreSQL
    backup.load_database(snapshot, connection.vendor)
    assert AuditEvent.objects.count() == 2
    report = audit.verify()
    assert report.chain.intact
    assert [f.code for f in report.findings] == ["restored_from_older_backup"]


def test_an_edited_checkpoint_is_named_by_its_signature() -> None:
    _commit_events(3)
    path = audit.checkpoint_path()
    raw = json.loads(path.read_text())
    raw["sequence"] = 2  # hide the newest event before deleting it
    path.write_text(json.dumps(raw))
    assert _codes() == ["checkpoint_signature_invalid"]


def test_a_missing_checkpoint_is_named_when_the_chain_has_events() -> None:
    _commit_events(1)
    audit.checkpoint_path().unlink()
    assert _codes() == ["checkpoint_missing"]


def test_audit_verify_on_the_command_line_names_the_truncation_and_exits_one(
    run_cli: Callable[..., Any],
) -> None:
    _commit_events(3)
    assert run_cli("audit", "verify").exit_code == 0
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE sequence = 3")
    result = run_cli("audit", "verify", "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["intact"] is False and [f["code"] for f in payload["findings"]] == ["truncated"]
    human = run_cli("audit", "verify")
    assert human.exit_code == 1 and "truncated" in human.stdout
