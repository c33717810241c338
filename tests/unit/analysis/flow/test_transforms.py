"""Gating-ML scale transforms against flowutils (the specification's reference C code) and closed forms."""

from __future__ import annotations

import math

import flowutils.transforms as reference
import numpy as np
import pytest

from secretome.analysis.flow.transforms import (
    AsinhTransform,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
    RatioTransform,
)

RNG = np.random.default_rng(20261205)
VALUES = np.concatenate(
    [
        RNG.normal(0, 300, 5000),
        10 ** RNG.uniform(-4, 5.6, 5000),
        -(10 ** RNG.uniform(-4, 4, 1000)),
        [0.0, 1e-12, -1e-12, 1.0, 262144.0, 1e7],
    ]
)
PARAMETERS = [
    (262144, 0.5, 4.5, 0),
    (10000, 0.5, 4.5, 0),
    (10000, 1, 4, 0.5),
    (262144, 1, 4.5, 1),
    (1000, 0.25, 3, -0.2),
]


@pytest.mark.parametrize(("t", "w", "m", "a"), PARAMETERS)
def test_logicle_agrees_with_flowutils_to_1e_9(t: float, w: float, m: float, a: float) -> None:
    ours = LogicleTransform("l", t, w, m, a).apply(VALUES)
    theirs = reference.logicle(VALUES.copy(), None, t=t, m=m, w=w, a=a)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("t", "w", "m", "a"), PARAMETERS)
def test_hyperlog_agrees_with_flowutils_to_1e_9(t: float, w: float, m: float, a: float) -> None:
    ours = HyperlogTransform("h", t, w, m, a).apply(VALUES)
    theirs = reference.hyperlog(VALUES.copy(), None, t=t, m=m, w=w, a=a)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_logicle_maps_top_of_scale_to_one_and_zero_to_x1() -> None:
    logicle = LogicleTransform("l", 262144, 0.5, 4.5, 0)
    top, zero = logicle.apply(np.array([262144.0, 0.0]))
    assert top == pytest.approx(1.0, abs=1e-12)
    assert zero == pytest.approx((0 + 0.5) / (4.5 + 0), abs=1e-15)


def test_logicle_of_a_negative_value_is_the_reflection_about_x1() -> None:
    logicle = LogicleTransform("l", 10000, 1, 4, 0.5)
    x1 = (0.5 + 1) / (4 + 0.5)
    positive, negative = logicle.apply(np.array([123.4, -123.4]))
    assert negative == pytest.approx(2 * x1 - positive, abs=1e-12)


def test_fasinh_is_the_gating_ml_formula() -> None:
    t, m, a = 10000.0, 4.0, 1.0
    x = np.array([-50.0, 0.0, 5.0, 9999.0])
    expected = [
        (math.asinh(v * math.sinh(m * math.log(10)) / t) + a * math.log(10)) / ((m + a) * math.log(10))
        for v in x
    ]
    np.testing.assert_allclose(AsinhTransform("a", t, m, a).apply(x), expected, rtol=1e-14)
    np.testing.assert_allclose(
        AsinhTransform("a", t, m, a).apply(x), reference.asinh(x.copy(), None, t=t, m=m, a=a), rtol=1e-14
    )


def test_linear_and_log_are_the_gating_ml_formulas() -> None:
    x = np.array([-500.0, 0.0, 10.0, 10000.0])
    np.testing.assert_allclose(LinearTransform("f", 10000, 500).apply(x), (x + 500) / 10500)
    logged = LogTransform("g", 10000, 5).apply(x)
    assert np.isnan(logged[:2]).all()  # log of 0 and negatives: outside every gate
    np.testing.assert_allclose(logged[2:], np.log10(x[2:] / 10000) / 5 + 1)


def test_ratio_divides_shifted_channels() -> None:
    ratio = RatioTransform("r", "FL2-H", "FL2-A", a=2.7, b=-100, c=-300)
    np.testing.assert_allclose(ratio.apply_pair(np.array([0.0, 100.0]), np.array([0.0, 100.0])), [0.9, 1.35])


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: LogicleTransform("l", -1, 0.5, 4.5, 0), "T"),
        (lambda: LogicleTransform("l", 262144, 3, 4.5, 0), "W"),
        (lambda: LogicleTransform("l", 262144, 0.5, 4.5, -1), "A"),
        (lambda: AsinhTransform("a", 10000, 0, 0), "M"),
        (lambda: LinearTransform("f", 100, -100), "A"),
    ],
)
def test_invalid_parameters_raise_naming_the_parameter(build: object, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}:"):
        build()  # type: ignore[operator]


def test_non_finite_values_become_nan_and_values_beyond_the_table_are_solved() -> None:
    logicle = LogicleTransform("l", 262144, 0.5, 4.5, 0)
    values = np.array([np.nan, np.inf, -np.inf, 262144 * 100.0001, -1e9])
    result = logicle.apply(values)
    assert np.isnan(result[:3]).all()
    np.testing.assert_allclose(
        result[3:],
        reference.logicle(values[3:].copy(), None, t=262144, m=4.5, w=0.5, a=0),
        rtol=0,
        atol=1e-12,
    )
