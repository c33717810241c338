"""Every parallel-line worked example of Ph. Eur. 5.3 and EDQM CombiStats in tests/data/ph_eur_5_3, reproduced.

The expected values are the CombiStats results as printed (``reference_combistats_as_quoted_in_package``),
the Ph. Eur. printed ANOVA tables where the folder has them, and an independent base-R re-analysis
(``independent_check``); see tests/data/ph_eur_5_3/README.md and PROVENANCE.md.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from secretome.analysis.potency import EquivalenceMargins, ParallelLineAssay, ParallelLineResult

DATA = Path(__file__).resolve().parents[2] / "data" / "ph_eur_5_3"
EXPECTED: dict[str, Any] = json.loads((DATA / "expected.json").read_text())
EXAMPLES = sorted(key for key in EXPECTED if not key.startswith("_"))
TRANSFORMS = {"none": "none", "ln(y)": "ln", "log10(y)": "log10", "sqrt(y)": "sqrt", "y^2": "square"}
COMBISTATS_SOURCES = {
    "Preparations": "preparations",
    "Regression": "regression",
    "Non-parallelism": "non-parallelism",
    "Non-linearity": "non-linearity",
    "Treatments": "treatments",
    "Blocks": "blocks",
    "Rows": "rows",
    "Columns": "columns",
}


@dataclass(frozen=True)
class Example:
    key: str
    expected: dict[str, Any]
    result: ParallelLineResult


def _analyse(key: str) -> Example:
    expected = EXPECTED[key]
    preparations = [expected["reference_preparation"], *expected["test_preparations"]]
    with (DATA / expected["csv"]).open(newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if r["preparation"] in preparations and r.get("excluded") != "TRUE"
        ]
    design: dict[str, list[str]] = {}
    if "reading" in rows[0]:
        # Example 5: each replicate read twice; the analysed response is log10 of the mean reading.
        readings: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for r in rows:
            readings[(r["preparation"], r["dose_nominal"], r["replicate"])].append(float(r["response"]))
        preparation = [k[0] for k in readings]
        dose = [float(k[1]) for k in readings]
        response = [math.log10(float(np.mean(v))) for v in readings.values()]
        transform = "none"
    else:
        preparation = [r["preparation"] for r in rows]
        dose = [float(r["dose_nominal"]) for r in rows]
        response = [float(r["response"]) for r in rows]
        transform = TRANSFORMS[expected["response_transformation"]]
        for factor in ("block", "row", "column"):
            if factor in rows[0]:
                design[factor] = [r[factor] for r in rows]
    assay = ParallelLineAssay(expected["reference_preparation"], transform=transform)
    return Example(key, expected, assay.fit(preparation, dose, response, **design))


@pytest.fixture(scope="module", params=EXAMPLES)
def example(request: pytest.FixtureRequest) -> Example:
    return _analyse(request.param)


PH_EUR_PRINTED = [key for key in EXAMPLES if "pheur_printed_anova_as_quoted_in_package" in EXPECTED[key]]


def _decimals(printed: float) -> int:
    text = repr(float(printed))
    return 0 if text.endswith(".0") else len(text.split(".")[1])


def _assert_printed(value: float, printed: float, *, significant: int | None = None) -> None:
    """``value`` rounds to ``printed`` at the precision it was printed with (half a unit in the last place;
    the printouts round halves up, so the comparison allows exactly half a unit)."""
    if significant is not None:
        unit = (
            10.0 ** (math.floor(math.log10(abs(printed))) - significant + 1)
            if printed
            else 10.0**-significant
        )
    else:
        unit = 10.0 ** -_decimals(printed)
    assert abs(value - printed) <= unit / 2 * (1 + 1e-9), (value, printed)


def _test_names(example: Example) -> list[str]:
    return list(example.expected["test_preparations"])


def test_design_is_read_from_the_data(example: Example) -> None:
    assert example.result.design == example.expected["design"].replace(
        "randomised blocks", "randomised block"
    )


def test_potency_and_fieller_limits_match_combistats_as_printed(example: Example) -> None:
    printed = example.expected["reference_combistats_as_quoted_in_package"]["potency"]
    tests = _test_names(example)
    for i, name in enumerate(tests):
        suffix = "" if len(tests) == 1 else (name if f"Potency{name}" in printed else str(i + 1))
        assumed = example.expected["assumed_potency"][name]
        estimate = example.result.potency(name)
        assert estimate.ci.low is not None and estimate.ci.high is not None
        quoted = printed[f"Potency{suffix}"]
        _assert_printed(assumed * estimate.relative_potency, quoted["estimate"], significant=6)
        _assert_printed(assumed * estimate.ci.low, quoted["lower"], significant=6)
        _assert_printed(assumed * estimate.ci.high, quoted["upper"], significant=6)
        relative_to_assumed = printed[f"ReltoAss{suffix}"]
        _assert_printed(100 * estimate.relative_potency, relative_to_assumed["estimate"])
        _assert_printed(100 * estimate.ci.low, relative_to_assumed["lower"])
        _assert_printed(100 * estimate.ci.high, relative_to_assumed["upper"])
        low, high = estimate.percent_of_estimate()
        assert low is not None and high is not None
        _assert_printed(low, printed[f"ReltoEst{suffix}"]["lower"])
        _assert_printed(high, printed[f"ReltoEst{suffix}"]["upper"])


def test_anova_matches_combistats_as_printed(example: Example) -> None:
    printed = example.expected["reference_combistats_as_quoted_in_package"]["anova"]
    result = example.result
    tests = _test_names(example)
    checked = 0
    for source, line in printed.items():
        name = source.strip("_")
        if name in COMBISTATS_SOURCES:
            ours = result.anova_line(COMBISTATS_SOURCES[name]) if line["F"] is not None else None
        elif name == "Standard":
            ours = result.anova_line(f"non-linearity {result.reference}")
        elif name.startswith("Sample"):
            ours = result.anova_line(
                f"non-linearity {tests[int(name.removeprefix('Sample').strip('_')) - 1]}"
            )
        elif name == "Residual_error":
            residual = result.anova_line("residual")
            assert residual.df == line["df"]
            _assert_printed(residual.ss, line["ss"], significant=6)
            continue
        elif name == "Total":
            total = result.anova_line("total")
            assert total.df == line["df"]
            _assert_printed(total.ss, line["ss"], significant=6)
            continue
        else:
            continue  # quadratic curvature: CombiStats' optional extra lines, not part of Ph. Eur. 5.3
        if ours is None:
            continue  # two-dose assays: CombiStats prints a non-linearity line without a test
        assert ours.df == line["df"], source
        _assert_printed(ours.ss, line["ss"], significant=6)
        assert ours.f is not None and ours.p is not None
        if line["F"] == ">1000":
            assert ours.f > 1000
        else:
            _assert_printed(ours.f, line["F"])
        _assert_printed(ours.p, line["p"])
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("key", PH_EUR_PRINTED)
def test_anova_matches_the_ph_eur_printed_table(key: str) -> None:
    example = _analyse(key)
    printed = example.expected["pheur_printed_anova_as_quoted_in_package"]
    names = {**COMBISTATS_SOURCES, "Residual_error": "residual", "Total": "total"}
    for source, line in printed["anova"].items():
        if line["ss"] is None:
            continue
        ours = example.result.anova_line(names[source])
        assert ours.df == line["df"]
        _assert_printed(ours.ss, line["ss"])
        if line["F"] is not None:
            _assert_printed(ours.f, line["F"])  # type: ignore[arg-type]


def test_everything_matches_the_independent_reanalysis(example: Example) -> None:
    check = example.expected["independent_check"]
    result = example.result
    assert result.n == check["n_used"]
    assert result.common_slope == pytest.approx(check["common_slope_per_ln_dose"], rel=1e-7)
    for source, line in check["anova"].items():
        if line is None:
            assert source == "non_linearity" and result.anova_line("non-parallelism").df >= 1
            continue  # two doses per preparation: no non-linearity line
        ours = result.anova_line(source.replace("_", "-"))
        assert ours.df == line["df"]
        assert ours.ss == pytest.approx(line["ss"], rel=1e-7)
        if "F" in line:
            assert ours.f == pytest.approx(line["F"], rel=1e-7)
            assert ours.p == pytest.approx(line["p"], rel=1e-6)
    for name, expected in check["potency"].items():
        estimate = result.potency(name)
        assert estimate.log_relative_potency == pytest.approx(expected["log_ratio"], rel=1e-7)
        assert estimate.g == pytest.approx(expected["g"], rel=1e-7)
        ratio = expected["ratio_to_assumed"]
        assert estimate.relative_potency == pytest.approx(ratio["estimate"], rel=1e-7)
        assert estimate.ci.low == pytest.approx(ratio["lower"], rel=1e-7)
        assert estimate.ci.high == pytest.approx(ratio["upper"], rel=1e-7)


def test_validity_verdicts_match_the_reanalysis(example: Example) -> None:
    expected = example.expected["independent_check"]["validity"]
    verdicts = {t.name: t.verdict for t in example.result.validity}
    for name, value in expected.items():
        assert verdicts[name] == (value or "not tested"), name
    assert example.result.valid == all(v == "passed" for v in expected.values() if v is not None)


def test_corticotrophin_preparation_u_is_the_non_parallel_one() -> None:
    result = _analyse("pheur_5_1_1_corticotrophin").result
    assert not result.valid
    assert result.anova_line("non-parallelism").p == pytest.approx(0.0075, abs=5e-5)
    by_name = {s.preparation: s for s in result.similarity}
    assert by_name["T"].passed
    assert not by_name["U"].passed


def test_result_survives_a_round_trip_through_its_dictionary() -> None:
    result = _analyse("pheur_5_1_4_hepatitis_b_five_dose").result
    assert ParallelLineResult.from_dict(result.to_dict()) == result
    json.dumps(result.to_dict())


def test_equivalence_of_slopes_can_decide_parallelism_instead_of_the_f_test() -> None:
    example = EXPECTED["pheur_5_1_3_turbidimetric_randomised_block"]
    with (DATA / example["csv"]).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    arguments = (
        [r["preparation"] for r in rows],
        [float(r["dose_nominal"]) for r in rows],
        [float(r["response"]) for r in rows],
    )
    strict = EquivalenceMargins(slope_ratio=(0.99, 1.01))
    lenient = ParallelLineAssay("S", similarity="equivalence").fit(
        *arguments, block=[r["block"] for r in rows]
    )
    narrow = ParallelLineAssay("S", similarity="equivalence", margins=strict).fit(
        *arguments, block=[r["block"] for r in rows]
    )
    slope = lenient.similarity[0].equivalence[0]
    assert slope.parameter == "slope_ratio"
    assert slope.estimate == pytest.approx(lenient.slopes[1] / lenient.slopes[0])
    assert lenient.valid and lenient.similarity[0].passed
    assert not narrow.similarity[0].passed and not narrow.valid
    parallelism = next(t for t in narrow.validity if t.name == "parallelism")
    assert parallelism.verdict == "passed" and not parallelism.decides


def test_unusable_parallel_line_data_are_refused_naming_the_problem() -> None:
    with pytest.raises(ValueError, match="reference"):
        ParallelLineAssay("X").fit(["S", "S", "T", "T"], [1, 2, 1, 2], [1, 2, 1, 2])
    with pytest.raises(ValueError, match="common series"):
        ParallelLineAssay("S").fit(["S"] * 4 + ["T"] * 4, [1, 2, 1, 2, 1, 3, 1, 3], [1, 2, 1, 2, 1, 2, 1, 2])
    with pytest.raises(ValueError, match="Latin square"):
        ParallelLineAssay("S").fit(
            ["S", "S", "T", "T"] * 2, [1, 2] * 4, range(8), row=[1] * 8, column=[1] * 8
        )
    with pytest.raises(ValueError, match="transform"):
        ParallelLineAssay("S", transform="cube")
