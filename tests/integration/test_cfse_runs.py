"""CFSE suppression tubes (FCS) from bytes to an accepted, recomputed lot result through the import and
analysis services with the ``t-cell-suppression-flow`` kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from secretome.demo import cfse_files
from secretome.services import analyses, imports
from tests.integration.release_support import PASSWORD, approved_specification, make_lot, release_attributes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, name="data_directory")
def data_directory_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


def test_cfse_tubes_become_an_accepted_suppression_result_that_recomputes(analyst: Any, qa_user: Any) -> None:
    approved_specification(qa_user, [*release_attributes(), *cfse_files.attributes()])
    lot = make_lot(analyst)
    files = cfse_files.suppression_files({lot.number: 1.0}, seed=21, events=5000, replicates=1)
    records = []
    for name, content in files.items():
        sample = cfse_files.read_source(content)
        records.append(
            imports.import_file(
                analyst, "CFSE tube", name, content, lot=lot.number if sample == lot.number else None
            ).pk
        )
    draft = cfse_files.method_draft()
    analyses.draft_method(analyst, "CFSE method", **draft)
    analyses.approve_method(qa_user, "approve", f"{draft['code']}@1", PASSWORD)
    run = analyses.analyse(analyst, "CFSE suppression", records, draft["code"])
    reportables = json.loads(run.reportables_json)
    assert [(r["lot"], r["attribute"], r["unit"]) for r in reportables] == [
        (lot.number, cfse_files.ATTRIBUTE, "%")
    ]
    # The model's % inhibition at 25 % CM for relative potency 1: 2 + 90 / (1 + (10/25)^1.3) = 71.0 %.
    assert reportables[0]["value"] == pytest.approx(cfse_files.true_inhibition(25.0), abs=7.0)
    assert len(json.loads(run.result_json)["tubes"]) == len(files) == 2 + 2 * len(cfse_files.DOSES)
    results = analyses.accept_run(analyst, "gating and fits checked", run.number)
    assert len(results) == 1
    report = analyses.verify_lot(lot.number)
    assert (report.verified, report.failed) == (1, 0)


def test_a_tube_can_be_excluded_by_import_and_tube_name(analyst: Any, qa_user: Any) -> None:
    approved_specification(qa_user, [*release_attributes(), *cfse_files.attributes()])
    lot = make_lot(analyst)
    files = cfse_files.suppression_files({lot.number: 1.0}, seed=22, events=3000, replicates=2)
    records = [imports.import_file(analyst, "CFSE tube", n, c) for n, c in files.items()]
    draft = cfse_files.method_draft()
    analyses.draft_method(analyst, "CFSE method", **draft)
    analyses.approve_method(qa_user, "approve", f"{draft['code']}@1", PASSWORD)
    stimulated = next(r for r in records if r.filename.endswith("_stimulated.fcs"))
    run = analyses.analyse(
        analyst,
        "CFSE suppression",
        [r.pk for r in records],
        draft["code"],
        exclude={f"{stimulated.pk}:stimulated": "sample clogged the flow cell"},
    )
    result = json.loads(run.result_json)
    assert len(result["stimulated"]) == 1
    assert f"{stimulated.pk}:stimulated" not in run.used
