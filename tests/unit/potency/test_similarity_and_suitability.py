"""Equivalence margins, tolerance intervals from reference-against-reference history, suitability verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from secretome.analysis.potency import (
    EquivalenceMargins,
    Limit,
    SuitabilityCriteria,
    evaluate_suitability,
    margins_from_history,
    tolerance_factor,
)


def test_tolerance_interval_covers_the_stated_fraction_with_the_stated_confidence() -> None:
    # Monte Carlo check of the definition: in about 95 % of samples of 10 the interval mean +- k sd
    # contains at least 90 % of the normal population.
    rng = np.random.default_rng(7)
    n, coverage, confidence, runs = 10, 0.90, 0.95, 4000
    k = tolerance_factor(n, coverage, confidence)
    samples = rng.normal(size=(runs, n))
    mean, sd = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    covered = stats.norm.cdf(mean + k * sd) - stats.norm.cdf(mean - k * sd)
    assert np.mean(covered >= coverage) == pytest.approx(confidence, abs=0.015)


def test_tolerance_factor_grows_as_history_shrinks() -> None:
    assert tolerance_factor(5, 0.99, 0.95) > tolerance_factor(30, 0.99, 0.95) > stats.norm.ppf(0.995)


def test_margins_from_history_treat_ratios_on_the_log_scale_and_differences_linearly() -> None:
    hill = [0.95, 1.02, 1.05, 0.98, 1.01, 0.97, 1.03, 1.00]
    lower = [-0.02, 0.01, 0.0, 0.015, -0.01, 0.005, -0.005, 0.0]
    derived = margins_from_history({"hill_ratio": hill, "lower_asymptote_difference": lower})
    k = tolerance_factor(len(hill), 0.99, 0.95)
    log_hill = np.log(hill)
    assert derived.margins.hill_ratio == pytest.approx(
        (
            np.exp(log_hill.mean() - k * log_hill.std(ddof=1)),
            np.exp(log_hill.mean() + k * log_hill.std(ddof=1)),
        )
    )
    assert derived.margins.lower_asymptote_difference == pytest.approx(
        (np.mean(lower) - k * np.std(lower, ddof=1), np.mean(lower) + k * np.std(lower, ddof=1))
    )
    assert derived.margins.span_ratio is None
    assert {d.scale for d in derived.derivations} == {"log", "linear"}


@pytest.mark.parametrize(
    "history, message",
    [
        ({"hill_ratio": [1.0, 1.1]}, "at least 3"),
        ({"slope": [1, 1, 1]}, "unknown"),
        ({"span_ratio": [1, -1, 1]}, "positive"),
    ],
)
def test_unusable_history_is_refused(history: dict[str, list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        margins_from_history(history)


def test_margins_refuse_unknown_keys_and_reversed_ranges() -> None:
    with pytest.raises(ValueError, match="unknown"):
        EquivalenceMargins.from_mapping({"hill": [0.8, 1.25]})
    with pytest.raises(ValueError, match="hill_ratio"):
        EquivalenceMargins(hill_ratio=(1.25, 0.8))
    assert EquivalenceMargins.from_mapping({"span_ratio": [0.7, 1.4]}).span_ratio == (0.7, 1.4)


def test_suitability_is_invalid_on_a_reject_and_valid_with_warnings_on_a_warn() -> None:
    criteria = SuitabilityCriteria(
        r_squared=Limit(low=0.98), span=Limit(low=1.0, severity="warn"), response_within_reference_range=None
    )
    good = evaluate_suitability(criteria, {"r_squared": 0.99, "span": 2.0}, {"T": {"similarity": True}})
    warned = evaluate_suitability(criteria, {"r_squared": 0.99, "span": 0.5}, {"T": {"similarity": True}})
    rejected = evaluate_suitability(criteria, {"r_squared": 0.90, "span": 2.0}, {"T": {"similarity": True}})
    dissimilar = evaluate_suitability(
        criteria, {"r_squared": 0.99, "span": 2.0}, {"T": {"similarity": False}}
    )
    assert good.status == "valid" and good.reasons == ()
    assert warned.status == "valid with warnings" and "span" in warned.reasons[0]
    assert rejected.status == "invalid" and "r squared" in rejected.reasons[0]
    assert dissimilar.status == "invalid" and "not similar" in dissimilar.reasons[0]


def test_suitability_scoped_to_one_preparation_keeps_the_system_checks() -> None:
    report = evaluate_suitability(
        SuitabilityCriteria(), {"r_squared": 0.99}, {"T": {"similarity": False}, "U": {"similarity": True}}
    )
    assert report.status == "invalid"
    assert report.for_scope("U").status == "valid"
    assert [c.scope for c in report.for_scope("T").checks] == ["system", "T"]


def test_suitability_criteria_from_json_refuse_unknown_criteria() -> None:
    criteria = SuitabilityCriteria.from_mapping({"hill": {"low": 0.5, "high": 2, "severity": "warn"}})
    assert criteria.hill == Limit(0.5, 2, "warn")
    with pytest.raises(ValueError, match="unknown"):
        SuitabilityCriteria.from_mapping({"slope_of_doom": {"low": 1}})
    with pytest.raises(ValueError, match="severity"):
        Limit(0, 1, "fatal")  # type: ignore[arg-type]
