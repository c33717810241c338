"""Student-t quantiles and F / chi-square upper tails, straight from :mod:`scipy.special`.

``scipy.stats`` computes exactly these numbers with the same special functions (``t.ppf`` is ``stdtrit``,
``f.sf`` is ``fdtrc``, ``chi2.sf`` is ``chdtrc``) but spends about a hundred microseconds per call on generic
argument handling; one parallel-curve analysis needs about ten of them, as much as its fits. Below the
support (a statistic that rounding left a hair under 0) the upper tail is 1, as in ``scipy.stats``.
"""

from __future__ import annotations

from functools import lru_cache

from scipy import special


@lru_cache(maxsize=256)
def t_quantile(probability: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (``scipy.stats.t.ppf``); an analysis asks
    for the same few quantiles again and again, so they are remembered."""
    return float(special.stdtrit(df, probability))


def f_upper_tail(statistic: float, df_numerator: float, df_denominator: float) -> float:
    """``P(F > statistic)`` (``scipy.stats.f.sf``)."""
    if statistic <= 0:
        return 1.0
    return float(special.fdtrc(df_numerator, df_denominator, statistic))


def chi2_upper_tail(statistic: float, df: float) -> float:
    """``P(chi-square > statistic)`` (``scipy.stats.chi2.sf``)."""
    if statistic <= 0:
        return 1.0
    return float(special.chdtrc(df, statistic))
