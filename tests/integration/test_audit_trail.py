"""The audit table on a real database: append-only by trigger, and tamper-evident by its hash chain."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from secretome.db.core.models import AuditEvent
from secretome.services import audit, users
from secretome.services.audit import SYSTEM_ACTOR, record_event
from secretome.services.errors import ServiceError

pytestmark = pytest.mark.django_db(transaction=True)


def _three_events() -> list[AuditEvent]:
    with transaction.atomic():
        for i in range(3):
            record_event(SYSTEM_ACTOR, "create", "lot", f"L{i}", "test", None, {"i": i})
    return list(AuditEvent.objects.order_by("sequence"))


def _drop_triggers() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER core_auditevent_no_update")
            cursor.execute("DROP TRIGGER core_auditevent_no_delete")
        else:
            cursor.execute("DROP TRIGGER core_auditevent_no_update ON core_auditevent")


def test_the_database_refuses_update_on_audit_events() -> None:
    event = _three_events()[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
        c.execute("UPDATE core_auditevent SET reason = 'changed' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == "test"


def test_the_database_refuses_delete_on_audit_events() -> None:
    event = _three_events()[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
        c.execute("DELETE FROM core_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_orm_cannot_update_an_audit_event_either() -> None:
    event = _three_events()[1]
    event.reason = "rewritten"
    with pytest.raises(DatabaseError), transaction.atomic():
        event.save()


def test_verify_names_an_event_altered_after_the_triggers_were_dropped() -> None:
    events = _three_events()
    assert audit.verify().intact
    _drop_triggers()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET after_json = %s WHERE id = %s", ['{"i":42}', events[1].pk])
    report = audit.verify()
    assert not report.intact and report.first_break is not None
    assert report.first_break.event_id == events[1].pk


def test_verify_catches_an_event_deleted_after_the_triggers_were_dropped() -> None:
    events = _three_events()
    _drop_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [events[1].pk])
    report = audit.verify()
    assert report.first_break is not None and report.first_break.event_id == events[2].pk


def test_a_refused_use_case_writes_nothing(make_user: Any) -> None:
    admin = make_user("root-admin", "admin")
    events_before = AuditEvent.objects.count()
    with pytest.raises(ServiceError):
        users.add_user(admin, "test", username="half", full_name="Half Way", role="chief", password="x" * 12)
    assert not users.user_exists("half")
    assert AuditEvent.objects.count() == events_before


def test_a_use_case_that_fails_half_way_leaves_neither_record_nor_audit_event(make_user: Any) -> None:
    admin = make_user("root-admin", "admin")
    events_before = AuditEvent.objects.count()

    @transaction.atomic
    def create_then_fail() -> None:
        users.add_user(
            admin, "test", username="doomed", full_name="Doomed", role="analyst", password="x" * 12
        )
        raise RuntimeError("power cut after the audit event was written")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert not users.user_exists("doomed")
    assert AuditEvent.objects.count() == events_before


def test_record_event_refuses_to_run_outside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        record_event(SYSTEM_ACTOR, "create", "lot", "L", "test")


def test_a_change_without_a_reason_is_refused() -> None:
    with pytest.raises(ServiceError, match="reason"), transaction.atomic():
        record_event(SYSTEM_ACTOR, "create", "lot", "L", "   ")
