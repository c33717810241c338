"""Scratch wound healing: closure % at a fixed time and the closure rate by regression, relative to control.

For each well with scratch (wound) areas ``A(t)`` over time:

    closure(t) % = 100 x (A(0) - A(t)) / A(0)

``closure at T`` is read at the fixed time ``T`` (linear interpolation between the two nearest images when
no image was taken exactly at ``T``); the closure rate (% per hour) is the least-squares slope of closure
against time over the images up to ``T``. Each group's mean is compared with the control medium's:
``relative closure = 100 x mean closure(group) / mean closure(control)`` and likewise for the rate, each
with Fieller's interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from secretome.analysis.assays.ratio import Ratio, ratio_of_means


def closure_percent(area_0: float, area_t: ArrayLike) -> np.ndarray[Any, Any]:
    """``100 (A0 - At) / A0``."""
    if not (math.isfinite(area_0) and area_0 > 0):
        raise ValueError(f"area_0: the initial wound area must be positive, not {area_0}")
    result: np.ndarray[Any, Any] = 100.0 * (area_0 - np.asarray(area_t, dtype=float)) / area_0
    return result


@dataclass(frozen=True)
class WellClosure:
    """One well's time course, its closure at the fixed time and its closure rate."""

    well: str
    group: str
    hours: tuple[float, ...]
    area: tuple[float, ...]
    closure: tuple[float, ...]
    closure_at: float
    rate: float
    rate_se: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "well": self.well,
            "group": self.group,
            "hours": list(self.hours),
            "area": list(self.area),
            "closure": list(self.closure),
            "closure_at": self.closure_at,
            "rate": self.rate,
            "rate_se": self.rate_se,
        }


@dataclass(frozen=True)
class GroupClosure:
    name: str
    wells: tuple[str, ...]
    closure_at: tuple[float, ...]
    rate: tuple[float, ...]
    relative_closure: Ratio
    relative_rate: Ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "wells": list(self.wells),
            "closure_at": list(self.closure_at),
            "mean_closure_at": float(np.mean(self.closure_at)),
            "rate": list(self.rate),
            "mean_rate": float(np.mean(self.rate)),
            "relative_closure": self.relative_closure.to_dict(),
            "relative_rate": self.relative_rate.to_dict(),
        }


@dataclass(frozen=True)
class WoundHealingResult:
    at_hours: float
    control: str
    wells: tuple[WellClosure, ...]
    groups: Mapping[str, GroupClosure]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at_hours": self.at_hours,
            "control": self.control,
            "wells": [w.to_dict() for w in self.wells],
            "groups": {k: v.to_dict() for k, v in self.groups.items()},
        }

    def plot(self, ax: Any = None) -> Any:
        """Closure % over time, one line per well coloured by group, with the fixed time marked."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.0, 4.0))
            figure.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.9)
            ax = figure.subplots()
        else:
            figure = ax.figure
        colours = {name: f"C{i % 10}" for i, name in enumerate(self.groups)}
        shown: set[str] = set()
        for well in self.wells:
            label = well.group if well.group not in shown else None
            shown.add(well.group)
            ax.plot(
                well.hours, well.closure, marker="o", markersize=3, color=colours[well.group], label=label
            )
        ax.axvline(self.at_hours, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel("time (h)")
        ax.set_ylabel("wound closure (%)")
        ax.set_title(f"Scratch wound healing (closure at {self.at_hours:g} h vs {self.control})", fontsize=9)
        ax.legend(fontsize=7)
        return figure


def _well(
    well: str, group: str, hours: np.ndarray[Any, Any], area: np.ndarray[Any, Any], at: float
) -> WellClosure:
    order = np.argsort(hours)
    hours, area = hours[order], area[order]
    if hours.size < 2 or hours[0] != 0:
        raise ValueError(f"hours: well {well} needs an image at 0 h and at least one later image")
    if at > hours[-1]:
        raise ValueError(f"at_hours: well {well} was imaged only up to {hours[-1]:g} h, not {at:g} h")
    closure = closure_percent(float(area[0]), area)
    closure_at = float(np.interp(at, hours, closure))
    window = hours <= at
    x, y = hours[window], closure[window]
    slope, intercept = np.polyfit(x, y, 1)
    se: float | None = None
    if x.size > 2:
        residual = y - (slope * x + intercept)
        se = float(math.sqrt(float(np.sum(residual**2)) / (x.size - 2) / float(np.sum((x - x.mean()) ** 2))))
    return WellClosure(
        well,
        group,
        tuple(map(float, hours)),
        tuple(map(float, area)),
        tuple(map(float, closure)),
        closure_at,
        float(slope),
        se,
    )


def analyse_wound_healing(
    wells: Mapping[str, tuple[str, ArrayLike, ArrayLike]],
    *,
    control: str,
    at_hours: float,
    level: float = 0.95,
) -> WoundHealingResult:
    """Closure at ``at_hours`` and the closure rate for every well (well -> (group, hours, areas)), and every
    group relative to the ``control`` group."""
    if not (math.isfinite(at_hours) and at_hours > 0):
        raise ValueError(f"at_hours: must be a positive time, not {at_hours}")
    results = [
        _well(well, group, np.asarray(h, dtype=float), np.asarray(a, dtype=float), at_hours)
        for well, (group, h, a) in sorted(wells.items())
    ]
    by_group: dict[str, list[WellClosure]] = {}
    for result in results:
        by_group.setdefault(result.group, []).append(result)
    if control not in by_group:
        raise ValueError(f"control: no wells of {control!r} (groups: {', '.join(sorted(by_group))})")
    control_closure = [w.closure_at for w in by_group[control]]
    control_rate = [w.rate for w in by_group[control]]
    groups = {
        name: GroupClosure(
            name,
            tuple(w.well for w in members),
            tuple(w.closure_at for w in members),
            tuple(w.rate for w in members),
            ratio_of_means([w.closure_at for w in members], control_closure, level=level).scaled(100.0),
            ratio_of_means([w.rate for w in members], control_rate, level=level).scaled(100.0),
        )
        for name, members in sorted(by_group.items())
    }
    return WoundHealingResult(float(at_hours), control, tuple(results), groups)


__all__: Sequence[str] = [
    "GroupClosure",
    "WellClosure",
    "WoundHealingResult",
    "analyse_wound_healing",
    "closure_percent",
]
