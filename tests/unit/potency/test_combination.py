"""Combination of independent assays (Ph. Eur. 5.3 section 6), checked against the formulas computed here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from secretome.analysis.potency import AssayEstimate, CombinationResult, combine_assays

AGREEING = [
    AssayEstimate("1", math.log(0.98), 0.040, 20),
    AssayEstimate("2", math.log(1.03), 0.050, 18),
    AssayEstimate("3", math.log(1.00), 0.030, 22),
]
DISAGREEING = [
    AssayEstimate("1", math.log(0.80), 0.020, 20),
    AssayEstimate("2", math.log(1.20), 0.020, 20),
    AssayEstimate("3", math.log(1.00), 0.030, 20),
]


def test_homogeneous_assays_are_combined_with_weights_one_over_the_variance() -> None:
    result = combine_assays(AGREEING)
    m = np.array([a.log_potency for a in AGREEING])
    w = 1 / np.array([a.standard_error for a in AGREEING]) ** 2
    mean = (w * m).sum() / w.sum()
    chi2 = (w * (m - mean) ** 2).sum()
    t = stats.t.ppf(0.975, 20 + 18 + 22)
    assert result.method == "weighted"
    assert result.homogeneity.statistic == pytest.approx(chi2)
    assert result.homogeneity.p_value == pytest.approx(stats.chi2.sf(chi2, 2))
    assert result.relative_potency == pytest.approx(math.exp(mean))
    assert result.ci.low == pytest.approx(math.exp(mean - t / math.sqrt(w.sum())))
    assert result.ci.high == pytest.approx(math.exp(mean + t / math.sqrt(w.sum())))
    assert "agree" in result.reason


def test_heterogeneous_assays_get_the_semi_weighted_combination() -> None:
    result = combine_assays(DISAGREEING)
    m = np.array([a.log_potency for a in DISAGREEING])
    v = np.array([a.standard_error for a in DISAGREEING]) ** 2
    between = ((m - m.mean()) ** 2).sum() / 2 - v.sum() / 3
    w = 1 / (v + between)
    mean = (w * m).sum() / w.sum()
    assert not result.homogeneity.homogeneous
    assert result.method == "semi-weighted"
    assert result.relative_potency == pytest.approx(math.exp(mean))
    assert result.ci.high == pytest.approx(math.exp(mean + stats.norm.ppf(0.975) / math.sqrt(w.sum())))
    assert "disagree" in result.reason


def test_unweighted_combination_is_the_geometric_mean_with_t_on_n_minus_1_df() -> None:
    result = combine_assays(DISAGREEING, method="unweighted")
    m = np.array([a.log_potency for a in DISAGREEING])
    half = stats.t.ppf(0.975, 2) * m.std(ddof=1) / math.sqrt(3)
    assert result.relative_potency == pytest.approx(math.exp(m.mean()))
    assert (result.ci.low, result.ci.high) == pytest.approx(
        (math.exp(m.mean() - half), math.exp(m.mean() + half))
    )


def test_standard_error_is_recovered_from_a_confidence_interval() -> None:
    se, df = 0.05, 12
    t = stats.t.ppf(0.975, df)
    estimate = AssayEstimate.from_interval("a", 1.1, 1.1 * math.exp(-t * se), 1.1 * math.exp(t * se), df=df)
    assert estimate.standard_error == pytest.approx(se)
    assert estimate.log_potency == pytest.approx(math.log(1.1))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: combine_assays(AGREEING[:1]), "at least two"),
        (lambda: combine_assays(AGREEING, method="median"), "method"),
        (lambda: AssayEstimate.from_interval("a", 1.0, 1.1, 1.2), "enclose"),
        (lambda: AssayEstimate("a", 0.0, -1.0), "standard error"),
    ],
)
def test_bad_combinations_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_combination_round_trips_and_plots() -> None:
    result = combine_assays(AGREEING)
    assert CombinationResult.from_dict(result.to_dict()) == result
    assert result.plot().get_xscale() == "log"
