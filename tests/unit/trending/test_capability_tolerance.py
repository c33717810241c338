"""Capability against hand-computed values; tolerance factors against published tables.

Tolerance tables: NIST/SEMATECH e-Handbook of Statistical Methods, section 7.2.6.3 (example n = 43,
P = 0.90, gamma = 0.99: Howe k2 = 2.2173); ISO 16269-6 / Odeh and Owen (1980) two-sided exact factors and
one-sided non-central t factors (as tabulated, e.g., in Krishnamoorthy and Mathew, Statistical Tolerance
Regions, 2009, table B1; Natrella, NBS Handbook 91, table A-7).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from secretome.analysis.trending import Capability, ToleranceInterval, nonparametric_ranks, tolerance_factor
from secretome.analysis.trending.tolerance import two_sided_confidence

# --- capability ------------------------------------------------------------------------------------------

LOTS = [10.0, 12.0, 11.0, 13.0, 9.0]
# By hand: mean 11; moving ranges 2, 1, 2, 4 -> MRbar 2.25, sigma_within 2.25 / 1.128 = 1.994681;
# squared deviations 1, 1, 0, 4, 4 -> SD sqrt(10 / 4) = 1.581139.
SIGMA_W = 2.25 / 1.128
SD = math.sqrt(2.5)


def test_capability_matches_hand_computed_values_for_a_two_sided_specification() -> None:
    result = Capability(lsl=5.0, usl=17.0).fit(LOTS)
    assert result.mean == pytest.approx(11.0, abs=1e-12)
    assert result.sigma_within == pytest.approx(1.9946809, abs=1e-6)
    assert result.sd_overall == pytest.approx(1.5811388, abs=1e-6)
    assert result.cp.estimate == pytest.approx(12 / (6 * SIGMA_W), abs=1e-12)  # 1.002667
    assert result.cp.estimate == pytest.approx(1.002667, abs=1e-6)
    assert result.cpl == pytest.approx(result.cpu)
    assert result.cpk.estimate == pytest.approx(1.002667, abs=1e-6)
    assert result.pp.estimate == pytest.approx(1.264911, abs=1e-6)
    assert result.ppk.estimate == pytest.approx(1.264911, abs=1e-6)
    # Bissell: SE = sqrt(1/45 + 1.002667^2 / 8) = 0.384565
    assert result.cpk.ci95_lower == pytest.approx(1.002667 - 1.959964 * 0.384565, abs=2e-6)
    assert result.cpk.ci95_upper == pytest.approx(1.002667 + 1.959964 * 0.384565, abs=2e-6)
    assert result.cpk.lower_bound_95_one_sided == pytest.approx(1.002667 - 1.644854 * 0.384565, abs=2e-6)
    # chi-square table, 4 df: 0.484419 (2.5 %) and 11.143287 (97.5 %)
    assert result.cp.ci95_lower == pytest.approx(1.002667 * math.sqrt(0.484419 / 4), abs=2e-6)
    assert result.cp.ci95_upper == pytest.approx(1.002667 * math.sqrt(11.143287 / 4), abs=2e-6)
    assert result.pp.ci95_lower == pytest.approx(1.264911 * math.sqrt(0.484419 / 4), abs=2e-6)
    # ppm: each side 6 / sigma beyond the mean
    tail = 0.5 * math.erfc(6 / SIGMA_W / math.sqrt(2)) * 1e6
    assert result.ppm_within["below_lsl"] == pytest.approx(tail, rel=1e-9)
    assert result.ppm_within["total"] == pytest.approx(2 * tail, rel=1e-9)
    assert result.ppm_overall["total"] == pytest.approx(
        2 * 0.5 * math.erfc(6 / SD / math.sqrt(2)) * 1e6, rel=1e-9
    )
    assert result.ppm_observed["total"] == 0.0


def test_one_sided_specification_gives_only_the_relevant_side() -> None:
    result = Capability(lsl=5.0).fit(LOTS)
    assert result.cpu is None and result.ppu is None
    assert result.cp.estimate is None and result.pp.estimate is None
    assert result.cpl == pytest.approx(6 / (3 * SIGMA_W), abs=1e-12)
    assert result.cpk.estimate == result.cpl
    assert result.ppk.estimate == pytest.approx(6 / (3 * SD), abs=1e-12)
    payload = result.to_dict()
    assert payload["Cp"] == {"estimate": None, "ci95_lower": None, "ci95_upper": None}
    assert payload["ppm"]["within"]["above_usl"] == 0.0
    upper = Capability(usl=12.0).fit(LOTS)
    assert upper.cpk.estimate == pytest.approx(1 / (3 * SIGMA_W), abs=1e-12)
    assert upper.cpl is None


def test_an_off_centre_process_takes_the_nearer_limit() -> None:
    result = Capability(lsl=8.0, usl=17.0).fit(LOTS)
    assert result.cpk.estimate == pytest.approx(3 / (3 * SIGMA_W), abs=1e-12)
    assert result.cpk.estimate == result.cpl


def test_capability_json_has_the_contract_keys() -> None:
    payload = Capability(lsl=5.0, usl=17.0).fit(LOTS).to_dict()
    for key in ("n", "mean", "sigma_within", "sd_overall", "Cpl", "Cpu", "Ppl", "Ppu", "ppm"):
        assert key in payload
    for key in ("Cp", "Pp"):
        assert set(payload[key]) == {"estimate", "ci95_lower", "ci95_upper"}
    for key in ("Cpk", "Ppk"):
        assert set(payload[key]) == {"estimate", "ci95_lower", "ci95_upper", "lower_bound_95_one_sided"}


@pytest.mark.parametrize(
    ("kwargs", "match"), [({}, "lsl"), ({"lsl": 5.0, "usl": 4.0}, "usl"), ({"lsl": math.nan}, "lsl")]
)
def test_invalid_specification_limits_name_the_parameter(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Capability(**kwargs)


# --- tolerance factors -----------------------------------------------------------------------------------

# Two-sided exact factors, gamma = 0.95, as printed to 2 decimals in Berthouex and Brown, Statistics for
# Environmental Engineers (2nd ed., table 21.1), and to 3 decimals for n = 2 and n = 10, P = 0.90 (Odeh-Owen).
TWO_SIDED_EXACT = [
    (2, 0.90, 31.092, 6e-4),
    (10, 0.90, 2.856, 6e-4),
    (4, 0.90, 5.37, 0.005),
    (4, 0.99, 8.22, 0.005),
    (5, 0.90, 4.29, 0.005),
    (5, 0.95, 5.08, 0.005),
    (5, 0.99, 6.60, 0.005),
    (10, 0.95, 3.39, 0.005),
    (10, 0.99, 4.44, 0.005),
    (20, 0.95, 2.76, 0.005),
    (30, 0.95, 2.55, 0.005),
    (60, 0.99, 3.07, 0.005),
]
# One-sided factors (non-central t), gamma = 0.95.
ONE_SIDED_EXACT = [
    (5, 0.95, 4.203),
    (10, 0.90, 2.355),
    (10, 0.95, 2.911),
    (20, 0.95, 2.396),
    (10, 0.99, 3.981),
]


@pytest.mark.parametrize(("n", "coverage", "k", "tolerance"), TWO_SIDED_EXACT)
def test_exact_two_sided_factor_matches_the_published_table(
    n: int, coverage: float, k: float, tolerance: float
) -> None:
    assert tolerance_factor(n, coverage, 0.95, sides=2, method="exact") == pytest.approx(k, abs=tolerance)


@pytest.mark.parametrize(("n", "coverage", "confidence"), [(2, 0.9, 0.95), (10, 0.95, 0.95), (43, 0.9, 0.99)])
def test_exact_two_sided_factor_agrees_with_adaptive_quadrature_of_the_defining_integral(
    n: int, coverage: float, confidence: float
) -> None:
    # independent route: r(z) by root search on Phi(z + r) - Phi(z - r) = P, the integral by QUADPACK
    k = tolerance_factor(n, coverage, confidence)

    def integrand(z: float) -> float:
        r = optimize.brentq(lambda r: stats.norm.cdf(z + r) - stats.norm.cdf(z - r) - coverage, 0, 100)
        return float(stats.chi2.sf((n - 1) * r * r / (k * k), n - 1) * math.exp(-n * z * z / 2))

    value = math.sqrt(2 * n / math.pi) * integrate.quad(integrand, 0, 12 / math.sqrt(n), epsabs=1e-13)[0]
    assert value == pytest.approx(confidence, abs=1e-8)


@pytest.mark.parametrize(("n", "coverage", "k"), ONE_SIDED_EXACT)
def test_exact_one_sided_factor_matches_the_published_table(n: int, coverage: float, k: float) -> None:
    assert tolerance_factor(n, coverage, 0.95, sides=1) == pytest.approx(k, abs=6e-4)


def test_howe_factor_matches_the_nist_handbook_example() -> None:
    assert tolerance_factor(43, 0.90, 0.99, sides=2, method="howe") == pytest.approx(2.2173, abs=1e-4)
    # the exact factor for the same case lies close to, but not on, Howe's
    exact = tolerance_factor(43, 0.90, 0.99, sides=2)
    assert 2.2173 < exact < 2.2300


def test_howe_factor_is_one_sided_refused_and_naming_the_method() -> None:
    with pytest.raises(ValueError, match="method"):
        tolerance_factor(10, 0.95, 0.95, sides=1, method="howe")
    with pytest.raises(ValueError, match="sides"):
        tolerance_factor(10, 0.95, 0.95, sides=3)
    with pytest.raises(ValueError, match="coverage"):
        tolerance_factor(10, 1.0, 0.95)
    with pytest.raises(ValueError, match=r"^n:"):
        tolerance_factor(1, 0.9, 0.95)


@given(
    n=st.integers(2, 400),
    coverage=st.sampled_from([0.9, 0.95, 0.99]),
    confidence=st.sampled_from([0.9, 0.95, 0.99]),
)
def test_exact_two_sided_factor_reaches_exactly_the_confidence(
    n: int, coverage: float, confidence: float
) -> None:
    k = tolerance_factor(n, coverage, confidence)
    assert two_sided_confidence(k, n, coverage) == pytest.approx(confidence, abs=1e-9)


def test_nonparametric_intervals_need_93_lots_two_sided_and_59_one_sided_for_95_95() -> None:
    assert nonparametric_ranks(92, 0.95, 0.95) is None
    rank, reached = nonparametric_ranks(93, 0.95, 0.95) or (0, 0.0)
    assert rank == 1 and reached == pytest.approx(1 - 93 * 0.95**92 + 92 * 0.95**93, abs=1e-12)
    assert nonparametric_ranks(58, 0.95, 0.95, sides=1) is None
    rank, reached = nonparametric_ranks(59, 0.95, 0.95, sides=1) or (0, 0.0)
    assert rank == 1 and reached == pytest.approx(1 - 0.95**59, abs=1e-12)


def test_tolerance_interval_reports_normal_and_distribution_free_limits_with_shapiro_wilk() -> None:
    values = [float(v) for v in range(1, 101)]
    result = ToleranceInterval(0.95, 0.95).fit(values)
    k = tolerance_factor(100, 0.95, 0.95)
    assert result.lower == pytest.approx(50.5 - k * result.sd)
    assert result.nonparametric_rank == 1
    assert (result.nonparametric_lower, result.nonparametric_upper) == (1.0, 100.0)
    payload = result.to_dict()
    assert payload["shapiro_wilk"]["w"] is not None
    skewed = [math.exp(v / 10) for v in range(100)]
    assert ToleranceInterval(0.95, 0.95).fit(skewed).to_dict()["proposed"] == "nonparametric"
