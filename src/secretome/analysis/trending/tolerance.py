"""Tolerance intervals for proposing specification limits from the lots made so far.

Normal intervals are mean +/- k s. The two-sided factor is exact: the k at which

    gamma = sqrt(2n/pi) integral_0^inf P(chi2_{n-1} > (n-1) r(z)^2 / k^2) exp(-n z^2 / 2) dz,

with r(z) solving Phi(z + r) - Phi(z - r) = P (Odeh and Owen 1980; ISO 16269-6), computed by Gauss-Legendre
quadrature and a bracketing root search. The one-sided factor is exact by the non-central t:
k1 = t'_{gamma; n-1, z_P sqrt(n)} / sqrt(n). Howe's (1969) approximation in the NIST/SEMATECH e-Handbook's
form, k2 = z_{(1+P)/2} sqrt((n - 1)(1 + 1/n) / chi2_{1-gamma, n-1}), is offered and named as such.

When the values do not look normal (Shapiro-Wilk p below 0.05) the distribution-free interval between
order statistics is the one to propose: the coverage of [X_(r), X_(n+1-r)] is Beta(n - 2r + 1, 2r)
distributed, so the widest-trimmed symmetric pair that still reaches the confidence is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from secretome.analysis.trending.charts import _as_series
from secretome.analysis.trending.rules import FloatArray

METHODS = ("exact", "howe")

# Gauss-Legendre nodes on [0, 1], mapped to u in [0, 13] (u = z sqrt(n); the weight exp(-u^2/2) is below
# 1e-36 beyond 13).
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(160)
_U_MAX = 13.0
_U = (_NODES + 1) * (_U_MAX / 2)
_W = _WEIGHTS * (_U_MAX / 2) * np.exp(-(_U**2) / 2) * math.sqrt(2 / math.pi)


def _check(n: int, coverage: float, confidence: float) -> None:
    if int(n) != n or n < 2:
        raise ValueError("n: an integer of at least 2")
    if not 0 < coverage < 1:
        raise ValueError("coverage: a proportion strictly between 0 and 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence: a probability strictly between 0 and 1")


def two_sided_confidence(k: float, n: int, coverage: float) -> float:
    """The confidence that mean +/- k s covers at least ``coverage`` of a normal population (n values)."""
    ratio = _r_squared(n, coverage)
    df = n - 1
    return float(np.dot(_W, special.chdtrc(df, df * ratio / (k * k))))


@lru_cache(maxsize=256)
def _r_squared(n: int, coverage: float) -> FloatArray:
    # (Y + z)^2 with Y standard normal is non-central chi-square, 1 df, non-centrality z^2.
    z = _U / math.sqrt(n)
    r2: FloatArray = stats.ncx2.ppf(coverage, 1, z * z)
    return r2


def k_two_sided_exact(n: int, coverage: float, confidence: float) -> float:
    """Exact two-sided normal tolerance factor (Odeh-Owen integral)."""
    _check(n, coverage, confidence)
    start = k_two_sided_howe(n, coverage, confidence)
    low, high = start * 0.5, start * 2.0
    while two_sided_confidence(high, n, coverage) < confidence:
        high *= 2
    return float(
        optimize.brentq(
            lambda k: two_sided_confidence(k, n, coverage) - confidence, low, high, xtol=1e-12, rtol=1e-12
        )
    )


def k_two_sided_howe(n: int, coverage: float, confidence: float) -> float:
    """Howe's approximation to the two-sided factor, in the NIST/SEMATECH e-Handbook's form."""
    _check(n, coverage, confidence)
    z = float(stats.norm.ppf((1 + coverage) / 2))
    chi2 = float(stats.chi2.ppf(1 - confidence, n - 1))
    return z * math.sqrt((n - 1) * (1 + 1 / n) / chi2)


def k_one_sided_exact(n: int, coverage: float, confidence: float) -> float:
    """Exact one-sided normal tolerance factor from the non-central t distribution."""
    _check(n, coverage, confidence)
    delta = float(stats.norm.ppf(coverage)) * math.sqrt(n)
    return float(stats.nct.ppf(confidence, n - 1, delta)) / math.sqrt(n)


def tolerance_factor(
    n: int, coverage: float, confidence: float, *, sides: int = 2, method: str = "exact"
) -> float:
    """The normal tolerance factor k for mean +/- k s (``sides`` 2) or mean - k s / mean + k s (``sides`` 1).

    ``method`` is ``"exact"`` or ``"howe"`` (two-sided only: the one-sided exact factor needs no
    approximation).
    """
    if sides not in (1, 2):
        raise ValueError("sides: 1 or 2")
    if method not in METHODS:
        raise ValueError(f"method: one of {', '.join(METHODS)}")
    if sides == 1:
        if method == "howe":
            raise ValueError("method: Howe's approximation is two-sided; use the exact one-sided factor")
        return k_one_sided_exact(n, coverage, confidence)
    if method == "howe":
        return k_two_sided_howe(n, coverage, confidence)
    return k_two_sided_exact(n, coverage, confidence)


def nonparametric_ranks(
    n: int, coverage: float, confidence: float, sides: int = 2
) -> tuple[int, float] | None:
    """The largest order-statistic rank r whose interval reaches ``confidence``, with the confidence reached.

    Two-sided: [X_(r), X_(n+1-r)]; one-sided: X_(r) as lower (or X_(n+1-r) as upper) bound. None when even
    the extreme values do not reach the confidence (too few lots).
    """
    _check(n, coverage, confidence)
    best = None
    for r in range(1, n // 2 + 1 if sides == 2 else n + 1):
        a, b = (n - 2 * r + 1, 2 * r) if sides == 2 else (n - r + 1, r)
        if a < 1:
            break
        reached = float(stats.beta.sf(coverage, a, b))
        if reached >= confidence:
            best = (r, reached)
        else:
            break
    return best


@dataclass(frozen=True)
class ToleranceResult:
    """A proposed specification range from history: normal and distribution-free intervals."""

    values: FloatArray
    coverage: float
    confidence: float
    sides: int
    method: str
    mean: float
    sd: float
    k: float
    lower: float | None
    upper: float | None
    shapiro_w: float | None
    shapiro_p: float | None
    nonparametric_rank: int | None
    nonparametric_confidence: float | None
    nonparametric_lower: float | None
    nonparametric_upper: float | None

    @property
    def n(self) -> int:
        return int(self.values.size)

    @property
    def normality_rejected(self) -> bool:
        return self.shapiro_p is not None and self.shapiro_p < 0.05

    def to_dict(self) -> dict[str, Any]:
        method = "exact" if self.method == "exact" else "Howe's approximation (NIST e-Handbook form)"
        return {
            "n": self.n,
            "coverage": self.coverage,
            "confidence": self.confidence,
            "sides": self.sides,
            "method": method,
            "mean": self.mean,
            "sd": self.sd,
            "k": self.k,
            "normal": {"lower": self.lower, "upper": self.upper},
            "shapiro_wilk": {
                "w": self.shapiro_w,
                "p": self.shapiro_p,
                "normality_rejected": self.normality_rejected,
            },
            "nonparametric": {
                "rank": self.nonparametric_rank,
                "confidence_reached": self.nonparametric_confidence,
                "lower": self.nonparametric_lower,
                "upper": self.nonparametric_upper,
            },
            "proposed": "nonparametric" if self.normality_rejected else "normal",
        }

    def plot(self, ax: Any = None) -> Any:
        """Values in lot order with the normal and distribution-free limits."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.4, 3.6), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        ax.plot(np.arange(1, self.n + 1), self.values, "o-", color="0.4", markersize=3, linewidth=0.7)
        for limit, style, name in (
            (self.lower, "-", "normal"),
            (self.upper, "-", None),
            (self.nonparametric_lower, "--", "distribution-free"),
            (self.nonparametric_upper, "--", None),
        ):
            if limit is not None:
                ax.axhline(
                    limit, color="tab:red" if style == "-" else "tab:purple", linestyle=style, label=name
                )
        ax.set_xlabel("lot")
        ax.set_title(
            f"{round(100 * self.confidence)} % / {round(100 * self.coverage)} % tolerance interval, k = {self.k:.4f}",
            fontsize=9,
        )
        ax.legend(fontsize=7)
        return figure


class ToleranceInterval:
    """Tolerance interval of a lot history.

    Parameters
    ----------
    coverage
        Proportion of the population the interval should contain (e.g. 0.99).
    confidence
        Confidence that it does (e.g. 0.95).
    sides
        2 for lower and upper limits, 1 for a one-sided bound (both bounds are reported).
    method
        ``"exact"`` or ``"howe"`` for the two-sided factor.
    """

    def __init__(self, coverage: float, confidence: float, *, sides: int = 2, method: str = "exact") -> None:
        _check(2, coverage, confidence)
        tolerance_factor(10, coverage, confidence, sides=sides, method=method)  # validates sides and method
        self.coverage = coverage
        self.confidence = confidence
        self.sides = sides
        self.method = method

    def fit(self, values: Sequence[float] | Any) -> ToleranceResult:
        x = _as_series(values)
        n = x.size
        if n < 3:
            raise ValueError("values: at least 3 lots are needed")
        k = tolerance_factor(n, self.coverage, self.confidence, sides=self.sides, method=self.method)
        mean, sd = float(x.mean()), float(x.std(ddof=1))
        shapiro = stats.shapiro(x) if np.ptp(x) > 0 else None
        ranks = nonparametric_ranks(n, self.coverage, self.confidence, self.sides)
        ordered = np.sort(x)
        return ToleranceResult(
            values=x,
            coverage=self.coverage,
            confidence=self.confidence,
            sides=self.sides,
            method=self.method,
            mean=mean,
            sd=sd,
            k=k,
            lower=mean - k * sd,
            upper=mean + k * sd,
            shapiro_w=None if shapiro is None else float(shapiro.statistic),
            shapiro_p=None if shapiro is None else float(shapiro.pvalue),
            nonparametric_rank=None if ranks is None else ranks[0],
            nonparametric_confidence=None if ranks is None else ranks[1],
            nonparametric_lower=None if ranks is None else float(ordered[ranks[0] - 1]),
            nonparametric_upper=None if ranks is None else float(ordered[n - ranks[0]]),
        )
