"""Comparisons of an attribute between levels of a factor (tissue source, donor, passage, priming).

Two models:

* :class:`OneWayComparison`: one-way ANOVA with group means and 95 % t intervals on the pooled variance,
  eta^2 and omega^2, and every pair of levels with its Tukey HSD 95 % interval and Hedges' g.
* :class:`DonorMixedModel`: y = level effect + donor + error with the donor a random intercept, fitted by
  REML (profiled over the variance ratio; closed-form inverse of each donor's covariance block), so that
  lots of one donor do not count as independent evidence about a tissue source. Fixed effects are
  differences from the first level with 95 % t intervals on between-within degrees of freedom; effect
  sizes are differences divided by the total SD sqrt(sigma_donor^2 + sigma_residual^2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from secretome.analysis.trending.charts import _as_series
from secretome.analysis.trending.rules import FloatArray


def _levels(labels: Sequence[Any] | Any, n: int, name: str) -> tuple[list[str], Any]:
    if len(labels) != n:
        raise ValueError(f"{name}: {len(labels)} labels for {n} values")
    text = [str(v) for v in labels]
    levels = list(dict.fromkeys(text))
    index = {level: i for i, level in enumerate(levels)}
    return levels, np.array([index[v] for v in text], dtype=int)


@dataclass(frozen=True)
class GroupSummary:
    level: str
    n: int
    mean: float
    sd: float | None
    ci95_lower: float | None
    ci95_upper: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "n": self.n,
            "mean": self.mean,
            "sd": self.sd,
            "ci95_lower": self.ci95_lower,
            "ci95_upper": self.ci95_upper,
        }


@dataclass(frozen=True)
class PairwiseDifference:
    first: str
    second: str
    difference: float
    ci95_lower: float
    ci95_upper: float
    p_value: float
    hedges_g: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "difference": self.difference,
            "ci95_lower": self.ci95_lower,
            "ci95_upper": self.ci95_upper,
            "p_value": self.p_value,
            "hedges_g": self.hedges_g,
        }


@dataclass(frozen=True)
class OneWayResult:
    """One-way ANOVA of an attribute by a factor, with effect sizes and pairwise intervals."""

    factor: str
    values: FloatArray
    groups: tuple[int, ...]
    summaries: tuple[GroupSummary, ...]
    df_between: int
    df_within: int
    ss_between: float
    ss_within: float
    f: float
    p_value: float
    eta_squared: float
    omega_squared: float
    pairs: tuple[PairwiseDifference, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "one-way ANOVA",
            "factor": self.factor,
            "n": int(self.values.size),
            "groups": [s.to_dict() for s in self.summaries],
            "anova": {
                "df_between": self.df_between,
                "df_within": self.df_within,
                "ss_between": self.ss_between,
                "ss_within": self.ss_within,
                "f": self.f,
                "p_value": self.p_value,
            },
            "eta_squared": self.eta_squared,
            "omega_squared": self.omega_squared,
            "pairs": [p.to_dict() for p in self.pairs],
        }

    def plot(self, ax: Any = None) -> Any:
        """Every lot by level with the level means and their 95 % intervals."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(5.6, 4.0), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        positions = np.asarray(self.groups, dtype=float)
        jitter = (np.arange(positions.size) % 7 - 3) * 0.03
        ax.scatter(positions + jitter, self.values, color="0.55", s=12)
        for i, summary in enumerate(self.summaries):
            if summary.ci95_lower is not None and summary.ci95_upper is not None:
                ax.errorbar(
                    i + 0.25,
                    summary.mean,
                    yerr=[[summary.mean - summary.ci95_lower], [summary.ci95_upper - summary.mean]],
                    fmt="o",
                    color="tab:blue",
                    capsize=3,
                )
        ax.set_xticks(range(len(self.summaries)), [s.level for s in self.summaries])
        ax.set_xlabel(self.factor)
        ax.set_title(f"one-way ANOVA: F = {self.f:.3g}, p = {self.p_value:.3g}", fontsize=9)
        return figure


class OneWayComparison:
    """One-way ANOVA of one attribute across the levels of ``factor``.

    Parameters
    ----------
    factor
        Name of the factor (e.g. ``"tissue source"``), used in the output.
    """

    def __init__(self, factor: str) -> None:
        if not factor:
            raise ValueError("factor: name the factor")
        self.factor = factor

    def fit(self, values: Any, levels: Sequence[Any] | Any) -> OneWayResult:
        x = _as_series(values)
        names, group = _levels(levels, x.size, "levels")
        k, n = len(names), x.size
        if k < 2:
            raise ValueError("levels: at least two levels are needed for a comparison")
        if n <= k:
            raise ValueError("values: more lots than levels are needed for a within-level variance")
        counts = np.bincount(group, minlength=k)
        means = np.bincount(group, weights=x, minlength=k) / counts
        grand = float(x.mean())
        ss_between = float(np.sum(counts * (means - grand) ** 2))
        ss_within = float(np.sum((x - means[group]) ** 2))
        df_b, df_w = k - 1, n - k
        ms_within = ss_within / df_w
        f = (ss_between / df_b) / ms_within if ms_within > 0 else math.inf
        p = float(stats.f.sf(f, df_b, df_w)) if math.isfinite(f) else 0.0
        t = float(stats.t.ppf(0.975, df_w))
        summaries = []
        sds: list[float | None] = []
        for i, name in enumerate(names):
            members = x[group == i]
            sd = float(members.std(ddof=1)) if members.size > 1 else None
            sds.append(sd)
            half = t * math.sqrt(ms_within / counts[i])
            summaries.append(
                GroupSummary(
                    name, int(counts[i]), float(means[i]), sd, float(means[i] - half), float(means[i] + half)
                )
            )
        ss_total = ss_between + ss_within
        pairs = []
        if ms_within > 0:
            tukey = stats.tukey_hsd(*[x[group == i] for i in range(k)])
            interval = tukey.confidence_interval(0.95)
            for i in range(k):
                for j in range(i + 1, k):
                    pooled = math.sqrt(
                        ((counts[i] - 1) * (sds[i] or 0.0) ** 2 + (counts[j] - 1) * (sds[j] or 0.0) ** 2)
                        / max(counts[i] + counts[j] - 2, 1)
                    )
                    correction = 1 - 3 / (4 * (counts[i] + counts[j]) - 9)
                    g = None if pooled == 0 else float((means[i] - means[j]) / pooled * correction)
                    pairs.append(
                        PairwiseDifference(
                            names[i],
                            names[j],
                            float(means[i] - means[j]),
                            float(interval.low[i, j]),
                            float(interval.high[i, j]),
                            float(tukey.pvalue[i, j]),
                            g,
                        )
                    )
        return OneWayResult(
            factor=self.factor,
            values=x,
            groups=tuple(int(g) for g in group),
            summaries=tuple(summaries),
            df_between=df_b,
            df_within=df_w,
            ss_between=ss_between,
            ss_within=ss_within,
            f=f,
            p_value=p,
            eta_squared=ss_between / ss_total if ss_total > 0 else 0.0,
            omega_squared=(ss_between - df_b * ms_within) / (ss_total + ms_within) if ss_total > 0 else 0.0,
            pairs=tuple(pairs),
        )


@dataclass(frozen=True)
class FixedEffect:
    level: str
    estimate: float
    se: float
    df: int
    ci95_lower: float
    ci95_upper: float
    p_value: float
    effect_size: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "difference_from_reference": self.estimate,
            "se": self.se,
            "df": self.df,
            "ci95_lower": self.ci95_lower,
            "ci95_upper": self.ci95_upper,
            "p_value": self.p_value,
            "effect_size": self.effect_size,
        }


@dataclass(frozen=True)
class MixedModelResult:
    """REML fit of a level effect with the donor as a random intercept."""

    factor: str
    values: FloatArray
    levels: tuple[str, ...]
    groups: tuple[int, ...]
    donors: int
    reference_mean: float
    reference_se: float
    effects: tuple[FixedEffect, ...]
    sigma2_donor: float
    sigma2_residual: float
    reml_criterion: float

    @property
    def icc(self) -> float:
        total = self.sigma2_donor + self.sigma2_residual
        return self.sigma2_donor / total if total > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "linear mixed model, donor random intercept (REML)",
            "factor": self.factor,
            "n": int(self.values.size),
            "donors": self.donors,
            "reference_level": self.levels[0],
            "reference_mean": self.reference_mean,
            "reference_se": self.reference_se,
            "effects": [e.to_dict() for e in self.effects],
            "variance_components": {"donor": self.sigma2_donor, "residual": self.sigma2_residual},
            "icc_donor": self.icc,
            "minus_2_reml_log_likelihood": self.reml_criterion,
        }

    def plot(self, ax: Any = None) -> Any:
        """Differences from the reference level with their 95 % intervals."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(5.6, 3.2), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        for i, effect in enumerate(self.effects):
            ax.errorbar(
                effect.estimate,
                i,
                xerr=[[effect.estimate - effect.ci95_lower], [effect.ci95_upper - effect.estimate]],
                fmt="o",
                color="tab:blue",
                capsize=3,
            )
        ax.axvline(0, color="0.5", linewidth=0.8)
        ax.set_yticks(range(len(self.effects)), [f"{e.level} - {self.levels[0]}" for e in self.effects])
        ax.set_xlabel("difference (95 % CI)")
        ax.set_title(f"donor random intercept, ICC {self.icc:.2f}", fontsize=9)
        return figure


class DonorMixedModel:
    """Linear mixed model: fixed level effect of ``factor``, random intercept per donor, fitted by REML."""

    def __init__(self, factor: str) -> None:
        if not factor:
            raise ValueError("factor: name the factor")
        self.factor = factor

    def fit(self, values: Any, levels: Sequence[Any] | Any, donors: Sequence[Any] | Any) -> MixedModelResult:
        y = _as_series(values)
        names, level = _levels(levels, y.size, "levels")
        donor_names, donor = _levels(donors, y.size, "donors")
        n, k, g = y.size, len(names), len(donor_names)
        if k < 2:
            raise ValueError("levels: at least two levels are needed for a comparison")
        sizes = np.bincount(donor, minlength=g)
        if not np.any(sizes > 1):
            raise ValueError(
                "donors: every donor has one lot; a donor effect cannot be told from the residual"
            )
        design = np.zeros((n, k))
        design[:, 0] = 1.0
        design[np.arange(n), level] = 1.0  # treatment coding: column j > 0 is level j's difference
        p = k
        if np.linalg.matrix_rank(design) < p or n - p < 1:
            raise ValueError("values: too few lots for the model")
        xtx, xty = design.T @ design, design.T @ y
        group_x = np.zeros((g, p))
        np.add.at(group_x, donor, design)
        group_y = np.bincount(donor, weights=y, minlength=g)

        def solve(ratio: float) -> tuple[float, FloatArray, FloatArray, float]:
            shrink = ratio / (1 + sizes * ratio)
            xwx = xtx - group_x.T @ (shrink[:, None] * group_x)
            xwy = xty - group_x.T @ (shrink * group_y)
            beta: FloatArray = np.linalg.solve(xwx, xwy).astype(np.float64)
            residual = y - design @ beta
            group_r = np.bincount(donor, weights=residual, minlength=g)
            rwr = float(residual @ residual - np.sum(shrink * group_r**2))
            sigma2 = rwr / (n - p)
            criterion = (
                (n - p) * math.log(sigma2)
                + float(np.sum(np.log1p(sizes * ratio)))
                + np.linalg.slogdet(xwx)[1]
            )
            return float(criterion), beta, xwx, sigma2

        found = optimize.minimize_scalar(
            lambda t: solve(math.exp(t))[0], bounds=(-25.0, 12.0), method="bounded", options={"xatol": 1e-10}
        )
        ratio = math.exp(float(found.x))
        if solve(0.0)[0] <= solve(ratio)[0]:
            ratio = 0.0  # the boundary: no donor variance beyond the residual
        criterion, beta, xwx, sigma2 = solve(ratio)
        covariance = sigma2 * np.linalg.inv(xwx)
        between = all(len(set(level[donor == d])) == 1 for d in range(g))
        df = max(g - p, 1) if between else max(n - g - (p - 1), 1)
        t = float(stats.t.ppf(0.975, df))
        total_sd = math.sqrt(sigma2 * (1 + ratio))
        effects = []
        for j in range(1, k):
            se = math.sqrt(covariance[j, j])
            estimate = float(beta[j])
            effects.append(
                FixedEffect(
                    level=names[j],
                    estimate=estimate,
                    se=se,
                    df=df,
                    ci95_lower=estimate - t * se,
                    ci95_upper=estimate + t * se,
                    p_value=float(2 * stats.t.sf(abs(estimate) / se, df)) if se > 0 else 0.0,
                    effect_size=estimate / total_sd if total_sd > 0 else None,
                )
            )
        return MixedModelResult(
            factor=self.factor,
            values=y,
            levels=tuple(names),
            groups=tuple(int(v) for v in level),
            donors=g,
            reference_mean=float(beta[0]),
            reference_se=math.sqrt(covariance[0, 0]),
            effects=tuple(effects),
            sigma2_donor=ratio * sigma2,
            sigma2_residual=sigma2,
            reml_criterion=criterion,
        )
