"""Assay controls on the database: QC samples of accepted ELISA runs and the potency control of accepted
potency runs charted Levey-Jennings, limits from a baseline computed here, rules on a shifted control, QA
approval and re-baselining that keep the earlier limits, and the command line."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from secretome.demo.instrument_files import potency_plate
from secretome.services import analyses, imports
from secretome.services import controls as assay_controls
from secretome.services.errors import Forbidden, NotFound, ServiceError
from tests.integration.controls_support import METHOD, accepted_elisa_runs, elisa_method, stored_recoveries
from tests.integration.release_support import PASSWORD, make_lot

pytestmark = pytest.mark.django_db


@pytest.fixture(name="runs")
def runs_fixture(analyst: Any, qa_user: Any) -> list[Any]:
    elisa_method(analyst, qa_user)
    # plate 7 (index 6): the QC-high material at 650 pg/mL instead of 500 (130 % recovery)
    return accepted_elisa_runs(analyst, 7, shifted={6: {"QC-high": 650.0}})


def test_the_chart_of_a_qc_sample_has_the_baseline_mean_and_sd_and_flags_the_shifted_run(
    runs: list[Any],
) -> None:
    recoveries = stored_recoveries(runs, "QC-high")
    payload = assay_controls.control_chart(METHOD, "QC-high", baseline_n=5)
    assert payload["analyte"] == "VEGF-A" and payload["quantity"] == "recovery" and payload["unit"] == "%"
    assert [o["run"] for o in payload["observations"]] == [r.number for r in runs]
    assert [o["value"] for o in payload["observations"]] == recoveries
    chart = payload["chart"]
    assert chart["mean"] == pytest.approx(statistics.mean(recoveries[:5]), rel=1e-12)
    assert chart["sd"] == pytest.approx(statistics.stdev(recoveries[:5]), rel=1e-12)
    assert payload["limits"] == {"origin": "baseline", "baseline_n": 5, "first_run": runs[0].number}
    # the 3 % well noise keeps the in-control recoveries within a few per cent; the shifted one is ~130 %
    assert all(90 < r < 110 for r in recoveries[:6]) and 120 < recoveries[6] < 140
    assert chart["nelson"]["1"] == [7]
    assert payload["signals"][-1]["id"] == runs[6].number
    assert "nelson 1" in payload["signals"][-1]["rules"]
    # the run itself flagged the QC out of its 80-120 % limits
    assert payload["observations"][6]["within_limits"] is False
    assert payload["observations"][0]["filename"] == "vegf-01.txt"


def test_without_approved_limits_the_chart_is_provisional_from_the_first_runs(runs: list[Any]) -> None:
    payload = assay_controls.control_chart(METHOD, "QC-low")
    values = [o["value"] for o in payload["observations"]]
    assert payload["limits"]["origin"] == "provisional" and payload["limits"]["baseline_n"] == 7
    assert payload["chart"]["mean"] == pytest.approx(statistics.mean(values), rel=1e-12)
    concentration = assay_controls.control_chart(METHOD, "QC-low", quantity="concentration")
    assert concentration["unit"] == "pg/mL"
    # recovery = 100 x found / nominal (80 pg/mL in the well)
    assert [o["nominal"] for o in concentration["observations"]] == [80.0] * 7
    assert [o["value"] for o in concentration["observations"]] == pytest.approx(
        [v * 80.0 / 100 for v in values], rel=1e-12
    )
    assert {c["control"] for c in assay_controls.method_controls(METHOD)} == {"QC-low", "QC-high"}


def test_approving_and_re_baselining_keep_the_old_limits_on_record_and_on_the_chart(
    runs: list[Any], analyst: Any, qa_user: Any
) -> None:
    from secretome.db.core.models import AuditEvent

    recoveries = stored_recoveries(runs, "QC-high")
    with pytest.raises(Forbidden):
        assay_controls.approve_control_limits(analyst, "try", METHOD, "QC-high", baseline_n=4)
    first = assay_controls.approve_control_limits(
        qa_user, "limits from the first four plates", METHOD, "QC-high", baseline_n=4
    )
    assert first.mean == pytest.approx(statistics.mean(recoveries[:4]), rel=1e-12)
    assert first.sd == pytest.approx(statistics.stdev(recoveries[:4]), rel=1e-12)
    assert first.baseline_runs == [[r.number, v] for r, v in zip(runs[:4], recoveries[:4], strict=True)]
    payload = assay_controls.control_chart(METHOD, "QC-high")
    assert payload["limits"]["origin"] == "approved" and payload["limits"]["approved_by"] == "quinn"
    assert payload["chart"]["mean"] == first.mean
    second = assay_controls.approve_control_limits(
        qa_user, "new QC material from plate 3", METHOD, "QC-high", first_run=runs[2].number, baseline_n=3
    )
    assert second.supersedes_id == first.pk
    payload = assay_controls.control_chart(METHOD, "QC-high")
    segments = payload["chart"]["segments"]
    assert [s["first_index"] for s in segments] == [1, 3]
    assert segments[0]["mean"] == first.mean and segments[1]["mean"] == second.mean
    assert [h["superseded"] for h in payload["limit_history"]] == [True, False]
    assert [p["segment"] for p in payload["chart"]["points"]] == [0, 0, 1, 1, 1, 1, 1]
    z = (recoveries[6] - second.mean) / second.sd
    assert payload["chart"]["points"][6]["z"] == pytest.approx(z)
    actions = list(
        AuditEvent.objects.filter(object_type="assay control limits").values_list("action", flat=True)
    )
    assert actions == ["approve assay control limits", "re-baseline assay control limits"]
    with pytest.raises(ServiceError, match="first_run"):
        assay_controls.approve_control_limits(
            qa_user, "earlier", METHOD, "QC-high", first_run=runs[1].number, baseline_n=3
        )
    with pytest.raises(ServiceError, match="baseline_n"):
        assay_controls.approve_control_limits(qa_user, "too many", METHOD, "QC-high", baseline_n=30)


def test_unknown_methods_controls_and_analytes_are_refused_by_name(runs: list[Any]) -> None:
    with pytest.raises(NotFound, match="method"):
        assay_controls.control_chart("NOPE", "QC-high")
    with pytest.raises(NotFound, match=r"it has QC-high, QC-low"):
        assay_controls.control_chart(METHOD, "QC-mid")
    with pytest.raises(NotFound, match="analyte"):
        assay_controls.control_chart(METHOD, "QC-high", analyte="IL-6")
    with pytest.raises(ServiceError, match="quantity"):
        assay_controls.control_chart(METHOD, "QC-high", quantity="relative potency")


def test_a_sent_back_run_leaves_the_chart(runs: list[Any], reviewer: Any) -> None:
    analyses.return_run(reviewer, "wrong plate", runs[6].number)
    payload = assay_controls.control_chart(METHOD, "QC-high")
    assert [o["run"] for o in payload["observations"]] == [r.number for r in runs[:6]]


def test_the_potency_control_of_each_plate_is_charted_and_the_runs_recompute(
    analyst: Any, qa_user: Any
) -> None:
    from tests.integration.release_support import approved_specification
    from tests.integration.test_analysis_runs import computed_attributes

    approved_specification(qa_user, computed_attributes())
    analyses.draft_method(
        analyst,
        "potency method",
        code="IDO-RP",
        title="IDO activity, parallel 4PL, assay control CTRL",
        kind="relative-potency",
        settings={"reference": "REF", "model": "4pl", "control_preparations": ["CTRL"]},
        attributes=["potency"],
        reporting_unit="%",
        normalisation="none",
    )
    analyses.approve_method(qa_user, "approve", "IDO-RP@1", PASSWORD)
    runs = []
    for index in range(4):
        lot = make_lot(analyst)
        content, layout = potency_plate(
            np.random.default_rng(60 + index), {lot.number: 1.1}, f"P{index}", control={"CTRL": 0.9}
        )
        saved = imports.save_layout(analyst, "potency layout", layout)
        record = imports.import_file(
            analyst, "plate", f"ido-{index}.csv", content, layout=f"{saved.name}@{saved.version}"
        )
        run = analyses.analyse(analyst, "potency", [record.pk], "IDO-RP")
        [reportable] = json.loads(run.reportables_json)
        assert reportable["lot"] == lot.number
        analyses.accept_run(analyst, "accepted", run.number)
        runs.append(run)
        assert analyses.verify_run(run.number).match
    payload = assay_controls.control_chart("IDO-RP", "CTRL")
    assert payload["quantity"] == "relative potency" and payload["analyte"] == "potency"
    stored = [json.loads(r.result_json)["assay_controls"][0] for r in runs]
    assert [o["value"] for o in payload["observations"]] == [s["relative_potency"] for s in stored]
    assert [o["interval"] for o in payload["observations"]] == [[s["ci_low"], s["ci_high"]] for s in stored]
    assert all(o["value"] == pytest.approx(90, rel=0.08) for o in payload["observations"])
    assert payload["chart"]["mean"] == pytest.approx(statistics.mean(s["relative_potency"] for s in stored))


def test_the_command_line_charts_a_control(run_cli: Callable[..., Any], analyst: Any, qa_user: Any) -> None:
    elisa_method(analyst, qa_user)
    runs = accepted_elisa_runs(analyst, 4, shifted={3: {"QC-high": 700.0}})
    result = run_cli("trend", "controls", METHOD, "--control", "QC-high", "--baseline", "3", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    recoveries = stored_recoveries(runs, "QC-high")
    assert payload["chart"]["mean"] == pytest.approx(statistics.mean(recoveries[:3]), rel=1e-12)
    assert payload["chart"]["nelson"]["1"] == [4]
    table = run_cli("trend", "controls", METHOD, "--control", "QC-high", "--baseline", "3")
    assert table.exit_code == 0 and runs[3].number in table.output and "nelson 1" in table.output
    refused = run_cli("trend", "controls", METHOD, "--control", "QC-mid")
    assert refused.exit_code == 2 and "QC-mid" in refused.output
    approved = run_cli(
        "trend", "approve-controls", METHOD, "--control", "QC-high", "--baseline", "3",
        "--reason", "first plates", "--as", "quinn", "--password-stdin", "--json",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["mean"] == pytest.approx(statistics.mean(recoveries[:3]), rel=1e-12)
