"""Slope-ratio assays (Ph. Eur. 5.3 section 3.3) on generated data with a known potency ratio."""

from __future__ import annotations

import numpy as np
import pytest

from secretome.analysis.potency import SlopeRatioAssay, SlopeRatioResult


def _assay(
    *,
    ratio: float = 0.8,
    sd: float = 0.05,
    blank_shift: float = 0.0,
    test_intercept_shift: float = 0.0,
    seed: int = 0,
    doses: tuple[float, ...] = (1.0, 2.0, 3.0),
) -> tuple[list[str], list[float], list[float]]:
    rng = np.random.default_rng(seed)
    preparation, dose, response = [], [], []
    for _ in range(4):
        preparation.append("blank")
        dose.append(0.0)
        response.append(1.0 + blank_shift + rng.normal(0, sd))
    for name, slope, shift in (("S", 1.0, 0.0), ("T", ratio, test_intercept_shift)):
        for d in doses:
            for _ in range(4):
                preparation.append(name)
                dose.append(d)
                response.append(1.0 + shift + slope * d + rng.normal(0, sd))
    return preparation, dose, response


def test_noise_free_lines_give_the_exact_ratio_and_an_ideal_anova() -> None:
    result = SlopeRatioAssay("S").fit(*_assay(sd=0.0, ratio=0.75))
    assert result.potency("T").relative_potency == pytest.approx(0.75)
    assert [line.source for line in result.anova] == [
        "regression",
        "blanks",
        "intersection",
        "non-linearity",
        "treatments",
        "residual",
        "total",
    ]
    assert [line.df for line in result.anova][:4] == [2, 1, 1, 2]  # (hd + 1) design: h = 2, d = 3


def test_blanks_off_the_common_line_fail_the_blanks_test() -> None:
    result = SlopeRatioAssay("S").fit(*_assay(blank_shift=0.5, seed=2))
    assert {t.name: t.verdict for t in result.validity}["blanks"] == "failed"
    assert not result.valid


def test_lines_not_meeting_at_zero_fail_the_intersection_test() -> None:
    result = SlopeRatioAssay("S").fit(*_assay(test_intercept_shift=0.4, seed=3))
    assert {t.name: t.verdict for t in result.validity}["intersection"] == "failed"


def test_fieller_limits_cover_the_true_ratio_and_valid_assays_fail_each_test_at_rate_alpha() -> None:
    hits = 0
    runs = 300
    failures = {"blanks": 0, "intersection": 0, "non-linearity": 0}
    for seed in range(runs):
        result = SlopeRatioAssay("S").fit(*_assay(ratio=0.8, sd=0.3, seed=seed))
        estimate = result.potency("T")
        assert estimate.ci.low is not None and estimate.ci.high is not None
        hits += estimate.ci.low <= 0.8 <= estimate.ci.high
        for test in result.validity:
            if test.name in failures:
                failures[test.name] += test.verdict == "failed"
    assert hits / runs == pytest.approx(0.95, abs=0.035)
    for name, count in failures.items():
        assert count / runs == pytest.approx(0.05, abs=0.035), name


def test_doses_not_in_a_common_series_are_refused() -> None:
    preparation, dose, response = _assay()
    dose = [d * 1.7 if p == "T" and d == 3.0 else d for p, d in zip(preparation, dose, strict=True)]
    with pytest.raises(ValueError, match="common series"):
        SlopeRatioAssay("S").fit(preparation, dose, response)


def test_result_round_trips_and_plots() -> None:
    result = SlopeRatioAssay("S").fit(*_assay())
    assert SlopeRatioResult.from_dict(result.to_dict()) == result
    assert result.plot() is not None
