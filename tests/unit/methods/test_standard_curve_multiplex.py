"""The standard-curve kind on multiplex panels: one curve per analyte, standards by sample name, bead-count
and bead %CV flags per well, the fingerprint and heat-map, a real xPONENT export and the demo's panel."""

from __future__ import annotations

import numpy as np
import pytest

from secretome.demo.assay_files import PANEL, PANEL_TYPICAL, panel_settings, xponent_panel
from secretome.instruments.detect import read
from secretome.instruments.model import InstrumentReading, Measurement
from secretome.methods.base import Decisions, KindOutcome, LotContext, MethodInput, RunContext
from secretome.methods.registry import get_kind
from tests.unit.instruments.samples import sample_bytes
from tests.unit.methods.plates import multiplex_input

KIND = get_kind("standard-curve")
CURVES = {"IL-6": (20.0, 20000.0, 1500.0, 1.1), "IL-8": (15.0, 18000.0, 3000.0, 0.9)}
STANDARDS = {f"Standard{k + 1}": 10000.0 / 3.0**k for k in range(7)}


def mfi(analyte: str, concentration: float) -> float:
    bottom, top, inflection, hill = CURVES[analyte]
    if concentration == 0:
        return bottom
    return float(bottom + (top - bottom) / (1 + (inflection / concentration) ** hill))


def panel_rows(
    samples: dict[str, dict[str, float]], beads: dict[tuple[str, str], float] | None = None
) -> list[tuple[str, str, str, float, float]]:
    """Duplicates of the standards, Background0 and ``samples`` (name -> analyte -> concentration in the well),
    the duplicates +/-0.3 % around the curve."""
    rows = []
    names = [("Background0", dict.fromkeys(CURVES, 0.0))]
    names += [(name, dict.fromkeys(CURVES, level)) for name, level in STANDARDS.items()]
    names += list(samples.items())
    wells = [f"{r}{c}" for c in range(1, 13) for r in "ABCDEFGH"]
    index = 0
    for name, levels in names:
        for sign in (1, -1):
            well = wells[index]
            index += 1
            for analyte in CURVES:
                count = (beads or {}).get((well, analyte), 100.0)
                rows.append((well, name, analyte, mfi(analyte, levels[analyte]) * (1 + sign * 0.003), count))
    return rows


def settings(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "analytes": {"IL-6": "il6", "IL-8": "il8"},
        "standards": STANDARDS,
        "assay_blanks": ["Background0"],
        "model": "4pl",
    }
    base.update(overrides)
    return base


def analyse(
    rows: list[tuple[str, str, str, float, float]], lots: list[str], **overrides: object
) -> KindOutcome:
    context = RunContext(lots={lot: LotContext(lot) for lot in lots})
    return KIND.analyse(
        [multiplex_input(rows, import_id=3)], KIND.check_settings(settings(**overrides)), Decisions(), context
    )


def test_each_analyte_gets_its_own_curve_and_the_dilution_is_applied() -> None:
    rows = panel_rows({"L1": {"IL-6": 800.0, "IL-8": 2500.0}})
    outcome = analyse(rows, ["L1"], dilutions={"L1": 20})
    values = {r.attribute: r.value for r in outcome.reportables}
    assert values["il6"] == pytest.approx(800.0 * 20, rel=1e-5)
    assert values["il8"] == pytest.approx(2500.0 * 20, rel=1e-5)
    assert [c["analyte"] for c in outcome.result["curves"]] == ["IL-6", "IL-8"]


def test_per_analyte_standard_concentrations_are_used_for_that_analyte() -> None:
    rows = panel_rows({"L1": {"IL-6": 800.0, "IL-8": 800.0}})
    halved = {k: v / 2 for k, v in STANDARDS.items()}
    outcome = analyse(rows, ["L1"], standards={"IL-6": STANDARDS, "IL-8": halved})
    values = {r.attribute: r.value for r in outcome.reportables}
    assert values["il6"] == pytest.approx(800.0, rel=1e-5)
    assert values["il8"] == pytest.approx(400.0, rel=1e-5)


def test_a_well_under_the_bead_count_minimum_is_flagged_and_its_lot_value_carries_the_flag() -> None:
    rows = panel_rows({"L1": {"IL-6": 800.0, "IL-8": 2500.0}}, beads={("A3", "IL-6"): 22.0})
    outcome = analyse(rows, ["L1"], min_bead_count=50)
    wells = {w["well"]: w for w in outcome.result["curves"][0]["wells"]}
    assert wells["A3"]["flags"] == ["low_bead_count"]
    flags = {r.attribute: r.flags for r in outcome.reportables}
    assert "low_bead_count" in flags["il6"]
    assert "low_bead_count" not in flags["il8"]
    excluded = analyse(rows, ["L1"], min_bead_count=50, exclude_flagged_wells=True)
    assert excluded.excluded == {"3:A3": "flagged: low_bead_count"}
    assert [r.inputs for r in excluded.reportables if r.attribute == "il6"] == [("3:B3",)]


def test_bead_fluorescence_cv_over_the_limit_flags_the_well() -> None:
    inp = multiplex_input(panel_rows({"L1": {"IL-6": 800.0, "IL-8": 2500.0}}), import_id=3)
    extra = Measurement("coefficient of variation fluorescence", 85.0, "%", "L1", "B3", "", "IL-8")
    reading = InstrumentReading(
        **{**inp.reading.__dict__, "measurements": (*inp.reading.measurements, extra)}
    )
    inp = MethodInput(3, inp.sha256, inp.filename, reading)
    outcome = KIND.analyse(
        [inp],
        KIND.check_settings(settings(max_bead_cv=60)),
        Decisions(),
        RunContext(lots={"L1": LotContext("L1")}),
    )
    wells = {w["well"]: w for w in outcome.result["curves"][1]["wells"]}
    assert wells["B3"]["flags"] == ["bead_cv_over_limit"]


def test_the_fingerprint_names_every_analyte_of_every_lot_and_the_heatmap_is_drawn() -> None:
    rows = panel_rows({"L1": {"IL-6": 800.0, "IL-8": 2500.0}, "L2": {"IL-6": 0.5, "IL-8": 1200.0}})
    outcome = analyse(rows, ["L1", "L2"])
    fingerprint = outcome.result["fingerprint"]
    assert set(fingerprint) == {"L1", "L2"}
    assert fingerprint["L1"]["values"]["IL-6"] == pytest.approx(800.0, rel=1e-5)
    assert fingerprint["L2"]["qualifiers"]["IL-6"] == "<"
    assert fingerprint["L2"]["values"]["IL-6"] == pytest.approx(outcome.result["curves"][0]["fit"]["lloq"])
    assert outcome.result["heatmap"]["lots"] == ["L1", "L2"]
    assert outcome.plots[-1][0] == "panel heat-map"


def test_an_analyte_missing_from_the_file_is_refused_naming_it() -> None:
    rows = panel_rows({"L1": {"IL-6": 800.0, "IL-8": 2500.0}})
    with pytest.raises(ValueError, match=r"^analytes: 'TNF-a'"):
        analyse(rows, ["L1"], analytes={"TNF-a": "tnf"})


def test_a_real_xponent_export_gives_one_fitted_curve_per_analyte() -> None:
    content = sample_bytes("luminex/xPONENT4.2_MAGPIX_Chul_IgG3_1.csv")
    reading = read(content, "xPONENT4.2_MAGPIX_Chul_IgG3_1.csv")
    # The export's Dilution Factor block gives the standards as a serum dilution series 1:100, 1:200 ...:
    # their concentration in arbitrary units is 1e4 / dilution.
    standards = {f"African-Mix-Standard0{k + 1}": 100.0 / 2**k for k in range(7)}
    settings_ = {
        "analytes": {"AMA1": "ama1", "HRPII": "hrp2"},
        "standards": standards,
        "assay_blanks": ["Background0"],
        "concentration_unit": "AU/mL",
        "weighting": "1/y^2",
    }
    inp = MethodInput(9, "0" * 64, "chul.csv", reading)
    outcome = KIND.analyse([inp], KIND.check_settings(settings_), Decisions(), RunContext())
    for curve in outcome.result["curves"]:
        assert curve["fit"]["converged"]
        assert curve["fit"]["goodness"]["r_squared"] > 0.99
        standards_rows = curve["fit"]["standards"]
        assert any(row["within_limits"] for row in standards_rows)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_demo_xponent_panel_read_back_gives_the_true_values_within_the_noise(seed: int) -> None:
    truth = {
        "MSC-CM-001": {"HGF": 2400.0, "IL-6": 25000.0, "IL-8": 6000.0, "MCP-1": 3000.0, "TIMP-1": 90000.0},
        "MSC-CM-002": {"HGF": 900.0, "IL-6": 8000.0, "IL-8": 2500.0, "MCP-1": 9000.0, "TIMP-1": 45000.0},
    }
    panel = xponent_panel(truth, np.random.default_rng(seed), cv=0.04)
    reading = read(panel.content, panel.filename)
    assert reading.format == "xponent"
    assert reading.analytes == sorted(PANEL)
    inp = MethodInput(4, "e" * 64, panel.filename, reading, None, panel.content)
    context = RunContext(lots={lot: LotContext(lot) for lot in truth})
    outcome = KIND.analyse([inp], KIND.check_settings(panel_settings()), Decisions(), context)
    attribute = {a: spec[0] for a, spec in PANEL.items()}
    got = {(r.lot, r.attribute): r for r in outcome.reportables}
    for lot, values in truth.items():
        for analyte, value in values.items():
            reportable = got[(lot, attribute[analyte])]
            assert reportable.qualifier == "="
            assert reportable.value == pytest.approx(value, rel=0.2), (lot, analyte)
    assert set(PANEL_TYPICAL) == set(PANEL)
