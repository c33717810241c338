"""Potency assays against hand-computed references: IDO activity, T-cell suppression, tube formation and
scratch wound healing, and the ratio of means with Fieller's interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from secretome.analysis.assays import (
    analyse_ido,
    analyse_suppression,
    analyse_tube_formation,
    analyse_wound_healing,
    closure_percent,
    ido_activity,
    percent_inhibition,
    ratio_of_means,
)


# -- ratio of means ---------------------------------------------------------------------------------------
def fieller_by_hand(a: list[float], b: list[float], level: float = 0.95) -> tuple[float, float]:
    """Fieller's limits for mean(a) / mean(b), independent groups, written out from the textbook formula."""
    ma, mb = float(np.mean(a)), float(np.mean(b))
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = stats.t.ppf(0.5 + level / 2, len(a) + len(b) - 2)
    m = ma / mb
    g = t**2 * vb / mb**2
    half = t / abs(mb) * math.sqrt(va * (1 - g) + m**2 * vb)
    return (m - half) / (1 - g), (m + half) / (1 - g)


def test_ratio_of_means_matches_fieller_written_out_by_hand() -> None:
    a, b = [82.0, 90.0, 95.0, 87.0], [101.0, 97.0, 104.0]
    ratio = ratio_of_means(a, b)
    low, high = fieller_by_hand(a, b)
    assert ratio.value == pytest.approx(np.mean(a) / np.mean(b), rel=1e-12)
    assert ratio.low == pytest.approx(low, rel=1e-10)
    assert ratio.high == pytest.approx(high, rel=1e-10)
    assert ratio.df == 5


def test_ratio_net_of_a_baseline_subtracts_it_from_both_means() -> None:
    ratio = ratio_of_means([50.0, 52.0], [90.0, 94.0], baseline=[10.0, 12.0])
    assert ratio.value == pytest.approx((51.0 - 11.0) / (92.0 - 11.0))
    assert ratio.low is not None and ratio.high is not None
    assert ratio.low < ratio.value < ratio.high


# -- IDO ------------------------------------------------------------------------------------------------------
def test_ido_activity_is_kynurenine_times_volume_per_million_cells_per_hour() -> None:
    # 30 uM in 0.2 mL from 1e5 cells over 48 h: 6 nmol / 0.1 / 48 = 1.25 nmol/10^6 cells/h
    assert ido_activity(30.0, volume_ml=0.2, cells=1e5, hours=48.0) == pytest.approx(1.25, rel=1e-15)
    with pytest.raises(ValueError, match=r"^cells:"):
        ido_activity(30.0, volume_ml=0.2, cells=0.0, hours=48.0)


def test_ido_back_calculates_kynurenine_on_the_linear_curve_and_applies_lloq() -> None:
    standards = np.repeat([0.0, 3.125, 6.25, 12.5, 25.0, 50.0, 100.0], 2)
    slope, intercept = 0.0112, 0.041
    response = intercept + slope * standards + np.tile([0.0008, -0.0008], 7)
    samples = {
        "L1": [(2.0, [intercept + slope * 20.0 + 0.0005, intercept + slope * 20.0 - 0.0005])],
        "L2": [(2.0, [intercept + slope * 0.5, intercept + slope * 0.5])],
    }
    result = analyse_ido(standards, response, samples, volume_ml=0.2, cells=1e5, hours=48.0)
    l1 = result.samples["L1"]
    assert l1.kynurenine.value == pytest.approx(40.0, rel=1e-6)
    assert l1.activity.value == pytest.approx(40.0 * 0.2 / 0.1 / 48.0, rel=1e-6)
    l2 = result.samples["L2"]
    assert l2.kynurenine.qualifier == "<"
    assert result.curve.lloq is not None
    assert l2.kynurenine.value == pytest.approx(result.curve.lloq * 2.0)
    assert l2.activity.qualifier == "<"
    assert result.plot().axes
    assert result.to_dict()["activity_unit"] == "nmol/10^6 cells/h"


# -- T-cell suppression ---------------------------------------------------------------------------------------
def test_percent_inhibition_follows_the_formula() -> None:
    # P_stim 60 % divided, P_unstim 5 %: a CM well at 32.5 % divided is 50 % inhibited.
    assert percent_inhibition([32.5, 60.0, 5.0], 60.0, 5.0) == pytest.approx([50.0, 0.0, 100.0])
    with pytest.raises(ValueError, match=r"^stimulated:"):
        percent_inhibition([1.0], 5.0, 5.0)


def inhibition_curve(dose: np.ndarray, ic50: float) -> np.ndarray:
    """4PL from 2 % to 92 % inhibition, Hill 1.3, inflection ``ic50``."""
    return 2.0 + 90.0 / (1 + (ic50 / dose) ** 1.3)


def readout_for(inhibition: np.ndarray, stim: float = 60.0, unstim: float = 5.0) -> np.ndarray:
    return unstim + (1 - inhibition / 100) * (stim - unstim)


def test_ic50_is_where_the_fitted_curve_crosses_50_percent_and_rp_is_the_dose_shift() -> None:
    doses = np.repeat([0.78125, 1.5625, 3.125, 6.25, 12.5, 25.0, 50.0], 2)
    wiggle = np.tile([0.3, -0.3], 7)
    reference = readout_for(inhibition_curve(doses, 8.0)) + wiggle
    test = readout_for(inhibition_curve(doses, 4.0)) + wiggle  # twice as potent
    result = analyse_suppression(
        [60.0, 60.0, 60.0],
        [5.0, 5.0, 5.0],
        {"REF": (doses, reference), "L1": (doses, test)},
        reference="REF",
        report_dose=12.5,
    )
    # 50 % inhibition on 2 + 90 / (1 + (C / x)^1.3): x = C / (90 / 48 - 1)^(1 / 1.3)
    assert result.preparations["REF"].ic50 == pytest.approx(8.0 / (90 / 48 - 1) ** (1 / 1.3), rel=1e-4)
    assert result.preparations["L1"].relative_ic50 == pytest.approx(4.0, rel=1e-4)
    assert result.preparations["L1"].inhibition_at == pytest.approx(
        float(inhibition_curve(np.array([12.5]), 4.0)[0]), rel=1e-3
    )
    assert result.potency is not None
    assert result.potency.potency("L1").relative_potency == pytest.approx(2.0, rel=1e-3)
    assert result.stimulation_index == pytest.approx(12.0)
    assert result.plot().axes


def test_a_flat_preparation_never_reaches_50_percent_and_says_so() -> None:
    doses = np.repeat([1.0, 2.0, 4.0, 8.0, 16.0], 2)
    result = analyse_suppression([60.0], [5.0], {"L1": (doses, readout_for(5 + 25 * doses / (doses + 4)))})
    assert result.preparations["L1"].ic50 is None
    assert "never_reaches_50_percent" in result.preparations["L1"].flags


# -- angiogenesis ----------------------------------------------------------------------------------------------
def test_tube_formation_is_percent_of_vegf_with_fieller_limits_and_rp_against_the_reference() -> None:
    groups = {
        "VEGF": [10500.0, 9800.0, 10100.0],
        "basal": [3100.0, 2900.0, 3300.0],
        "REF": [8000.0, 8400.0, 7900.0],
        "L1": [9100.0, 8800.0, 9300.0],
    }
    result = analyse_tube_formation(groups, positive="VEGF", negative="basal", reference="REF")
    l1 = result.groups["L1"]
    low, high = fieller_by_hand(groups["L1"], groups["VEGF"])
    assert l1.percent_of_positive.value == pytest.approx(
        100 * np.mean(groups["L1"]) / np.mean(groups["VEGF"])
    )
    assert l1.percent_of_positive.low == pytest.approx(100 * low, rel=1e-10)
    assert l1.percent_of_positive.high == pytest.approx(100 * high, rel=1e-10)
    assert l1.relative_potency is not None
    assert l1.relative_potency.value == pytest.approx(np.mean(groups["L1"]) / np.mean(groups["REF"]))
    assert l1.fold_over_basal is not None
    assert l1.fold_over_basal.value == pytest.approx(np.mean(groups["L1"]) / 3100.0)
    net = analyse_tube_formation(groups, positive="VEGF", negative="basal", baseline="negative")
    assert net.groups["L1"].percent_of_positive.value == pytest.approx(
        100 * (9066.6667 - 3100) / (10133.3333 - 3100), rel=1e-6
    )
    assert net.groups["basal"].percent_of_positive.value == pytest.approx(0.0, abs=1e-9)
    assert result.plot().axes


def test_tube_formation_names_a_missing_control() -> None:
    with pytest.raises(ValueError, match=r"^positive:"):
        analyse_tube_formation({"L1": [1.0, 2.0]}, positive="VEGF")


# -- wound healing ----------------------------------------------------------------------------------------------
def test_closure_and_rate_match_the_formula_and_an_independent_regression() -> None:
    hours = [0.0, 6.0, 12.0, 24.0]
    wells = {
        "A1": ("control", hours, [1.0e6, 0.85e6, 0.72e6, 0.50e6]),
        "A2": ("control", hours, [1.1e6, 0.95e6, 0.80e6, 0.57e6]),
        "B1": ("L1", hours, [1.0e6, 0.78e6, 0.58e6, 0.25e6]),
        "B2": ("L1", hours, [0.9e6, 0.71e6, 0.53e6, 0.24e6]),
    }
    result = analyse_wound_healing(wells, control="control", at_hours=24.0)
    b1 = next(w for w in result.wells if w.well == "B1")
    assert b1.closure_at == pytest.approx(75.0)
    regression = stats.linregress(hours, closure_percent(1.0e6, [1.0e6, 0.78e6, 0.58e6, 0.25e6]))
    assert b1.rate == pytest.approx(regression.slope, rel=1e-10)
    assert b1.rate_se == pytest.approx(regression.stderr, rel=1e-10)
    control_mean = np.mean([50.0, 100 * (1.1 - 0.57) / 1.1])
    l1_mean = np.mean([75.0, 100 * (0.9 - 0.24) / 0.9])
    assert result.groups["L1"].relative_closure.value == pytest.approx(100 * l1_mean / control_mean)
    half_day = analyse_wound_healing(wells, control="control", at_hours=18.0)
    a1 = next(w for w in half_day.wells if w.well == "A1")
    assert a1.closure_at == pytest.approx((28.0 + 50.0) / 2)  # interpolated between 12 h and 24 h
    assert result.plot().axes


def test_wound_healing_refuses_a_time_beyond_the_images_and_a_missing_zero() -> None:
    with pytest.raises(ValueError, match=r"^at_hours:"):
        analyse_wound_healing({"A1": ("c", [0.0, 12.0], [1.0, 0.5])}, control="c", at_hours=24.0)
    with pytest.raises(ValueError, match=r"^hours:"):
        analyse_wound_healing({"A1": ("c", [2.0, 12.0], [1.0, 0.5])}, control="c", at_hours=12.0)
