"""``secretome audit log`` with the review filters, and ``secretome audit export``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from secretome.services.audit import record_event
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trail(analyst: Any, qa_user: Any) -> None:
    with transaction.atomic():
        record_event(analyst, "create", "lot", "CM-WJ-26-0001", "new lot", None, {"number": "CM-WJ-26-0001"})
        record_event(
            analyst, "create", "result", "3", "cd73", None, {"lot": "CM-WJ-26-0001", "value": "98.2"}
        )
        record_event(qa_user, "update", "specification", "WJ/2", "r", {"lower": "6.8"}, {"lower": "7.0"})


def test_audit_log_filters_by_record_action_user_and_dates_with_the_diff(
    run_cli: Callable[..., Any], trail: None
) -> None:
    rows = json.loads(run_cli("audit", "log", "--record", "CM-WJ-26", "--json").stdout)
    assert [f"{r['object_type']}:{r['object_id']}" for r in rows] == ["lot:CM-WJ-26-0001", "result:3"]
    (update,) = json.loads(run_cli("audit", "log", "--action", "update", "--actor", "quinn", "--json").stdout)
    assert update["diff"] == [{"path": "lower", "before": '"6.8"', "after": '"7.0"', "change": "changed"}]
    assert json.loads(run_cli("audit", "log", "--until", "2000-01-01", "--json").stdout) == []
    latest = json.loads(run_cli("audit", "log", "--record", "CM-WJ", "--limit", "1", "--json").stdout)
    assert [r["object_id"] for r in latest] == ["3"]
    bad = run_cli("audit", "log", "--since", "01/03/2026")
    assert bad.exit_code == 2 and "--since: '01/03/2026' is not a date" in bad.stderr


def test_audit_export_writes_csv_and_a_pdf_naming_the_reviewer(
    run_cli: Callable[..., Any], trail: None, tmp_path: Path
) -> None:
    out = tmp_path / "trail.csv"
    assert run_cli("audit", "export", str(out), "--record", "CM-WJ-26-0001").exit_code == 0
    assert (
        out.read_text().count("CM-WJ-26-0001") == 3
    )  # the lot's id and stored number, the result's stored lot
    pdf = tmp_path / "trail.pdf"
    done = run_cli(
        "audit",
        "export",
        str(pdf),
        "--action",
        "update",
        "--as",
        "quinn",
        env={"SECRETOME_PASSWORD": PASSWORD},
    )
    assert done.exit_code == 0, done.output
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert run_cli("audit", "export", str(tmp_path / "trail.txt")).exit_code == 2
