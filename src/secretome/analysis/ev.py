"""Extracellular-vesicle particle statistics from nanoparticle-tracking analysis (NTA).

An NTA measurement is several videos of the same diluted sample. Each video gives a particle concentration
(particles/mL of what was in the cell) and a number-weighted size distribution (particles/mL per size bin).
This module turns them into what a lot reports:

- the concentration of the undiluted preparation, ``c = c_measured x dilution``, as the mean over videos,
  with the between-video SD, standard error and CV (``100 x SD / mean``, SD with ``n - 1``);
- the size statistics: mean, mode, D10/D50/D90 and the span ``(D90 - D10) / D50``; per video and as the
  mean over videos, both from the instrument's own per-video values when it gives them and recomputed from
  the distribution (``D_p``: the size where the cumulative number fraction reaches ``p``, interpolated
  linearly within the bin, ``mode``: the centre of the fullest bin of the mean distribution);
- the particle-to-protein ratio ``c / protein`` (particles per ug), the MISEV purity measure.

Pure: numbers in, a frozen :class:`NtaResult` out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: The size statistics an NTA result carries, in report order.
SIZE_STATISTICS = ("mean", "mode", "d10", "d50", "d90")
#: Particle-to-protein purity classes (particles per ug), after Webber & Clayton (2013).
PURITY_CLASSES = ((3e10, "high purity"), (2e9, "low purity"), (1.5e9, "unclear"), (0.0, "impure"))


def _json(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def percentile_size(bin_centres: npt.ArrayLike, counts: npt.ArrayLike, fraction: float) -> float:
    """The size below which ``fraction`` of the particles lie (linear within a bin; NaN for no particles).

    Bins are taken as contiguous: each bin spans half way to its neighbours' centres.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction: {fraction} is not between 0 and 1")
    bin_centres = np.asarray(bin_centres, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    total = float(np.sum(counts))
    if not total > 0:
        return math.nan
    edges = _edges(bin_centres)
    cumulative = np.concatenate([[0.0], np.cumsum(counts) / total])
    # Leading empty bins make cumulative flat at 0; interpolate on the first bin that crosses the fraction.
    index = int(np.searchsorted(cumulative, fraction, side="left"))
    low_c, high_c = cumulative[index - 1], cumulative[index]
    low_e, high_e = edges[index - 1], edges[index]
    return float(low_e + (fraction - low_c) / (high_c - low_c) * (high_e - low_e))


def _edges(bin_centres: FloatArray) -> FloatArray:
    if bin_centres.size == 1:
        return np.array([bin_centres[0] - 0.5, bin_centres[0] + 0.5])
    middles = (bin_centres[1:] + bin_centres[:-1]) / 2
    first = bin_centres[0] - (middles[0] - bin_centres[0])
    last = bin_centres[-1] + (bin_centres[-1] - middles[-1])
    return np.concatenate([[first], middles, [last]])


def distribution_statistics(bin_centres: npt.ArrayLike, counts: npt.ArrayLike) -> dict[str, float]:
    """Mean, mode, D10, D50, D90 and span of one number-weighted size distribution."""
    bin_centres = np.asarray(bin_centres, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    total = float(np.sum(counts))
    if not total > 0:
        return {name: math.nan for name in (*SIZE_STATISTICS, "span")}
    d10, d50, d90 = (percentile_size(bin_centres, counts, p) for p in (0.1, 0.5, 0.9))
    return {
        "mean": float(np.sum(bin_centres * counts) / total),
        "mode": float(bin_centres[int(np.argmax(counts))]),
        "d10": d10,
        "d50": d50,
        "d90": d90,
        "span": (d90 - d10) / d50 if d50 > 0 else math.nan,
    }


@dataclass(frozen=True)
class NtaResult:
    """Particle concentration and size of one EV preparation from several NTA videos.

    Concentrations are of the undiluted preparation (particles/mL); sizes in nm. ``size`` holds the
    reported size statistics (mean over videos of the instrument's per-video values when it gave them,
    otherwise of the recomputed ones); ``distribution_size`` the statistics recomputed from the mean
    distribution, a cross-check of the instrument's.
    """

    videos: tuple[str, ...]
    dilution: float
    video_concentration: FloatArray = field(repr=False)
    concentration: float
    concentration_sd: float
    concentration_se: float
    concentration_cv: float
    video_size: Mapping[str, tuple[float, ...]]
    size: Mapping[str, float]
    size_source: str
    distribution_size: Mapping[str, float]
    bin_centres: FloatArray = field(repr=False)
    video_distributions: FloatArray = field(repr=False)
    protein_ug_per_ml: float | None = None
    cv_limit: float = 20.0
    flags: tuple[str, ...] = ()

    @property
    def span(self) -> float:
        """``(D90 - D10) / D50`` of the reported size statistics."""
        d50 = self.size.get("d50", math.nan)
        return (
            (self.size.get("d90", math.nan) - self.size.get("d10", math.nan)) / d50 if d50 > 0 else math.nan
        )

    @property
    def particles_per_ug(self) -> float | None:
        """Particles per ug of protein (None when the protein concentration is not known)."""
        if self.protein_ug_per_ml is None or not self.protein_ug_per_ml > 0:
            return None
        return self.concentration / self.protein_ug_per_ml

    @property
    def purity(self) -> str | None:
        ratio = self.particles_per_ug
        if ratio is None:
            return None
        return next(label for limit, label in PURITY_CLASSES if ratio >= limit)

    @property
    def mean_distribution(self) -> FloatArray:
        """Mean over videos of the size distributions (particles/mL per bin, undiluted)."""
        if self.video_distributions.size == 0:
            return np.zeros(0)
        return np.asarray(np.mean(self.video_distributions, axis=0), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "videos": list(self.videos),
            "dilution": self.dilution,
            "video_concentration": [_json(v) for v in self.video_concentration],
            "concentration": _json(self.concentration),
            "concentration_sd": _json(self.concentration_sd),
            "concentration_se": _json(self.concentration_se),
            "concentration_cv": _json(self.concentration_cv),
            "cv_limit": self.cv_limit,
            "video_size": {k: [_json(v) for v in values] for k, values in self.video_size.items()},
            "size": {k: _json(v) for k, v in self.size.items()},
            "span": _json(self.span),
            "size_source": self.size_source,
            "distribution_size": {k: _json(v) for k, v in self.distribution_size.items()},
            "protein_ug_per_ml": self.protein_ug_per_ml,
            "particles_per_ug": _json(self.particles_per_ug) if self.particles_per_ug is not None else None,
            "purity": self.purity,
            "bins": int(self.bin_centres.size),
            "flags": list(self.flags),
        }

    def plot(self, ax: Any = None) -> Any:
        """Mean size distribution with the band between the lowest and highest video, and the D-values."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.4, 4.0), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        if self.bin_centres.size:
            mean = self.mean_distribution
            low = np.min(self.video_distributions, axis=0)
            high = np.max(self.video_distributions, axis=0)
            upper = self.size.get("d90", math.nan)
            limit = upper * 2.5 if math.isfinite(upper) else float(self.bin_centres[-1])
            shown = self.bin_centres <= limit
            ax.fill_between(
                self.bin_centres[shown],
                low[shown],
                high[shown],
                color="tab:blue",
                alpha=0.25,
                label=f"range of {len(self.videos)} videos",
            )
            ax.plot(self.bin_centres[shown], mean[shown], color="tab:blue", label="mean")
        for name, style in (("d10", ":"), ("d50", "--"), ("d90", ":"), ("mode", "-")):
            value = self.size.get(name, math.nan)
            if math.isfinite(value):
                ax.axvline(
                    value, color="black", linestyle=style, linewidth=0.8, label=f"{name} {value:.0f} nm"
                )
        ax.set_xlabel("size (nm)")
        ax.set_ylabel("particles/mL per bin")
        ax.set_title(f"{self.concentration:.3g} particles/mL (CV {self.concentration_cv:.1f} %)")
        ax.legend(fontsize="small")
        return figure


@dataclass(frozen=True)
class NtaAnalyzer:
    """Settings of an NTA particle analysis.

    Parameters
    ----------
    dilution
        Factor the measured concentrations are multiplied by (1 when the instrument has applied it).
    cv_limit
        Between-video CV (%) above which the result is flagged.
    min_videos
        Fewest videos a result may rest on.
    """

    dilution: float = 1.0
    cv_limit: float = 20.0
    min_videos: int = 3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.dilution) and self.dilution > 0):
            raise ValueError(f"dilution: {self.dilution} must be a positive number")
        if not (math.isfinite(self.cv_limit) and self.cv_limit > 0):
            raise ValueError(f"cv_limit: {self.cv_limit} must be a positive number")
        if self.min_videos < 1:
            raise ValueError(f"min_videos: {self.min_videos} must be at least 1")

    def fit(
        self,
        videos: Sequence[str],
        concentration: npt.ArrayLike,
        *,
        bin_centres: npt.ArrayLike = (),
        distributions: npt.ArrayLike = (),
        video_size: Mapping[str, Sequence[float]] | None = None,
        protein_ug_per_ml: float | None = None,
    ) -> NtaResult:
        """Statistics of one preparation.

        Parameters
        ----------
        videos
            Video names.
        concentration
            Measured concentration per video (particles/mL).
        bin_centres, distributions
            Size-bin centres (nm) and, per video, particles/mL in each bin (optional).
        video_size
            The instrument's per-video size statistics, by name (``"mean"``, ``"mode"``, ``"d10"``...).
        protein_ug_per_ml
            Total protein of the preparation, for the particle-to-protein ratio.
        """
        names = tuple(str(v) for v in videos)
        measured = np.asarray(concentration, dtype=np.float64)
        if measured.shape != (len(names),):
            raise ValueError(f"concentration: {measured.size} values for {len(names)} videos")
        if len(names) == 0:
            raise ValueError("videos: no video to analyse")
        if np.any(~np.isfinite(measured)) or np.any(measured < 0):
            raise ValueError("concentration: every video needs a finite, non-negative concentration")
        centres = np.asarray(bin_centres, dtype=np.float64)
        dist = np.asarray(distributions, dtype=np.float64).reshape(-1, centres.size) if centres.size else None
        if dist is not None and dist.shape[0] != len(names):
            raise ValueError(f"distributions: {dist.shape[0]} distributions for {len(names)} videos")
        if dist is not None:
            dist = np.nan_to_num(dist, nan=0.0) * self.dilution
        values = measured * self.dilution
        n = values.size
        mean = float(np.mean(values))
        sd = float(np.std(values, ddof=1)) if n > 1 else math.nan
        se = sd / math.sqrt(n) if n > 1 else math.nan
        cv = 100.0 * sd / mean if n > 1 and mean > 0 else math.nan
        per_video: dict[str, tuple[float, ...]] = {}
        source = "instrument"
        given = {k.lower(): tuple(float(x) for x in v) for k, v in (video_size or {}).items()}
        if all(name in given and len(given[name]) == n for name in SIZE_STATISTICS):
            per_video = {name: given[name] for name in SIZE_STATISTICS}
        elif dist is not None:
            source = "distribution"
            stats = [distribution_statistics(centres, row) for row in dist]
            per_video = {name: tuple(s[name] for s in stats) for name in SIZE_STATISTICS}
        else:
            source = "none"
        size = {
            name: float(np.nanmean(v)) if np.any(np.isfinite(v)) else math.nan
            for name, v in per_video.items()
        }
        distribution_size = (
            distribution_statistics(centres, np.mean(dist, axis=0)) if dist is not None else {}
        )
        flags: list[str] = []
        if n < self.min_videos:
            flags.append(f"only {n} video(s); at least {self.min_videos} required")
        if math.isfinite(cv) and cv > self.cv_limit:
            flags.append(f"between-video CV {cv:.1f} % exceeds {self.cv_limit:g} %")
        if source == "none":
            flags.append("no size statistics: the file gives neither per-video sizes nor a distribution")
        return NtaResult(
            videos=names,
            dilution=self.dilution,
            video_concentration=values,
            concentration=mean,
            concentration_sd=sd,
            concentration_se=se,
            concentration_cv=cv,
            video_size=per_video,
            size=size,
            size_source=source,
            distribution_size=distribution_size,
            bin_centres=centres if dist is not None else np.zeros(0),
            video_distributions=dist if dist is not None else np.zeros((0, 0)),
            protein_ug_per_ml=protein_ug_per_ml,
            cv_limit=self.cv_limit,
            flags=tuple(flags),
        )
