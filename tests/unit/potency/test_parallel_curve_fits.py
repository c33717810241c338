"""The parallel-curve fitting strategy: the fast single-start solution reaches the same optimum as the
thorough multi-start and as an independent, tightly converged scipy fit; doubtful solutions take the
thorough path; the MINPACK wrapper and the scipy.special shortcuts behave as documented."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import least_squares as scipy_least_squares

from secretome.analysis.logistic import HILL_BOUNDS, five_pl
from secretome.analysis.potency import ParallelCurveAssay
from secretome.analysis.potency._curve_fits import (
    _lack_of_fit_p,
    fit_assay,
    fit_joint,
    fit_separate,
    reference_shapes,
)
from secretome.analysis.potency._data import arrange
from secretome.analysis.potency._distributions import chi2_upper_tail, f_upper_tail, t_quantile
from secretome.analysis.potency._least_squares import least_squares
from tests.unit.potency.curves import DOSES, generated_assay

Assay = tuple[list[str], list[float], list[float]]


def _curves(
    *,
    hill: float,
    relative_potencies: tuple[float, ...],
    sd: float,
    seed: int,
    replicates: int = 3,
    bottom: float = 0.1,
    top: float = 2.0,
) -> Assay:
    """Reference ``S`` and tests ``T1...`` with a shared shape; a negative ``hill`` makes falling curves."""
    rng = np.random.default_rng(seed)
    preparation: list[str] = []
    dose: list[float] = []
    response: list[float] = []
    for i, rp in enumerate((1.0, *relative_potencies)):
        for d in DOSES:
            for _ in range(replicates):
                preparation.append("S" if i == 0 else f"T{i}")
                dose.append(float(d))
                response.append(float(five_pl(d, bottom, top, 1.0 / rp, hill)) + float(rng.normal(0.0, sd)))
    return preparation, dose, response


ASSAYS = [
    _curves(hill=1.0, relative_potencies=(0.7,), sd=0.03, seed=1),
    _curves(hill=-1.5, relative_potencies=(1.6,), sd=0.05, seed=2),
    _curves(hill=3.0, relative_potencies=(0.5, 2.0), sd=0.02, seed=3),
    _curves(hill=0.6, relative_potencies=(1.2,), sd=0.1, seed=4, replicates=2),
    _curves(hill=-2.0, relative_potencies=(0.8, 1.1, 1.4), sd=0.04, seed=5),
    generated_assay(sd=0.004, relative_potencies=(0.8,), hills=(1.08,), seed=11),  # F-test significant
]


def _scipy_fits(data_args: Assay) -> tuple[float, float, np.ndarray]:
    """Constrained and unconstrained sums of squares and the constrained log inflections, each fit by
    scipy's MINPACK driver with tolerances at machine precision, started from the generating curves."""
    labels = np.array(data_args[0])
    names = list(dict.fromkeys(data_args[0]))
    index = np.array([names.index(name) for name in labels])
    dose, response = np.array(data_args[1]), np.array(data_args[2])
    h = len(names)
    tight = {"method": "lm", "xtol": 1e-15, "ftol": 1e-15, "gtol": 1e-15}

    def joint(theta: np.ndarray) -> np.ndarray:
        return np.asarray(five_pl(dose, theta[0], theta[1], np.exp(theta[3 + index]), theta[2]) - response)

    sign = math.copysign(1.0, float(np.corrcoef(np.log(dose), response)[0, 1]))
    start = np.array([0.1, 2.0, sign, *np.zeros(h)]) if sign > 0 else np.array([2.0, 0.1, 1.0, *np.zeros(h)])
    constrained = scipy_least_squares(joint, start, **tight)
    rss_u = 0.0
    for i in range(h):
        mask = index == i

        def own(theta: np.ndarray, mask: np.ndarray = mask) -> np.ndarray:
            return np.asarray(
                five_pl(dose[mask], theta[0], theta[1], np.exp(theta[2]), theta[3]) - response[mask]
            )

        log_c = constrained.x[3 + i]
        fit = scipy_least_squares(own, np.array([*constrained.x[:2], log_c, constrained.x[2]]), **tight)
        rss_u += 2 * fit.cost
    return 2 * constrained.cost, rss_u, constrained.x[3:]


@pytest.mark.parametrize("assay", ASSAYS)
def test_fits_reach_the_optimum_of_an_independent_tightly_converged_scipy_fit(assay: Assay) -> None:
    result = ParallelCurveAssay("S").fit(*assay)
    rss_c, rss_u, log_c = _scipy_fits(assay)
    assert result.rss_constrained <= rss_c * (1 + 1e-9)
    assert result.rss_unconstrained <= rss_u * (1 + 1e-9)
    for estimate, log_c_test in zip(result.potencies, log_c[1:], strict=True):
        assert estimate.log_relative_potency == pytest.approx(log_c[0] - log_c_test, abs=1e-6)


@pytest.mark.parametrize("assay", ASSAYS)
def test_fast_solution_is_as_good_as_the_thorough_multistart(assay: Assay) -> None:
    data = arrange(*assay, "S", min_doses=4)
    members = range(len(data.preparations))
    joint, separate = fit_assay(data, 4, 0.05)
    shapes = reference_shapes(data, 4)
    thorough_joint = fit_joint(data, members, 4, shapes)
    thorough_separate = fit_separate(data, thorough_joint, 4, shapes)
    assert joint.rss <= thorough_joint.rss * (1 + 1e-9)
    for curve, other in zip(separate, thorough_separate, strict=True):
        assert curve.rss <= other.rss * (1 + 1e-9)
    shift = joint.log_inflection - joint.log_inflection[0]
    thorough_shift = thorough_joint.log_inflection - thorough_joint.log_inflection[0]
    np.testing.assert_allclose(shift, thorough_shift, atol=1e-6)


def test_each_own_curve_fits_at_least_as_well_as_its_constrained_curve() -> None:
    for assay in ASSAYS:
        data = arrange(*assay, "S", min_doses=4)
        joint, separate = fit_assay(data, 4, 0.05)
        for curve, share in zip(separate, joint.rss_by_curve, strict=True):
            assert curve.rss <= share * (1 + 1e-9)


def test_an_unreplicated_design_has_no_lack_of_fit_yardstick_and_still_reaches_the_optimum() -> None:
    assay = _curves(hill=1.2, relative_potencies=(0.6,), sd=0.03, seed=8, replicates=1)
    data = arrange(*assay, "S", min_doses=4)
    assert _lack_of_fit_p(data, 1.0, 4) is None
    result = ParallelCurveAssay("S").fit(*assay)
    rss_c, rss_u, _ = _scipy_fits(assay)
    assert result.rss_constrained <= rss_c * (1 + 1e-9)
    assert result.rss_unconstrained <= rss_u * (1 + 1e-9)


def test_a_step_beyond_the_hill_bound_is_fitted_within_the_bounds() -> None:
    # A step between two doses: the unbounded optimum has an infinite hill, the engine's bound is 50.
    preparation, dose, response = _curves(hill=400.0, relative_potencies=(0.5,), sd=0.01, seed=9)
    result = ParallelCurveAssay("S").fit(preparation, dose, response)
    for curve in (*result.constrained, *result.unconstrained):
        assert HILL_BOUNDS[0] <= abs(curve.parameters["hill"]) <= HILL_BOUNDS[1]
    assert result.rss_unconstrained <= result.rss_constrained


def test_partial_f_of_each_preparation_is_never_negative() -> None:
    # The fit without one preparation starts from the constrained solution, so it can only improve on it.
    result = ParallelCurveAssay("S").fit(*ASSAYS[4])
    for assessment in result.similarity:
        assert assessment.difference_tests[0].statistic >= 0.0


def test_least_squares_reports_a_solution_outside_the_box_as_untrusted() -> None:
    x = np.linspace(0.0, 1.0, 20)
    y = 3.0 * x + 1.0

    def line(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return theta[0] + theta[1] * x - y, np.column_stack([np.ones_like(x), x])

    inside = least_squares(line, np.zeros(2), np.array([-10.0, -10.0]), np.array([10.0, 10.0]))
    outside = least_squares(line, np.zeros(2), np.array([-10.0, -10.0]), np.array([10.0, 2.0]))
    assert inside.trusted and inside.theta == pytest.approx([1.0, 3.0])
    assert not outside.trusted


def test_least_squares_started_at_the_optimum_reports_the_optimum_sum_of_squares() -> None:
    # MINPACK's wrapper writes into the first residual array it is handed; the reported sum of squares must
    # still be the model's.
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 1.0, 30)
    y = 2.0 - x + rng.normal(0.0, 0.1, x.size)
    design = np.column_stack([np.ones_like(x), x])
    optimum = np.asarray(np.linalg.lstsq(design, y, rcond=None)[0], dtype=np.float64)

    def line(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return design @ theta - y, design

    fit = least_squares(line, optimum, np.full(2, -np.inf), np.full(2, np.inf))
    expected = float(((design @ optimum - y) ** 2).sum())
    assert fit.rss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("df", [1, 3, 12, 47, 200])
def test_quantiles_and_tails_equal_scipy_stats(df: int) -> None:
    for probability in (0.5, 0.9, 0.95, 0.975, 0.995):
        assert t_quantile(probability, df) == float(stats.t.ppf(probability, df))
    for statistic in (-1e-12, 0.0, 0.3, 1.0, 4.5, 30.0):
        assert f_upper_tail(statistic, 3, df) == float(stats.f.sf(statistic, 3, df))
        assert chi2_upper_tail(statistic, df) == float(stats.chi2.sf(statistic, df))


def test_dose_groups_hold_the_mean_of_every_preparation_at_every_dose() -> None:
    preparation, dose, response = ASSAYS[2]
    data = arrange(preparation[:-1], dose[:-1], response[:-1], "S", min_doses=4)  # one replicate short
    groups = data.dose_groups
    for i in range(len(data.preparations)):
        for j, level in enumerate(groups.levels):
            mask = (data.preparation_index == i) & (data.dose == level)
            assert groups.size[i, j] == mask.sum()
            assert groups.mean[i, j] == pytest.approx(data.response[mask].mean(), rel=1e-15)
