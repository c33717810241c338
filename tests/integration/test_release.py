"""Specifications, results, investigations, review and release through the service layer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from secretome.db.genealogy.models import Deviation
from secretome.db.quality.models import Investigation, Result, Signature
from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind
from secretome.services import audit, release
from secretome.services.errors import Forbidden, GuardFailed, ServiceError
from tests.integration.release_support import (
    PASSWORD,
    PRODUCT,
    approved_specification,
    conforming_results,
    make_lot,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(qa_user: Any) -> Any:
    return approved_specification(qa_user)


@pytest.fixture
def lot(spec: Any, analyst: Any) -> Any:
    return make_lot(analyst)


def reviewed(lot: Any, analyst: Any, reviewer: Any) -> None:
    conforming_results(analyst, lot.number)
    release.transition(analyst, "all results in", lot.number, "submit for review")
    release.sign_lot(
        reviewer,
        "QC review",
        lot.number,
        "reviewed",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )


# --- specifications ---------------------------------------------------------------------------------


def test_an_approved_specification_carries_the_qa_signature(spec: Any) -> None:
    shown = release.specification_dict(spec)
    assert shown["status"] == "approved"
    [signature] = shown["signatures"]
    assert (signature["meaning"], signature["signer"], signature["state"]) == ("approved", "quinn", "valid")
    assert signature["printed_name"] == "Quinn QA"
    assert signature["record_sha256"] == spec.content_sha256


def test_an_approved_specification_cannot_be_changed_without_a_new_version(spec: Any, qa_user: Any) -> None:
    attribute = AttributeSpec("ph", "pH", "Potentiometry", "", Criterion(CriterionKind.REPORT_ONLY))
    with pytest.raises(ServiceError, match="new version"):
        release.put_attribute(qa_user, "add pH", PRODUCT, spec.version, attribute)
    draft = release.draft_specification(qa_user, "add pH", PRODUCT, change_summary="pH added")
    release.put_attribute(qa_user, "add pH", PRODUCT, draft.version, attribute)
    assert draft.version == 2 and draft.attributes.count() == 6
    release.approve_specification(
        qa_user,
        "approve v2",
        PRODUCT,
        2,
        PASSWORD,
        expected_sha256=release.specification_sha256(release.get_specification(PRODUCT, 2)),
    )
    assert release.get_specification(PRODUCT, 1).status == "superseded"
    assert release.get_specification(PRODUCT).version == 2


def test_a_lot_keeps_the_specification_version_it_was_tested_against(
    lot: Any, qa_user: Any, analyst: Any
) -> None:
    release.start_testing(analyst, "QC starts", lot.number)
    draft = release.draft_specification(qa_user, "tighten potency", PRODUCT)
    release.approve_specification(
        qa_user,
        "approve v2",
        PRODUCT,
        draft.version,
        PASSWORD,
        expected_sha256=release.specification_sha256(draft),
    )
    assert release.lot_status(lot)["specification"] == f"{PRODUCT}/v1"


def test_only_qa_approves_a_specification(qa_user: Any, reviewer: Any) -> None:
    release.create_product(qa_user, "p", code="P2", name="Product 2")
    attribute = AttributeSpec("ph", "pH", "Potentiometry", "", Criterion(CriterionKind.REPORT_ONLY))
    release.draft_specification(qa_user, "first", "P2", [attribute])
    with pytest.raises(Forbidden):
        release.approve_specification(reviewer, "approve", "P2", 1, PASSWORD, expected_sha256="0" * 64)


def test_a_specification_signature_without_the_password_is_refused(qa_user: Any) -> None:
    release.create_product(qa_user, "p", code="P3", name="Product 3")
    attribute = AttributeSpec("ph", "pH", "Potentiometry", "", Criterion(CriterionKind.REPORT_ONLY))
    release.draft_specification(qa_user, "first", "P3", [attribute])
    for password in ("", "wrong-password"):
        with pytest.raises(Forbidden, match="password"):
            release.approve_specification(qa_user, "approve", "P3", 1, password, expected_sha256="0" * 64)
    assert release.get_specification("P3", 1).status == "draft"
    assert not Signature.objects.filter(record_id="P3/v1").exists()


def test_a_specification_approval_without_the_record_hash_is_refused(qa_user: Any) -> None:
    release.create_product(qa_user, "p", code="P4", name="Product 4")
    attribute = AttributeSpec("ph", "pH", "Potentiometry", "", Criterion(CriterionKind.REPORT_ONLY))
    release.draft_specification(qa_user, "first", "P4", [attribute])
    for missing in ("", "not-a-hash"):
        with pytest.raises(ServiceError, match="expected_sha256: give the SHA-256"):
            release.approve_specification(qa_user, "approve", "P4", 1, PASSWORD, expected_sha256=missing)
    assert release.get_specification("P4", 1).status == "draft"


# --- the lot from testing to release --------------------------------------------------------------


def test_a_conforming_lot_is_reviewed_and_released_with_two_signatures(
    lot: Any, analyst: Any, reviewer: Any, qa_user: Any
) -> None:
    reviewed(lot, analyst, reviewer)
    state = release.sign_lot(
        qa_user,
        "all release tests conform",
        lot.number,
        "released",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )
    assert state.value == "released"
    status = release.lot_status(lot)
    assert [(s["meaning"], s["signer"], s["state"]) for s in status["signatures"]] == [
        ("reviewed", "rey", "valid"),
        ("released", "quinn", "valid"),
    ]
    assert all(s["record_sha256"] == status["record_sha256"] for s in status["signatures"])
    actions = [e.action for e in audit.events("lot", lot.number)]
    assert actions.count("sign") == 2 and "release" in actions and "review" in actions
    assert audit.verify().intact


def test_submitting_a_lot_with_a_missing_release_result_is_refused(lot: Any, analyst: Any) -> None:
    release.add_result(analyst, "result", lot.number, "cd73", "98.6")
    with pytest.raises(GuardFailed, match="no valid result for: endotoxin, potency, sterility"):
        release.transition(analyst, "submit", lot.number, "submit for review")


def test_a_reviewer_who_entered_a_result_cannot_review_the_lot(lot: Any, analyst: Any, reviewer: Any) -> None:
    for code, text in [("cd73", "98.6"), ("endotoxin", "< 0.5"), ("potency", "104")]:
        release.add_result(analyst, "result", lot.number, code, text)
    release.add_result(reviewer, "read the sterility plates", lot.number, "sterility", "no growth")
    release.transition(analyst, "submit", lot.number, "submit for review")
    with pytest.raises(GuardFailed, match="four-eyes"):
        release.sign_lot(
            reviewer,
            "review",
            lot.number,
            "reviewed",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )
    assert release.state_of(lot).value == "QC review"


def test_the_qa_approver_cannot_be_the_reviewer(lot: Any, analyst: Any, make_user: Any) -> None:
    # One account, one role: the only way a QA approver could be the reviewer is through the guard itself.
    from django.contrib.auth.models import Group

    both = make_user("rev-qa", "reviewer", "Rev Qa")
    both.groups.add(Group.objects.get(name="qa"))
    reviewed(lot, analyst, both)
    with pytest.raises(GuardFailed, match="reviewed this lot"):
        release.sign_lot(
            both,
            "release",
            lot.number,
            "released",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )


def test_the_qa_approver_cannot_be_an_analyst(lot: Any, analyst: Any, reviewer: Any) -> None:
    from django.contrib.auth.models import Group

    analyst.groups.add(Group.objects.get(name="qa"))
    reviewed(lot, analyst, reviewer)
    with pytest.raises(GuardFailed, match="entered results"):
        release.sign_lot(
            analyst,
            "release",
            lot.number,
            "released",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )


def test_whoever_entered_an_oos_result_cannot_conclude_its_investigation(
    lot: Any, reviewer: Any, qa_user: Any
) -> None:
    release.add_result(reviewer, "ran the assay", lot.number, "potency", "41")
    number = Investigation.objects.get(lot=lot).number
    with pytest.raises(Forbidden, match="entered the result"):
        release.close_investigation(
            reviewer, "self", number, outcome="assignable cause", conclusion="pipetting", password=PASSWORD
        )
    release.close_investigation(
        qa_user, "phase I", number, outcome="OOS confirmed", conclusion="no lab error", password=PASSWORD
    )
    assert Investigation.objects.get(number=number).status == "closed"


def test_results_are_never_overwritten(lot: Any, analyst: Any) -> None:
    result = release.add_result(analyst, "result", lot.number, "cd73", "98.6")
    with pytest.raises(GuardFailed, match="never overwritten"):
        release.add_result(analyst, "again", lot.number, "cd73", "97.0")
    with pytest.raises(GuardFailed, match="invalidated"):
        release.add_result(analyst, "retest", lot.number, "cd73", "97.0", retest_of=result.pk)


def test_results_are_refused_once_the_lot_is_under_review(lot: Any, analyst: Any, reviewer: Any) -> None:
    reviewed(lot, analyst, reviewer)
    with pytest.raises(GuardFailed, match="QC testing only"):
        release.add_result(analyst, "late", lot.number, "vegf", "1200")


# --- out of specification ---------------------------------------------------------------------------


def test_an_oos_potency_opens_an_investigation_that_blocks_review(
    lot: Any, analyst: Any, reviewer: Any
) -> None:
    conforming_results(analyst, lot.number, potency="41")
    [investigation] = Investigation.objects.filter(lot=lot)
    assert investigation.status == "open" and investigation.result.attribute.code == "potency"
    release.transition(analyst, "submit", lot.number, "submit for review")
    with pytest.raises(GuardFailed, match="open investigation"):
        release.sign_lot(
            reviewer,
            "review",
            lot.number,
            "reviewed",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )


def test_a_confirmed_oos_lot_cannot_be_released_and_is_rejected(
    lot: Any, analyst: Any, reviewer: Any, qa_user: Any
) -> None:
    conforming_results(analyst, lot.number, potency="41")
    number = Investigation.objects.get(lot=lot).number
    release.close_investigation(
        reviewer,
        "phase I",
        number,
        outcome="OOS confirmed",
        conclusion="No laboratory error: system suitability met, calculations checked.",
        password=PASSWORD,
    )
    release.transition(analyst, "submit", lot.number, "submit for review")
    release.sign_lot(
        reviewer,
        "review",
        lot.number,
        "reviewed",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )
    with pytest.raises(GuardFailed, match="not conforming: potency"):
        release.sign_lot(
            qa_user,
            "release",
            lot.number,
            "released",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )
    assert (
        release.sign_lot(
            qa_user,
            "OOS potency confirmed",
            lot.number,
            "rejected",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        ).value
        == "rejected"
    )
    conclusion = Signature.objects.get(record_type="investigation", record_id=number)
    assert conclusion.meaning == "approved" and conclusion.signer == reviewer


def test_an_assignable_cause_invalidates_the_result_and_a_retest_replaces_it(
    lot: Any, analyst: Any, reviewer: Any, qa_user: Any
) -> None:
    conforming_results(analyst, lot.number, potency="41")
    first = Result.objects.get(lot=lot, attribute__code="potency")
    number = Investigation.objects.get(lot=lot).number
    with pytest.raises(Forbidden, match="role"):
        release.close_investigation(
            analyst, "self", number, outcome="assignable cause", conclusion="x", password=PASSWORD
        )
    release.close_investigation(
        reviewer,
        "phase I",
        number,
        outcome="assignable cause",
        conclusion="Reference standard diluted 1:20 instead of 1:10 (worksheet line 4).",
        password=PASSWORD,
    )
    retest = release.add_result(
        analyst, "retest after invalidation", lot.number, "potency", "98", retest_of=first.pk
    )
    assert retest.retest_of == first and Result.objects.filter(pk=first.pk).exists()
    release.transition(analyst, "submit", lot.number, "submit for review")
    release.sign_lot(
        reviewer,
        "review",
        lot.number,
        "reviewed",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )
    assert (
        release.sign_lot(
            qa_user,
            "release",
            lot.number,
            "released",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        ).value
        == "released"
    )
    record = release.qc_record(lot)
    assert [r["invalidated"] for r in record["results"] if r["attribute"] == "potency"] == [True, False]


# --- over-passage -----------------------------------------------------------------------------------


def test_an_over_passage_lot_without_an_approved_deviation_cannot_be_released(
    spec: Any, analyst: Any, reviewer: Any, qa_user: Any
) -> None:
    lot = make_lot(analyst, passage_number=9)  # Wharton's jelly limit P8
    reviewed(lot, analyst, reviewer)
    with pytest.raises(GuardFailed, match="over-passage"):
        release.sign_lot(
            qa_user,
            "release",
            lot.number,
            "released",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )
    assert (
        release.sign_lot(
            qa_user,
            "P9 parent",
            lot.number,
            "rejected",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        ).value
        == "rejected"
    )


def test_an_over_passage_lot_with_an_approved_deviation_can_be_released(
    spec: Any, analyst: Any, reviewer: Any, qa_user: Any
) -> None:
    from django.utils import timezone

    lot = make_lot(analyst, passage_number=9)
    Deviation.objects.create(
        number="DEV-2026-0001",
        kind="over-passage",
        description="P9 used for comparability study",
        conditioning_run=lot.conditioning_run,
        raised_at=timezone.now(),
        raised_by=analyst,
        decision="approved",
        decision_note="justified",
        decided_at=timezone.now(),
        decided_by=qa_user,
    )
    reviewed(lot, analyst, reviewer)
    assert (
        release.sign_lot(
            qa_user,
            "release",
            lot.number,
            "released",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        ).value
        == "released"
    )


# --- signatures -------------------------------------------------------------------------------------


def test_a_signature_without_re_authentication_is_refused(lot: Any, analyst: Any, reviewer: Any) -> None:
    conforming_results(analyst, lot.number)
    release.transition(analyst, "submit", lot.number, "submit for review")
    for password in ("", "not-my-password"):
        with pytest.raises(Forbidden, match="password"):
            release.sign_lot(
                reviewer,
                "review",
                lot.number,
                "reviewed",
                password,
                expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
            )
    assert not Signature.objects.filter(record_type="lot").exists()
    assert release.state_of(lot).value == "QC review"


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failed_signing_attempts_lock_the_account(lot: Any, analyst: Any, reviewer: Any) -> None:
    conforming_results(analyst, lot.number)
    release.transition(analyst, "submit", lot.number, "submit for review")
    for _ in range(3):
        with pytest.raises(Forbidden):
            release.sign_lot(
                reviewer,
                "review",
                lot.number,
                "reviewed",
                "guess-guess-guess",
                expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
            )
    with pytest.raises(Forbidden, match="locked"):
        release.sign_lot(
            reviewer,
            "review",
            lot.number,
            "reviewed",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )


def test_a_signature_cannot_be_replayed_onto_another_lot(spec: Any, analyst: Any, reviewer: Any) -> None:
    first, second = make_lot(analyst), make_lot(analyst)
    for lot in (first, second):
        conforming_results(analyst, lot.number)
        release.transition(analyst, "submit", lot.number, "submit for review")
    shown_for_first = release.qc_record_sha256(first)
    with pytest.raises(ServiceError, match="not lot"):
        release.sign_lot(
            reviewer, "review", second.number, "reviewed", PASSWORD, expected_sha256=shown_for_first
        )
    release.sign_lot(reviewer, "review", first.number, "reviewed", PASSWORD, expected_sha256=shown_for_first)
    # Copying the stored signature onto the other lot does not make that lot signed.
    signature = Signature.objects.get(record_id=first.number)
    copied = Signature.objects.get(pk=signature.pk)
    copied.pk = None
    copied.record_id = second.number
    copied.signature_sha256 = "f" * 64
    copied.save()
    assert [s["state"] for s in release.lot_status(second)["signatures"]] == ["broken"]
    assert [s["state"] for s in release.lot_status(first)["signatures"]] == ["valid"]


def test_returning_a_reviewed_lot_to_testing_voids_its_review_signature_visibly(
    lot: Any, analyst: Any, reviewer: Any
) -> None:
    reviewed(lot, analyst, reviewer)
    before = release.lot_status(lot)
    release.transition(reviewer, "VEGF needed for trending", lot.number, "return to testing")
    release.add_result(analyst, "added", lot.number, "vegf", "1200")
    after = release.lot_status(lot)
    assert after["record_version"] == before["record_version"] + 1
    [signature] = after["signatures"]
    assert signature["state"] == "voided" and "returned to testing" in signature["void_reason"]
    assert after["state"] == "QC testing"


def test_lot_signing_meanings_are_limited(lot: Any, qa_user: Any) -> None:
    with pytest.raises(ServiceError, match="meaning"):
        release.sign_lot(
            qa_user,
            "x",
            lot.number,
            "approved",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )
    with pytest.raises(ServiceError, match="meaning"):
        release.sign_lot(
            qa_user,
            "x",
            lot.number,
            "authored",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )


def test_an_analyst_cannot_release(lot: Any, analyst: Any) -> None:
    with pytest.raises(Forbidden, match="qa role"):
        release.sign_lot(
            analyst,
            "x",
            lot.number,
            "released",
            PASSWORD,
            expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
        )
