"""Audit review: filters by time, action, user and record (partial, with child records), and the exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from secretome.services import audit_review
from secretome.services.audit import record_event
from secretome.services.audit_review import AuditQuery
from secretome.services.errors import ServiceError

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(analyst: Any, qa_user: Any) -> None:
    with transaction.atomic():
        record_event(analyst, "create", "lot", "CM-WJ-26-0001", "new lot", None, {"number": "CM-WJ-26-0001"})
        record_event(analyst, "create", "lot", "CM-WJ-26-0002", "new lot", None, {"number": "CM-WJ-26-0002"})
        record_event(
            analyst, "create", "processing_step", "CM-WJ-26-0001/1", "filtered", None, {"step": "0.22 um"}
        )
        record_event(
            analyst,
            "create",
            "result",
            "17",
            "=cmd|' /C calc'!A0",
            None,
            {"lot": "CM-WJ-26-0001", "value": "98"},
        )
        record_event(
            qa_user,
            "approve",
            "specification",
            "WJ-CM-10X/1",
            "ok",
            {"status": "draft"},
            {"status": "approved"},
        )


def _ids(query: AuditQuery) -> list[str]:
    return [f"{e.object_type}:{e.object_id}" for e in audit_review.search(query)]


def test_the_record_filter_matches_part_of_the_id_and_takes_in_child_records(trail: None) -> None:
    assert _ids(AuditQuery(record="0001")) == [
        "lot:CM-WJ-26-0001",
        "processing_step:CM-WJ-26-0001/1",
        "result:17",  # a child: its stored values name the lot
    ]
    assert _ids(AuditQuery(record="lot:CM-WJ-26")) == [
        "lot:CM-WJ-26-0001",
        "lot:CM-WJ-26-0002",
        "result:17",
    ]
    assert _ids(AuditQuery(record="cm-wj-26-0002")) == ["lot:CM-WJ-26-0002"]
    # A short term matches record ids only: "17" inside stored values would match nearly anything.
    assert _ids(AuditQuery(record="17")) == ["result:17"]


def test_filters_by_action_user_and_time_range_combine(trail: None) -> None:
    assert _ids(AuditQuery(action="approve")) == ["specification:WJ-CM-10X/1"]
    assert _ids(AuditQuery(actor="QUINN", record="WJ")) == ["specification:WJ-CM-10X/1"]
    today = timezone.now().date().isoformat()
    since = audit_review.parse_moment(today, "since")
    until = audit_review.parse_moment(today, "until", end=True)
    assert since is not None and until is not None and until - since == dt.timedelta(days=1)
    assert len(_ids(AuditQuery(since=since, until=until, record="CM-WJ"))) == 4
    assert _ids(AuditQuery(since=until, record="CM-WJ")) == []
    assert _ids(AuditQuery(until=since, record="CM-WJ")) == []


def test_a_range_that_ends_before_it_starts_or_an_unreadable_date_is_refused() -> None:
    with pytest.raises(ServiceError, match="since"):
        AuditQuery(since=timezone.now(), until=timezone.now() - dt.timedelta(days=1))
    with pytest.raises(ServiceError, match="until: '31/03/2026'"):
        audit_review.parse_moment("31/03/2026", "until")
    assert audit_review.parse_moment("2026-03-01T09:30", "since") == dt.datetime(
        2026, 3, 1, 9, 30, tzinfo=dt.UTC
    )


def test_the_csv_export_holds_every_value_whole_and_defuses_formulas(trail: None) -> None:
    rows = list(csv.DictReader(io.StringIO("".join(audit_review.csv_lines(AuditQuery(record="0001"))))))
    assert [r["object_id"] for r in rows] == ["CM-WJ-26-0001", "CM-WJ-26-0001/1", "17"]
    assert rows[2]["reason"] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it, does not run it
    assert rows[2]["after"] == '{"lot":"CM-WJ-26-0001","value":"98"}' and len(rows[2]["event_hash"]) == 64


def test_the_pdf_export_names_filters_and_chain_and_refuses_too_many_events(
    trail: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PdfReader

    pdf = audit_review.render_pdf(AuditQuery(record="0001"), exported_by="quinn", now=timezone.now())
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "record 0001" in text and "quinn" in text and "intact" in text
    assert "processing_step" in text and "0.22 um" in text and "Events 3" in text
    monkeypatch.setattr(audit_review, "MAX_PDF_EVENTS", 2)
    with pytest.raises(ServiceError, match="export CSV"):
        audit_review.render_pdf(AuditQuery(record="0001"), exported_by="quinn", now=timezone.now())
