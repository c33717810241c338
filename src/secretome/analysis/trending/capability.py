"""Process capability of one attribute over all lots in order.

Conventions (the contract of ``secretome trend capability``): sigma_within = MRbar / 1.128 over all
n - 1 moving ranges; sigma_overall = sample SD (n - 1, no c4 correction); Cp = (USL - LSL) / 6 sigma,
Cpu = (USL - mean) / 3 sigma, Cpl = (mean - LSL) / 3 sigma, Cpk = the minimum of those of Cpl and Cpu that
exist (a one-sided specification gives only Cpl or Cpu); Pp, Ppl, Ppu, Ppk the same with the overall SD.
Confidence intervals: Bissell's C +/- z sqrt(1/(9n) + C^2/(2(n - 1))) for Cpk and Ppk (z = 1.959964 for the
two-sided 95 % interval, 1.644854 for the one-sided 95 % lower bound); chi-square intervals for Cp and Pp,
C sqrt(chi2_{a/2, n-1}/(n - 1)) to C sqrt(chi2_{1-a/2, n-1}/(n - 1)). Expected ppm beyond the limits from the
normal distribution with the within and with the overall sigma.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from secretome.analysis.trending.charts import D2, _as_series, moving_ranges
from secretome.analysis.trending.rules import FloatArray

Z_TWO_SIDED_95 = 1.959964
Z_ONE_SIDED_95 = 1.644854


@dataclass(frozen=True)
class IndexEstimate:
    """A capability index with its 95 % confidence interval (and one-sided 95 % lower bound for Cpk/Ppk)."""

    estimate: float | None
    ci95_lower: float | None
    ci95_upper: float | None
    lower_bound_95_one_sided: float | None = None

    def to_dict(self, one_sided: bool = False) -> dict[str, float | None]:
        out = {"estimate": self.estimate, "ci95_lower": self.ci95_lower, "ci95_upper": self.ci95_upper}
        if one_sided:
            out["lower_bound_95_one_sided"] = self.lower_bound_95_one_sided
        return out


_NONE = IndexEstimate(None, None, None, None)


def bissell(c: float | None, n: int) -> IndexEstimate:
    """Bissell's (1990) normal-approximation interval for Cpk or Ppk."""
    if c is None:
        return _NONE
    se = math.sqrt(1 / (9 * n) + c * c / (2 * (n - 1)))
    return IndexEstimate(c, c - Z_TWO_SIDED_95 * se, c + Z_TWO_SIDED_95 * se, c - Z_ONE_SIDED_95 * se)


def chi_square_interval(c: float | None, n: int) -> IndexEstimate:
    """The exact (normal theory) 95 % interval for Cp or Pp from the chi-square distribution, n - 1 df."""
    if c is None:
        return _NONE
    df = n - 1
    # scipy.special's inverse upper-tail chi-square: chdtri(df, 1 - q) is the q quantile
    low = c * math.sqrt(float(special.chdtri(df, 0.975)) / df)
    high = c * math.sqrt(float(special.chdtri(df, 0.025)) / df)
    return IndexEstimate(c, low, high)


def _indices(mean: float, sigma: float, lsl: float | None, usl: float | None) -> dict[str, float | None]:
    lower = None if lsl is None else (mean - lsl) / (3 * sigma)
    upper = None if usl is None else (usl - mean) / (3 * sigma)
    spread = None if lsl is None or usl is None else (usl - lsl) / (6 * sigma)
    present = [c for c in (lower, upper) if c is not None]
    return {"lower": lower, "upper": upper, "spread": spread, "k": min(present) if present else None}


def _ppm(mean: float, sigma: float, lsl: float | None, usl: float | None) -> dict[str, float]:
    below = 0.0 if lsl is None else float(special.ndtr((lsl - mean) / sigma)) * 1e6
    above = 0.0 if usl is None else float(special.ndtr((mean - usl) / sigma)) * 1e6
    return {"below_lsl": below, "above_usl": above, "total": below + above}


@dataclass(frozen=True)
class CapabilityResult:
    """Capability indices of one attribute with their confidence intervals and expected ppm."""

    values: FloatArray
    lsl: float | None
    usl: float | None
    mean: float
    sigma_within: float
    sd_overall: float
    cp: IndexEstimate
    cpk: IndexEstimate
    cpl: float | None
    cpu: float | None
    pp: IndexEstimate
    ppk: IndexEstimate
    ppl: float | None
    ppu: float | None
    ppm_within: dict[str, float]
    ppm_overall: dict[str, float]
    ppm_observed: dict[str, float]

    @property
    def n(self) -> int:
        return int(self.values.size)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``secretome trend capability``."""
        return {
            "n": self.n,
            "lsl": self.lsl,
            "usl": self.usl,
            "mean": self.mean,
            "sigma_within": self.sigma_within,
            "sd_overall": self.sd_overall,
            "Cp": self.cp.to_dict(),
            "Pp": self.pp.to_dict(),
            "Cpk": self.cpk.to_dict(one_sided=True),
            "Ppk": self.ppk.to_dict(one_sided=True),
            "Cpl": self.cpl,
            "Cpu": self.cpu,
            "Ppl": self.ppl,
            "Ppu": self.ppu,
            "ppm": {"within": self.ppm_within, "overall": self.ppm_overall, "observed": self.ppm_observed},
        }

    def plot(self, ax: Any = None) -> Any:
        """Histogram with the within and overall normal curves and the specification limits."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.4, 4.0), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        ax.hist(self.values, bins="auto", density=True, color="0.8", edgecolor="0.5")
        spread = 4 * max(self.sigma_within, self.sd_overall)
        edges = [self.mean - spread, self.mean + spread] + [v for v in (self.lsl, self.usl) if v is not None]
        grid = np.linspace(min(edges), max(edges), 300)
        ax.plot(grid, stats.norm.pdf(grid, self.mean, self.sigma_within), color="tab:blue", label="within")
        ax.plot(
            grid, stats.norm.pdf(grid, self.mean, self.sd_overall), "--", color="tab:orange", label="overall"
        )
        for limit, name in ((self.lsl, "LSL"), (self.usl, "USL")):
            if limit is not None:
                ax.axvline(limit, color="tab:red", linewidth=1.2)
                ax.annotate(name, (limit, ax.get_ylim()[1]), color="tab:red", fontsize=7, va="top")
        title = ", ".join(
            f"{name} {value:.2f}"
            for name, value in (("Cpk", self.cpk.estimate), ("Ppk", self.ppk.estimate))
            if value is not None
        )
        ax.set_title(f"capability (n = {self.n}): {title}", fontsize=9)
        ax.legend(fontsize=7)
        return figure


class Capability:
    """Capability of an attribute against its specification limits (one or both).

    Parameters
    ----------
    lsl, usl
        Lower and upper specification limits; at least one.
    """

    def __init__(self, lsl: float | None = None, usl: float | None = None) -> None:
        if lsl is None and usl is None:
            raise ValueError("lsl: give a lower or an upper specification limit (or both)")
        for name, limit in (("lsl", lsl), ("usl", usl)):
            if limit is not None and not math.isfinite(limit):
                raise ValueError(f"{name}: must be a finite number")
        if lsl is not None and usl is not None and not lsl < usl:
            raise ValueError("usl: must be above lsl")
        self.lsl = lsl
        self.usl = usl

    def fit(self, values: Sequence[float] | Any) -> CapabilityResult:
        """Indices, intervals and ppm of ``values`` (one per lot, in lot order)."""
        x = _as_series(values)
        n = x.size
        if n < 3:
            raise ValueError("values: at least 3 lots are needed")
        mean = float(x.mean())
        sigma_within = float(moving_ranges(x).mean()) / D2
        sd_overall = float(x.std(ddof=1))
        if not (sigma_within > 0 and sd_overall > 0):
            raise ValueError("values: all lots are equal; capability is undefined")
        within = _indices(mean, sigma_within, self.lsl, self.usl)
        overall = _indices(mean, sd_overall, self.lsl, self.usl)
        below = 0 if self.lsl is None else int(np.count_nonzero(x < self.lsl))
        above = 0 if self.usl is None else int(np.count_nonzero(x > self.usl))
        return CapabilityResult(
            values=x,
            lsl=self.lsl,
            usl=self.usl,
            mean=mean,
            sigma_within=sigma_within,
            sd_overall=sd_overall,
            cp=chi_square_interval(within["spread"], n),
            cpk=bissell(within["k"], n),
            cpl=within["lower"],
            cpu=within["upper"],
            pp=chi_square_interval(overall["spread"], n),
            ppk=bissell(overall["k"], n),
            ppl=overall["lower"],
            ppu=overall["upper"],
            ppm_within=_ppm(mean, sigma_within, self.lsl, self.usl),
            ppm_overall=_ppm(mean, sd_overall, self.lsl, self.usl),
            ppm_observed={
                "below_lsl": below * 1e6 / n,
                "above_usl": above * 1e6 / n,
                "total": (below + above) * 1e6 / n,
            },
        )
