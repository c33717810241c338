"""Builders the assay-control tests share: a VEGF-A ELISA method and a series of accepted runs, one Gen5 plate
(and one lot) each, whose QC samples are what the control chart reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from secretome.demo.assay_files import gen5_vegf_elisa, vegf_elisa_settings
from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind
from secretome.services import analyses, imports
from tests.integration.release_support import PASSWORD, approved_specification, make_lot, release_attributes

METHOD = "VEGF-ELISA"


def elisa_method(analyst: Any, qa_user: Any) -> Any:
    """An approved specification with report-only VEGF-A and an approved ELISA method (pg/mL)."""
    attributes = [a for a in release_attributes() if a.code != "vegf"]
    attributes.append(
        AttributeSpec(
            "vegf",
            "VEGF-A",
            "ELISA, standard curve",
            "pg/mL",
            Criterion(CriterionKind.REPORT_ONLY),
            category="secretome",
            release_test=False,
            analysis_kind="standard-curve",
        )
    )
    approved_specification(qa_user, attributes)
    analyses.draft_method(
        analyst,
        "VEGF method",
        code=METHOD,
        title="VEGF-A ELISA, 4PL",
        kind="standard-curve",
        settings=vegf_elisa_settings(),
        attributes=["vegf"],
        reporting_unit="pg/mL",
        normalisation="per_ml",
    )
    return analyses.approve_method(qa_user, "approve", f"{METHOD}@1", PASSWORD)


def accepted_elisa_runs(
    analyst: Any, count: int, *, shifted: Mapping[int, Mapping[str, float]] | None = None, seed: int = 40
) -> list[Any]:
    """``count`` plates, one lot each, analysed and accepted in order; ``shifted`` maps a plate index (from 0)
    to the true QC concentrations of that plate (a QC material gone wrong)."""
    runs = []
    for index in range(count):
        lot = make_lot(analyst)
        plate = gen5_vegf_elisa(
            {lot.number: 1500.0},
            np.random.default_rng(seed + index),
            cv=0.03,
            qc_true=(shifted or {}).get(index),
        )
        layout = imports.save_layout(analyst, "VEGF layout", plate.layout)
        record = imports.import_file(
            analyst,
            "VEGF plate",
            f"vegf-{index + 1:02d}.txt",
            plate.content,
            layout=f"{layout.name}@{layout.version}",
        )
        run = analyses.analyse(analyst, "VEGF of the lot", [record.pk], METHOD)
        analyses.accept_run(analyst, "accepted", run.number)
        runs.append(run)
    return runs


def stored_recoveries(runs: Sequence[Any], control: str) -> list[float]:
    """The recovery of ``control`` as each run stored it, read straight from the result JSON."""
    import json

    values = []
    for run in runs:
        [curve] = json.loads(run.result_json)["curves"]
        [qc] = [q for q in curve["qc_controls"] if q["name"] == control]
        values.append(float(qc["recovery"]))
    return values
