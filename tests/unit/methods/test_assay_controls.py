"""Assay controls: the relative-potency kind's control preparations, the control values read from a stored
run result, and the Levey-Jennings chart of a control against hand-computed limits and rules."""

from __future__ import annotations

import datetime as dt
import math
import statistics

import numpy as np
import pytest

from secretome.analysis.trending import LeveyJennings
from secretome.demo.instrument_files import DEMO_POTENCY_CONTROL, potency_plate
from secretome.instruments.detect import read
from secretome.methods.base import Decisions, LotContext, MethodInput, RunContext
from secretome.methods.controls import (
    ControlLimitsSegment,
    RunFacts,
    baseline_limits,
    control_observations,
    levey_jennings,
)
from secretome.methods.registry import get_kind

POTENCY = get_kind("relative-potency")
WHEN = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def facts(kind: str, inputs: tuple[tuple[int, str], ...] = ((7, "plate.txt"),)) -> RunFacts:
    return RunFacts("M", 2, kind, "AR-2026-0001", WHEN, WHEN + dt.timedelta(hours=1), inputs)


def potency_input(seed: int, control: dict[str, float] | None) -> MethodInput:
    content, layout = potency_plate(np.random.default_rng(seed), {"L1": 1.2, "L2": 0.7}, "P", control=control)
    return MethodInput(3, "0" * 64, "plate.csv", read(content, "plate.csv"), layout, content)


def test_a_declared_control_preparation_is_charted_not_reported_as_a_lot() -> None:
    settings = POTENCY.check_settings({"control_preparations": ["CTRL"]})
    outcome = POTENCY.analyse([potency_input(5, DEMO_POTENCY_CONTROL)], settings, Decisions(), RunContext())
    assert sorted(r.lot for r in outcome.reportables) == []  # L1, L2 name no lot record in this context
    assert not any("CTRL" in flag for flag in outcome.flags)
    [entry] = outcome.result["assay_controls"]
    assert entry["name"] == "CTRL" and entry["unit"] == "%" and entry["input"] == 3
    # true relative potency 0.9: the plate's 2 % noise keeps the estimate within a few per cent
    assert entry["relative_potency"] == pytest.approx(90.0, rel=0.06)
    assert entry["ci_low"] < entry["relative_potency"] < entry["ci_high"]
    assert len(entry["wells"]) == 16  # eight doses in duplicate
    # the engine takes the control as its system-suitability control, not as a sample to judge
    scopes = {check["scope"] for check in outcome.result["suitability"]["checks"]}
    assert "CTRL" not in scopes and {"L1", "L2"} <= scopes


def test_a_lot_on_a_plate_with_a_control_still_takes_the_run_lot() -> None:
    content, layout = potency_plate(np.random.default_rng(2), {"L1": 1.1}, "P", control={"CTRL": 0.9})
    item = MethodInput(3, "0" * 64, "plate.csv", read(content, "plate.csv"), layout, content)
    settings = POTENCY.check_settings({"control_preparations": ["CTRL"]})
    outcome = POTENCY.analyse([item], settings, Decisions(), RunContext(default_lot="LOT-9"))
    [reportable] = outcome.reportables
    assert reportable.lot == "LOT-9" and reportable.value == pytest.approx(110, rel=0.06)


def test_without_declared_controls_a_method_computes_as_before() -> None:
    # Methods approved before the setting existed store no key: the result carries no assay_controls and a
    # preparation without a lot is flagged, exactly as runs stored then.
    settings = {k: v for k, v in POTENCY.check_settings({}).items() if k != "control_preparations"}
    outcome = POTENCY.analyse([potency_input(5, DEMO_POTENCY_CONTROL)], settings, Decisions(), RunContext())
    assert "assay_controls" not in outcome.result
    assert "preparation 'CTRL' names no lot: not reported" in outcome.flags
    assert "CTRL" in {check["scope"] for check in outcome.result["suitability"]["checks"]}


def test_a_declared_control_missing_from_the_plate_is_flagged() -> None:
    settings = POTENCY.check_settings({"control_preparations": ["CTRL"]})
    outcome = POTENCY.analyse([potency_input(5, None)], settings, Decisions(), RunContext())
    assert outcome.result["assay_controls"] == []
    assert "assay control CTRL not on the plate" in outcome.flags


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("CTRL", "control_preparations: list"),
        (["REF"], "reference standard"),
        (["C", "C"], "twice"),
        ([""], "list"),
    ],
)
def test_bad_control_preparations_are_refused_by_name(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        POTENCY.check_settings({"control_preparations": value})


def test_qc_samples_of_a_standard_curve_result_become_recovery_and_concentration_observations() -> None:
    qc = {"name": "QC-high", "wells": ["A9", "A10"], "nominal": 1000.0, "found": 1032.5, "recovery": 103.25}
    result = {
        "settings": {"concentration_unit": "pg/mL"},
        "curves": [
            {"input": 7, "analyte": "IL-6", "qc_controls": [{**qc, "within_limits": True}]},
            {"input": 8, "analyte": "IL-6", "qc_controls": [{**qc, "recovery": None, "found": None}]},
        ],
    }
    found = control_observations(facts("standard-curve", ((7, "a.txt"), (8, "b.txt"))), result, {})
    assert [(o.quantity, o.value, o.unit, o.filename) for o in found] == [
        ("recovery", 103.25, "%", "a.txt"),
        ("concentration", 1032.5, "pg/mL", "a.txt"),
        ("recovery", None, "%", "b.txt"),
        ("concentration", None, "pg/mL", "b.txt"),
    ]
    first = found[0].to_dict()
    assert first["run"] == "AR-2026-0001" and first["version"] == 2 and first["nominal"] == 1000.0
    assert first["analysed_at"] == "2026-03-01T09:30:00+00:00" and first["wells"] == ["A9", "A10"]
    assert first["within_limits"] is True and found[2].within_limits is False


def test_potency_controls_of_a_stored_result_become_relative_potency_observations() -> None:
    result = {
        "potencies": [],
        "assay_controls": [
            {
                "name": "CTRL",
                "relative_potency": 91.5,
                "ci_low": 84.0,
                "ci_high": 99.6,
                "unit": "%",
                "input": 7,
            }
        ],
    }
    [obs] = control_observations(facts("relative-potency"), result, {"attribute": "potency"})
    assert (obs.control, obs.analyte, obs.quantity, obs.value, obs.interval) == (
        "CTRL",
        "potency",
        "relative potency",
        91.5,
        (84.0, 99.6),
    )
    assert obs.filename == "plate.txt"
    # a potency run stored without the key (before controls were declared) has no observations
    assert control_observations(facts("relative-potency"), {"potencies": []}, {}) == []
    assert control_observations(facts("nta"), result, {}) == []


BASELINE = [100.0, 102.0, 98.0, 101.0, 99.0]


def test_baseline_limits_are_the_mean_and_sample_sd() -> None:
    mean, sd = baseline_limits([*BASELINE, 150.0], 5)
    # by hand: deviations 0, 2, -2, 1, -1 -> sum of squares 10, / (5 - 1) = 2.5
    assert mean == 100.0 and sd == pytest.approx(math.sqrt(2.5), abs=1e-12)
    with pytest.raises(ValueError, match=r"^baseline_n"):
        baseline_limits(BASELINE, 6)
    with pytest.raises(ValueError, match="all equal"):
        baseline_limits([5.0, 5.0, 5.0], 3)


def test_a_shifted_control_fires_nelson_1_and_2_of_3_beyond_2_sd() -> None:
    sd = math.sqrt(2.5)
    # run 6 at 100 + 3.2 SD (beyond 3 SD); runs 7 and 8 at 100 + 2.2 SD (two of three beyond 2 SD)
    values = [*BASELINE, 100 + 3.2 * sd, 100 + 2.2 * sd, 100 + 2.2 * sd]
    ids = [f"AR-{i}" for i in range(1, 9)]
    chart = levey_jennings(values, ids, [ControlLimitsSegment(0, *baseline_limits(values, 5))])
    payload = chart.to_dict()
    assert payload["nelson"]["1"] == [6]
    assert payload["nelson"]["5"] == [7, 8]  # 6, 7 beyond +2 SD; 6, 7, 8 all beyond
    assert payload["western_electric"]["2"] == [7, 8]
    assert payload["points"][5]["z"] == pytest.approx(3.2)
    assert payload["points"][5]["rules"] == ["nelson 1", "western electric 1"]
    assert payload["points"][5]["colour"] == "#d62728"
    assert payload["lines"]["plus_3"] == pytest.approx(100 + 3 * sd)
    assert [s["id"] for s in payload["signals"]] == ["AR-6", "AR-7", "AR-8"]


def test_the_chart_agrees_with_the_pure_levey_jennings_chart_on_random_controls() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        values = list(100 + 5 * rng.standard_normal(40) + np.linspace(0, 8, 40))
        ids = [str(i) for i in range(40)]
        mine = levey_jennings(values, ids, [ControlLimitsSegment(0, *baseline_limits(values, 12))])
        reference = LeveyJennings(12).fit(values, ids)
        assert mine.nelson == reference.nelson
        assert mine.western_electric == reference.western_electric
        assert mine.segments[0].sd == pytest.approx(statistics.stdev(values[:12]), rel=1e-12)


def test_each_run_is_judged_against_the_limits_in_force_for_it() -> None:
    # the old limits (mean 100, SD 1) would put runs 4-5 at +10 SD; re-baselined from run 4 (mean 110, SD 2)
    values = [100.0, 101.0, 99.0, 110.0, 111.0]
    segments = [ControlLimitsSegment(3, 110.0, 2.0, "new"), ControlLimitsSegment(0, 100.0, 1.0, "old")]
    chart = levey_jennings(values, list("abcde"), segments)
    assert chart.segment_of == (0, 0, 0, 1, 1)
    assert chart.nelson[1] == ()
    assert chart.z_score(5) == pytest.approx(0.5)
    payload = chart.to_dict()
    assert [s["label"] for s in payload["segments"]] == ["old", "new"]
    assert (payload["mean"], payload["sd"]) == (110.0, 2.0)
    # the same values against the old limits alone: runs 4 and 5 beyond 3 SD
    assert levey_jennings(values, list("abcde"), segments[1:]).nelson[1] == (4, 5)


def test_bad_chart_input_is_refused() -> None:
    segment = ControlLimitsSegment(0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"^values"):
        levey_jennings([1.0, math.nan], ["a", "b"], [segment])
    with pytest.raises(ValueError, match=r"^ids"):
        levey_jennings([1.0], ["a", "b"], [segment])
    with pytest.raises(ValueError, match=r"^segments"):
        levey_jennings([1.0], ["a"], [ControlLimitsSegment(0, 1.0, 0.0)])


CURVE = get_kind("standard-curve")


def test_multiplex_qc_samples_named_in_the_settings_are_evaluated_per_analyte() -> None:
    from secretome.demo.assay_files import PANEL, panel_qc, panel_settings, xponent_panel

    panel = xponent_panel(
        {"L1": {}}, np.random.default_rng(2), cv=0.03, qc_true={"QC-high": {"IL-6": 1040.0}}
    )
    item = MethodInput(4, "e" * 64, panel.filename, read(panel.content, panel.filename), None, panel.content)
    context = RunContext(lots={"L1": LotContext("L1")})
    outcome = CURVE.analyse([item], CURVE.check_settings(panel_settings()), Decisions(), context)
    recoveries = {(c["analyte"], q["name"]): q for c in outcome.result["curves"] for q in c["qc_controls"]}
    assert set(recoveries) == {(a, n) for a in PANEL for n in ("QC-low", "QC-high")}
    # nominal = a twenty-fifth of the top standard; IL-6's QC-high holds 1040 pg/mL against 800 nominal
    assert recoveries[("IL-6", "QC-high")]["nominal"] == panel_qc()["QC-high"]["IL-6"] == 800.0
    assert recoveries[("IL-6", "QC-high")]["recovery"] == pytest.approx(130, rel=0.08)
    for (analyte, name), qc in recoveries.items():
        if (analyte, name) != ("IL-6", "QC-high"):
            assert qc["recovery"] == pytest.approx(100, abs=15), (analyte, name)
    assert outcome.result["settings"]["qc_samples"] == panel_qc()
    assert [r.lot for r in outcome.reportables] == ["L1"] * len(PANEL)


def test_standard_curve_settings_without_qc_samples_complete_as_before() -> None:
    checked = CURVE.check_settings({"analytes": {"VEGF-A": "vegf"}})
    assert "qc_samples" not in checked  # so runs stored before the setting existed recompute identically
    single = CURVE.check_settings({"analytes": {"VEGF-A": "vegf"}, "qc_samples": {"QC-1": 250}})
    assert single["qc_samples"] == {"QC-1": {"VEGF-A": 250.0}}
    with pytest.raises(ValueError, match="not an analyte"):
        CURVE.check_settings({"analytes": {"VEGF-A": "vegf"}, "qc_samples": {"QC-1": {"IL-6": 5}}})
    with pytest.raises(ValueError, match="positive"):
        CURVE.check_settings({"analytes": {"VEGF-A": "vegf"}, "qc_samples": {"QC-1": 0}})
    with pytest.raises(ValueError, match=r"^qc_samples"):
        CURVE.check_settings({"analytes": {"VEGF-A": "vegf"}, "qc_samples": ["QC-1"]})
