"""The ``qpcr`` method kind on the demo's QuantStudio export and on the real sample files."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pytest

from secretome.demo.expression_files import (
    ExpressionTruth,
    expression_truth,
    qpcr_method_settings,
    quantstudio_results,
)
from secretome.instruments.detect import read
from secretome.instruments.model import InstrumentReading, Measurement
from secretome.methods import Decisions, KindOutcome, LotContext, MethodInput, RunContext, get_kind
from tests.unit.instruments.samples import sample_bytes

RUN_END = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
LOTS = [("CM-2026-001", 4, 14.2), ("CM-2026-002", 5, 17.0), ("CM-2026-003", 7, 22.5)]


@cache
def _demo(seed: int) -> tuple[ExpressionTruth, InstrumentReading]:
    rng = np.random.default_rng(seed)
    truth = expression_truth(rng, LOTS)
    return truth, read(quantstudio_results(truth, rng, RUN_END), "expression.txt")


def _run(
    reading: InstrumentReading,
    settings: dict[str, object] | None = None,
    decisions: Decisions | None = None,
    context: RunContext | None = None,
) -> KindOutcome:
    return get_kind("qpcr").analyse(
        [MethodInput(3, "0" * 64, "expression.txt", reading)],
        settings if settings is not None else qpcr_method_settings(),
        decisions or Decisions(),
        context or RunContext(lots={lot: LotContext(lot) for lot, _, _ in LOTS}),
    )


@pytest.mark.parametrize("seed", [11, 12])
def test_demo_plate_gives_back_the_true_fold_changes_per_lot(seed: int) -> None:
    truth, reading = _demo(seed)
    assert reading.format == "quantstudio"
    outcome = _run(reading)
    reported = {(r.lot, r.attribute): r for r in outcome.reportables}
    genes = {"cdkn2a-fold": "CDKN2A", "cdkn1a-fold": "CDKN1A", "pou5f1-fold": "POU5F1"}
    assert len(reported) == len(LOTS) * len(genes)
    for sample in truth.samples:
        for attribute, gene in genes.items():
            value = reported[(sample.lot, attribute)].value
            assert value is not None
            # Triplicates with 0.08-cycle noise: -ddCq has an SD of about 0.075 cycles; 4 SD is 0.3 cycles.
            assert math.log2(value) == pytest.approx(math.log2(sample.fold[gene]), abs=0.3)
            assert reported[(sample.lot, attribute)].unit == "fold"
    expression = outcome.result["expression"]
    assert expression["controls_passed"] is True
    assert {c["kind"] for c in expression["controls"]} == {"NTC", "no-RT"}
    assert all(m < 0.2 for m in expression["genorm_m"].values())
    assert outcome.result["passage"]["CM-2026-003 P7 CPD 22.5"] == 7.0
    assert outcome.result["cpd"]["CM-2026-003 P7 CPD 22.5"] == 22.5
    assert [t for t, _ in outcome.plots if "against passage" in t] == [
        "Pluripotency genes against passage",
        "Senescence genes against passage",
    ]
    assert not any("no NTC" in flag for flag in outcome.flags)


def test_same_file_gives_the_same_numbers() -> None:
    _, reading = _demo(11)
    assert _run(reading).result == _run(reading).result


def test_excluding_a_replicate_changes_the_fold_and_is_recorded() -> None:
    _, reading = _demo(11)
    target = next(
        m for m in reading.measurements if m.analyte == "CDKN2A" and m.sample.startswith("CM-2026-001 P4")
    )
    key = f"3:{target.well}"
    before = next(
        r.value for r in _run(reading).reportables if r.lot == "CM-2026-001" and r.attribute == "cdkn2a-fold"
    )
    outcome = _run(reading, decisions=Decisions(excluded={key: "bubble in the well"}))
    after = next(
        r.value for r in outcome.reportables if r.lot == "CM-2026-001" and r.attribute == "cdkn2a-fold"
    )
    assert after != before
    assert outcome.excluded == {f"{key}:CDKN2A": "bubble in the well"}
    assert f"{key}:CDKN2A" not in outcome.used


def test_an_amplifying_ntc_flags_every_result_of_that_gene() -> None:
    rng = np.random.default_rng(11)
    content = quantstudio_results(expression_truth(rng, LOTS), rng, RUN_END).decode()
    lines = content.splitlines()
    results_start = lines.index("[Results]")
    for index in range(results_start, len(lines)):
        cells = lines[index].split("\t")
        if len(cells) > 8 and cells[3] == "NTC" and cells[4] == "CDKN2A":
            cells[8] = "31.500"
            lines[index] = "\t".join(cells)
            break
    reading = read(("\n".join(lines) + "\n").encode(), "ntc.txt")
    outcome = _run(reading)
    assert outcome.result["expression"]["controls_passed"] is False
    flagged = [r for r in outcome.reportables if r.attribute == "cdkn2a-fold"]
    assert flagged and all(any("NTC NTC CDKN2A" in f for f in r.flags) for r in flagged)
    clean = [r for r in outcome.reportables if r.attribute == "cdkn1a-fold"]
    assert all(not any("NTC" in f for f in r.flags) for r in clean)


def test_standards_on_the_plate_give_the_efficiency_the_pfaffl_method_uses() -> None:
    # A dilution series of each gene at 92 % (T) and 100 % (R) efficiency, plus calibrator and sample.
    rows: list[Measurement] = []
    standards = {f"STD {10**k:g}": float(10**k) for k in range(2, 7)}
    well = iter(range(1, 200))
    for gene, factor, top in (("T", 1.92, 36.0), ("R", 2.0, 30.0)):
        for name, quantity in standards.items():
            curve_cq = top - math.log(quantity) / math.log(factor)
            rows.append(Measurement("cycle threshold", curve_cq, "", name, f"A{next(well)}", "", gene))
    planned: dict[tuple[str, str], float] = {
        ("cal", "T"): 26.0,
        ("cal", "R"): 18.0,
        ("L1 P5", "T"): 24.5,
        ("L1 P5", "R"): 18.4,
        ("NTC", "T"): math.nan,
    }
    for (sample, gene), value in planned.items():
        for _ in range(2):
            rows.append(Measurement("cycle threshold", value, "", sample, f"B{next(well)}", "", gene))
    reading = InstrumentReading("p.txt", "quantstudio", "qpcr", "test", "1", measurements=tuple(rows))
    settings: dict[str, object] = {
        "reference_genes": ["R"],
        "calibrator": "cal",
        "method": "pfaffl",
        "standards": standards,
        "attributes": {"t-fold": "T"},
    }
    outcome = _run(reading, settings, context=RunContext(lots={"L1": LotContext("L1")}))
    curves = outcome.result["standard_curves"]
    assert curves["T"]["amplification"] == pytest.approx(1.92, rel=1e-9)
    assert curves["R"]["efficiency"] == pytest.approx(1.0, rel=1e-9)
    fold = next(r for r in outcome.reportables if r.attribute == "t-fold")
    assert fold.lot == "L1"
    assert fold.value == pytest.approx(1.92 ** (26.0 - 24.5) / 2.0 ** (18.0 - 18.4), rel=1e-9)
    assert any("R: no NTC on the plate" in flag for flag in outcome.flags)
    assert any(title == "Standard curve, T" for title, _ in outcome.plots)


def test_missing_required_settings_are_named() -> None:
    with pytest.raises(ValueError, match="reference_genes"):
        get_kind("qpcr").check_settings({"calibrator": "x"})
    with pytest.raises(ValueError, match="calibrator"):
        get_kind("qpcr").check_settings({"reference_genes": ["GAPDH"]})
    with pytest.raises(ValueError, match="passage_pattern"):
        get_kind("qpcr").check_settings(
            {"reference_genes": ["GAPDH"], "calibrator": "x", "passage_pattern": "P\\d+"}
        )
    with pytest.raises(ValueError, match="method"):
        get_kind("qpcr").check_settings({"reference_genes": ["GAPDH"], "calibrator": "x", "method": "ddct"})


def test_single_sample_reports_for_the_run_lot() -> None:
    content = sample_bytes("qpcr/AB_ViiA7_ddCt_SYBR_results_example01.txt")
    reading = read(content, "viia7.txt")
    # One target only: normalise TARGET_1 to itself is meaningless, so the file is read as a panel of one
    # reference gene with no target; the kind refuses a calibrator that is not on the plate.
    with pytest.raises(ValueError, match="calibrator"):
        _run(
            reading,
            {"reference_genes": ["TARGET_1"], "calibrator": "REF"},
            context=RunContext(default_lot="L1"),
        )


def test_demo_bundle_names_one_nta_file_per_lot_and_one_plate() -> None:
    from secretome.demo.expression_files import demo_expression_files

    bundle = demo_expression_files(np.random.default_rng(1), LOTS, RUN_END)
    assert sorted(bundle.nta) == [f"{lot}-ExperimentSummary.csv" for lot, _, _ in LOTS]
    assert list(bundle.qpcr) == ["20260304_MSC_expression.txt"]
    assert sorted(bundle.ev_truths) == [lot for lot, _, _ in LOTS]
    assert [s.lot for s in bundle.expression.samples] == [lot for lot, _, _ in LOTS]


def test_results_are_json_ready() -> None:
    import json

    _, reading = _demo(11)
    outcome = _run(reading)
    json.dumps(outcome.result, allow_nan=False)
    for reportable in outcome.reportables:
        assert type(reportable).from_dict(reportable.to_dict()) == reportable
