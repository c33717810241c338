"""The standard-curve kind: back-calculation, dilution, the < LLOQ / > ULOQ rules, the medium blank with its
uncertainty, normalisation, exclusions, settings, and the Gen5 ELISA plate the demo writes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from secretome.demo.assay_files import VEGF_STANDARDS, gen5_vegf_elisa, vegf_elisa_settings
from secretome.domain.plate_layout import PlateLayout, WellAssignment, WellRole
from secretome.instruments.detect import read
from secretome.methods.base import Decisions, KindOutcome, LotContext, MethodInput, Reportable, RunContext
from secretome.methods.registry import get_kind, kind_names
from tests.unit.methods.plates import plate_input

BOTTOM, TOP, INFLECTION, HILL = 0.05, 2.8, 500.0, 1.2
KIND = get_kind("standard-curve")


def curve(concentration: float) -> float:
    if concentration == 0:
        return BOTTOM
    return float(BOTTOM + (TOP - BOTTOM) / (1 + (INFLECTION / concentration) ** HILL))


def inverse(response: float, p: dict[str, float]) -> float:
    """The 4PL solved for the concentration by hand: x = C / ((top - bottom) / (y - bottom) - 1)^(1 / hill)."""
    return float(
        p["inflection"] / ((p["top"] - p["bottom"]) / (response - p["bottom"]) - 1) ** (1 / p["hill"])
    )


def exact_plate(samples: dict[str, tuple[float, float]]) -> tuple[dict[str, float], PlateLayout]:
    """Standards and samples (name -> (concentration in the sample, dilution)) in duplicate, responses on the
    curve with +/-0.2 % between the duplicates (their mean lies exactly on it)."""
    wells: dict[str, WellAssignment] = {}
    responses: dict[str, float] = {}
    rows = "ABCDEFGH"
    for index, level in enumerate(VEGF_STANDARDS):
        for column, sign in ((1, 1), (2, -1)):
            wells[f"{rows[index]}{column}"] = WellAssignment(WellRole.STANDARD, f"STD{index + 1}", level)
            responses[f"{rows[index]}{column}"] = curve(level) * (1 + sign * 0.002)
    for column, sign in ((1, 1), (2, -1)):
        wells[f"H{column}"] = WellAssignment(WellRole.BLANK, "BLK")
        responses[f"H{column}"] = BOTTOM * (1 + sign * 0.002)
    slots = [(r, c) for r in rows for c in (3, 5, 7, 9, 11)]
    for (name, (concentration, dilution)), (row, column) in zip(samples.items(), slots, strict=False):
        for offset, sign in ((0, 1), (1, -1)):
            well = f"{row}{column + offset}"
            wells[well] = WellAssignment(WellRole.UNKNOWN, name, dilution)
            responses[well] = curve(concentration / dilution) * (1 + sign * 0.002)
    return responses, PlateLayout("exact", 96, wells, unit="pg/mL")


def settings(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"analytes": {"VEGF-A": "vegf"}, "model": "4pl", "weighting": "none"}
    base.update(overrides)
    return base


def run(
    responses: dict[str, float],
    layout: PlateLayout,
    lots: list[str],
    decisions: Decisions | None = None,
    context: RunContext | None = None,
    **overrides: object,
) -> KindOutcome:
    inp = plate_input(responses, layout)
    ctx = context or RunContext(lots={lot: LotContext(lot) for lot in lots})
    return KIND.analyse([inp], KIND.check_settings(settings(**overrides)), decisions or Decisions(), ctx)


def by_lot(outcome: KindOutcome) -> dict[str, Reportable]:
    return {r.lot: r for r in outcome.reportables}


def test_the_kind_is_registered_by_name() -> None:
    assert "standard-curve" in kind_names()
    assert KIND.input_families == ("plate_reader", "multiplex")


def test_back_calculated_concentrations_match_the_hand_solved_4pl_and_the_truth_after_dilution() -> None:
    responses, layout = exact_plate({"L1": (1600.0, 4.0), "L2": (250.0, 1.0), "L3": (5200.0, 10.0)})
    outcome = run(responses, layout, ["L1", "L2", "L3"])
    reported = by_lot(outcome)
    p = outcome.result["curves"][0]["fit"]["parameters"]
    for lot, (truth, dilution) in {"L1": (1600.0, 4.0), "L2": (250.0, 1.0), "L3": (5200.0, 10.0)}.items():
        hand = inverse(curve(truth / dilution), p) * dilution
        assert reported[lot].value == pytest.approx(hand, rel=1e-9)
        assert reported[lot].value == pytest.approx(truth, rel=1e-6)
        assert reported[lot].qualifier == "="
        assert reported[lot].unit == "pg/mL"
    assert p["top"] == pytest.approx(TOP, rel=1e-7)
    assert p["inflection"] == pytest.approx(INFLECTION, rel=1e-7)


def test_below_lloq_reports_less_than_lloq_times_dilution_never_zero_or_half() -> None:
    responses, layout = exact_plate({"L1": (40.0, 4.0)})  # 10 pg/mL in the well, below the 31.25 standard
    outcome = run(responses, layout, ["L1"])
    fit = outcome.result["curves"][0]["fit"]
    assert fit["lloq"] == pytest.approx(31.25)
    reportable = by_lot(outcome)["L1"]
    assert reportable.qualifier == "<"
    assert reportable.value == pytest.approx(31.25 * 4)
    assert reportable.interval is not None
    assert reportable.interval[0] == 0.0
    assert reportable.interval[1] == pytest.approx(125.0)
    assert "below_lloq" in reportable.flags


def test_half_lloq_is_imputed_only_when_the_setting_says_so_and_is_flagged() -> None:
    responses, layout = exact_plate({"L1": (40.0, 4.0)})
    reportable = by_lot(run(responses, layout, ["L1"], below_lloq="half_lloq"))["L1"]
    assert reportable.qualifier == "="
    assert reportable.value == pytest.approx(31.25 * 4 / 2)
    assert "imputed_half_lloq" in reportable.flags


def test_response_below_the_lower_asymptote_is_still_less_than_lloq() -> None:
    responses, layout = exact_plate({"L1": (100.0, 2.0)})
    for well, assignment in layout.wells.items():
        if assignment.name == "L1":
            responses[well] = BOTTOM * 0.5
    reportable = by_lot(run(responses, layout, ["L1"]))["L1"]
    assert reportable.qualifier == "<"
    assert reportable.value == pytest.approx(62.5)


def test_above_uloq_reports_greater_than_uloq_times_dilution() -> None:
    responses, layout = exact_plate({"L1": (30000.0, 4.0)})  # 7500 pg/mL in the well, above 2000
    reportable = by_lot(run(responses, layout, ["L1"]))["L1"]
    assert reportable.qualifier == ">"
    assert reportable.value == pytest.approx(2000.0 * 4)


def test_in_range_dilutions_are_averaged_and_out_of_range_ones_left_out() -> None:
    layout_responses, layout = exact_plate({"L1": (1200.0, 2.0)})
    wells = dict(layout.wells)
    for well, dilution in (("B3", 4.0), ("B4", 4.0), ("C3", 1000.0), ("C4", 1000.0)):
        wells[well] = WellAssignment(WellRole.UNKNOWN, "L1", dilution)
        layout_responses[well] = curve(1200.0 / dilution)
    layout = PlateLayout("dilutions", 96, wells)
    outcome = run(layout_responses, layout, ["L1"])
    reportable = by_lot(outcome)["L1"]
    assert reportable.value == pytest.approx(1200.0, rel=1e-6)
    assert "dilutions_outside_range" in reportable.flags
    row = outcome.result["reported"][0]["per_ml"]
    assert len(row["readings"]) == 3


def test_medium_blank_is_subtracted_with_its_uncertainty_in_quadrature() -> None:
    rng = np.random.default_rng(7)
    responses, layout = exact_plate({"medium": (300.0, 2.0), "L1": (1800.0, 2.0)})
    noisy = {w: v * (1 + 0.03 * rng.standard_normal()) for w, v in responses.items()}
    outcome = run(noisy, layout, ["L1"], medium_blank="medium")
    curve_result = outcome.result["curves"][0]
    medium = curve_result["medium_blank"]
    lot = curve_result["samples"]["L1"]
    gross = lot["readings"][0]
    assert lot["value"] == pytest.approx(gross["concentration"] - medium["value"], rel=1e-12)
    assert lot["se"] == pytest.approx(math.hypot(gross["se"], medium["se"]), rel=1e-12)
    reportable = by_lot(outcome)["L1"]
    assert reportable.value == pytest.approx(1500.0, rel=0.12)
    assert reportable.interval is not None and reportable.value is not None
    assert reportable.interval[0] < reportable.value < reportable.interval[1]


def test_normalisation_per_million_cells_per_24h_and_per_ug_protein_follow_the_formula() -> None:
    responses, layout = exact_plate({"L1": (1600.0, 4.0)})
    context = RunContext(
        lots={"L1": LotContext("L1", viable_cells=2.5e6, hours=48.0, volume_ml=10.0, protein_ug_per_ml=80.0)}
    )
    per_cells = by_lot(
        run(responses, layout, ["L1"], context=context, normalisation="per_million_cells_per_24h")
    )
    # 1600 pg/mL x 10 mL / 2.5 (10^6 cells) / 2 (24 h periods) = 3200 pg/10^6 cells/24 h
    assert per_cells["L1"].value == pytest.approx(1600.0 * 10.0 / 2.5 / 2.0, rel=1e-6)
    assert per_cells["L1"].unit == "pg/10^6 cells/24 h"
    per_protein = by_lot(run(responses, layout, ["L1"], context=context, normalisation="per_ug_protein"))
    assert per_protein["L1"].value == pytest.approx(1600.0 / 80.0, rel=1e-6)
    in_ng = by_lot(run(responses, layout, ["L1"], context=context, unit="ng/mL"))
    assert in_ng["L1"].value == pytest.approx(1.6, rel=1e-6)
    assert in_ng["L1"].unit == "ng/mL"


def test_normalisation_without_the_conditioning_record_is_refused_naming_the_setting() -> None:
    responses, layout = exact_plate({"L1": (1600.0, 4.0)})
    with pytest.raises(ValueError, match=r"^normalisation: lot L1: volume_ml"):
        run(responses, layout, ["L1"], normalisation="per_million_cells_per_24h")


def test_an_excluded_well_is_left_out_listed_with_its_reason_and_changes_the_result() -> None:
    responses, layout = exact_plate({"L1": (1600.0, 4.0)})
    responses["A3"] *= 1.3
    before = by_lot(run(responses, layout, ["L1"]))["L1"]
    decisions = Decisions(excluded={"1:A3": "pipetting error"})
    outcome = run(responses, layout, ["L1"], decisions=decisions)
    after = by_lot(outcome)["L1"]
    assert after.value != pytest.approx(before.value, rel=1e-3)
    assert after.inputs == ("1:A4",)
    assert outcome.excluded == {"1:A3": "pipetting error"}
    assert "1:A3" not in outcome.used
    wells = {w["well"]: w for w in outcome.result["curves"][0]["wells"]}
    assert wells["A3"]["excluded"] == "pipetting error"


def test_the_outcome_is_deterministic_and_json_ready() -> None:
    responses, layout = exact_plate({"L1": (1600.0, 4.0), "L2": (300.0, 2.0)})
    first = run(responses, layout, ["L1", "L2"])
    second = run(responses, layout, ["L1", "L2"])
    assert json.dumps(first.result, sort_keys=True) == json.dumps(second.result, sort_keys=True)
    assert first.reportables == second.reportables
    titles = [title for title, _ in first.plots]
    assert titles == ["VEGF-A standard curve (import 1)", "VEGF-A residuals (import 1)"]
    assert all(text.lstrip().startswith("<?xml") for _, text in first.plots)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"model": "6pl"}, "model"),
        ({"below_lloq": "zeroish"}, "below_lloq"),
        ({"normalisation": "per_cell"}, "normalisation"),
        ({"analytes": {}}, "analytes"),
        ({"blank_wells": "maybe"}, "blank_wells"),
        ({"unit": "pg/10^6 cells"}, "unit"),
        ({"min_bead_count": -1}, "min_bead_count"),
        ({"colour": "red"}, "colour"),
        ({"recovery": [120, 80]}, "recovery"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(overrides: dict[str, object], setting: str) -> None:
    with pytest.raises(ValueError, match=rf"^{setting}:"):
        KIND.check_settings(settings(**overrides))


def test_a_plate_without_a_layout_is_refused() -> None:
    responses, _ = exact_plate({"L1": (1600.0, 4.0)})
    with pytest.raises(ValueError, match=r"^layout:"):
        KIND.analyse(
            [plate_input(responses, None)], KIND.check_settings(settings()), Decisions(), RunContext()
        )


def test_default_lot_takes_a_single_unmapped_sample() -> None:
    responses, layout = exact_plate({"CM sample": (1600.0, 4.0)})
    outcome = run(responses, layout, [], context=RunContext(default_lot="L9"))
    assert [r.lot for r in outcome.reportables] == ["L9"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_demo_gen5_elisa_read_back_gives_the_true_values_within_the_noise(seed: int) -> None:
    lots = {"MSC-CM-001": 1500.0, "MSC-CM-002": 3200.0, "MSC-CM-003": 650.0, "MSC-CM-004": 20.0}
    plate = gen5_vegf_elisa(lots, np.random.default_rng(seed), cv=0.03)
    reading = read(plate.content, plate.filename)
    assert reading.format == "gen5"
    inp = MethodInput(5, "f" * 64, plate.filename, reading, plate.layout, plate.content)
    context = RunContext(lots={lot: LotContext(lot) for lot in lots})
    outcome = KIND.analyse([inp], KIND.check_settings(vegf_elisa_settings()), Decisions(), context)
    reported = by_lot(outcome)
    for lot in ("MSC-CM-001", "MSC-CM-002", "MSC-CM-003"):
        assert reported[lot].qualifier == "="
        assert reported[lot].value == pytest.approx(lots[lot], rel=0.15)
    # 20 pg/mL above a 160 pg/mL medium, diluted 4-fold: the lot's gross reading is 45 pg/mL in the well.
    low = reported["MSC-CM-004"]
    assert low.qualifier in ("=", "<")
    assert low.value is not None and low.value < 150.0


def test_the_gen5_writer_refuses_bad_arguments_naming_them() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^lots:"):
        gen5_vegf_elisa({}, rng)
    with pytest.raises(ValueError, match=r"^dilution:"):
        gen5_vegf_elisa({"L1": 1.0}, rng, dilution=0.5)


def test_a_sample_that_cannot_be_read_without_a_quantitation_range_is_not_reported_but_named() -> None:
    responses, layout = exact_plate({"L1": (1600.0, 4.0), "L2": (800.0, 1.0)})
    for well, assignment in layout.wells.items():
        if assignment.name == "L2":
            responses[well] = TOP * 1.5  # beyond the upper asymptote
    outcome = run(responses, layout, ["L1", "L2"], recovery=[99.999, 100.001], max_cv=0.001)
    assert outcome.result["curves"][0]["fit"]["lloq"] is None
    assert [r.lot for r in outcome.reportables] == ["L1"]
    assert "no_quantitation_range" in outcome.reportables[0].flags
    assert "L2: VEGF-A not reportable" in outcome.flags


def test_qc_controls_report_their_recovery_and_flag_the_values_when_out_of_limits() -> None:
    responses, layout = exact_plate({"L1": (1600.0, 4.0)})
    wells = dict(layout.wells)
    wells["H11"] = WellAssignment(WellRole.QC, "QC-mid", 400.0)
    wells["H12"] = WellAssignment(WellRole.QC, "QC-high", 1500.0)
    responses["H11"] = curve(400.0)
    responses["H12"] = curve(1500.0 * 1.4)  # reads 140 % of nominal
    outcome = run(responses, PlateLayout("qc", 96, wells), ["L1"])
    controls = {c["name"]: c for c in outcome.result["curves"][0]["qc_controls"]}
    assert controls["QC-mid"]["recovery"] == pytest.approx(100.0, rel=1e-6)
    assert controls["QC-mid"]["within_limits"]
    assert controls["QC-high"]["recovery"] == pytest.approx(140.0, rel=1e-6)
    assert not controls["QC-high"]["within_limits"]
    assert "qc_out_of_limits" in by_lot(outcome)["L1"].flags
    assert "VEGF-A: QC QC-high recovery 140.0 % outside the limits" in outcome.flags


def test_the_outlier_rule_leaves_a_standard_out_with_its_reason_unless_the_analyst_keeps_it() -> None:
    responses, layout = exact_plate({"L1": (1600.0, 4.0)})
    responses["C1"] *= 1.25  # one replicate of the 500 pg/mL standard
    outcome = run(responses, layout, ["L1"], exclude_outliers=True)
    assert outcome.excluded["1:C1"].startswith("outlier rule: |studentized residual|")
    assert "1:C1" not in outcome.used
    # Without it the curve is fitted to the rest (its duplicate sits 0.2 % below the line).
    assert by_lot(outcome)["L1"].value == pytest.approx(1600.0, rel=5e-3)
    kept = run(
        responses,
        layout,
        ["L1"],
        decisions=Decisions(kept={"1:C1": "pipetting verified"}),
        exclude_outliers=True,
    )
    assert "1:C1" not in kept.excluded
    assert "1:C1" in kept.used
    assert "VEGF-A: outliers" in kept.flags
