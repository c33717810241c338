"""A VEGF-A ELISA plate in the Gen5 format, from bytes to an accepted, recomputed lot result through the
import and analysis services with the standard-curve kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from secretome.demo.assay_files import gen5_vegf_elisa, vegf_elisa_settings
from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind
from secretome.services import analyses, imports
from tests.integration.release_support import PASSWORD, approved_specification, make_lot, release_attributes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, name="data_directory")
def data_directory_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


def computed_vegf() -> list[AttributeSpec]:
    attributes = [a for a in release_attributes() if a.code != "vegf"]
    attributes.append(
        AttributeSpec(
            "vegf",
            "VEGF-A",
            "ELISA, standard curve",
            "pg/10^6 cells/24 h",
            Criterion(CriterionKind.REPORT_ONLY),
            category="secretome",
            release_test=False,
            analysis_kind="standard-curve",
        )
    )
    return attributes


def test_a_gen5_elisa_becomes_a_normalised_vegf_result_that_recomputes(analyst: Any, qa_user: Any) -> None:
    approved_specification(qa_user, computed_vegf())
    lot = make_lot(analyst)
    truth = 1600.0
    plate = gen5_vegf_elisa({lot.number: truth}, np.random.default_rng(4), cv=0.02)
    imports.save_layout(analyst, "VEGF layout", plate.layout)
    record = imports.import_file(
        analyst, "VEGF plate", plate.filename, plate.content, layout=plate.layout.name
    )
    analyses.draft_method(
        analyst,
        "VEGF method",
        code="VEGF-ELISA",
        title="VEGF-A ELISA, 4PL, per 10^6 cells per 24 h",
        kind="standard-curve",
        settings=vegf_elisa_settings(normalisation="per_million_cells_per_24h"),
        attributes=["vegf"],
        reporting_unit="pg/10^6 cells/24 h",
        normalisation="per_million_cells_per_24h",
    )
    analyses.approve_method(qa_user, "approve", "VEGF-ELISA@1", PASSWORD)
    run = analyses.analyse(analyst, "VEGF of the lot", [record.pk], "VEGF-ELISA")
    [reportable] = json.loads(run.reportables_json)
    # The lot's conditioning: 4e6 viable cells, 20 mL, 48 h: pg/mL x 20 / 4 / 2.
    assert reportable["value"] == pytest.approx(truth * 20 / 4 / 2, rel=0.1)
    assert reportable["unit"] == "pg/10^6 cells/24 h"
    [result] = analyses.accept_run(analyst, "accepted", run.number)
    assert result.analysis_run == run
    report = analyses.verify_lot(lot.number)
    assert (report.verified, report.failed) == (1, 0)


def test_a_tube_formation_table_and_an_ido_plate_become_recomputable_potency_results(
    analyst: Any, qa_user: Any
) -> None:
    from secretome.demo.assay_files import (
        angiogenesis_settings,
        angiogenesis_table,
        gen5_ido_kynurenine,
        ido_settings,
    )

    attributes = [
        *release_attributes(),
        AttributeSpec(
            "angiogenesis",
            "Tube formation",
            "HUVEC on Matrigel, Angiogenesis Analyzer",
            "%",
            Criterion(CriterionKind.REPORT_ONLY),
            category="potency",
            release_test=False,
            analysis_kind="angiogenesis",
        ),
        AttributeSpec(
            "ido_activity",
            "IDO activity",
            "kynurenine, Ehrlich's reagent",
            "nmol/10^6 cells/h",
            Criterion(CriterionKind.REPORT_ONLY),
            category="potency",
            release_test=False,
            analysis_kind="ido-activity",
        ),
    ]
    approved_specification(qa_user, attributes)
    lot = make_lot(analyst)
    table = angiogenesis_table({lot.number: 80.0}, np.random.default_rng(8), wells_per_group=4, cv=0.03)
    tubes = imports.import_file(analyst, "tube formation", table.filename, table.content)
    assert tubes.family == "image_analysis"
    plate = gen5_ido_kynurenine({lot.number: 0.9}, np.random.default_rng(9))
    imports.save_layout(analyst, "IDO layout", plate.layout)
    ido = imports.import_file(analyst, "IDO plate", plate.filename, plate.content, layout=plate.layout.name)
    for code, kind, settings, attribute, unit, record in (
        ("ANGIO", "angiogenesis", angiogenesis_settings(), "angiogenesis", "%", tubes),
        ("IDO", "ido-activity", ido_settings(), "ido_activity", "nmol/10^6 cells/h", ido),
    ):
        analyses.draft_method(
            analyst,
            "method",
            code=code,
            title=code,
            kind=kind,
            settings=settings,
            attributes=[attribute],
            reporting_unit=unit,
            normalisation="none",
        )
        analyses.approve_method(qa_user, "approve", f"{code}@1", PASSWORD)
        run = analyses.analyse(analyst, "potency", [record.pk], code)
        analyses.accept_run(analyst, "accepted", run.number)
    values = {r["attribute"]: r["value"] for r in json.loads(run.reportables_json)}
    assert values["ido_activity"] == pytest.approx(0.9, rel=0.1)
    report = analyses.verify_lot(lot.number)
    assert (report.verified, report.failed) == (2, 0)


def test_every_demo_method_analyses_its_demo_file_into_recomputable_results(
    analyst: Any, qa_user: Any
) -> None:
    from secretome.demo import assay_files as demo

    approved_specification(
        qa_user, [*[a for a in release_attributes() if a.code != "vegf"], *demo.demo_attributes()]
    )
    lot = make_lot(analyst)
    rng = np.random.default_rng(12)
    files = {
        "VEGF-ELISA": demo.gen5_vegf_elisa({lot.number: 2500.0}, rng),
        "SECRETOME-5PLEX": demo.xponent_panel({lot.number: {}}, rng),
        "IDO-ACTIVITY": demo.gen5_ido_kynurenine({lot.number: 0.8}, rng),
        "TCELL-SUPPRESSION": demo.gen5_t_cell_suppression({lot.number: 1.2}, rng),
        "ANGIOGENESIS": demo.angiogenesis_table({lot.number: 75.0}, rng),
        "WOUND-HEALING": demo.scratch_table({lot.number: 130.0}, rng),
    }
    expected = 0
    for method in demo.demo_methods():
        plate = files[method.code]
        layout = None
        if method.kind in ("ido-activity", "t-cell-suppression") or method.code == "VEGF-ELISA":
            imports.save_layout(analyst, "layout", plate.layout)
            layout = plate.layout.name
        record = imports.import_file(analyst, method.code, plate.filename, plate.content, layout=layout)
        analyses.draft_method(analyst, "demo method", **method.draft_arguments())
        analyses.approve_method(qa_user, "approve", f"{method.code}@1", PASSWORD)
        run = analyses.analyse(analyst, method.title, [record.pk], method.code)
        reported = {r["attribute"] for r in json.loads(run.reportables_json)}
        assert reported == set(method.attributes), method.code
        expected += len(analyses.accept_run(analyst, "accepted", run.number))
    assert expected == 11  # VEGF, five panel analytes, IDO, suppression and its RP, tubes, wound
    report = analyses.verify_lot(lot.number)
    assert (report.verified, report.failed) == (expected, 0)
