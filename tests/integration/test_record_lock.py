"""The record of a lot is locked after disposition; only a QA-approved deviation reopens it.

Each test here reproduces a defect of the earlier code first: a processing step added to a released lot
(backdated, its signatures still valid), quarantine that left the release signature valid and the
certificate current, dates in the future accepted, and signatures without the record hash.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from secretome.db.core.models import AuditEvent
from secretome.db.genealogy.models import Passage, ProcessRecipe
from secretome.db.recordlock.models import LateEntryFlag, LotReopening
from secretome.services import genealogy as g
from secretome.services import release
from secretome.services.errors import GuardFailed, ServiceError
from secretome.services.record_lock import RecordLocked
from tests.integration.release_support import (
    PASSWORD,
    approved_specification,
    conforming_results,
    make_lot,
    released_lot,
    sign,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def released(qa_user: Any, analyst: Any, reviewer: Any) -> Any:
    return released_lot(qa_user, analyst, reviewer)


def _step(analyst: Any, lot: str, performed_at: dt.datetime | None = None) -> Any:
    return g.add_processing_step(
        analyst,
        "clarified",
        lot=lot,
        kind="clarification",
        performed_at=performed_at or timezone.now(),
        volume_in_ml=20,
        volume_out_ml=19,
        g_force=2000,
        minutes=10,
    )


def _reopening_deviation(analyst: Any, qa: Any, lot: str) -> str:
    deviation = g.raise_deviation(
        analyst, "record correction", kind="other", description="clarification step not recorded", lot=lot
    )
    g.decide_deviation(
        qa, "QA review", number=deviation.number, decision="approved", note="correct the record"
    )
    return str(deviation.number)


# --- the lock ----------------------------------------------------------------------------------------


def _collected_days_ago(lot: Any, days: int) -> None:
    lot.collected_at = timezone.now() - dt.timedelta(days=days)
    lot.save(update_fields=["collected_at"])
    run = lot.conditioning_run
    run.started_at = lot.collected_at - dt.timedelta(days=2)
    run.save(update_fields=["started_at"])


def test_a_processing_step_cannot_be_added_to_a_released_lot(released: Any, analyst: Any) -> None:
    _collected_days_ago(released, 3)
    backdated = timezone.now() - dt.timedelta(days=1)  # after collection: otherwise a valid backdated entry
    with pytest.raises(RecordLocked, match=r"add processing step: lot .* was released .* record is locked"):
        _step(analyst, released.number, backdated)
    assert released.processing_steps.count() == 0
    states = {s["meaning"]: s["state"] for s in release.lot_status(released)["signatures"]}
    assert states == {"reviewed": "valid", "released": "valid"}


def test_a_result_cannot_be_added_to_a_rejected_lot(qa_user: Any, analyst: Any, reviewer: Any) -> None:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    release.add_result(analyst, "QC", lot.number, "sterility", "growth")
    investigation = release.lot_status(lot)["investigations"][0]["number"]
    release.close_investigation(
        reviewer, "phase I", investigation, outcome="OOS confirmed", conclusion="confirmed", password=PASSWORD
    )
    conforming_results_except = [("cd73", "98.6"), ("endotoxin", "< 0.5"), ("potency", "104")]
    for code, text in conforming_results_except:
        release.add_result(analyst, "QC", lot.number, code, text)
    release.transition(analyst, "submit", lot.number, "submit for review")
    sign(reviewer, lot.number, "reviewed")
    sign(qa_user, lot.number, "rejected")
    with pytest.raises(RecordLocked, match=r"add result vegf: lot .* was rejected"):
        release.add_result(analyst, "late VEGF", lot.number, "vegf", "1200")


def test_senescence_of_a_passage_in_a_released_lot_s_genealogy_is_refused(
    released: Any, analyst: Any
) -> None:
    passage = released.conditioning_run.passage
    with pytest.raises(RecordLocked, match=f"record senescence: passage #{passage.pk} .* genealogy of lot"):
        g.record_senescence(
            analyst,
            "SA-b-gal",
            passage_id=passage.pk,
            observed_on=timezone.now().date(),
            sa_beta_gal_percent=12,
        )


def test_a_lot_in_testing_still_takes_processing_steps(qa_user: Any, analyst: Any) -> None:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    conforming_results(analyst, lot.number)
    assert _step(analyst, lot.number).sequence == 1


# --- reopening under a deviation ----------------------------------------------------------------------


def test_an_approved_deviation_reopens_the_record_and_voids_its_signatures_visibly(
    released: Any, analyst: Any, qa_user: Any, reviewer: Any
) -> None:
    deviation = _reopening_deviation(analyst, qa_user, released.number)
    state = release.reopen_lot(qa_user, "add the missing clarification step", released.number, deviation)
    assert state.value == "QC testing"
    status = release.lot_status(release.get_lot(released.number))
    assert status["record_version"] == 2 and status["locked"] is False
    assert [(s["meaning"], s["state"]) for s in status["signatures"]] == [
        ("reviewed", "voided"),
        ("released", "voided"),
    ]
    assert all(deviation in s["void_reason"] for s in status["signatures"])
    assert status["reopenings"][0]["deviation"] == deviation
    assert LotReopening.objects.get(deviation__number=deviation).from_state == "released"
    assert _step(analyst, released.number).sequence == 1
    # The corrected record goes through review and release again, on its new version.
    release.transition(analyst, "corrected", released.number, "submit for review")
    sign(reviewer, released.number, "reviewed")
    assert sign(qa_user, released.number, "released").value == "released"
    events = AuditEvent.objects.filter(object_id=released.number, action="reopen")
    assert events.count() == 1


def test_reopening_needs_an_approved_deviation_of_that_lot_used_once(
    released: Any, analyst: Any, qa_user: Any, reviewer: Any
) -> None:
    pending = g.raise_deviation(
        analyst, "correction", kind="other", description="step missing", lot=released.number
    )
    with pytest.raises(GuardFailed, match="no QA-approved deviation"):
        release.reopen_lot(qa_user, "fix", released.number, pending.number)
    unrelated = g.raise_deviation(analyst, "other", kind="other", description="not about this lot")
    g.decide_deviation(qa_user, "QA", number=unrelated.number, decision="approved", note="ok")
    with pytest.raises(ServiceError, match="is not a deviation of lot"):
        release.reopen_lot(qa_user, "fix", released.number, unrelated.number)
    with pytest.raises(ServiceError, match="reopen: name the QA-approved deviation"):
        release.transition(qa_user, "fix", released.number, "reopen")
    deviation = _reopening_deviation(analyst, qa_user, released.number)
    release.reopen_lot(qa_user, "fix", released.number, deviation)
    release.transition(analyst, "again", released.number, "submit for review")
    sign(reviewer, released.number, "reviewed")
    sign(qa_user, released.number, "released")
    with pytest.raises(GuardFailed, match="already reopened"):
        release.reopen_lot(qa_user, "fix again", released.number, deviation)


def test_only_qa_reopens_a_record(released: Any, analyst: Any, qa_user: Any) -> None:
    deviation = _reopening_deviation(analyst, qa_user, released.number)
    with pytest.raises(ServiceError, match="needs the qa role"):
        release.reopen_lot(analyst, "fix", released.number, deviation)


# --- quarantine suspends the release ------------------------------------------------------------------


def test_quarantine_suspends_the_release_signature_and_restoring_brings_it_back(
    released: Any, qa_user: Any, analyst: Any
) -> None:
    release.transition(qa_user, "customer complaint", released.number, "quarantine")
    status = release.lot_status(release.get_lot(released.number))
    states = {s["meaning"]: s["state"] for s in status["signatures"]}
    assert states == {"reviewed": "valid", "released": "suspended"}
    assert status["locked"] is True
    with pytest.raises(RecordLocked):
        _step(analyst, released.number)
    with pytest.raises(GuardFailed, match="released before its quarantine"):
        release.transition(qa_user, "resume", released.number, "resume disposition")
    assert (
        release.transition(qa_user, "complaint unfounded", released.number, "restore release").value
        == "released"
    )
    states = {
        s["meaning"]: s["state"] for s in release.lot_status(release.get_lot(released.number))["signatures"]
    }
    assert states == {"reviewed": "valid", "released": "valid"}


def test_a_lot_quarantined_before_release_resumes_disposition(
    qa_user: Any, analyst: Any, reviewer: Any
) -> None:
    from tests.integration.release_support import lot_in_qc_review

    lot = lot_in_qc_review(qa_user, analyst)
    sign(reviewer, lot.number, "reviewed")
    release.transition(qa_user, "hold", lot.number, "quarantine")
    with pytest.raises(GuardFailed, match="no release signature"):
        release.transition(qa_user, "restore", lot.number, "restore release")
    assert release.transition(qa_user, "go on", lot.number, "resume disposition").value == "QA disposition"


# --- dates in the future and late entries ---------------------------------------------------------------


def test_a_passage_seeded_in_2030_is_refused_naming_the_field(
    released: Any, analyst: Any, qa_user: Any
) -> None:
    # An approved recipe, so that nothing but the date stands in the way (the earlier code seeded it).
    ProcessRecipe.objects.filter(code="R").update(approved_at=timezone.now(), approved_by=qa_user)
    with pytest.raises(ServiceError, match="seeded_at: 2030-01-01T09:00:00Z is in the future"):
        g.record_passage(
            analyst,
            "seeded",
            recipe="R",
            vessel="T75",
            growth_area_cm2=75,
            seeded_at=dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC),
            medium_lot="M1",
            din=released.donor.din,
        )
    assert not Passage.objects.filter(seeded_at__year=2030).exists()


def test_a_result_tested_tomorrow_is_refused_naming_the_field(qa_user: Any, analyst: Any) -> None:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    tomorrow = timezone.now() + dt.timedelta(days=1)
    with pytest.raises(ServiceError, match=r"tested_at: .* is in the future"):
        release.add_result(analyst, "QC", lot.number, "cd73", "98.6", tested_at=tomorrow)


def test_a_step_recorded_days_after_it_was_done_is_flagged_late_in_the_record_and_the_audit_trail(
    qa_user: Any, analyst: Any
) -> None:
    lot = make_lot(analyst)
    _collected_days_ago(lot, 10)
    step = _step(analyst, lot.number, timezone.now() - dt.timedelta(days=5))
    flag = LateEntryFlag.objects.get(record_type="processing_step", record_id=f"{lot.number}/{step.sequence}")
    assert flag.allowed_hours == 72 and flag.field == "performed_at"
    traced = g.trace(lot.number)["processing_steps"][0]
    assert traced["late_entry"]["delay_hours"] == pytest.approx(120, abs=0.1)
    event = AuditEvent.objects.get(action="late entry", object_type="processing_step")
    assert '"field":"performed_at"' in event.after_json


def test_a_late_result_is_flagged_in_the_qc_record_that_is_signed(
    qa_user: Any, analyst: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    release.add_result(
        analyst, "QC", lot.number, "cd73", "98.6", tested_at=timezone.now() - dt.timedelta(hours=80)
    )
    record = release.qc_record(lot)
    assert [(f["action"], f["field"]) for f in record["late_entries"]] == [("add result cd73", "tested_at")]
    monkeypatch.setenv("SECRETOME_LATE_ENTRY_HOURS", "96")
    release.add_result(
        analyst, "QC", lot.number, "endotoxin", "< 0.5", tested_at=timezone.now() - dt.timedelta(hours=80)
    )
    assert len(release.qc_record(lot)["late_entries"]) == 1


def test_a_record_without_late_entries_keeps_its_hash_shape(qa_user: Any, analyst: Any) -> None:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    conforming_results(analyst, lot.number)
    assert "late_entries" not in release.qc_record(lot)


# --- replay protection ----------------------------------------------------------------------------------


def test_a_lot_signature_without_the_record_hash_is_refused(
    qa_user: Any, analyst: Any, reviewer: Any
) -> None:
    from tests.integration.release_support import lot_in_qc_review

    lot = lot_in_qc_review(qa_user, analyst)
    for missing in (None, "", "abc"):
        with pytest.raises(ServiceError, match="expected_sha256: give the SHA-256"):
            release.sign_lot(reviewer, "review", lot.number, "reviewed", PASSWORD, expected_sha256=missing)  # type: ignore[arg-type]
    assert release.state_of(lot).value == "QC review"
