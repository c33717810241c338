"""Hotelling T^2 and MYT against an independent computation, PCA conventions, and the factor models
against closed-form results for balanced designs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from secretome.analysis.trending import DonorMixedModel, HotellingT2, OneWayComparison


def _reference(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mixing = np.array(
        [[1.0, 0.6, 0.0, 0.2], [0.0, 1.0, 0.5, 0.0], [0.0, 0.0, 1.0, 0.3], [0.0, 0.0, 0.0, 1.0]]
    )
    reference = rng.normal(size=(25, 4)) @ mixing + np.array([3.0, 2.0, 1.5, 4.0])
    new = reference.mean(axis=0) + rng.normal(size=(4, 4)) @ mixing
    new[1, 2] += 4.0  # one lot with one analyte far out
    return reference, new


def test_t2_and_limits_agree_with_a_computation_by_hand() -> None:
    reference, new = _reference()
    result = HotellingT2(alpha=0.05).fit(reference, new, ["IL-6", "VEGF", "HGF", "TGF-b1"])
    n, p = reference.shape
    # by hand: sums over lots, covariance with n - 1, solve instead of invert
    mean = [sum(reference[i, j] for i in range(n)) / n for j in range(p)]
    cov = np.array(
        [
            [
                sum((reference[i, a] - mean[a]) * (reference[i, b] - mean[b]) for i in range(n)) / (n - 1)
                for b in range(p)
            ]
            for a in range(p)
        ]
    )
    for lot in range(new.shape[0]):
        d = new[lot] - np.array(mean)
        assert result.t2[lot] == pytest.approx(float(d @ np.linalg.solve(cov, d)), rel=1e-10)
        for j in range(p):
            assert result.myt_unconditional[lot, j] == pytest.approx(d[j] ** 2 / cov[j, j], rel=1e-10)
    assert result.ucl == pytest.approx(p * (n + 1) * (n - 1) / (n * (n - p)) * stats.f.ppf(0.95, p, n - p))
    assert result.myt_ucl == pytest.approx((n + 1) / n * stats.f.ppf(0.95, 1, n - 1))
    payload = result.to_dict()
    assert payload["lots"][1]["flagged"] is True
    assert payload["lots"][1]["analytes_responsible"] == ["HGF"]
    assert set(payload["lots"][0]) >= {"lot_id", "t2", "flagged", "myt_unconditional"}


def test_flagging_is_strictly_above_the_limit() -> None:
    reference, _ = _reference()
    result = HotellingT2().fit(reference, reference.mean(axis=0, keepdims=True), ["a", "b", "c", "d"])
    assert result.t2[0] == pytest.approx(0.0, abs=1e-20) and result.flagged == (False,)


def test_pca_is_on_the_correlation_matrix_with_the_largest_loading_positive() -> None:
    reference, new = _reference()
    result = HotellingT2().fit(
        reference * np.array([1.0, 1000.0, 0.01, 5.0]), new * np.array([1.0, 1000.0, 0.01, 5.0]), list("abcd")
    )
    pca = result.pca
    # scale-free: the same as on the unscaled values
    unscaled = HotellingT2().fit(reference, new, list("abcd")).pca
    np.testing.assert_allclose(pca.eigenvalues, unscaled.eigenvalues, rtol=1e-10)
    assert pca.eigenvalues.sum() == pytest.approx(4.0)
    assert np.all(np.diff(pca.eigenvalues) <= 0)
    for component in range(4):
        column = pca.loadings[:, component]
        assert column[np.argmax(np.abs(column))] > 0
    # independent: eigenvalues from the SVD of the autoscaled reference
    z = (reference - reference.mean(axis=0)) / reference.std(axis=0, ddof=1)
    singular = np.linalg.svd(z, compute_uv=False)
    np.testing.assert_allclose(pca.eigenvalues, singular**2 / (reference.shape[0] - 1), rtol=1e-10)
    np.testing.assert_allclose(pca.reference_scores, z @ pca.loadings, rtol=1e-10, atol=1e-12)


def test_too_few_reference_lots_are_refused() -> None:
    with pytest.raises(ValueError, match="reference"):
        HotellingT2().fit(np.ones((4, 4)), np.ones((1, 4)), list("abcd"))
    with pytest.raises(ValueError, match="alpha"):
        HotellingT2(alpha=1.5)


# --- comparisons by factor -------------------------------------------------------------------------------

SOURCE_VALUES = [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 1.0, 2.0, 3.0]
SOURCES = ["BM"] * 3 + ["AT"] * 3 + ["UC-WJ"] * 3


def test_one_way_anova_matches_hand_computation() -> None:
    result = OneWayComparison("tissue source").fit(SOURCE_VALUES, SOURCES)
    # means 5, 8, 2; grand mean 5; SSB = 3 (0 + 9 + 9) = 54; SSW = 6 x 1 = 6; F = 27 / 1 = 27
    assert result.ss_between == pytest.approx(54.0)
    assert result.ss_within == pytest.approx(6.0)
    assert result.f == pytest.approx(27.0)
    assert result.p_value == pytest.approx(stats.f.sf(27.0, 2, 6))
    assert result.eta_squared == pytest.approx(54 / 60)
    assert result.omega_squared == pytest.approx((54 - 2) / (60 + 1))
    bm = result.summaries[0]
    assert bm.level == "BM" and bm.mean == pytest.approx(5.0)
    assert bm.ci95_upper == pytest.approx(5 + stats.t.ppf(0.975, 6) * math.sqrt(1 / 3))
    pair = result.pairs[0]
    assert (pair.first, pair.second) == ("BM", "AT") and pair.difference == pytest.approx(-3.0)
    assert pair.hedges_g == pytest.approx(-3.0 * (1 - 3 / 15))
    assert pair.ci95_lower < -3.0 < pair.ci95_upper


def test_mixed_model_matches_the_anova_estimators_on_a_balanced_nested_design() -> None:
    rng = np.random.default_rng(11)
    donors = np.repeat(np.arange(6), 4)
    source = np.where(donors < 3, "BM", "AT")
    values = 10 + 2.0 * (source == "AT") + rng.normal(0, 1.5, 6)[donors] + rng.normal(0, 0.7, 24)
    result = DonorMixedModel("tissue source").fit(values, source, donors)
    # balanced: REML = ANOVA estimators when positive
    donor_means = np.array([values[donors == d].mean() for d in range(6)])
    ms_within = sum(((values[donors == d] - donor_means[d]) ** 2).sum() for d in range(6)) / (24 - 6)
    level_of_donor = np.array(["BM"] * 3 + ["AT"] * 3)
    ms_donor = (
        sum(
            ((donor_means[level_of_donor == s] - donor_means[level_of_donor == s].mean()) ** 2).sum()
            for s in ("BM", "AT")
        )
        * 4
        / (6 - 2)
    )
    assert ms_donor > ms_within
    assert result.sigma2_residual == pytest.approx(ms_within, rel=1e-6)
    assert result.sigma2_donor == pytest.approx((ms_donor - ms_within) / 4, rel=1e-6)
    effect = result.effects[0]
    difference = donor_means[3:].mean() - donor_means[:3].mean()
    assert effect.estimate == pytest.approx(difference, rel=1e-8)
    assert effect.se == pytest.approx(math.sqrt(ms_donor * (2 / 12)), rel=1e-6)
    assert effect.df == 4
    half = stats.t.ppf(0.975, 4) * effect.se
    assert effect.ci95_lower == pytest.approx(difference - half, rel=1e-6)


def test_mixed_model_needs_donors_with_more_than_one_lot() -> None:
    with pytest.raises(ValueError, match="donors"):
        DonorMixedModel("tissue source").fit(
            [1.0, 2.0, 3.0, 4.0], ["BM", "BM", "AT", "AT"], ["a", "b", "c", "d"]
        )
