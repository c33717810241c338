"""Combination of independent assays (Ph. Eur. 5.3 section 6; USP <1034>).

Each assay contributes a log potency ``M`` and its variance ``V`` (from the standard error, or from the
width of its confidence interval: ``V = (ln upper - ln lower)^2 / (4 t^2)``, Ph. Eur. 6.2.2).

* **weighted** (6.2.3): weights ``W = 1/V``; ``M = sum(W M) / sum(W)``, ``se = 1/sqrt(sum W)``, t with the sum
  of the assays' degrees of freedom. Valid when the assays are homogeneous: the chi-square
  ``sum W (M - M_bar)^2`` on ``n - 1`` df is not significant.
* **semi-weighted** (6.2.4), when they are not: the between-assay variance
  ``s2 = sum (M - mean M)^2 / (n - 1) - sum V / n`` (0 if negative) is added to each ``V``; the interval uses
  the normal quantile (Ph. Eur.: "t approximately 2").
* **unweighted** (6.3): the geometric mean, ``se = sd / sqrt(n)`` and t with ``n - 1`` df.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from secretome.analysis.potency.results import ConfidenceInterval, Serialisable

CombinationMethod = Literal["weighted", "semi-weighted", "unweighted"]
METHOD_CHOICES = ("auto", "weighted", "semi-weighted", "unweighted")


@dataclass(frozen=True)
class AssayEstimate(Serialisable):
    """One assay's log potency (natural log) and standard error; ``df`` of its residual error if known."""

    assay: str
    log_potency: float
    standard_error: float
    df: int | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.log_potency):
            raise ValueError(f"assay {self.assay!r}: log_potency must be a finite number")
        if not (math.isfinite(self.standard_error) and self.standard_error > 0):
            raise ValueError(f"assay {self.assay!r}: standard error must be positive")
        if self.df is not None and self.df < 1:
            raise ValueError(f"assay {self.assay!r}: df must be at least 1")

    @classmethod
    def from_interval(
        cls,
        assay: str,
        relative_potency: float,
        ci_low: float,
        ci_high: float,
        *,
        df: int | None = None,
        ci_level: float = 0.95,
    ) -> AssayEstimate:
        """An estimate from a potency and its confidence limits (Ph. Eur. 5.3, 6.2.2); without ``df`` the
        limits are taken as normal-theory limits."""
        if not (relative_potency > 0 and ci_low > 0 and ci_high > 0):
            raise ValueError(f"assay {assay!r}: potency and limits must be positive")
        if not ci_low < relative_potency < ci_high:
            raise ValueError(f"assay {assay!r}: the limits must enclose the potency (low < potency < high)")
        quantile = (
            stats.t.ppf(0.5 + ci_level / 2, df) if df is not None else stats.norm.ppf(0.5 + ci_level / 2)
        )
        se = (math.log(ci_high) - math.log(ci_low)) / (2 * float(quantile))
        return cls(assay, math.log(relative_potency), se, df)


@dataclass(frozen=True)
class Homogeneity(Serialisable):
    """Chi-square test of homogeneity of the log potencies (weights 1/V)."""

    statistic: float
    df: int
    p_value: float
    homogeneous: bool


@dataclass(frozen=True)
class CombinationResult(Serialisable):
    """The combined potency, the method used and why."""

    relative_potency: float
    log_potency: float
    standard_error: float
    ci: ConfidenceInterval
    method: CombinationMethod
    reason: str
    homogeneity: Homogeneity
    assays: tuple[AssayEstimate, ...]
    weights: tuple[float, ...]
    quantile: float
    df: int | None

    def plot(self, ax: Any = None) -> Any:
        """Forest plot: each assay's potency with its interval, and the combined one."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 1 + 0.4 * len(self.assays)))
        z = stats.norm.ppf(0.5 + self.ci.level / 2)
        for i, assay in enumerate(self.assays):
            low = math.exp(assay.log_potency - z * assay.standard_error)
            high = math.exp(assay.log_potency + z * assay.standard_error)
            ax.plot([low, high], [i, i], color="tab:blue")
            ax.plot(math.exp(assay.log_potency), i, "o", color="tab:blue")
        y = len(self.assays)
        ax.plot([self.ci.low, self.ci.high], [y, y], color="black", linewidth=2)
        ax.plot(self.relative_potency, y, "D", color="black")
        ax.set_yticks(range(y + 1), [a.assay for a in self.assays] + [f"combined ({self.method})"])
        ax.set_xscale("log")
        ax.set_xlabel("relative potency")
        return ax


def _homogeneity(
    log_potency: np.ndarray[Any, Any], variance: np.ndarray[Any, Any], alpha: float
) -> Homogeneity:
    weights = 1.0 / variance
    mean = float((weights * log_potency).sum() / weights.sum())
    statistic = float((weights * (log_potency - mean) ** 2).sum())
    df = log_potency.size - 1
    p = float(stats.chi2.sf(statistic, df))
    return Homogeneity(statistic, df, p, p >= alpha)


def combine_assays(
    estimates: Sequence[AssayEstimate],
    *,
    method: str = "auto",
    alpha: float = 0.05,
    ci_level: float = 0.95,
) -> CombinationResult:
    """Combine independent potency estimates of one preparation.

    Parameters
    ----------
    estimates
        At least two assays.
    method
        ``auto`` (weighted when homogeneous, else semi-weighted), ``weighted``, ``semi-weighted`` or
        ``unweighted``.
    alpha
        Level of the homogeneity test.
    ci_level
        Confidence level of the combined interval.
    """
    if method not in METHOD_CHOICES:
        raise ValueError(f"method must be one of {', '.join(METHOD_CHOICES)}, not {method!r}")
    if len(estimates) < 2:
        raise ValueError("estimates: at least two assays are needed to combine")
    if not 0 < alpha < 0.5:
        raise ValueError("alpha must lie between 0 and 0.5")
    if not 0.5 < ci_level < 1:
        raise ValueError("ci_level must lie between 0.5 and 1")
    names = [e.assay for e in estimates]
    if len(set(names)) != len(names):
        raise ValueError("estimates: assay names must be unique")
    m = np.array([e.log_potency for e in estimates])
    v = np.array([e.standard_error**2 for e in estimates])
    n = m.size
    homogeneity = _homogeneity(m, v, alpha)
    dfs = [e.df for e in estimates]
    chosen: CombinationMethod
    if method == "auto":
        chosen = "weighted" if homogeneity.homogeneous else "semi-weighted"
        reason = f"homogeneity chi-square p = {homogeneity.p_value:.3g} " + (
            f">= {alpha:g}: the assays agree, weighted combination"
            if homogeneity.homogeneous
            else f"< {alpha:g}: the assays disagree beyond their own precision, semi-weighted combination"
        )
    else:
        chosen = method  # type: ignore[assignment]
        reason = f"{method} combination as requested (homogeneity p = {homogeneity.p_value:.3g})"

    df: int | None
    if chosen == "weighted":
        weights = 1.0 / v
        df = None if any(d is None for d in dfs) else int(sum(d for d in dfs if d is not None))
        quantile = float(
            stats.t.ppf(0.5 + ci_level / 2, df) if df is not None else stats.norm.ppf(0.5 + ci_level / 2)
        )
    elif chosen == "semi-weighted":
        between = float(((m - m.mean()) ** 2).sum() / (n - 1) - v.sum() / n)
        weights = 1.0 / (v + max(between, 0.0))
        df = None
        quantile = float(stats.norm.ppf(0.5 + ci_level / 2))
    else:
        weights = np.ones(n)
        df = n - 1
        quantile = float(stats.t.ppf(0.5 + ci_level / 2, df))
    mean = float((weights * m).sum() / weights.sum())
    if chosen == "unweighted":
        se = float(m.std(ddof=1) / math.sqrt(n))
    else:
        se = float(1.0 / math.sqrt(weights.sum()))
    ci = ConfidenceInterval(math.exp(mean - quantile * se), math.exp(mean + quantile * se), ci_level, chosen)
    return CombinationResult(
        relative_potency=math.exp(mean),
        log_potency=mean,
        standard_error=se,
        ci=ci,
        method=chosen,
        reason=reason,
        homogeneity=homogeneity,
        assays=tuple(estimates),
        weights=tuple(float(w) for w in weights),
        quantile=quantile,
        df=df,
    )
