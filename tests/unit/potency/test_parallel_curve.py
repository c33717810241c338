"""Parallel-curve (4PL/5PL) relative potency: joint fits, intervals, similarity decisions, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import curve_fit

from secretome.analysis.potency import (
    EquivalenceMargins,
    ParallelCurveAssay,
    ParallelCurveResult,
)
from tests.unit.potency.curves import generated_assay


def test_relative_potency_of_a_precise_assay_is_the_true_shift_within_its_limits() -> None:
    result = ParallelCurveAssay("S").fit(*generated_assay(sd=0.01, relative_potencies=(0.5, 2.0), seed=1))
    for name, truth in (("T1", 0.5), ("T2", 2.0)):
        estimate = result.potency(name)
        assert estimate.relative_potency == pytest.approx(truth, rel=0.03)
        assert estimate.ci.low is not None and estimate.ci.high is not None
        assert estimate.ci.low < truth < estimate.ci.high
        assert estimate.alternative_ci is not None and estimate.alternative_ci.method.startswith("delta")
    assert result.valid


def test_constrained_fit_matches_an_independent_scipy_joint_fit() -> None:
    preparation, dose, response = generated_assay(sd=0.05, relative_potencies=(0.7,), seed=3)
    result = ParallelCurveAssay("S").fit(preparation, dose, response)
    is_test = np.array([p == "T1" for p in preparation], dtype=float)
    x = np.column_stack([dose, is_test])

    def joint(
        xs: np.ndarray, bottom: float, top: float, log_c: float, hill: float, shift: float
    ) -> np.ndarray:
        c = np.exp(log_c - shift * xs[:, 1])
        return np.asarray(bottom + (top - bottom) / (1 + (c / xs[:, 0]) ** hill))

    params, covariance = curve_fit(joint, x, np.array(response), p0=[0, 2, 0, 1, 0])
    rss = float(((joint(x, *params) - np.array(response)) ** 2).sum())
    assert result.rss_constrained == pytest.approx(rss, rel=1e-6)
    assert result.potency("T1").log_relative_potency == pytest.approx(params[4], rel=1e-5)
    # log-scale delta interval: scipy's covariance of the shift is the variance of log RP.
    t = float(stats.t.ppf(0.975, len(dose) - 5))
    delta = result.potency("T1").alternative_ci
    assert delta is not None and delta.low is not None
    assert math.log(delta.low) == pytest.approx(params[4] - t * math.sqrt(covariance[4, 4]), rel=1e-4)


def test_precise_slightly_non_parallel_assay_passes_equivalence_but_fails_the_f_test() -> None:
    data = generated_assay(sd=0.004, relative_potencies=(0.8,), hills=(1.08,), seed=11)
    for method, expected in (("equivalence", True), ("f-test", False)):
        result = ParallelCurveAssay("S", similarity=method).fit(*data)  # type: ignore[arg-type]
        similarity = result.similarity[0]
        f_test = result.parallelism[0]
        assert f_test.p_value < 0.05  # the difference is real and the assay is precise enough to see it
        assert all(c.passed for c in similarity.equivalence if c.passed is not None)
        assert similarity.passed is expected
        assert similarity.method == method


def test_noisy_clearly_non_parallel_assay_fails_equivalence_but_passes_the_f_test() -> None:
    data = generated_assay(sd=0.25, relative_potencies=(0.8,), hills=(1.8,), replicates=2, seed=5)
    for method, expected in (("equivalence", False), ("f-test", True)):
        result = ParallelCurveAssay("S", similarity=method).fit(*data)  # type: ignore[arg-type]
        similarity = result.similarity[0]
        assert result.parallelism[0].p_value >= 0.05  # too noisy to detect the difference
        hill = next(c for c in similarity.equivalence if c.parameter == "hill_ratio")
        assert hill.passed is False
        assert similarity.passed is expected


def test_several_test_preparations_share_one_model_and_one_parallelism_test() -> None:
    result = ParallelCurveAssay("S").fit(*generated_assay(sd=0.02, relative_potencies=(0.5, 1.0, 2.0)))
    assert result.df_constrained == result.n - 3 - 4  # shared bottom, top, hill + one inflection each
    assert result.df_unconstrained == result.n - 4 * 4
    f_test = result.parallelism[0]
    assert f_test.df == (3 * 3, result.df_unconstrained)
    shared = {c.parameters["hill"] for c in result.constrained}
    assert len(shared) == 1


def test_five_parameter_model_recovers_the_shift_of_asymmetric_curves() -> None:
    data = generated_assay(sd=0.01, relative_potencies=(0.5,), asymmetry=2.5, seed=2)
    result = ParallelCurveAssay("S", model="5pl").fit(*data)
    assert result.potency("T1").relative_potency == pytest.approx(0.5, rel=0.03)
    assert result.model == "5pl"


def test_system_suitability_rejects_a_poor_reference_fit() -> None:
    result = ParallelCurveAssay("S").fit(*generated_assay(sd=0.4, relative_potencies=(0.8,), seed=4))
    assert result.suitability.status == "invalid"
    assert any("r squared" in reason for reason in result.suitability.reasons)
    assert not result.valid


def test_assay_control_potency_outside_its_limits_invalidates_the_run() -> None:
    from secretome.analysis.potency import Limit, SuitabilityCriteria

    criteria = SuitabilityCriteria(control_relative_potency=Limit(0.8, 1.25))
    data = generated_assay(sd=0.01, relative_potencies=(0.5, 1.0))
    inside = ParallelCurveAssay("S", suitability=criteria, control="T2").fit(*data)
    outside = ParallelCurveAssay("S", suitability=criteria, control="T1").fit(*data)
    assert inside.suitability.status == "valid"
    assert outside.suitability.status == "invalid"


def test_asymptote_margins_are_applied_when_the_method_defines_them() -> None:
    margins = EquivalenceMargins(lower_asymptote_difference=(-0.001, 0.001))
    result = ParallelCurveAssay("S", margins=margins).fit(
        *generated_assay(sd=0.05, relative_potencies=(0.8,))
    )
    lower = next(c for c in result.similarity[0].equivalence if c.parameter == "lower_asymptote_difference")
    assert lower.margin == (-0.001, 0.001)
    assert lower.passed is False
    assert not result.similarity[0].passed


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p, d, r: (["X" if n == "S" else n for n in p], d, r), "reference"),
        (
            lambda p, d, r: tuple(
                zip(*[row for row in zip(p, d, r, strict=True) if row[0] == "S" or row[1] < 0.2], strict=True)
            ),
            "needs at least 4",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(change: object, message: str) -> None:
    data = generated_assay(sd=0.01)
    with pytest.raises(ValueError, match=message):
        ParallelCurveAssay("S").fit(*change(*data))  # type: ignore[operator]


@pytest.mark.parametrize("option", [{"model": "6pl"}, {"similarity": "eyeball"}, {"ci_method": "bootstrap"}])
def test_invalid_configuration_is_refused_naming_the_parameter(option: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=next(iter(option))):
        ParallelCurveAssay("S", **option)  # type: ignore[arg-type]


def test_inputs_are_not_mutated_and_the_result_round_trips() -> None:
    preparation, dose, response = generated_assay(sd=0.02)
    before = (list(preparation), list(dose), list(response))
    result = ParallelCurveAssay("S").fit(preparation, dose, response)
    assert (preparation, dose, response) == before
    assert ParallelCurveResult.from_dict(result.to_dict()) == result


def test_plots_draw_the_fit_and_the_residuals() -> None:
    result = ParallelCurveAssay("S").fit(*generated_assay(sd=0.02))
    assert result.plot().get_xscale() == "log"
    assert len(result.plot_residuals().collections) == 2
