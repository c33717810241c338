"""The ratio of two group means with Fieller's confidence interval (independent groups)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from secretome.analysis.potency.results import fieller_interval


@dataclass(frozen=True)
class Ratio:
    """``(mean(numerator) - offset) / (mean(denominator) - offset)`` with its Fieller interval.

    ``low``/``high`` are None when the denominator is not significantly different from zero (``g >= 1``).
    """

    value: float
    low: float | None
    high: float | None
    level: float
    g: float
    df: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "g": self.g,
            "df": self.df,
        }

    def scaled(self, factor: float) -> Ratio:
        return Ratio(
            self.value * factor,
            None if self.low is None else self.low * factor,
            None if self.high is None else self.high * factor,
            self.level,
            self.g,
            self.df,
        )


def _values(values: ArrayLike, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: needs at least one finite value")
    return array


def _var_of_mean(values: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    return float(np.var(values, ddof=1) / values.size) if values.size > 1 else 0.0


def ratio_of_means(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    baseline: ArrayLike | None = None,
    level: float = 0.95,
) -> Ratio:
    """The ratio of the means of two independent groups, optionally both net of a ``baseline`` group mean.

    Fieller's theorem with the variances of the means (``s^2 / n``) and, with a baseline, the covariance the
    shared baseline mean gives the two differences (its variance). Degrees of freedom: the sum of
    ``n - 1`` over the groups.
    """
    if not 0 < level < 1:
        raise ValueError(f"level: must lie strictly between 0 and 1, not {level}")
    a = _values(numerator, "numerator")
    b = _values(denominator, "denominator")
    groups: Sequence[np.ndarray[Any, np.dtype[np.float64]]] = (a, b)
    offset = 0.0
    var_offset = 0.0
    if baseline is not None:
        c = _values(baseline, "baseline")
        offset = float(c.mean())
        var_offset = _var_of_mean(c)
        groups = (a, b, c)
    top = float(a.mean()) - offset
    bottom = float(b.mean()) - offset
    if bottom == 0:
        raise ValueError("denominator: the mean equals the baseline; the ratio is undefined")
    df = sum(g.size - 1 for g in groups)
    t = float(stats.t.ppf(0.5 + level / 2, df)) if df > 0 else math.inf
    var_top = _var_of_mean(a) + var_offset
    var_bottom = _var_of_mean(b) + var_offset
    if not math.isfinite(t):
        return Ratio(top / bottom, None, None, level, math.inf, df)
    low, high, g = fieller_interval(top, bottom, var_top, var_bottom, var_offset, t)
    return Ratio(top / bottom, low, high, level, g, df)
