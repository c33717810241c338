"""Tube formation (angiogenesis): a network metric per well -> % of the VEGF positive control and RP.

Each well (image) gives a metric of the Angiogenesis Analyzer for ImageJ (total tube length, number of
junctions, number of meshes ...). For every group of wells (a lot's CM, the controls) the result is

    % of positive control = 100 x mean(group) / mean(VEGF)                                  (baseline "none")
    % of positive control = 100 x (mean(group) - mean(basal)) / (mean(VEGF) - mean(basal))  (baseline "negative")

with Fieller's interval for the ratio (:func:`~secretome.analysis.assays.ratio.ratio_of_means`), the fold
over the basal-medium control, and, when a reference lot ran on the same plate, the relative potency
``mean(test) / mean(reference)`` with its Fieller interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from secretome.analysis.assays.ratio import Ratio, ratio_of_means

BASELINES = ("none", "negative")


@dataclass(frozen=True)
class GroupTubes:
    """One group of wells: its values, mean and SD, % of the positive control, fold over basal, and RP."""

    name: str
    values: tuple[float, ...]
    percent_of_positive: Ratio
    fold_over_basal: Ratio | None
    relative_potency: Ratio | None

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def sd(self) -> float | None:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "values": list(self.values),
            "mean": self.mean,
            "sd": self.sd,
            "cv": None if self.sd is None or self.mean == 0 else 100 * self.sd / self.mean,
            "percent_of_positive": self.percent_of_positive.to_dict(),
            "fold_over_basal": None if self.fold_over_basal is None else self.fold_over_basal.to_dict(),
            "relative_potency": None if self.relative_potency is None else self.relative_potency.to_dict(),
        }


@dataclass(frozen=True)
class TubeFormationResult:
    """Every group's tube-formation metric against the controls."""

    metric: str
    positive: str
    negative: str | None
    reference: str | None
    baseline: str
    groups: Mapping[str, GroupTubes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "positive": self.positive,
            "negative": self.negative,
            "reference": self.reference,
            "baseline": self.baseline,
            "groups": {k: v.to_dict() for k, v in self.groups.items()},
        }

    def plot(self, ax: Any = None) -> Any:
        """Bars of each group's % of the positive control with the Fieller interval and the wells as points."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(max(4.0, 1.0 + 0.8 * len(self.groups)), 4.0))
            figure.subplots_adjust(left=0.14, right=0.97, bottom=0.25, top=0.9)
            ax = figure.subplots()
        else:
            figure = ax.figure
        names = list(self.groups)
        positive_mean = self.groups[self.positive].mean
        for i, name in enumerate(names):
            group = self.groups[name]
            ratio = group.percent_of_positive
            colour = (
                "tab:green"
                if name == self.positive
                else ("tab:grey" if name == self.negative else "tab:blue")
            )
            ax.bar(i, ratio.value, color=colour, alpha=0.6)
            if ratio.low is not None and ratio.high is not None:
                ax.errorbar(
                    i,
                    ratio.value,
                    yerr=[[ratio.value - ratio.low], [ratio.high - ratio.value]],
                    color="black",
                    capsize=3,
                )
            ax.scatter(
                [i] * len(group.values),
                [100 * v / positive_mean for v in group.values],
                color="black",
                s=8,
                zorder=3,
            )
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.axhline(100.0, color="tab:green", linestyle="--", linewidth=0.8)
        ax.set_ylabel(f"{self.metric}, % of {self.positive}")
        ax.set_title("Tube formation (angiogenesis)", fontsize=9)
        return figure


def analyse_tube_formation(
    groups: Mapping[str, ArrayLike],
    *,
    positive: str,
    negative: str | None = None,
    reference: str | None = None,
    baseline: str = "none",
    metric: str = "total tube length",
    level: float = 0.95,
) -> TubeFormationResult:
    """% of the positive control, fold over basal and RP for every group (name -> per-well metric values)."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline: {baseline!r} is not one of {', '.join(BASELINES)}")
    for role, name in (("positive", positive), ("negative", negative), ("reference", reference)):
        if name is not None and name not in groups:
            raise ValueError(f"{role}: no wells of {name!r} (groups: {', '.join(sorted(groups))})")
    if baseline == "negative" and negative is None:
        raise ValueError("negative: baseline 'negative' needs the basal-medium control")
    arrays = {name: np.asarray(values, dtype=float).ravel() for name, values in groups.items()}
    base = arrays[negative] if baseline == "negative" and negative is not None else None
    result: dict[str, GroupTubes] = {}
    for name, values in arrays.items():
        percent = ratio_of_means(values, arrays[positive], baseline=base, level=level).scaled(100.0)
        fold = ratio_of_means(values, arrays[negative], level=level) if negative is not None else None
        rp = (
            ratio_of_means(values, arrays[reference], baseline=base, level=level)
            if reference is not None and name != reference
            else None
        )
        result[name] = GroupTubes(name, tuple(float(v) for v in values), percent, fold, rp)
    return TubeFormationResult(metric, positive, negative, reference, baseline, result)


__all__: Sequence[str] = ["GroupTubes", "TubeFormationResult", "analyse_tube_formation"]
