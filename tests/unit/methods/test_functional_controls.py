"""Assay controls of the functional potency kinds (angiogenesis, T-cell suppression on plates and by dye
dilution, IDO activity, wound healing): the observations equal hand computations from the stored result, a
shifted control fires the expected rules on exactly the shifted runs, and methods without the new settings
store what they stored before and chart nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from secretome.demo.assay_files import ANGIOGENESIS_HEADER
from secretome.domain.plate_layout import PlateLayout, WellAssignment, WellRole
from secretome.instruments.detect import read
from secretome.methods.base import Decisions, KindOutcome, LotContext, MethodInput, RunContext
from secretome.methods.controls import (
    QUANTITIES,
    ControlLimitsSegment,
    RunFacts,
    control_observations,
    levey_jennings,
)
from secretome.methods.registry import get_kind
from tests.unit.methods.plates import plate_input
from tests.unit.methods.test_assay_kinds import suppression_plate

WHEN = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
LOT = "MSC-CM-001"


def facts(kind: str, run: int = 1) -> RunFacts:
    return RunFacts("M", 1, kind, f"AR-2026-{run:04d}", WHEN, WHEN, ((7, "file.csv"),))


def analyse(kind: str, inp: MethodInput, settings: Mapping[str, Any]) -> tuple[KindOutcome, dict[str, Any]]:
    """The outcome and its result as the run stores it (JSON, read back)."""
    k = get_kind(kind)
    checked = k.check_settings(settings)
    context = RunContext(lots={LOT: LotContext(LOT)})
    outcome = k.analyse([inp], checked, Decisions(), context)
    return outcome, json.loads(json.dumps(outcome.result))


def observe(kind: str, result: Mapping[str, Any], run: int = 1) -> list[Any]:
    return control_observations(facts(kind, run), result, result["settings"])


# --- input builders with exact control values -------------------------------------------------------------


def angiogenesis_input(vegf: float, reference: float = 9000.0) -> MethodInput:
    """Tube lengths (pixels) of VEGF, basal, a reference lot and a lot, three images each."""
    column = ANGIOGENESIS_HEADER.index("Tot. lenght")
    lines = [",".join([" ", *ANGIOGENESIS_HEADER])]
    groups = {"VEGF": vegf, "basal": 4200.0, "REF": reference, LOT: 8000.0}
    row = 0
    for group, length in groups.items():
        for replicate, wiggle in enumerate((0.97, 1.0, 1.03), start=1):
            row += 1
            cells = ["0"] * len(ANGIOGENESIS_HEADER)
            cells[0] = f"{group}_{replicate}.tif"
            cells[column] = f"{length * wiggle:.3f}"
            lines.append(",".join([str(row), *cells]))
    content = ("\n".join(lines) + "\n").encode()
    return MethodInput(7, "a" * 64, "angio.csv", read(content, "angio.csv"), None, content)


def wound_input(control_closure: float) -> MethodInput:
    """Wound areas falling linearly: the control medium closes ``control_closure`` % by 24 h, the lot 60 %."""
    lines = ["Well,Sample,Time (h),Area (um^2)"]
    for row, (sample, closure) in zip("AB", (("control", control_closure), (LOT, 60.0)), strict=True):
        for column, initial in ((1, 1.0e6), (2, 1.2e6), (3, 0.9e6)):
            for hours in (0.0, 12.0, 24.0):
                area = initial * (1 - closure / 100 * hours / 24)
                lines.append(f"{row}{column},{sample},{hours:g},{area:.6f}")
    content = ("\n".join(lines) + "\n").encode()
    return MethodInput(7, "a" * 64, "scratch.csv", read(content, "scratch.csv"), None, content)


def suppression_input(stimulated: float) -> MethodInput:
    """The test plate of the plate kind (REF and a lot at seven doses) with the stimulated wells at
    ``stimulated``, and a control preparation CTRL (the reference's curve at twice its IC50)."""
    base = suppression_plate()
    assert base.layout is not None
    responses = {m.well: m.value for m in base.reading.measurements}
    wells = dict(base.layout.wells)
    for well, assignment in base.layout.wells.items():
        if assignment.name == "stimulated":
            responses[well] = stimulated
    doses = sorted({a.level for a in wells.values() if a.name == "REF" and a.level is not None})
    for k, dose in enumerate(doses):
        inhibition = 2 + 90 / (1 + (20.0 / dose) ** 1.3)
        for row in "GH":
            wells[f"{row}{k + 1}"] = WellAssignment(WellRole.TEST, "CTRL", dose)
            responses[f"{row}{k + 1}"] = 0.1 + (1 - inhibition / 100) * 1.9
    return plate_input(responses, PlateLayout("suppression", 96, wells), import_id=7)


KYNURENINE_STANDARDS = (0.0, 6.25, 12.5, 25.0, 50.0, 100.0)


def ido_input(qc_high: float) -> MethodInput:
    """A kynurenine plate on an exact line (A = 0.05 + 0.01 x uM): standards in duplicate, QC-low (10 uM,
    holding 10 uM) and QC-high (40 uM nominal, holding ``qc_high`` uM), a reference lot REF (30 uM) and a
    lot (20 uM)."""
    wells: dict[str, WellAssignment] = {}
    responses: dict[str, float] = {}

    def put(well: str, assignment: WellAssignment, kynurenine: float) -> None:
        wells[well] = assignment
        responses[well] = 0.05 + 0.01 * kynurenine

    for index, level in enumerate(KYNURENINE_STANDARDS):
        for column in (1, 2):
            put(
                f"{'ABCDEF'[index]}{column}",
                WellAssignment(WellRole.STANDARD, f"STD{index + 1}", level),
                level,
            )
    for column in (3, 4):
        put(f"A{column}", WellAssignment(WellRole.QC, "QC-low", 10.0), 10.0)
        put(f"B{column}", WellAssignment(WellRole.QC, "QC-high", 40.0), qc_high)
        put(f"C{column}", WellAssignment(WellRole.UNKNOWN, "REF", 1.0), 30.0)
        put(f"D{column}", WellAssignment(WellRole.UNKNOWN, LOT, 1.0), 20.0)
    return plate_input(responses, PlateLayout("ido", 96, wells, unit="uM"), import_id=7, wavelength="490 nm")


IDO_SETTINGS = {"attribute": "ido_activity", "cells": 1e6, "volume_ml": 0.2, "hours": 48.0}


# --- observations against hand computations ----------------------------------------------------------------


def test_angiogenesis_charts_the_vegf_response_and_the_reference_percent_of_it() -> None:
    settings = {"attribute": "angiogenesis", "reference": "REF", "chart_controls": True}
    _, result = analyse("angiogenesis", angiogenesis_input(12500.0), settings)
    response, percent = observe("angiogenesis", result)
    vegf = result["groups"]["VEGF"]["values"]
    assert (response.control, response.analyte, response.quantity, response.unit) == (
        "VEGF",
        "total tube length",
        "response",
        "pixels",
    )
    assert response.value == pytest.approx(sum(vegf) / len(vegf), rel=1e-12, abs=0)
    assert response.value == pytest.approx(12500.0, rel=1e-12)  # wiggles 0.97, 1, 1.03 average out
    ref = result["groups"]["REF"]["values"]
    assert (percent.control, percent.analyte, percent.quantity, percent.unit) == (
        "REF",
        "angiogenesis",
        "percent of positive control",
        "%",
    )
    assert percent.value == pytest.approx(100 * np.mean(ref) / np.mean(vegf), rel=1e-12)
    assert percent.value == pytest.approx(72.0, rel=1e-9)  # 9000 / 12500
    assert percent.interval is not None and percent.interval[0] < percent.value < percent.interval[1]
    assert response.filename == "file.csv" and response.input == 7 and response.run == "AR-2026-0001"


def test_wound_healing_charts_the_control_medium_closure() -> None:
    _, result = analyse("wound-healing", wound_input(45.0), {"attribute": "wh", "chart_controls": True})
    [closure] = observe("wound-healing", result)
    stored = result["groups"]["control"]["closure_at"]
    assert (closure.control, closure.analyte, closure.quantity, closure.unit) == (
        "control",
        "wound closure at 24 h",
        "closure",
        "%",
    )
    assert closure.value == pytest.approx(sum(stored) / len(stored), rel=1e-12)
    assert closure.value == pytest.approx(45.0, rel=1e-9)
    assert len(closure.wells) == 3


def test_t_cell_suppression_charts_stimulated_window_reference_and_control_preparation() -> None:
    settings = {
        "attribute": "t_cell_suppression",
        "report_dose": 25.0,
        "chart_controls": True,
        "control_preparations": ["CTRL"],
    }
    outcome, result = analyse("t-cell-suppression", suppression_input(2.0), settings)
    # CTRL is charted, not reported; the lot still reports
    assert [r.lot for r in outcome.reportables] == [LOT]
    found = {(o.control, o.quantity): o for o in observe("t-cell-suppression", result)}
    assert list(found) == [
        ("stimulated", "response"),
        ("stimulated", "stimulation index"),
        ("unstimulated", "response"),
        ("REF", "inhibition"),
        ("CTRL", "inhibition"),
        ("CTRL", "relative potency"),
    ]
    stimulated, unstimulated = result["stimulated"], result["unstimulated"]
    assert found[("stimulated", "response")].value == pytest.approx(np.mean(stimulated), rel=1e-12)
    assert found[("unstimulated", "response")].value == pytest.approx(np.mean(unstimulated), rel=1e-12)
    assert found[("unstimulated", "response")].value == pytest.approx(0.1, rel=1e-12)  # the background
    assert found[("stimulated", "stimulation index")].value == pytest.approx(
        np.mean(stimulated) / np.mean(unstimulated), rel=1e-12
    )
    assert found[("stimulated", "stimulation index")].value == pytest.approx(20.0, rel=1e-12)  # 2.0 / 0.1
    assert found[("REF", "inhibition")].value == result["preparations"]["REF"]["inhibition_at"]
    # independent: the plate follows 2 + 90 / (1 + (IC50 / dose)^1.3), IC50 10 % v/v for REF, 20 for CTRL
    assert found[("REF", "inhibition")].value == pytest.approx(2 + 90 / (1 + (10 / 25) ** 1.3), rel=5e-3)
    assert found[("CTRL", "inhibition")].value == pytest.approx(2 + 90 / (1 + (20 / 25) ** 1.3), rel=5e-3)
    [ctrl] = [p for p in result["potency"]["potencies"] if p["preparation"] == "CTRL"]
    rp = found[("CTRL", "relative potency")]
    assert rp.value == ctrl["relative_potency"] and rp.value == pytest.approx(0.5, rel=5e-3)
    assert rp.interval == (ctrl["ci"]["low"], ctrl["ci"]["high"])
    assert {o.analyte for o in found.values()} == {"proliferation", "t_cell_suppression"}
    assert all(o.quantity in QUANTITIES for o in found.values())


def test_ido_activity_charts_qc_recovery_and_the_reference_lot_activity() -> None:
    settings = {**IDO_SETTINGS, "chart_controls": True, "control_preparations": ["REF"]}
    outcome, result = analyse("ido-activity", ido_input(40.0), settings)
    assert [r.lot for r in outcome.reportables] == [LOT]
    found = {(o.control, o.quantity): o for o in observe("ido-activity", result)}
    assert list(found) == [
        ("QC-high", "recovery"),
        ("QC-high", "concentration"),
        ("QC-low", "recovery"),
        ("QC-low", "concentration"),
        ("REF", "IDO activity"),
    ]
    for entry in result["qc_controls"]:
        recovery = found[(entry["name"], "recovery")]
        assert recovery.value == pytest.approx(100 * entry["found"] / entry["nominal"], rel=1e-12)
        # the line is exact: the QC reads back its nominal
        assert recovery.value == pytest.approx(100.0, rel=1e-9) and recovery.within_limits is True
        assert found[(entry["name"], "concentration")].unit == "uM"
        assert recovery.wells == tuple(entry["wells"]) and len(recovery.wells) == 2
    activity = found[("REF", "IDO activity")]
    assert activity.value == result["samples"]["REF"]["activity"]["value"]
    # 30 uM x 0.2 mL / (1e6 cells / 1e6) / 48 h = 0.125 nmol/10^6 cells/h
    assert activity.value == pytest.approx(30 * 0.2 / 48, rel=1e-9)
    assert activity.unit == "nmol/10^6 cells/h"


def test_ido_qc_out_of_its_recovery_limits_is_judged_so() -> None:
    _, result = analyse("ido-activity", ido_input(52.0), {**IDO_SETTINGS, "chart_controls": True})
    recovery = next(o for o in observe("ido-activity", result) if o.control == "QC-high")
    assert recovery.value == pytest.approx(130.0, rel=1e-9) and recovery.within_limits is False


def test_t_cell_suppression_flow_charts_its_stimulated_tubes() -> None:
    # The stored result of a flow run, as the kind writes it (only the keys the chart reads).
    result = {
        "settings": {"attribute": "cfse", "stimulated": "stim", "chart_controls": True},
        "readout": "percent_divided",
        "reference": "REF",
        "tubes": [
            {"key": "5:stim 1", "condition": "stimulated"},
            {"key": "5:stim 2", "condition": "stimulated"},
            {"key": "5:unstim", "condition": "unstimulated"},
        ],
        "stimulated": [71.0, 73.5],
        "unstimulated": [4.0],
        "stimulated_mean": 72.25,
        "unstimulated_mean": 4.0,
        "stimulation_index": 72.25 / 4.0,
        "preparations": {"REF": {"inhibition_at": 55.5}},
        "potency": None,
    }
    found = observe("t-cell-suppression-flow", result)
    assert [(o.control, o.analyte, o.quantity, o.value, o.unit) for o in found] == [
        ("stim", "percent divided", "response", 72.25, "%"),
        ("stim", "percent divided", "stimulation index", 72.25 / 4.0, ""),
        ("unstimulated", "percent divided", "response", 4.0, "%"),
        ("REF", "cfse", "inhibition", 55.5, "%"),
    ]
    assert found[0].wells == ("5:stim 1", "5:stim 2") and found[2].wells == ("5:unstim",)


# --- old methods: same stored result, no observations ------------------------------------------------------

OLD_AND_NEW: list[tuple[str, Callable[[], MethodInput], dict[str, Any], dict[str, Any]]] = [
    (
        "angiogenesis",
        lambda: angiogenesis_input(12500.0),
        {"attribute": "angiogenesis", "reference": "REF"},
        {"chart_controls": True},
    ),
    ("wound-healing", lambda: wound_input(45.0), {"attribute": "wh"}, {"chart_controls": True}),
    (
        "t-cell-suppression",
        lambda: suppression_input(2.0),
        {"attribute": "tcs", "rp_attribute": "rp"},
        {"chart_controls": True, "control_preparations": ["CTRL"]},
    ),
    (
        "ido-activity",
        lambda: ido_input(40.0),
        IDO_SETTINGS,
        {"chart_controls": True, "control_preparations": ["REF"]},
    ),
]


@pytest.mark.parametrize(("kind", "make", "old", "new"), OLD_AND_NEW, ids=[k for k, *_ in OLD_AND_NEW])
def test_a_method_without_the_control_settings_stores_the_same_result_and_charts_nothing(
    kind: str, make: Callable[[], MethodInput], old: dict[str, Any], new: dict[str, Any]
) -> None:
    before, stored = analyse(kind, make(), old)
    assert not set(new) & set(stored["settings"])
    assert "qc_controls" not in stored
    assert observe(kind, stored) == []
    after, charted = analyse(kind, make(), {**old, **new})
    assert observe(kind, charted)
    # the control settings add their keys (and the QC read-back) and change no stored number
    for key in ("settings", "qc_controls"):
        stored.pop(key, None)
        charted.pop(key, None)
    assert stored == charted
    assert before.reportables == after.reportables


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        ("angiogenesis", {"attribute": "a", "chart_controls": "yes"}, "chart_controls: true or false"),
        ("wound-healing", {"attribute": "a", "chart_controls": 1}, "chart_controls: true or false"),
        (
            "t-cell-suppression",
            {"attribute": "a", "control_preparations": "CTRL"},
            "control_preparations: list",
        ),
        ("ido-activity", {**IDO_SETTINGS, "control_preparations": ["R", "R"]}, "twice"),
        (
            "angiogenesis",
            {"attribute": "a", "control_preparations": ["R"]},
            "control_preparations: not a setting",
        ),
    ],
)
def test_bad_control_settings_are_refused_by_name(kind: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_kind(kind).check_settings(settings)


# --- a shifted control on the chart ------------------------------------------------------------------------

#: Control values run after run: on target, then run 8 far above (a QC material gone wrong), then back.
Z_SCORES = (0.0, -0.5, 0.5, 0.0, -0.25, 0.25, 0.0, 3.5, 0.0, -0.5)

SHIFTS: list[tuple[str, float, float, Callable[[float], MethodInput], dict[str, Any], str]] = [
    (
        "angiogenesis",
        12500.0,
        400.0,
        angiogenesis_input,
        {"attribute": "a", "chart_controls": True},
        "response",
    ),
    ("wound-healing", 45.0, 2.0, wound_input, {"attribute": "w", "chart_controls": True}, "closure"),
    (
        "t-cell-suppression",
        2.0,
        0.05,
        suppression_input,
        {"attribute": "t", "chart_controls": True},
        "response",
    ),
    ("ido-activity", 40.0, 2.0, ido_input, {**IDO_SETTINGS, "chart_controls": True}, "concentration"),
]


@pytest.mark.parametrize(
    ("kind", "target", "sd", "make", "settings", "quantity"), SHIFTS, ids=[s[0] for s in SHIFTS]
)
def test_a_shifted_control_fires_nelson_1_on_exactly_the_shifted_run(
    kind: str,
    target: float,
    sd: float,
    make: Callable[[float], MethodInput],
    settings: dict[str, Any],
    quantity: str,
) -> None:
    values = []
    for run, z in enumerate(Z_SCORES, start=1):
        _, result = analyse(kind, make(target + z * sd), settings)
        [obs] = [
            o
            for o in observe(kind, result, run)
            if o.quantity == quantity and o.control not in ("QC-low", "unstimulated")
        ]
        values.append(obs.value)
    assert values == pytest.approx([target + z * sd for z in Z_SCORES], rel=1e-9)
    chart = levey_jennings(values, [f"R{i}" for i in range(1, 11)], [ControlLimitsSegment(0, target, sd)])
    assert chart.to_dict()["signals"] == [
        {"index": 8, "id": "R8", "rules": ["nelson 1", "western electric 1"]}
    ]


def test_t_cell_suppression_flow_charts_the_controls_of_simulated_fcs_tubes() -> None:
    from secretome.demo.cfse_files import (
        REFERENCE,
        RESPONDING_STIMULATED,
        cfse_method_settings,
        suppression_files,
    )
    from secretome.instruments.flow import read_fcs

    files = suppression_files({LOT: 1.0, "CTRL": 0.5}, seed=5, events=6000)
    inputs = [
        MethodInput(200 + i, "", name, read_fcs(content, name), None, content)
        for i, (name, content) in enumerate(sorted(files.items()))
    ]
    kind = get_kind("t-cell-suppression-flow")
    settings = kind.check_settings(
        {
            **cfse_method_settings(),
            "rp_attribute": "rp",
            "chart_controls": True,
            "control_preparations": ["CTRL"],
        }
    )
    outcome = kind.analyse(inputs, settings, Decisions(), RunContext(lots={LOT: LotContext(LOT)}))
    assert sorted({r.lot for r in outcome.reportables}) == [LOT]
    result = json.loads(json.dumps(outcome.result))
    found = {(o.control, o.quantity): o for o in observe("t-cell-suppression-flow", result)}
    assert list(found) == [
        ("stimulated", "response"),
        ("stimulated", "stimulation index"),
        ("unstimulated", "response"),
        (REFERENCE, "inhibition"),
        ("CTRL", "inhibition"),
        ("CTRL", "relative potency"),
    ]
    stimulated = [t["readout"] for t in result["tubes"] if t["condition"] == "stimulated"]
    unstimulated = [t["readout"] for t in result["tubes"] if t["condition"] == "unstimulated"]
    response = found[("stimulated", "response")]
    assert response.value == pytest.approx(np.mean(stimulated), rel=1e-12)
    assert response.unit == "%" and response.analyte == "percent divided"
    # the model: 72 % of the original lymphocytes divide when stimulated
    assert response.value == pytest.approx(100 * RESPONDING_STIMULATED, abs=1.5)
    assert found[("stimulated", "stimulation index")].value == pytest.approx(
        np.mean(stimulated) / np.mean(unstimulated), rel=1e-12
    )
    assert len(response.wells) == len(stimulated) and all(w.startswith("2") for w in response.wells)
    background = found[("unstimulated", "response")]
    assert background.value == pytest.approx(np.mean(unstimulated), rel=1e-12)
    assert len(background.wells) == len(unstimulated)
    ctrl = found[("CTRL", "relative potency")]
    assert ctrl.value == pytest.approx(0.5, rel=0.15)
    assert found[(REFERENCE, "inhibition")].value == result["preparations"][REFERENCE]["inhibition_at"]


def hplc_peaks(qc_high: float) -> MethodInput:
    """An HPLC kynurenine peak table on an exact line (area = 120 + 1500 x uM): standards in duplicate, QC
    injections QC-low (10 uM holding 10) and QC-high (40 uM nominal holding ``qc_high``), a lot at 24 uM."""
    lines = ["Sample Name,Peak Name,Area"]
    for level in KYNURENINE_STANDARDS:
        lines += [f"std {level:g},Kynurenine,{120 + 1500 * level:.1f}"] * 2
    lines += [f"QC-low,Kynurenine,{120 + 1500 * 10.0:.1f}"] * 2
    lines += [f"QC-high,Kynurenine,{120 + 1500 * qc_high:.1f}"] * 2
    lines += [f"{LOT},Kynurenine,{120 + 1500 * 24.0:.1f}"] * 2
    content = ("\n".join(lines) + "\n").encode()
    return MethodInput(7, "a" * 64, "peaks.csv", read(content, "peaks.csv"), None, content)


HPLC_SETTINGS = {
    **IDO_SETTINGS,
    "standards": {f"std {level:g}": level for level in KYNURENINE_STANDARDS},
    "chart_controls": True,
}


def test_hplc_qc_injections_are_read_back_and_charted_not_reported() -> None:
    settings = {**HPLC_SETTINGS, "qc_samples": {"QC-low": 10, "QC-high": 40}}
    outcome, result = analyse("ido-activity", hplc_peaks(46.0), settings)
    # the QC injections are neither samples nor lots
    assert [r.lot for r in outcome.reportables] == [LOT] and sorted(result["samples"]) == [LOT]
    found = {(o.control, o.quantity): o for o in observe("ido-activity", result)}
    assert sorted(found) == [
        ("QC-high", "concentration"),
        ("QC-high", "recovery"),
        ("QC-low", "concentration"),
        ("QC-low", "recovery"),
    ]
    # on an exact line the QC reads back what it holds: 46 / 40 = 115 %, 10 / 10 = 100 %
    assert found[("QC-high", "concentration")].value == pytest.approx(46.0, rel=1e-9)
    assert found[("QC-high", "recovery")].value == pytest.approx(115.0, rel=1e-9)
    assert found[("QC-low", "recovery")].value == pytest.approx(100.0, rel=1e-9)
    assert found[("QC-high", "recovery")].wells == ("QC-high", "QC-high")
    assert all(o.within_limits for o in found.values())
    _, far = analyse("ido-activity", hplc_peaks(52.0), settings)
    high = next(o for o in observe("ido-activity", far) if (o.control, o.quantity) == ("QC-high", "recovery"))
    assert high.value == pytest.approx(130.0, rel=1e-9) and high.within_limits is False


def test_an_hplc_method_without_qc_samples_stores_what_it_stored_before() -> None:
    _, result = analyse("ido-activity", hplc_peaks(40.0), HPLC_SETTINGS)
    assert "qc_controls" not in result and "qc_samples" not in result["settings"]
    # the QC injections are then samples like any other, as before the setting existed
    assert sorted(result["samples"]) == sorted(["QC-high", "QC-low", LOT])


@pytest.mark.parametrize(
    ("qc_samples", "message"),
    [
        ({}, "qc_samples: must map HPLC QC sample names"),
        ({"QC": 0}, "qc_samples: the nominal kynurenine of 'QC' must be a positive number"),
        ({"std 25": 25}, "qc_samples: std 25 is named as a standard too"),
    ],
)
def test_bad_qc_samples_are_refused_by_name(qc_samples: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_kind("ido-activity").check_settings({**HPLC_SETTINGS, "qc_samples": qc_samples})
