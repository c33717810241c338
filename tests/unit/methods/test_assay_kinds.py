"""The potency assay kinds from the files the demo writes (read back through the readers) and from plates
built in the test: IDO activity, T-cell suppression, angiogenesis and wound healing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pytest

from secretome.demo.assay_files import (
    IDO_CULTURE,
    angiogenesis_settings,
    angiogenesis_table,
    gen5_ido_kynurenine,
    ido_settings,
    scratch_table,
    wound_settings,
)
from secretome.domain.plate_layout import PlateLayout, WellAssignment, WellRole
from secretome.instruments.detect import read
from secretome.methods.base import Decisions, KindOutcome, LotContext, MethodInput, RunContext
from secretome.methods.registry import get_kind, kind_names
from tests.unit.methods.plates import plate_input


def context(lots: Iterable[str]) -> RunContext:
    return RunContext(lots={lot: LotContext(lot) for lot in lots})


def run(
    kind: str,
    content: bytes,
    filename: str,
    settings: Mapping[str, Any],
    lots: Iterable[str],
    layout: PlateLayout | None = None,
    decisions: Decisions | None = None,
) -> KindOutcome:
    reading = read(content, filename)
    inp = MethodInput(7, "a" * 64, filename, reading, layout, content)
    k = get_kind(kind)
    return k.analyse([inp], k.check_settings(settings), decisions or Decisions(), context(lots))


def test_every_potency_kind_is_registered() -> None:
    assert {"ido-activity", "t-cell-suppression", "angiogenesis", "wound-healing"} <= set(kind_names())


@pytest.mark.parametrize("seed", [11, 12])
def test_ido_activity_from_the_demo_plate_gives_back_the_true_activity(seed: int) -> None:
    lots = {"MSC-CM-001": 1.2, "MSC-CM-002": 0.45, "MSC-CM-003": 0.02}
    plate = gen5_ido_kynurenine(lots, np.random.default_rng(seed))
    outcome = run("ido-activity", plate.content, plate.filename, ido_settings(), lots, plate.layout)
    got = {r.lot: r for r in outcome.reportables}
    for lot in ("MSC-CM-001", "MSC-CM-002"):
        assert got[lot].qualifier == "="
        assert got[lot].value == pytest.approx(lots[lot], rel=0.1)
        assert got[lot].unit == "nmol/10^6 cells/h"
    # 0.02 nmol/10^6 cells/h is 0.48 uM in the well, below the lowest standard: "<" LLOQ as activity.
    low = got["MSC-CM-003"]
    lloq = outcome.result["curve"]["lloq"]
    factor = IDO_CULTURE["volume_ml"] / (IDO_CULTURE["cells"] / 1e6) / IDO_CULTURE["hours"]
    assert low.qualifier == "<"
    assert low.value == pytest.approx(lloq * factor)


def test_ido_activity_from_an_hplc_peak_table() -> None:
    lines = ["Sample Name,Peak Name,Area"]
    for level in (0.0, 5.0, 10.0, 25.0, 50.0, 100.0):
        for wiggle in (1.002, 0.998):
            lines.append(f"std {level:g},Kynurenine,{(120 + 1500 * level) * wiggle:.1f}")
    lines += ["MSC-CM-001,Kynurenine,36120", "MSC-CM-001,Kynurenine,36120"]
    settings = {
        "attribute": "ido_activity",
        "standards": {f"std {level:g}": level for level in (0.0, 5.0, 10.0, 25.0, 50.0, 100.0)},
        "peak": "Kynurenine",
        **IDO_CULTURE,
    }
    outcome = run("ido-activity", "\n".join(lines).encode(), "peaks.csv", settings, ["MSC-CM-001"])
    (reportable,) = outcome.reportables
    kynurenine = (36120 - 120) / 1500  # 24 uM
    assert reportable.value == pytest.approx(kynurenine * 0.2 / 0.1 / 48, rel=1e-4)


def suppression_plate() -> MethodInput:
    """Stimulated and unstimulated controls, a reference and a test lot at seven CM doses in duplicate."""
    doses = [0.78125, 1.5625, 3.125, 6.25, 12.5, 25.0, 50.0]
    wells: dict[str, WellAssignment] = {}
    responses: dict[str, float] = {}

    def readout(dose: float, ic50: float) -> float:
        inhibition = 2 + 90 / (1 + (ic50 / dose) ** 1.3)
        return float(0.1 + (1 - inhibition / 100) * 1.9)  # absorbance: 2.0 stimulated, 0.1 unstimulated

    for row, (name, role, ic50) in zip(
        "AB", (("REF", WellRole.REFERENCE, 10.0), ("MSC-CM-001", WellRole.TEST, 5.0)), strict=True
    ):
        for k, dose in enumerate(doses):
            for offset, wiggle in ((1, 0.004), (8, -0.004)):
                well = f"{row}{k + offset}" if offset == 1 else f"{'CD'[row == 'B']}{k + 1}"
                wells[well] = WellAssignment(role, name, dose)
                responses[well] = readout(dose, ic50) + wiggle
    for column in range(1, 4):
        wells[f"E{column}"] = WellAssignment(WellRole.UNKNOWN, "stimulated")
        responses[f"E{column}"] = 2.0
        wells[f"F{column}"] = WellAssignment(WellRole.UNKNOWN, "unstimulated")
        responses[f"F{column}"] = 0.1
    return plate_input(responses, PlateLayout("suppression", 96, wells))


def test_t_cell_suppression_reports_inhibition_ic50_and_relative_potency() -> None:
    kind = get_kind("t-cell-suppression")
    inp = suppression_plate()
    settings = kind.check_settings(
        {"attribute": "t_cell_suppression", "report_dose": 25.0, "rp_attribute": "potency_rp"}
    )
    outcome = kind.analyse([inp], settings, Decisions(), context(["MSC-CM-001"]))
    got = {r.attribute: r for r in outcome.reportables}
    expected = 2 + 90 / (1 + (5.0 / 25.0) ** 1.3)
    assert got["t_cell_suppression"].value == pytest.approx(expected, rel=2e-3)
    assert got["t_cell_suppression"].unit == "%"
    assert got["potency_rp"].value == pytest.approx(2.0, rel=5e-3)
    assert got["potency_rp"].interval is not None
    ic50 = kind.analyse(
        [inp],
        kind.check_settings({"attribute": "ic50", "report": "ic50"}),
        Decisions(),
        context(["MSC-CM-001"]),
    )
    assert ic50.reportables[0].value == pytest.approx(5.0 / (90 / 48 - 1) ** (1 / 1.3), rel=5e-3)


def test_t_cell_suppression_without_controls_is_refused_naming_the_setting() -> None:
    kind = get_kind("t-cell-suppression")
    inp = suppression_plate()
    with pytest.raises(ValueError, match=r"^stimulated:"):
        kind.analyse(
            [inp], kind.check_settings({"attribute": "x", "stimulated": "stim"}), Decisions(), RunContext()
        )


@pytest.mark.parametrize("seed", [21, 22])
def test_angiogenesis_from_the_demo_table_gives_back_percent_of_vegf(seed: int) -> None:
    lots = {"MSC-CM-001": 85.0, "MSC-CM-002": 55.0}
    table = angiogenesis_table(lots, np.random.default_rng(seed), wells_per_group=4, cv=0.04)
    outcome = run("angiogenesis", table.content, table.filename, angiogenesis_settings(), lots)
    got = {r.lot: r for r in outcome.reportables}
    for lot, pct in lots.items():
        assert got[lot].value == pytest.approx(pct, rel=0.1)
        interval, value = got[lot].interval, got[lot].value
        assert interval is not None and value is not None
        assert interval[0] < value < interval[1]
    assert outcome.result["groups"]["basal"]["fold_over_basal"]["value"] == pytest.approx(1.0)


def test_excluding_an_image_leaves_it_out_and_changes_the_result() -> None:
    lots = {"MSC-CM-001": 85.0}
    table = angiogenesis_table(lots, np.random.default_rng(1))
    before = run("angiogenesis", table.content, table.filename, angiogenesis_settings(), lots)
    decisions = Decisions(excluded={"7:MSC-CM-001_2": "out of focus"})  # the image's row label
    after = run(
        "angiogenesis", table.content, table.filename, angiogenesis_settings(), lots, decisions=decisions
    )
    assert after.excluded == {"7:MSC-CM-001_2": "out of focus"}
    assert after.reportables[0].value != before.reportables[0].value
    assert len(after.result["groups"]["MSC-CM-001"]["values"]) == 2


def test_wound_healing_from_the_demo_table_gives_back_closure_relative_to_control() -> None:
    lots = {"MSC-CM-001": 140.0, "MSC-CM-002": 95.0}
    table = scratch_table(lots, np.random.default_rng(5), noise=0.01)
    outcome = run(
        "wound-healing", table.content, table.filename, {**wound_settings(), "rate_attribute": "rate"}, lots
    )
    got = {(r.lot, r.attribute): r for r in outcome.reportables}
    for lot, pct in lots.items():
        assert got[(lot, "wound_healing")].value == pytest.approx(pct, rel=0.1)
        # Closure grows linearly, so its rate is closure at 24 h / 24 h.
        assert got[(lot, "rate")].value == pytest.approx(45.0 * pct / 100 / 24, rel=0.1)
        assert got[(lot, "rate")].unit == "%/h"


@pytest.mark.parametrize(
    ("kind", "settings", "setting"),
    [
        ("ido-activity", {"attribute": "x", "culture": "assay"}, "cells"),
        ("ido-activity", {"attribute": "x", "model": "spline", **IDO_CULTURE}, "model"),
        ("t-cell-suppression", {"attribute": "x", "report": "auc"}, "report"),
        ("angiogenesis", {"attribute": "x", "metric": "colour"}, "metric"),
        ("angiogenesis", {"attribute": "x", "report": "relative_potency"}, "reference"),
        ("wound-healing", {"attribute": "x", "at_hours": -1}, "at_hours"),
        ("wound-healing", {}, "attribute"),
        ("wound-healing", {"attribute": "x", "speed": 1}, "speed"),
    ],
)
def test_bad_settings_name_the_setting(kind: str, settings: dict[str, object], setting: str) -> None:
    with pytest.raises(ValueError, match=rf"^{setting}:"):
        get_kind(kind).check_settings(settings)


@pytest.mark.parametrize("seed", [31, 32])
def test_t_cell_suppression_from_the_demo_gen5_plate_gives_back_the_relative_potency(seed: int) -> None:
    from secretome.demo.assay_files import REFERENCE_IC50, gen5_t_cell_suppression, t_cell_settings

    lots = {"MSC-CM-001": 1.6, "MSC-CM-002": 0.7}
    plate = gen5_t_cell_suppression(lots, np.random.default_rng(seed), sd=0.02)
    outcome = run("t-cell-suppression", plate.content, plate.filename, t_cell_settings(), lots, plate.layout)
    got = {(r.lot, r.attribute): r for r in outcome.reportables}
    for lot, rp in lots.items():
        assert got[(lot, "immunomodulation_rp")].value == pytest.approx(rp, rel=0.15)
        expected = 2 + 90 / (1 + (REFERENCE_IC50 / rp / 25.0) ** 1.3)
        assert got[(lot, "t_cell_suppression")].value == pytest.approx(expected, abs=5.0)
