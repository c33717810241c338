"""The locked record on the command line: coa verify says "suspended", lot reopen, --expect required."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secretome.services import certificates, release
from tests.integration.release_support import PASSWORD, lot_in_qc_review, released_lot

pytestmark = pytest.mark.django_db(transaction=True)


def _as(run_cli: Callable[..., Any], *args: str) -> Any:
    return run_cli(*args, "--password-stdin", input=PASSWORD + "\n")


def _culture(run_cli: Callable[..., Any], *args: str) -> Any:
    return run_cli(*args, env={"SECRETOME_PASSWORD": PASSWORD})


def test_coa_verify_says_suspended_while_the_lot_is_quarantined(
    run_cli: Callable[..., Any], qa_user: Any, analyst: Any, reviewer: Any, tmp_path: Path
) -> None:
    lot = released_lot(qa_user, analyst, reviewer)
    pdf = tmp_path / "coa.pdf"
    pdf.write_bytes(certificates.certificate_pdf(certificates.issue_certificate(qa_user, "CoA", lot.number)))
    assert run_cli("coa", "verify", str(pdf)).exit_code == 0

    held = _as(run_cli, "lot", "step", lot.number, "quarantine", "--reason", "complaint", "--as", "quinn")
    assert held.exit_code == 0, held.output
    suspended = run_cli("coa", "verify", str(pdf))
    assert suspended.exit_code == 1
    assert "genuine but suspended" in suspended.stdout and "quarantined" in suspended.stdout
    verdict = json.loads(run_cli("coa", "verify", str(pdf), "--json").stdout)
    assert (verdict["standing"], verdict["suspended"], verdict["current"]) == ("suspended", True, False)

    restored = _as(
        run_cli, "lot", "step", lot.number, "restore release", "--reason", "unfounded", "--as", "quinn"
    )
    assert restored.exit_code == 0, restored.output
    assert run_cli("coa", "verify", str(pdf)).exit_code == 0


def test_lot_reopen_voids_the_signatures_under_an_approved_deviation(
    run_cli: Callable[..., Any], qa_user: Any, analyst: Any, reviewer: Any
) -> None:
    lot = released_lot(qa_user, analyst, reviewer)
    raised = _culture(
        run_cli,
        "deviation",
        "raise",
        "--kind",
        "other",
        "--description",
        "a clarification step was not recorded",
        "--lot",
        lot.number,
        "--reason",
        "correction",
        "--as",
        "ana",
        "--json",
    )
    assert raised.exit_code == 0, raised.output
    number = json.loads(raised.stdout)["number"]
    early = _as(
        run_cli, "lot", "reopen", lot.number, "--deviation", number, "--reason", "fix", "--as", "quinn"
    )
    assert early.exit_code == 2 and "no QA-approved deviation" in early.stderr
    decided = _culture(
        run_cli,
        "deviation",
        "decide",
        number,
        "--decision",
        "approved",
        "--note",
        "record the step",
        "--reason",
        "QA",
        "--as",
        "quinn",
    )
    assert decided.exit_code == 0, decided.output
    reopened = _as(
        run_cli,
        "lot",
        "reopen",
        lot.number,
        "--deviation",
        number,
        "--reason",
        "fix",
        "--as",
        "quinn",
        "--json",
    )
    assert reopened.exit_code == 0, reopened.output
    assert json.loads(reopened.stdout) == {
        "lot": lot.number,
        "deviation": number,
        "state": "QC testing",
        "record_version": 2,
    }
    status = json.loads(run_cli("lot", "status", lot.number, "--json").stdout)
    assert {s["state"] for s in status["signatures"]} == {"voided"}


def test_lot_sign_without_expect_is_refused(
    run_cli: Callable[..., Any], qa_user: Any, analyst: Any, reviewer: Any
) -> None:
    lot = lot_in_qc_review(qa_user, analyst)
    refused = _as(
        run_cli, "lot", "sign", lot.number, "--meaning", "reviewed", "--reason", "ok", "--as", "rey"
    )
    assert refused.exit_code == 2 and "--expect" in refused.output
    assert release.state_of(lot).value == "QC review"
