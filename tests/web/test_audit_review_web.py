"""The audit review page: filters, before/after shown whole as a diff, CSV and PDF exports, for QA and admin only."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from secretome.services.audit import record_event

pytestmark = pytest.mark.django_db

LONG_NOTE = "filtered through 0.22 um PES, " * 20  # 600 characters: once cut to 120 on this page


@pytest.fixture
def trail(analyst: Any, qa_user: Any) -> None:
    with transaction.atomic():
        record_event(analyst, "create", "lot", "CM-WJ-26-0001", "new lot", None, {"number": "CM-WJ-26-0001"})
        record_event(
            analyst, "create", "processing_step", "CM-WJ-26-0001/1", "step", None, {"note": LONG_NOTE}
        )
        record_event(
            qa_user,
            "update",
            "specification",
            "WJ-CM-10X/2",
            "tighten pH",
            {"code": "ph", "lower": "6.8", "upper": "7.6"},
            {"code": "ph", "lower": "7.0", "upper": "7.6"},
        )


def test_the_page_filters_by_record_with_children_action_user_and_dates(
    trail: None, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(qa_user)
    page = client.get("/audit/", {"record": "CM-WJ-26-0001"}).content.decode()
    assert "processing_step:CM-WJ-26-0001/1" in page and "lot:CM-WJ-26-0001" in page
    assert "specification:WJ-CM-10X/2" not in page
    page = client.get("/audit/", {"action": "update", "actor": "quinn"}).content.decode()
    assert "specification:WJ-CM-10X/2" in page and "lot:CM-WJ-26-0001" not in page
    today = timezone.now().date().isoformat()
    assert (
        "1 event"
        in client.get("/audit/", {"since": today, "until": today, "action": "update"}).content.decode()
    )
    assert "No events match" in client.get("/audit/", {"until": "2000-01-01"}).content.decode()
    bad = client.get("/audit/", {"since": "yesterday"})
    assert bad.status_code == 400 and b"since: &#x27;yesterday&#x27; is not a date" in bad.content


def test_before_and_after_are_shown_whole_as_a_diff(
    trail: None, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    page = client_for(qa_user).get("/audit/").content.decode()
    assert LONG_NOTE.strip() in page  # nothing truncated
    assert '<tr class="changed"><td class="mono">lower</td>' in page
    assert "&quot;6.8&quot;" in page and "&quot;7.0&quot;" in page
    assert '<tr class="same"><td class="mono">upper</td>' in page
    assert "1 of 3 values changed" in page
    assert 'class="grid audit"' in page  # fixed layout: long values wrap inside the screen


def test_the_exports_carry_the_same_filters(
    trail: None, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(qa_user)
    page = client.get("/audit/", {"record": "0001"}).content.decode()
    assert 'href="/audit/export.csv?record=0001"' in page and 'href="/audit/export.pdf?record=0001"' in page
    response = client.get("/audit/export.csv", {"record": "0001"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    assert [r["object_id"] for r in rows] == ["CM-WJ-26-0001", "CM-WJ-26-0001/1"]
    assert rows[1]["after"] == '{"note":"' + LONG_NOTE + '"}'
    pdf = client.get("/audit/export.pdf", {"record": "0001"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    assert client.get("/audit/export.pdf", {"since": "2026-13-01"}).status_code == 400


def test_only_qa_and_admin_review_and_export_the_trail(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    for url in ("/audit/", "/audit/export.csv", "/audit/export.pdf"):
        assert client.get(url).status_code == 403
