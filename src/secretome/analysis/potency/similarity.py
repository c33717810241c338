"""Similarity of test and reference curves: equivalence testing (USP <1032>) and difference tests.

Equivalence asks whether the 90 % confidence interval of each curve-shape comparison (hill or slope ratio,
asymptote differences, span ratio) lies inside margins the assay method defines. The difference tests
(F-test, likelihood ratio) ask whether non-similarity is statistically detectable, which rewards noisy
assays and punishes precise ones; they are reported too because some methods still decide on them.
:func:`margins_from_history` derives margins from reference-against-reference assays as a tolerance
interval of the parameter ratios or differences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
from scipy import stats

from secretome.analysis.potency._distributions import chi2_upper_tail, f_upper_tail, t_quantile
from secretome.analysis.potency.results import ConfidenceInterval, Serialisable, fieller_interval

SimilarityMethod = Literal["equivalence", "f-test"]
SIMILARITY_METHODS: tuple[SimilarityMethod, ...] = ("equivalence", "f-test")

RATIO_PARAMETERS = ("hill_ratio", "span_ratio", "slope_ratio")
DIFFERENCE_PARAMETERS = ("lower_asymptote_difference", "upper_asymptote_difference")


def _check_margin(name: str, margin: Any) -> tuple[float, float] | None:
    if margin is None:
        return None
    try:
        low, high = (float(v) for v in margin)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: a margin is a pair [low, high] of numbers") from None
    if not low < high:
        raise ValueError(f"{name}: the margin's low end must be below its high end")
    if name in RATIO_PARAMETERS and low <= 0:
        raise ValueError(f"{name}: ratio margins must be positive")
    return low, high


@dataclass(frozen=True)
class EquivalenceMargins(Serialisable):
    """Equivalence margins of an assay method; ``None`` leaves a comparison out.

    Ratios (hill, span, slope) are test / reference; asymptote differences are test - reference, in
    response units. ``ci_level`` is the confidence level of the intervals compared with the margins
    (90 %: a two one-sided tests procedure at 5 %).
    """

    hill_ratio: tuple[float, float] | None = (0.8, 1.25)
    span_ratio: tuple[float, float] | None = (0.8, 1.25)
    lower_asymptote_difference: tuple[float, float] | None = None
    upper_asymptote_difference: tuple[float, float] | None = None
    slope_ratio: tuple[float, float] | None = (0.8, 1.25)
    ci_level: float = 0.90

    def __post_init__(self) -> None:
        for name in (*RATIO_PARAMETERS, *DIFFERENCE_PARAMETERS):
            object.__setattr__(self, name, _check_margin(name, getattr(self, name)))
        if not 0.5 < self.ci_level < 1:
            raise ValueError("ci_level must lie between 0.5 and 1")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> EquivalenceMargins:
        """Margins from a mapping such as a parsed JSON file; unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(
                f"margins: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**dict(mapping))


@dataclass(frozen=True)
class EquivalenceCheck(Serialisable):
    """One shape comparison: its estimate, confidence interval and margin; ``passed`` is None without one."""

    parameter: str
    estimate: float
    ci: ConfidenceInterval
    margin: tuple[float, float] | None
    passed: bool | None


@dataclass(frozen=True)
class DifferenceTest(Serialisable):
    """A test of non-similarity (F-test or likelihood ratio); it passes when p >= alpha."""

    name: str
    statistic: float
    df: tuple[int, ...]
    p_value: float
    passed: bool


@dataclass(frozen=True)
class SimilarityAssessment(Serialisable):
    """Both kinds of evidence for one test preparation, and the verdict of the one the method chose."""

    preparation: str
    method: SimilarityMethod
    equivalence: tuple[EquivalenceCheck, ...]
    difference_tests: tuple[DifferenceTest, ...]
    passed: bool
    reason: str


def ratio_check(
    parameter: str,
    numerator: float,
    denominator: float,
    var_numerator: float,
    var_denominator: float,
    covariance: float,
    df: int,
    margins: EquivalenceMargins,
) -> EquivalenceCheck:
    """Fieller interval of a ratio (test / reference) compared with its margin."""
    t = t_quantile(0.5 + margins.ci_level / 2, df)
    low, high, _ = fieller_interval(numerator, denominator, var_numerator, var_denominator, covariance, t)
    margin: tuple[float, float] | None = getattr(margins, parameter)
    ci = ConfidenceInterval(low, high, margins.ci_level, "fieller")
    passed = None if margin is None else bool(ci.bounded and margin[0] <= low <= high <= margin[1])  # type: ignore[operator]
    return EquivalenceCheck(parameter, numerator / denominator, ci, margin, passed)


def difference_check(
    parameter: str, estimate: float, standard_error: float, df: int, margins: EquivalenceMargins
) -> EquivalenceCheck:
    """t interval of a difference (test - reference) compared with its margin."""
    t = t_quantile(0.5 + margins.ci_level / 2, df)
    low, high = estimate - t * standard_error, estimate + t * standard_error
    margin: tuple[float, float] | None = getattr(margins, parameter)
    passed = None if margin is None else bool(margin[0] <= low and high <= margin[1])
    return EquivalenceCheck(
        parameter, estimate, ConfidenceInterval(low, high, margins.ci_level, "t"), margin, passed
    )


def f_test(
    rss_constrained: float,
    df_constrained: int,
    rss_free: float,
    df_free: int,
    alpha: float,
    name: str = "F-test",
) -> DifferenceTest:
    """Extra-sum-of-squares F-test of the constrained (similar) model against the free one."""
    df_extra = df_constrained - df_free
    f = ((rss_constrained - rss_free) / df_extra) / (rss_free / df_free)
    p = f_upper_tail(f, df_extra, df_free)
    return DifferenceTest(name, float(f), (df_extra, df_free), p, p >= alpha)


def likelihood_ratio_test(
    rss_constrained: float, rss_free: float, n: int, df_extra: int, alpha: float
) -> DifferenceTest:
    """Likelihood-ratio test for normal errors: n ln(RSS_constrained / RSS_free) against chi-square."""
    statistic = n * math.log(rss_constrained / rss_free)
    p = chi2_upper_tail(statistic, df_extra)
    return DifferenceTest("likelihood ratio", statistic, (df_extra,), p, p >= alpha)


def assess(
    preparation: str,
    method: SimilarityMethod,
    equivalence: Sequence[EquivalenceCheck],
    difference_tests: Sequence[DifferenceTest],
) -> SimilarityAssessment:
    """Combine the evidence; ``method`` says which kind decides."""
    if method not in SIMILARITY_METHODS:
        raise ValueError(f"similarity must be one of {', '.join(SIMILARITY_METHODS)}, not {method!r}")
    if method == "equivalence":
        judged = [c for c in equivalence if c.passed is not None]
        if not judged:
            raise ValueError("similarity 'equivalence': no margin applies to this model; give margins")
        failed = [c.parameter for c in judged if not c.passed]
        passed = not failed
        reason = (
            "equivalence decides: every interval lies within its margin"
            if passed
            else f"equivalence decides: outside the margin: {', '.join(failed)}"
        )
    else:
        deciding = difference_tests[0]
        passed = deciding.passed
        reason = (
            f"{deciding.name} decides: p = {deciding.p_value:.4g} "
            f"{'>=' if passed else '<'} alpha, {'no ' if passed else ''}significant non-similarity"
        )
    return SimilarityAssessment(
        preparation, method, tuple(equivalence), tuple(difference_tests), passed, reason
    )


def tolerance_factor(n: int, coverage: float, confidence: float) -> float:
    """Two-sided normal tolerance factor k (Howe's approximation).

    ``mean +- k sd`` of ``n`` values covers a fraction ``coverage`` of the population with probability
    ``confidence``.
    """
    if n < 3:
        raise ValueError("n: a tolerance interval needs at least 3 values")
    if not 0 < coverage < 1:
        raise ValueError("coverage must lie between 0 and 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie between 0 and 1")
    z = stats.norm.ppf(0.5 + coverage / 2)
    chi2 = stats.chi2.ppf(1 - confidence, n - 1)
    return float(math.sqrt((n - 1) * (1 + 1 / n) * z * z / chi2))


@dataclass(frozen=True)
class MarginDerivation(Serialisable):
    """How one margin was derived from reference-against-reference history."""

    parameter: str
    n: int
    mean: float
    sd: float
    k: float
    scale: Literal["log", "linear"]
    margin: tuple[float, float]


@dataclass(frozen=True)
class DerivedMargins(Serialisable):
    """Margins from history, with the derivation of each."""

    margins: EquivalenceMargins
    derivations: tuple[MarginDerivation, ...]
    coverage: float
    confidence: float


def margins_from_history(
    history: Mapping[str, Sequence[float]],
    *,
    coverage: float = 0.99,
    confidence: float = 0.95,
    ci_level: float = 0.90,
) -> DerivedMargins:
    """Equivalence margins as tolerance intervals of reference-against-reference comparisons.

    Parameters
    ----------
    history
        Per comparison (``hill_ratio``, ``span_ratio``, ``slope_ratio``, ``lower_asymptote_difference``,
        ``upper_asymptote_difference``) the values observed when the reference was assayed against
        itself. Ratios are treated on the log scale, differences on the linear scale.
    coverage, confidence
        The tolerance interval covers ``coverage`` of future values with probability ``confidence``.
    ci_level
        Confidence level the margins are later used with.
    """
    known = (*RATIO_PARAMETERS, *DIFFERENCE_PARAMETERS)
    unknown = sorted(set(history) - set(known))
    if unknown:
        raise ValueError(f"history: unknown comparison(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if not history:
        raise ValueError("history: no comparisons given")
    values: dict[str, tuple[float, float] | None] = {name: None for name in known}
    derivations = []
    for name, raw in history.items():
        observed = np.asarray(raw, dtype=float)
        if observed.ndim != 1 or observed.size < 3 or not np.all(np.isfinite(observed)):
            raise ValueError(f"history {name}: at least 3 finite values are needed")
        is_ratio = name in RATIO_PARAMETERS
        if is_ratio and np.any(observed <= 0):
            raise ValueError(f"history {name}: ratios must be positive")
        scaled = np.log(observed) if is_ratio else observed
        mean, sd = float(scaled.mean()), float(scaled.std(ddof=1))
        k = tolerance_factor(observed.size, coverage, confidence)
        low, high = mean - k * sd, mean + k * sd
        margin = (math.exp(low), math.exp(high)) if is_ratio else (low, high)
        values[name] = margin
        derivations.append(
            MarginDerivation(name, int(observed.size), mean, sd, k, "log" if is_ratio else "linear", margin)
        )
    margins = EquivalenceMargins(
        hill_ratio=values["hill_ratio"],
        span_ratio=values["span_ratio"],
        slope_ratio=values["slope_ratio"],
        lower_asymptote_difference=values["lower_asymptote_difference"],
        upper_asymptote_difference=values["upper_asymptote_difference"],
        ci_level=ci_level,
    )
    return DerivedMargins(margins, tuple(derivations), coverage, confidence)
