"""Individuals / moving-range (I-MR) and Levey-Jennings control charts with fixed baseline limits.

I-MR conventions (the contract of ``secretome trend chart``): limits come from the first ``baseline_n``
lots only. CL = baseline mean; MRbar = mean of the baseline's ``baseline_n - 1`` moving ranges;
sigma = MRbar / 1.128 (the rounded d2 for subgroups of two); UCL/LCL = CL +/- 3 sigma, zone lines at
1 and 2 sigma; moving-range chart UCL = 3.267 MRbar (the rounded D4), LCL 0, a moving range flagged when
strictly above its UCL. The run rules of :mod:`secretome.analysis.trending.rules` run on every lot, the
baseline included, against those fixed limits.

Levey-Jennings charts (assay controls: the reference standard's relative potency, QC samples) use the
control's assigned mean and SD, or the mean and sample SD (n - 1) of the first ``baseline_n`` runs, with
the same zone lines and rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from secretome.analysis.trending.rules import (
    BoolArray,
    FloatArray,
    all_flags,
    lot_indices,
    rule_descriptions,
)

#: d2 for moving ranges of two, rounded as the charting convention prescribes.
D2 = 1.128
#: D4 for moving ranges of two, rounded as the charting convention prescribes.
D4 = 3.267

RULE_COLOURS = {
    "none": "#1f77b4",
    "nelson 1": "#d62728",
    "nelson 2": "#9467bd",
    "nelson 3": "#8c564b",
    "nelson 4": "#e377c2",
    "nelson 5": "#ff7f0e",
    "nelson 6": "#bcbd22",
    "nelson 7": "#17becf",
    "nelson 8": "#7f7f7f",
}


def _as_series(values: Any, name: str = "values") -> FloatArray:
    series = np.asarray(values, dtype=float)
    if series.ndim != 1:
        raise ValueError(f"{name}: expected one value per lot (a one-dimensional sequence)")
    if not np.all(np.isfinite(series)):
        raise ValueError(f"{name}: every value must be a finite number")
    return series


def moving_ranges(values: Any) -> FloatArray:
    """``|x_i - x_{i-1}|`` along axis 0 (one fewer than the values)."""
    result: FloatArray = np.abs(np.diff(np.asarray(values, dtype=float), axis=0))
    return result


def imr_limits(values: Any, baseline_n: int) -> tuple[Any, Any, Any]:
    """Centre line, sigma and MRbar from the first ``baseline_n`` lots, along axis 0 (vectorised over
    attributes when ``values`` is ``(n, m)``)."""
    x = np.asarray(values, dtype=float)
    if baseline_n < 2:
        raise ValueError("baseline_n: at least 2 lots are needed for a moving range")
    if baseline_n > x.shape[0]:
        raise ValueError(f"baseline_n: {baseline_n} exceeds the {x.shape[0]} lots given")
    baseline = x[:baseline_n]
    centre = baseline.mean(axis=0)
    mr_bar = moving_ranges(baseline).mean(axis=0)
    return centre, mr_bar / D2, mr_bar


@dataclass(frozen=True)
class ControlChart:
    """A control chart with fixed limits and the run rules evaluated on every lot.

    ``kind`` is ``"I-MR"`` or ``"Levey-Jennings"``. Values are on the charted scale (log10 when
    ``log10`` is true; ``raw_values`` keeps the reported numbers). Rule flags are lot indices from 1.
    ``lot_ids`` is empty when no ids were given; :meth:`lot_id` then names a lot by its index.
    """

    kind: str
    lot_ids: tuple[str, ...]
    raw_values: FloatArray
    values: FloatArray
    log10: bool
    baseline_n: int
    centre_line: float
    sigma: float
    moving_range: FloatArray
    mr_bar: float | None
    mr_ucl: float | None
    mr_flagged: tuple[int, ...]
    nelson: dict[int, tuple[int, ...]]
    western_electric: dict[int, tuple[int, ...]]

    @property
    def ucl(self) -> float:
        return self.centre_line + 3 * self.sigma

    @property
    def lcl(self) -> float:
        return self.centre_line - 3 * self.sigma

    @property
    def n(self) -> int:
        return int(self.values.size)

    def lot_id(self, lot_index: int) -> str:
        """The id of lot ``lot_index`` (counted from 1)."""
        return self.lot_ids[lot_index - 1] if self.lot_ids else str(lot_index)

    def zones(self) -> dict[str, float]:
        """Zone lines at 1 and 2 sigma either side of the centre line."""
        c, s = self.centre_line, self.sigma
        return {"minus_2": c - 2 * s, "minus_1": c - s, "plus_1": c + s, "plus_2": c + 2 * s}

    def rules_at(self, lot_index: int) -> list[str]:
        """Names of the rules that flag lot ``lot_index`` (counted from 1), Nelson first."""
        fired = [f"nelson {r}" for r, lots in self.nelson.items() if lot_index in lots]
        fired += [f"western electric {r}" for r, lots in self.western_electric.items() if lot_index in lots]
        return fired

    def signals(self) -> list[dict[str, Any]]:
        """One entry per lot that any rule flags: lot index, lot, rules (a signal for QA review)."""
        out = []
        for index in range(1, self.n + 1):
            rules = self.rules_at(index)
            if rules:
                out.append({"lot_index": index, "lot_id": self.lot_id(index), "rules": rules})
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``secretome trend chart`` plus the charted points."""
        return {
            "kind": self.kind,
            "n": self.n,
            "baseline_n": self.baseline_n,
            "log10": self.log10,
            "individuals": {
                "centre_line": self.centre_line,
                "sigma": self.sigma,
                "ucl": self.ucl,
                "lcl": self.lcl,
                "zones": self.zones(),
            },
            "moving_range": {
                "mr_bar": self.mr_bar,
                "ucl": self.mr_ucl,
                "lcl": 0.0 if self.mr_bar is not None else None,
                "flagged_lots": list(self.mr_flagged),
            },
            "nelson": {str(r): list(v) for r, v in self.nelson.items()},
            "western_electric": {str(r): list(v) for r, v in self.western_electric.items()},
            "rule_descriptions": rule_descriptions(),
            "points": [
                {
                    "lot_index": i + 1,
                    "lot_id": self.lot_id(i + 1),
                    "value": float(self.raw_values[i]),
                    "charted": float(self.values[i]),
                    "moving_range": None if i == 0 else float(self.moving_range[i - 1]),
                    "rules": self.rules_at(i + 1),
                }
                for i in range(self.n)
            ],
        }

    def point_colours(self) -> list[str]:
        """The colour of each point: its first Nelson rule's colour, or the plain colour."""
        colours = []
        for index in range(1, self.n + 1):
            rule = next((r for r, lots in self.nelson.items() if index in lots), None)
            colours.append(RULE_COLOURS["none" if rule is None else f"nelson {rule}"])
        return colours

    def plot(self, ax: Any = None) -> Any:
        """Individuals chart (and the moving-range chart when the figure is made here). Returns the figure."""
        from matplotlib.figure import Figure

        mr_ax = None
        if ax is None:
            figure = Figure(figsize=(7.2, 5.0), layout="constrained")
            if self.mr_bar is not None:
                ax, mr_ax = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
            else:
                ax = figure.subplots()
        else:
            figure = ax.figure
        index = np.arange(1, self.n + 1)
        ax.plot(index, self.values, color="0.6", linewidth=0.8, zorder=1)
        ax.scatter(index, self.values, c=self.point_colours(), s=16, zorder=3)
        ax.axhline(self.centre_line, color="tab:green", linewidth=1, label="CL")
        for k, style in ((3, "-"), (2, "--"), (1, ":")):
            for sign in (1, -1):
                ax.axhline(
                    self.centre_line + sign * k * self.sigma,
                    color="tab:red" if k == 3 else "0.5",
                    linestyle=style,
                    linewidth=1 if k == 3 else 0.7,
                )
        ax.axvspan(0.5, self.baseline_n + 0.5, color="0.9", zorder=0, label="baseline")
        for r, lots in self.nelson.items():
            for lot in lots:
                ax.annotate(str(r), (lot, self.values[lot - 1]), fontsize=6, color="tab:red", va="bottom")
        ax.set_ylabel(("log10 " if self.log10 else "") + "value")
        ax.set_title(f"{self.kind} chart, limits from lots 1-{self.baseline_n}", fontsize=9)
        ax.legend(fontsize=7, loc="best")
        if mr_ax is not None and self.mr_bar is not None and self.mr_ucl is not None:
            mr_ax.plot(index[1:], self.moving_range, color="0.4", marker="o", markersize=3, linewidth=0.8)
            mr_ax.axhline(self.mr_bar, color="tab:green", linewidth=1)
            mr_ax.axhline(self.mr_ucl, color="tab:red", linewidth=1)
            flagged = np.asarray(self.mr_flagged, dtype=int)
            if flagged.size:
                mr_ax.scatter(flagged, self.moving_range[flagged - 2], color="tab:red", s=20, zorder=3)
            mr_ax.set_ylabel("moving range")
            mr_ax.set_xlabel("lot")
        else:
            ax.set_xlabel("lot")
        return figure


def _lot_ids(lot_ids: Sequence[str] | None, n: int) -> tuple[str, ...]:
    """The lot ids as a tuple; empty when none are given (the lot index then names the lot)."""
    if lot_ids is None:
        return ()
    if len(lot_ids) != n:
        raise ValueError(f"lot_ids: {len(lot_ids)} lot ids for {n} values")
    return tuple(str(v) for v in lot_ids)


def _charted(values: Any, log10: bool) -> tuple[FloatArray, FloatArray]:
    raw = _as_series(values)
    if not log10:
        return raw, raw
    if np.any(raw <= 0):
        raise ValueError("values: a log10 chart needs positive values")
    return raw, np.log10(raw)


def _rule_lots(flags: dict[int, BoolArray]) -> dict[int, tuple[int, ...]]:
    return {rule: tuple(lot_indices(f)) for rule, f in flags.items()}


class IMRChart:
    """Individuals / moving-range chart with limits from the first ``baseline_n`` lots.

    Parameters
    ----------
    baseline_n
        Number of leading lots whose mean and moving ranges set the limits (at least 2).
    log10
        Chart log10 of the values (concentrations, particle counts, potency ratios).
    """

    def __init__(self, baseline_n: int, *, log10: bool = False) -> None:
        if int(baseline_n) != baseline_n or baseline_n < 2:
            raise ValueError("baseline_n: an integer of at least 2")
        self.baseline_n = int(baseline_n)
        self.log10 = log10

    def fit(self, values: Sequence[float] | Any, lot_ids: Sequence[str] | None = None) -> ControlChart:
        """Limits from the baseline and every rule on every lot.

        Parameters
        ----------
        values
            One reported value per lot, in lot order.
        lot_ids
            Lot identifiers in the same order (default ``"1"``, ``"2"``, ...).
        """
        raw, x = _charted(values, self.log10)
        ids = _lot_ids(lot_ids, raw.size)
        centre, sigma, mr_bar = imr_limits(x, self.baseline_n)
        if not sigma > 0:
            raise ValueError("values: the baseline's moving ranges are all zero; sigma would be 0")
        nelson, western = all_flags(x, centre, sigma)
        mr = moving_ranges(x)
        mr_ucl = D4 * float(mr_bar)
        return ControlChart(
            kind="I-MR",
            lot_ids=ids,
            raw_values=raw,
            values=x,
            log10=self.log10,
            baseline_n=self.baseline_n,
            centre_line=float(centre),
            sigma=float(sigma),
            moving_range=mr,
            mr_bar=float(mr_bar),
            mr_ucl=mr_ucl,
            # moving range j (0-based) ends at lot j + 2 (counted from 1)
            mr_flagged=tuple(int(j) + 2 for j in np.flatnonzero(mr > mr_ucl)),
            nelson=_rule_lots(nelson),
            western_electric=_rule_lots(western),
        )


class LeveyJennings:
    """Levey-Jennings chart for an assay control, with the I-MR chart's zone lines and run rules.

    Parameters
    ----------
    baseline_n
        Runs whose mean and sample SD (n - 1) set the limits when no assigned values are given.
    target_mean, target_sd
        The control's assigned mean and SD (both or neither); they take precedence over the baseline.
    log10
        Chart log10 of the values.
    """

    def __init__(
        self,
        baseline_n: int | None = None,
        *,
        target_mean: float | None = None,
        target_sd: float | None = None,
        log10: bool = False,
    ) -> None:
        if (target_mean is None) != (target_sd is None):
            raise ValueError("target_sd: give the assigned mean and SD together")
        if target_sd is not None and not target_sd > 0:
            raise ValueError("target_sd: must be positive")
        if target_mean is None and (baseline_n is None or baseline_n < 2):
            raise ValueError("baseline_n: at least 2 runs, or an assigned target_mean and target_sd")
        self.baseline_n = baseline_n
        self.target_mean = target_mean
        self.target_sd = target_sd
        self.log10 = log10

    def fit(self, values: Sequence[float] | Any, lot_ids: Sequence[str] | None = None) -> ControlChart:
        """Limits from the assigned values (or the baseline) and every rule on every run."""
        raw, x = _charted(values, self.log10)
        ids = _lot_ids(lot_ids, raw.size)
        if self.target_mean is not None and self.target_sd is not None:
            centre, sd, baseline_n = self.target_mean, self.target_sd, 0
        else:
            assert self.baseline_n is not None
            if self.baseline_n > x.size:
                raise ValueError(f"baseline_n: {self.baseline_n} exceeds the {x.size} runs given")
            baseline = x[: self.baseline_n]
            centre, sd, baseline_n = float(baseline.mean()), float(baseline.std(ddof=1)), self.baseline_n
            if not sd > 0:
                raise ValueError("values: the baseline runs are all equal; the SD would be 0")
        nelson, western = all_flags(x, centre, sd)
        return ControlChart(
            kind="Levey-Jennings",
            lot_ids=ids,
            raw_values=raw,
            values=x,
            log10=self.log10,
            baseline_n=baseline_n,
            centre_line=float(centre),
            sigma=float(sd),
            moving_range=moving_ranges(x),
            mr_bar=None,
            mr_ucl=None,
            mr_flagged=(),
            nelson=_rule_lots(nelson),
            western_electric=_rule_lots(western),
        )


@dataclass(frozen=True)
class LimitSegment:
    """Fixed I-MR limits in force from lot position ``first_index`` (0-based) until the next segment."""

    first_index: int
    centre_line: float
    sigma: float
    mr_bar: float
    label: str = ""

    @property
    def ucl(self) -> float:
        return self.centre_line + 3 * self.sigma

    @property
    def lcl(self) -> float:
        return self.centre_line - 3 * self.sigma

    def to_dict(self) -> dict[str, Any]:
        c, s = self.centre_line, self.sigma
        return {
            "first_lot_index": self.first_index + 1,
            "label": self.label,
            "centre_line": c,
            "sigma": s,
            "ucl": self.ucl,
            "lcl": self.lcl,
            "zones": {"minus_2": c - 2 * s, "minus_1": c - s, "plus_1": c + s, "plus_2": c + 2 * s},
            "mr_bar": self.mr_bar,
            "mr_ucl": D4 * self.mr_bar,
        }


@dataclass(frozen=True)
class SegmentedChart:
    """An I-MR chart whose limits change at re-baselinings: each lot is charted against the limits in force
    for it, the earlier limits stay visible, and the rules run on every lot against its own limits."""

    lot_ids: tuple[str, ...]
    raw_values: FloatArray
    values: FloatArray
    log10: bool
    segments: tuple[LimitSegment, ...]
    segment_of_lot: tuple[int, ...]
    moving_range: FloatArray
    mr_flagged: tuple[int, ...]
    nelson: dict[int, tuple[int, ...]]
    western_electric: dict[int, tuple[int, ...]]

    @property
    def n(self) -> int:
        return int(self.values.size)

    def rules_at(self, lot_index: int) -> list[str]:
        fired = [f"nelson {r}" for r, lots in self.nelson.items() if lot_index in lots]
        fired += [f"western electric {r}" for r, lots in self.western_electric.items() if lot_index in lots]
        return fired

    def signals(self) -> list[dict[str, Any]]:
        flagged = sorted(
            {i for lots in (*self.nelson.values(), *self.western_electric.values()) for i in lots}
        )
        return [{"lot_index": i, "lot_id": self.lot_ids[i - 1], "rules": self.rules_at(i)} for i in flagged]

    def to_dict(self) -> dict[str, Any]:
        current = self.segments[-1]
        return {
            "kind": "I-MR",
            "n": self.n,
            "log10": self.log10,
            "individuals": {k: v for k, v in current.to_dict().items() if k not in ("mr_bar", "mr_ucl")},
            "moving_range": {
                "mr_bar": current.mr_bar,
                "ucl": D4 * current.mr_bar,
                "lcl": 0.0,
                "flagged_lots": list(self.mr_flagged),
            },
            "segments": [s.to_dict() for s in self.segments],
            "nelson": {str(r): list(v) for r, v in self.nelson.items()},
            "western_electric": {str(r): list(v) for r, v in self.western_electric.items()},
            "points": [
                {
                    "lot_index": i + 1,
                    "lot_id": self.lot_ids[i],
                    "value": float(self.raw_values[i]),
                    "charted": float(self.values[i]),
                    "moving_range": None if i == 0 else float(self.moving_range[i - 1]),
                    "segment": self.segment_of_lot[i],
                    "rules": self.rules_at(i + 1),
                }
                for i in range(self.n)
            ],
        }

    def plot(self, ax: Any = None) -> Any:
        """Individuals chart with each segment's limits drawn over the lots they apply to."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(7.2, 4.0), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        index = np.arange(1, self.n + 1)
        colours = []
        for i in index:
            rule = next((r for r, lots in self.nelson.items() if i in lots), None)
            colours.append(RULE_COLOURS["none" if rule is None else f"nelson {rule}"])
        ax.plot(index, self.values, color="0.6", linewidth=0.8, zorder=1)
        ax.scatter(index, self.values, c=colours, s=16, zorder=3)
        bounds = [s.first_index for s in self.segments] + [self.n]
        for j, segment in enumerate(self.segments):
            start, stop = bounds[j] + 0.5, bounds[j + 1] + 0.5
            ax.hlines(segment.centre_line, start, stop, color="tab:green", linewidth=1)
            for k in (-3, 3):
                ax.hlines(segment.centre_line + k * segment.sigma, start, stop, color="tab:red", linewidth=1)
            for k in (-2, -1, 1, 2):
                ax.hlines(
                    segment.centre_line + k * segment.sigma,
                    start,
                    stop,
                    color="0.6",
                    linestyle=":",
                    linewidth=0.7,
                )
        ax.set_xlabel("lot")
        ax.set_ylabel(("log10 " if self.log10 else "") + "value")
        return figure


def segmented_chart(
    values: Sequence[float] | Any,
    lot_ids: Sequence[str],
    segments: Sequence[LimitSegment],
    *,
    log10: bool = False,
) -> SegmentedChart:
    """Chart ``values`` against fixed limit segments (ordered by ``first_index``; the first one also covers
    any lots before it). Nothing is re-estimated here: the limits are the ones given."""
    raw, x = _charted(values, log10)
    ids = _lot_ids(lot_ids, raw.size) or tuple(str(i) for i in range(1, raw.size + 1))
    if not segments:
        raise ValueError("segments: at least one set of limits")
    ordered = sorted(segments, key=lambda s: s.first_index)
    if any(not s.sigma > 0 for s in ordered):
        raise ValueError("segments: sigma must be positive")
    starts = np.array([s.first_index for s in ordered])
    which = np.clip(np.searchsorted(starts, np.arange(raw.size), side="right") - 1, 0, None)
    centre = np.array([s.centre_line for s in ordered])[which]
    sigma = np.array([s.sigma for s in ordered])[which]
    nelson, western = all_flags(x, centre, sigma)
    mr = moving_ranges(x)
    mr_ucl = D4 * np.array([s.mr_bar for s in ordered])[which][1:]
    return SegmentedChart(
        lot_ids=ids,
        raw_values=raw,
        values=x,
        log10=log10,
        segments=tuple(ordered),
        segment_of_lot=tuple(int(w) for w in which),
        moving_range=mr,
        mr_flagged=tuple(int(j) + 2 for j in np.flatnonzero(mr > mr_ucl)),
        nelson=_rule_lots(nelson),
        western_electric=_rule_lots(western),
    )
