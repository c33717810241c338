"""The MISEV2023 checklist of a lot, answered from its accepted NTA run, protein and marker results and its
genealogy, each answer naming its record; completeness computed by hand from the checklist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from secretome.domain.misev import MISEV2023_CHECKLIST
from secretome.services import release
from secretome.services.errors import NotFound
from secretome.services.ev import lot_misev_report, misev_if_ev_data
from tests.integration.ev_support import (
    accepted_nta_run,
    add_harvest_and_processing,
    add_markers,
    approve_nta_method,
    ev_attributes,
)
from tests.integration.release_support import approved_specification, make_lot

pytestmark = pytest.mark.django_db

REQUIRED = sum(item.required for item in MISEV2023_CHECKLIST)
#: What a lot with NTA, protein, the five-marker panel, harvest viability and processing steps leaves open:
#: the storage of the CM before processing and vesicle imaging are not stored by the system, and the panel
#: has no cytosolic marker.
OPEN_WITH_EVERYTHING = ["preanalytics.storage", "markers.cytosolic", "single.imaging"]


@pytest.fixture(autouse=True, name="data_directory")
def data_directory_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(name="ev_lot")
def ev_lot_fixture(analyst: Any, qa_user: Any) -> Any:
    approved_specification(qa_user, ev_attributes())
    approve_nta_method(analyst, qa_user)
    return make_lot(analyst)


def test_the_checklist_has_seventeen_required_items() -> None:
    assert REQUIRED == 17


def test_a_lot_with_nta_protein_markers_and_processing_answers_fourteen_of_seventeen(
    analyst: Any, ev_lot: Any
) -> None:
    add_harvest_and_processing(ev_lot, analyst)
    protein = release.add_result(analyst, "BCA", ev_lot.number, "protein", "120")
    run, truth = accepted_nta_run(analyst, ev_lot.number)
    add_markers(analyst, ev_lot.number)

    misev = lot_misev_report(ev_lot.number)
    report = misev.to_dict()

    assert misev.has_ev_data and misev.nta_run == run.number
    assert report["missing"] == OPEN_WITH_EVERYTHING
    assert (report["answered"], report["required"]) == (14, 17)
    assert report["completeness"] == pytest.approx(100 * 14 / 17, abs=1e-9)  # 82.35 %
    items = {item["code"]: item for item in report["items"]}
    # The particle concentration is the run's, which recovers the file's true concentration within 4 SE
    # (5 videos with 6 % noise each).
    particles = json.loads(run.result_json)["lots"][ev_lot.number]["concentration"]
    assert particles == pytest.approx(truth.concentration, rel=4 * 0.06 / 5**0.5)
    assert items["quantification.particles"]["answer"].startswith(
        f"{particles:.3g} particles/mL, NTA, 5 videos"
    )
    assert "camera level" in items["quantification.particles"]["answer"]
    assert items["quantification.particles"]["sources"] == [
        {"kind": "analysis run", "reference": run.number, "label": f"analysis run {run.number}"}
    ]
    assert items["single.particles"]["sources"][0]["reference"] == run.number
    assert items["quantification.protein"]["answer"] == "120 µg/mL (BCA)"
    assert items["quantification.protein"]["sources"][0] == {
        "kind": "result",
        "reference": str(protein.pk),
        "label": f"result #{protein.pk}",
    }
    assert items["quantification.ratio"]["answer"] == f"{particles / 120:.3g} particles/ug"
    assert [s["kind"] for s in items["quantification.ratio"]["sources"]] == ["analysis run", "result"]
    assert items["markers.transmembrane"]["answer"] == "CD9 +, CD63 +, CD81 +"
    assert items["markers.negative"]["answer"] == "calnexin -, ApoA1 -"
    assert len(items["markers.transmembrane"]["sources"]) == 3
    assert items["preanalytics.clearing"]["answer"] == (
        "clarification (centrifugation), 2000 x g, 10 min; sterile filtration, 0.22 µm"
    )
    assert items["separation.method"]["answer"] == "ultrafiltration / TFF, 10 kDa MWCO, 20 -> 2 mL (10x)"
    assert items["source.cell_count"]["answer"] == "4e+06 viable cells, 92 % viable at harvest"
    assert items["source.culture"]["answer"].startswith("conditioning in aMEM serum-free (medium lot M2)")
    assert "5 % human platelet lysate" in items["source.culture"]["answer"]
    assert items["source.cells"]["answer"].endswith("passage P4")
    assert items["storage.ev"]["answer"] == "frozen at -80 °C; freeze-thaw cycles not recorded"
    assert items["nomenclature"]["answer"].startswith("generic term EV: EV particle concentration")
    # Items the system cannot answer say so.
    assert "not how it was held" in items["preanalytics.storage"]["note"]
    assert items["markers.cytosolic"]["note"]
    assert items["deposition"]["answered"] is False and items["deposition"]["required"] is False


def test_a_lot_without_protein_misses_protein_and_the_ratio(analyst: Any, ev_lot: Any) -> None:
    run, _ = accepted_nta_run(analyst, ev_lot.number)
    add_markers(analyst, ev_lot.number)
    report = lot_misev_report(ev_lot.number).to_dict()
    # make_lot records no viability and no processing steps: those three items are missing too.
    assert report["missing"] == [
        "source.cell_count",
        "preanalytics.storage",
        "preanalytics.clearing",
        "separation.method",
        "quantification.protein",
        "quantification.ratio",
        "markers.cytosolic",
        "single.imaging",
    ]
    assert report["completeness"] == pytest.approx(100 * 9 / 17, abs=1e-9)
    items = {item["code"]: item for item in report["items"]}
    assert (
        items["quantification.ratio"]["note"] == "needs both the particle concentration and the total protein"
    )
    assert items["quantification.particles"]["sources"][0]["reference"] == run.number


def test_markers_alone_are_ev_data_and_a_cytosolic_marker_answers_its_item(
    analyst: Any, qa_user: Any
) -> None:
    from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind

    attributes = ev_attributes()
    attributes.append(
        AttributeSpec(
            "ev-tsg101", "EV marker TSG101", "Western blot", "", Criterion(CriterionKind.REPORT_ONLY)
        )
    )
    approved_specification(qa_user, attributes)
    lot = make_lot(analyst)
    add_markers(analyst, lot.number, {"ev-cd63": "detected", "ev-tsg101": "positive"})
    misev = misev_if_ev_data(lot)
    assert misev is not None and misev.nta_run is None
    items = {item["code"]: item for item in misev.to_dict()["items"]}
    assert items["markers.transmembrane"]["answer"] == "CD63 +"
    assert items["markers.cytosolic"]["answer"] == "TSG101 +"
    assert not items["markers.negative"]["answered"]
    assert not items["quantification.particles"]["answered"]


def test_a_marker_result_that_is_neither_detected_nor_not_detected_answers_nothing(
    analyst: Any, ev_lot: Any
) -> None:
    add_markers(analyst, ev_lot.number, {"ev-cd9": "faint band"})
    items = {item["code"]: item for item in lot_misev_report(ev_lot.number).to_dict()["items"]}
    assert not items["markers.transmembrane"]["answered"]


def test_a_lot_without_ev_data_has_no_checklist(analyst: Any, ev_lot: Any) -> None:
    release.add_result(analyst, "BCA", ev_lot.number, "protein", "120")
    assert misev_if_ev_data(ev_lot) is None
    assert lot_misev_report(ev_lot.number).has_ev_data is False


def test_an_unknown_lot_is_not_found() -> None:
    with pytest.raises(NotFound):
        lot_misev_report("CM-NOPE")


def _release(lot_number: str, analyst: Any, reviewer: Any, qa: Any) -> None:
    from tests.integration.release_support import conforming_results, sign

    conforming_results(analyst, lot_number)
    release.transition(analyst, "submit", lot_number, "submit for review")
    sign(reviewer, lot_number, "reviewed")
    sign(qa, lot_number, "released")


def test_the_certificate_of_an_ev_lot_carries_the_checklist_in_its_verified_json(
    analyst: Any, reviewer: Any, qa_user: Any, ev_lot: Any
) -> None:
    from secretome.services import certificates

    release.add_result(analyst, "BCA", ev_lot.number, "protein", "120")
    run, _ = accepted_nta_run(analyst, ev_lot.number)
    add_markers(analyst, ev_lot.number)
    _release(ev_lot.number, analyst, reviewer, qa_user)
    certificate = certificates.issue_certificate(qa_user, "CoA", ev_lot.number)
    content = json.loads(certificate.content_json)
    misev = content["misev"]
    assert misev["checklist"] == "MISEV2023"
    assert (misev["answered"], misev["required"]) == (11, 17)
    assert misev["completeness"] == round(100 * 11 / 17, 1) == 64.7
    assert [m["code"] for m in misev["missing"]] == [
        "source.cell_count",
        "preanalytics.storage",
        "preanalytics.clearing",
        "separation.method",
        "markers.cytosolic",
        "single.imaging",
    ]
    particles = next(i for i in misev["items"] if i["code"] == "quantification.particles")
    assert particles["source"] == f"analysis run {run.number}"
    # The same lot gives the same content again: the embedded JSON is deterministic.
    again = certificates.certificate_content(ev_lot, certificate.number, certificate.issued_at, qa_user)
    assert again["misev"] == misev
    pdf = certificates.certificate_pdf(certificate)
    assert certificates.verify_certificate(pdf)["current"] is True
    html = certificates.render_html(content, [], for_pdf=False)
    assert "MISEV2023 reporting checklist" in html and "Completeness 64.7 %" in html


def test_the_certificate_of_a_lot_without_ev_data_has_no_checklist(
    analyst: Any, reviewer: Any, qa_user: Any, ev_lot: Any
) -> None:
    from secretome.services import certificates

    _release(ev_lot.number, analyst, reviewer, qa_user)
    certificate = certificates.issue_certificate(qa_user, "CoA", ev_lot.number)
    assert "misev" not in json.loads(certificate.content_json)


def test_lot_misev_on_the_command_line(analyst: Any, qa_user: Any, run_cli: Any) -> None:
    approved_specification(qa_user, ev_attributes())
    approve_nta_method(analyst, qa_user)
    lot = make_lot(analyst)
    run, _ = accepted_nta_run(analyst, lot.number)
    result = run_cli("lot", "misev", lot.number, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["nta_run"] == run.number and payload["has_ev_data"] is True
    # NTA alone: particles, single particles, and the genealogy and specification items (7 of 17).
    assert payload["answered"] == 7
    table = run_cli("lot", "misev", lot.number)
    assert table.exit_code == 0 and "41 % complete, 7 of 17" in table.output
    assert run_cli("lot", "misev", "CM-NOPE").exit_code == 2
