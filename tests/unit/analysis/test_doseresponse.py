"""Dose-response engine: models, fits reaching the optimum, invariances, back-calculation, flags, batch."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretome.analysis import (
    CurveFit,
    CurveFitter,
    QuantitationRules,
    ec50_5pl,
    fit_curves,
    five_pl,
    four_pl,
)
from secretome.analysis.logistic import five_pl_inverse, five_pl_jacobian
from secretome.domain.canonical import canonical_json
from tests.unit.analysis.hard_curves import hard_curves, scipy_many_starts

Array = np.ndarray[Any, np.dtype[np.float64]]
DOSES = np.repeat(np.geomspace(0.1, 100.0, 8), 2)


def _noisy(seed: int = 1, sd: float = 0.03, **truth: float) -> Array:
    params = {"bottom": 0.1, "top": 2.0, "inflection": 5.0, "hill": 1.2, "asymmetry": 1.0, **truth}
    rng = np.random.default_rng(seed)
    return np.asarray(five_pl(DOSES, **params) + rng.normal(0.0, sd, DOSES.size))


# -- model functions --------------------------------------------------------------------------------------
def test_five_pl_has_the_stated_form_and_blanks_sit_on_the_dose_zero_asymptote() -> None:
    x = np.array([0.0, 0.5, 2.0, 40.0])
    expected = 0.2 + (3.0 - 0.2) / (1 + (2.0 / x[1:]) ** 1.5) ** 0.7
    assert np.allclose(five_pl(x, 0.2, 3.0, 2.0, 1.5, 0.7)[1:], expected, rtol=1e-14)
    assert five_pl(0.0, 0.2, 3.0, 2.0, 1.5, 0.7) == 0.2
    assert five_pl(0.0, 0.2, 3.0, 2.0, -1.5, 0.7) == 3.0
    assert np.all(np.isfinite(five_pl_jacobian(x, 0.2, 3.0, 2.0, 1.5, 0.7)))
    assert np.allclose(four_pl(x, 0.2, 3.0, 2.0, 1.5), five_pl(x, 0.2, 3.0, 2.0, 1.5, 1.0))


def test_analytic_jacobian_matches_central_differences() -> None:
    x = np.array([0.0, 0.05, 0.7, 3.0, 80.0])
    p = np.array([0.2, 3.0, 2.0, 1.5, 0.7])
    jac = five_pl_jacobian(x, *p)
    for i in range(5):
        step = np.zeros(5)
        step[i] = 1e-6 * max(abs(p[i]), 1)
        numeric = (five_pl(x, *(p + step)) - five_pl(x, *(p - step))) / (2 * step[i])
        assert np.allclose(jac[:, i], numeric, rtol=1e-6, atol=1e-9)


def test_ec50_gives_the_half_way_response_and_equals_the_inflection_for_the_4pl() -> None:
    for g in (0.3, 1.0, 4.0):
        x50 = ec50_5pl(2.0, 1.3, g)
        assert five_pl(x50, 1.0, 5.0, 2.0, 1.3, g) == pytest.approx(3.0, rel=1e-12)
    assert ec50_5pl(2.0, 1.3, 1.0) == pytest.approx(2.0, rel=1e-14)


def test_inverse_gives_no_value_outside_the_asymptotes() -> None:
    y = np.array([0.05, 0.5, 1.9, 2.1])
    x = five_pl_inverse(y, 0.1, 2.0, 3.0, 1.1, 0.8)
    assert np.isnan(x[0]) and np.isnan(x[3])
    assert np.allclose(five_pl(x[1:3], 0.1, 2.0, 3.0, 1.1, 0.8), y[1:3], rtol=1e-12)


# -- reaching the optimum ---------------------------------------------------------------------------------
@pytest.mark.parametrize("five", [False, True], ids=["4pl", "5pl"])
def test_fits_reach_the_optimum_of_a_many_start_scipy_fit_on_hard_curves(five: bool) -> None:
    worse = []
    for curve in hard_curves():
        fit = CurveFitter("5pl" if five else "4pl").fit(curve.dose, curve.response)
        reference = scipy_many_starts(curve.dose, curve.response, five, starts=8)
        assert fit.converged, curve.name
        if fit.rss > reference * (1 + 1e-9):
            worse.append((curve.name, fit.rss, reference))
    assert not worse


# -- invariances (hypothesis) -----------------------------------------------------------------------------
truths = st.fixed_dictionaries(
    {
        "bottom": st.floats(-1.0, 1.0),
        "span": st.floats(0.5, 5.0),
        "inflection": st.floats(0.5, 20.0),
        "hill": st.floats(0.6, 3.0),
        "sign": st.sampled_from([1.0, -1.0]),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(truths)
def test_a_noise_free_curve_is_recovered(truth: dict[str, float]) -> None:
    hill = truth["hill"] * truth["sign"]
    y = four_pl(DOSES, truth["bottom"], truth["bottom"] + truth["span"], truth["inflection"], hill)
    fit = CurveFitter("4pl").fit(DOSES, y)
    p = fit.parameters
    assert p["bottom"] == pytest.approx(truth["bottom"], abs=1e-6 * truth["span"])
    assert p["top"] == pytest.approx(truth["bottom"] + truth["span"], abs=1e-6 * truth["span"])
    assert p["inflection"] == pytest.approx(truth["inflection"], rel=1e-6)
    assert p["hill"] == pytest.approx(hill, rel=1e-6)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(1e-3, 1e3), st.integers(0, 10_000))
def test_scaling_doses_by_k_scales_ec50_and_inflection_by_k_and_nothing_else(k: float, seed: int) -> None:
    y = _noisy(seed)
    base = CurveFitter("4pl").fit(DOSES, y)
    scaled = CurveFitter("4pl").fit(DOSES * k, y)
    for name in ("inflection", "ec50"):
        assert scaled.parameters[name] == pytest.approx(k * base.parameters[name], rel=1e-5)
        assert scaled.standard_errors[name] == pytest.approx(k * base.standard_errors[name], rel=1e-3)
    for name in ("bottom", "top", "hill"):
        assert scaled.parameters[name] == pytest.approx(base.parameters[name], rel=1e-5, abs=1e-7)
    assert scaled.rss == pytest.approx(base.rss, rel=1e-7)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(0.01, 100.0), st.floats(-50.0, 50.0), st.integers(0, 10_000))
def test_an_affine_change_of_responses_moves_only_bottom_and_top(a: float, b: float, seed: int) -> None:
    y = _noisy(seed)
    base = CurveFitter("4pl").fit(DOSES, y)
    moved = CurveFitter("4pl").fit(DOSES, a * y + b)
    assert moved.parameters["bottom"] == pytest.approx(
        a * base.parameters["bottom"] + b, rel=1e-5, abs=1e-5 * a
    )
    assert moved.parameters["top"] == pytest.approx(a * base.parameters["top"] + b, rel=1e-5, abs=1e-5 * a)
    for name in ("inflection", "hill", "ec50"):
        assert moved.parameters[name] == pytest.approx(base.parameters[name], rel=1e-5)
    assert moved.rss == pytest.approx(a * a * base.rss, rel=1e-6)


# -- uncertainty and back-calculation ---------------------------------------------------------------------
def test_back_calculated_se_matches_a_numerical_derivative_of_the_inverse() -> None:
    fit = CurveFitter("5pl").fit(DOSES, _noisy(asymmetry=0.7))
    response = 1.1
    se_curve, _ = fit.concentration_se(response)
    values = np.array(fit.values)
    gradient = np.zeros(values.size)
    for i in range(values.size):
        step = np.zeros(values.size)
        step[i] = 1e-6 * max(abs(values[i]), 1e-3)
        hi = five_pl_inverse(response, *(values + step))
        lo = five_pl_inverse(response, *(values - step))
        gradient[i] = (hi - lo) / (2 * step[i])
    numeric = float(np.sqrt(gradient @ fit.covariance @ gradient))
    assert se_curve == pytest.approx(numeric, rel=1e-5)


def test_ec50_se_matches_a_numerical_delta_method() -> None:
    fit = CurveFitter("5pl").fit(DOSES, _noisy(asymmetry=1.8))
    values = np.array(fit.values)
    gradient = np.zeros(values.size)
    for i in range(2, 5):
        step = np.zeros(values.size)
        step[i] = 1e-6 * abs(values[i])
        gradient[i] = (ec50_5pl(*(values + step)[2:]) - ec50_5pl(*(values - step)[2:])) / (2 * step[i])
    assert fit.standard_errors["ec50"] == pytest.approx(
        float(np.sqrt(gradient @ fit.covariance @ gradient)), rel=1e-5
    )


def test_unknowns_inside_the_asymptotes_get_a_value_and_outside_none() -> None:
    fit = CurveFitter("4pl").fit(DOSES, _noisy())
    inside = fit.back_calculate([1.0, 1.02], sample="A", dilution=10)
    assert inside.concentration is not None and inside.ci is not None
    assert inside.ci[0] < inside.concentration < inside.ci[1]
    assert inside.concentration == pytest.approx(10 * float(fit.concentration(1.01)))
    outside = fit.back_calculate([fit.parameters["top"] + 0.5], sample="B")
    assert outside.concentration is None and "outside_asymptotes" in outside.flags
    low = fit.back_calculate([fit.parameters["bottom"] + 0.01], sample="C")
    assert low.concentration is not None and "below_lloq" in low.flags


def test_replicate_spread_over_the_limit_is_flagged() -> None:
    fit = CurveFitter("4pl").fit(DOSES, _noisy())
    result = fit.back_calculate([0.6, 1.4], sample="A")
    assert result.cv is not None and result.cv > 20 and "cv_over_limit" in result.flags


def test_quantitation_limits_follow_recovery_and_precision_rules() -> None:
    fit = CurveFitter("4pl").fit(DOSES, _noisy(sd=0.02))
    assert fit.lloq is not None and fit.uloq is not None and fit.lloq < fit.uloq
    passing = [s for s in fit.standards if fit.lloq <= s["dose"] <= fit.uloq]
    assert all(s["within_limits"] for s in passing)
    strict = CurveFitter("4pl", rules=QuantitationRules(recovery=(99.9, 100.1), max_cv=0.1)).fit(
        DOSES, _noisy(sd=0.02)
    )
    assert strict.lloq is None and "no_quantitation_range" in strict.flags


# -- flags --------------------------------------------------------------------------------------------------
def test_an_outlier_standard_is_flagged_and_excluded_only_when_asked() -> None:
    y = _noisy(sd=0.01)
    y[7] += 0.5
    flagged = CurveFitter("4pl").fit(DOSES, y)
    assert 7 in flagged.outliers and not flagged.excluded.any()
    excluded = CurveFitter("4pl", rules=QuantitationRules(exclude_outliers=True)).fit(DOSES, y)
    assert excluded.excluded[7] and 7 in excluded.outliers and "outliers_excluded" in excluded.flags
    assert excluded.rss < flagged.rss


def test_hook_effect_and_unreached_plateau_are_flagged() -> None:
    y = _noisy(sd=0.01)
    y[-4:] -= 0.6
    assert "hook_effect" in CurveFitter("4pl").fit(DOSES, y).flags
    unreached = _noisy(sd=0.01, inflection=300.0)
    assert "high_dose_plateau_not_reached" in CurveFitter("4pl").fit(DOSES, unreached).flags


def test_bad_data_is_refused_naming_the_parameter() -> None:
    with pytest.raises(ValueError, match="dose"):
        CurveFitter("5pl").fit([1, 1, 2, 2, 3, 3, 4, 4], [1, 2, 3, 4, 5, 6, 7, 8])
    with pytest.raises(ValueError, match="response"):
        CurveFitter("4pl").fit(DOSES, np.ones(DOSES.size))
    with pytest.raises(ValueError, match="dose"):
        CurveFitter("4pl").fit(-DOSES, _noisy())
    with pytest.raises(ValueError, match="model"):
        CurveFitter("6pl")
    with pytest.raises(ValueError, match="weighting"):
        CurveFitter("4pl", "1/z")


# -- weighting, selection, linear models --------------------------------------------------------------------
@pytest.mark.parametrize("weighting", ["none", "1/y", "1/y^2", "1/x^2", "power"])
def test_every_weighting_fits_and_reports_itself(weighting: str) -> None:
    fit = CurveFitter("4pl", weighting).fit(DOSES, _noisy())
    assert fit.converged and fit.weighting == weighting
    assert (fit.power_exponent is not None) == (weighting == "power")


def test_user_weights_equal_to_one_change_nothing() -> None:
    y = _noisy()
    plain = CurveFitter("4pl").fit(DOSES, y)
    user = CurveFitter("4pl", "user").fit(DOSES, y, np.ones(DOSES.size))
    assert user.rss == pytest.approx(plain.rss, rel=1e-9)


def test_auto_keeps_the_4pl_for_symmetric_data_and_takes_the_5pl_for_strongly_asymmetric_data() -> None:
    symmetric = CurveFitter("auto").fit(DOSES, _noisy(sd=0.02))
    assert (
        symmetric.model == "4pl"
        and symmetric.selection is not None
        and "4PL chosen" in symmetric.selection["reason"]
    )
    x = np.repeat(np.geomspace(0.01, 1000.0, 12), 3)
    y = five_pl(x, 0.1, 2.0, 1.0, 0.8, 0.15) + np.random.default_rng(5).normal(0, 0.005, x.size)
    asymmetric = CurveFitter("auto").fit(x, y)
    assert asymmetric.model == "5pl" and asymmetric.selection is not None


@pytest.mark.parametrize("model", ["linear", "log-linear"])
def test_straight_line_models_recover_exact_lines(model: str) -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = 0.3 + 0.2 * (x if model == "linear" else np.log(x))
    fit = CurveFitter(model).fit(x, y + np.array([0.001, -0.001, 0.0, 0.001, -0.001]))
    assert fit.parameters["intercept"] == pytest.approx(0.3, abs=2e-3)
    assert fit.parameters["slope"] == pytest.approx(0.2, abs=2e-3)
    assert fit.ec50 is None


# -- results ------------------------------------------------------------------------------------------------
def test_result_round_trips_through_canonical_json_and_plots() -> None:
    x = np.r_[0.0, 0.0, DOSES]
    y = np.r_[0.1, 0.11, _noisy()]
    fit = CurveFitter("5pl").fit(x, y)
    text = canonical_json(fit.to_dict())
    again = CurveFit.from_dict(json.loads(text))
    assert canonical_json(again.to_dict()) == text
    assert np.allclose(again.predict([1.0, 10.0]), fit.predict([1.0, 10.0]))
    figure = fit.plot()
    assert len(figure.axes) == 2
    with pytest.raises(AttributeError):
        fit.rss = 0.0  # type: ignore[misc]


def test_inputs_are_not_mutated() -> None:
    x = DOSES.copy()
    y = _noisy()
    y_before = y.copy()
    CurveFitter("4pl").fit(x, y)
    assert np.array_equal(x, DOSES) and np.array_equal(y, y_before)


# -- batch ----------------------------------------------------------------------------------------------------
def test_batch_reaches_the_single_curve_optimum_with_missing_wells() -> None:
    rng = np.random.default_rng(11)
    curves = [_noisy(seed=s, inflection=float(rng.uniform(1, 20))) for s in range(30)]
    response = np.array(curves)
    response[3, 5] = np.nan
    response[7, [0, 9]] = np.nan
    batch = fit_curves(DOSES, response)
    assert batch.converged.all() and len(batch) == 30
    for i in range(30):
        keep = np.isfinite(response[i])
        single = CurveFitter("4pl").fit(DOSES[keep], response[i, keep])
        assert batch.rss[i] <= single.rss * (1 + 1e-8)
        assert batch.ec50[i] == pytest.approx(single.ec50, rel=1e-4)
        assert batch.standard_errors["hill"][i] == pytest.approx(single.standard_errors["hill"], rel=1e-3)


def test_batch_marks_unfittable_curves_as_not_converged() -> None:
    response = np.vstack([_noisy(), np.full(DOSES.size, 1.0), np.full(DOSES.size, np.nan)])
    batch = fit_curves(DOSES, response, "5pl")
    assert batch.converged.tolist() == [True, False, False]
    assert np.isnan(batch.ec50[1])
