"""From instrument bytes to a recomputable lot result: import, method, run, accept, verify, certificate."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from secretome.db.analyses.models import AnalysisDecision, AnalysisRun, RunStatus
from secretome.db.core.models import AuditEvent
from secretome.db.imports.models import RawFile
from secretome.db.quality.models import Result
from secretome.demo.instrument_files import potency_plate
from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind, ReportingRule
from secretome.services import analyses, imports, release
from secretome.services.errors import GuardFailed, ServiceError
from tests.integration.release_support import PASSWORD, approved_specification, make_lot, release_attributes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, name="data_directory")
def data_directory_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


def computed_attributes() -> list[AttributeSpec]:
    """The test panel with relative potency computed by the relative-potency kind."""
    attributes = []
    for attribute in release_attributes():
        if attribute.code == "potency":
            attribute = AttributeSpec(
                "potency",
                "Relative potency",
                "IDO kynurenine, parallel 4PL",
                "%",
                Criterion(
                    CriterionKind.RANGE, lower=Decimal(70), upper=Decimal(143), rule=ReportingRule(decimals=0)
                ),
                category="potency",
                analysis_kind="relative-potency",
            )
        attributes.append(attribute)
    return attributes


@pytest.fixture(name="lot")
def lot_fixture(qa_user: Any, analyst: Any) -> Any:
    approved_specification(qa_user, computed_attributes())
    return make_lot(analyst)


@pytest.fixture(name="method")
def method_fixture(analyst: Any, qa_user: Any) -> Any:
    analyses.draft_method(
        analyst,
        "potency method",
        code="IDO-RP",
        title="IDO activity, parallel 4PL",
        kind="relative-potency",
        settings={"reference": "REF", "model": "4pl"},
        attributes=["potency"],
        reporting_unit="%",
        normalisation="none",
    )
    return analyses.approve_method(qa_user, "approve", "IDO-RP@1", PASSWORD)


def import_plate(analyst: Any, lots: dict[str, float], seed: int = 7) -> Any:
    content, layout = potency_plate(np.random.default_rng(seed), lots, "PLATE-1")
    imports.save_layout(analyst, "potency layout", layout)
    return imports.import_file(analyst, "potency plate", "ido-plate.csv", content, layout=layout.name)


def test_a_plate_becomes_a_linked_result_that_recomputes(analyst: Any, lot: Any, method: Any) -> None:
    record = import_plate(analyst, {lot.number: 0.9})
    run = analyses.analyse(analyst, "potency of the lot", [record.pk], "IDO-RP")
    assert run.status == RunStatus.DRAFT
    assert run.inputs.get().raw_sha256 == record.raw_file.sha256
    [reportable] = json.loads(run.reportables_json)
    assert reportable["lot"] == lot.number
    assert 85 < reportable["value"] < 95
    assert [p.svg[:5] for p in run.plots.all()] == ["<?xml", "<?xml"]

    [result] = analyses.accept_run(analyst, "accepted", run.number)
    assert result.analysis_run == run and result.instrument_import == record
    assert Decimal(result.value) == Decimal(repr(reportable["value"]))
    assert result.to_dict()["analysis_run"] == run.number

    report = analyses.verify_lot(lot.number)
    assert (report.verified, report.failed) == (1, 0)
    assert report.results[0].raw_sha256 == (record.raw_file.sha256,)
    assert report.statement() == "1 of 1 computed results recomputed from raw data at issue"


def test_a_plate_with_several_lots_reports_for_each(
    analyst: Any, qa_user: Any, lot: Any, method: Any
) -> None:
    other = make_lot(analyst)
    record = import_plate(analyst, {lot.number: 1.0, other.number: 0.5})
    run = analyses.analyse(analyst, "two lots on one plate", [record.pk], "IDO-RP")
    results = analyses.accept_run(analyst, "accepted", run.number)
    by_lot = {r.lot.number: float(r.value) for r in results}
    assert set(by_lot) == {lot.number, other.number}
    assert by_lot[other.number] == pytest.approx(50, rel=0.08)
    assert by_lot[lot.number] == pytest.approx(100, rel=0.08)


def test_the_runs_of_a_lot_are_found_however_many_newer_runs_name_other_lots(
    analyst: Any, lot: Any, method: Any
) -> None:
    mine = analyses.analyse(
        analyst, "potency of the lot", [import_plate(analyst, {lot.number: 0.9}).pk], "IDO-RP"
    )
    other = make_lot(analyst)
    record = import_plate(analyst, {other.number: 1.1}, seed=8)
    for _ in range(6):
        analyses.analyse(analyst, "potency of another lot", [record.pk], "IDO-RP")

    assert [run.number for run in analyses.list_runs(lot.number, limit=1)] == [mine.number]
    assert len(analyses.list_runs(other.number, limit=4)) == 4


def test_a_computed_attribute_refuses_a_typed_result(analyst: Any, lot: Any) -> None:
    with pytest.raises(GuardFailed, match="accepted analysis run"):
        release.add_result(analyst, "typed", lot.number, "potency", "95", raw_file="ido-L1.csv")
    assert not Result.objects.filter(lot=lot, attribute__code="potency").exists()


def test_a_manual_result_keeps_a_stored_document(analyst: Any, lot: Any) -> None:
    result = release.add_result(
        analyst,
        "sterility report",
        lot.number,
        "sterility",
        "complies",
        document=("sterility.pdf", b"%PDF-1.7 x"),
    )
    assert result.document is not None
    assert RawFile.objects.get(sha256=result.document.sha256).original_name == "sterility.pdf"
    assert result.to_dict()["document"]["file_name"] == "sterility.pdf"


def test_a_raw_file_altered_by_one_byte_fails_verification_naming_the_result(
    analyst: Any, lot: Any, method: Any
) -> None:
    record = import_plate(analyst, {lot.number: 1.1})
    run = analyses.analyse(analyst, "potency", [record.pk], "IDO-RP")
    [result] = analyses.accept_run(analyst, "accepted", run.number)
    content = bytearray(bytes(record.raw_file.content or b""))
    content[200] = ord("9") if content[200] != ord("9") else ord("8")
    RawFile.objects.filter(pk=record.raw_file.pk).update(content=bytes(content))

    report = analyses.verify_lot(lot.number)
    assert report.failed == 1
    [failure] = report.failures()
    assert f"potency (result #{result.pk}, run {run.number})" in failure
    assert "SHA-256" in failure


def test_excluding_a_well_changes_the_result_is_audited_and_recomputes(
    analyst: Any, lot: Any, method: Any
) -> None:
    record = import_plate(analyst, {lot.number: 1.0})
    first = analyses.analyse(analyst, "potency", [record.pk], "IDO-RP")
    second = analyses.reanalyse(analyst, "re-analysis", first.number, exclude={"D4": "bubble in the well"})
    first.refresh_from_db()
    assert first.status == RunStatus.SUPERSEDED and second.supersedes == first
    value_before = json.loads(first.reportables_json)[0]["value"]
    value_after = json.loads(second.reportables_json)[0]["value"]
    assert value_after != value_before
    assert f"{record.pk}:D4" not in second.used and f"{record.pk}:D4" in first.used
    decision = AnalysisDecision.objects.get(run=second)
    assert (decision.target, decision.reason) == (f"{record.pk}:D4", "bubble in the well")
    assert AuditEvent.objects.filter(action="exclude input", object_id=second.number).exists()

    analyses.accept_run(analyst, "accepted", second.number)
    assert analyses.verify_run(second.number).match
    assert analyses.verify_lot(lot.number).ok


def test_a_run_sent_back_invalidates_its_results_and_a_reanalysis_reports_the_retest(
    analyst: Any, reviewer: Any, lot: Any, method: Any
) -> None:
    record = import_plate(analyst, {lot.number: 1.0})
    run = analyses.analyse(analyst, "potency", [record.pk], "IDO-RP")
    [original] = analyses.accept_run(analyst, "accepted", run.number)
    with pytest.raises(ServiceError, match="reviewer or qa"):
        analyses.return_run(analyst, "mine", run.number)
    analyses.return_run(reviewer, "plate edge effect: exclude column 12", run.number)
    assert Result.objects.get(pk=original.pk).invalidation is not None
    again = analyses.reanalyse(analyst, "after review", run.number, exclude={"A4": "edge well"})
    [retest] = analyses.accept_run(analyst, "accepted", again.number)
    assert retest.retest_of == original
    assert AnalysisRun.objects.get(pk=run.pk).status == RunStatus.SUPERSEDED


def test_runs_need_an_approved_method_and_files_of_its_family(analyst: Any, lot: Any) -> None:
    analyses.draft_method(
        analyst,
        "draft",
        code="DRAFT-RP",
        title="",
        kind="relative-potency",
        settings={},
        attributes=["potency"],
    )
    record = import_plate(analyst, {lot.number: 1.0})
    with pytest.raises(ServiceError, match="no approved version"):
        analyses.analyse(analyst, "potency", [record.pk], "DRAFT-RP")


def test_method_settings_are_checked_by_the_kind(analyst: Any) -> None:
    with pytest.raises(ServiceError, match="model"):
        analyses.draft_method(
            analyst,
            "bad",
            code="BAD",
            title="",
            kind="relative-potency",
            settings={"model": "7pl"},
            attributes=["potency"],
        )
    with pytest.raises(ServiceError, match="kind"):
        analyses.draft_method(
            analyst, "bad", code="BAD", title="", kind="tea-leaves", settings={}, attributes=["x"]
        )


def test_the_approver_of_a_method_is_not_its_author(qa_user: Any) -> None:
    analyses.draft_method(
        qa_user, "own", code="OWN", title="", kind="relative-potency", settings={}, attributes=["potency"]
    )
    with pytest.raises(GuardFailed, match="author"):
        analyses.approve_method(qa_user, "approve", "OWN@1", PASSWORD)


def _released_with_computed_potency(analyst: Any, reviewer: Any, qa_user: Any, lot: Any) -> Any:
    from tests.integration.release_support import sign

    record = import_plate(analyst, {lot.number: 1.05})
    run = analyses.analyse(analyst, "potency", [record.pk], "IDO-RP")
    analyses.accept_run(analyst, "accepted", run.number)
    for code, text in [("cd73", "98.6"), ("sterility", "no growth"), ("endotoxin", "< 0.5")]:
        release.add_result(analyst, "QC result", lot.number, code, text)
    release.transition(analyst, "submit", lot.number, "submit for review")
    sign(reviewer, lot.number, "reviewed")
    sign(qa_user, lot.number, "released")
    return record


def test_the_certificate_states_its_computed_results_were_recomputed_from_raw_data(
    analyst: Any, reviewer: Any, qa_user: Any, lot: Any, method: Any
) -> None:
    from secretome.services import certificates

    _released_with_computed_potency(analyst, reviewer, qa_user, lot)
    certificate = certificates.issue_certificate(qa_user, "CoA", lot.number)
    content = json.loads(certificate.content_json)
    assert content["recomputed"]["statement"] == "1 of 1 computed results recomputed from raw data at issue"
    potency = next(a for a in content["attributes"] if a["code"] == "potency")
    assert potency["analysis_run"] and potency["raw_data"]["file_name"] == "ido-plate.csv"


def test_no_certificate_when_a_raw_file_no_longer_matches(
    analyst: Any, reviewer: Any, qa_user: Any, lot: Any, method: Any
) -> None:
    from secretome.db.quality.models import Certificate
    from secretome.services import certificates

    record = _released_with_computed_potency(analyst, reviewer, qa_user, lot)
    content = bytearray(bytes(record.raw_file.content or b""))
    content[-3] = ord("1") if content[-3] != ord("1") else ord("2")
    RawFile.objects.filter(pk=record.raw_file.pk).update(content=bytes(content))
    with pytest.raises(GuardFailed, match=r"certificate refused.*potency \(result #\d+"):
        certificates.issue_certificate(qa_user, "CoA", lot.number)
    assert not Certificate.objects.filter(lot=lot).exists()
