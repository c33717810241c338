"""The ISCT identity panel: % positive per marker on viable single cells, thresholds from control tubes.

ISCT minimal criteria (Dominici et al. 2006, Cytotherapy 8:315): >= 95 % of the cells express CD73, CD90 and
CD105; <= 2 % express CD45, CD34, CD14 (or CD11b), CD19 (or CD79a) and HLA-DR. A marker's positivity
threshold is a percentile (default the 99.5th) of the same channel in its FMO or isotype control tube, within
the same gated population (viable single cells); the control tube's own % positive at that threshold is
reported with it (100 - percentile, by construction, unless values tie).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from secretome.analysis.flow.gating import (
    FCS,
    UNCOMPENSATED,
    Dimension,
    GatingResult,
    GatingStrategy,
    Spillover,
    apply_strategy,
)
from secretome.analysis.flow.scale import ChannelScale
from secretome.analysis.flow.transforms import FloatArray, LogicleTransform

ISCT_CRITERIA: dict[str, tuple[str, float]] = {
    "cd73": ("min", 95.0),
    "cd90": ("min", 95.0),
    "cd105": ("min", 95.0),
    "cd34": ("max", 2.0),
    "cd45": ("max", 2.0),
    "cd14": ("max", 2.0),
    "cd11b": ("max", 2.0),
    "cd19": ("max", 2.0),
    "cd79a": ("max", 2.0),
    "hla-dr": ("max", 2.0),
}
"""ISCT limits by specification attribute code: ("min", 95) means >= 95 % positive."""

DISPLAY = LogicleTransform("display", 262144.0, 0.5, 4.5, 0.0)


@dataclass(frozen=True)
class Tube:
    """One tube (one FCS data set): its events, channel names, its own spillover and $TOT.

    ``events`` are FCS scale values, or with ``scaling`` (``FcsDataSet.scaling()``) the values as the file
    stores them (``FcsDataSet.events``): then only what the gates and the markers read is scaled, block by
    block, with the same numbers.
    """

    name: str
    events: npt.NDArray[Any] = field(repr=False, compare=False)
    channels: tuple[str, ...]
    spillover: Spillover | tuple[Sequence[str], FloatArray] | None = field(
        default=None, repr=False, compare=False
    )
    total: int | None = None
    scaling: tuple[ChannelScale, ...] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Marker:
    """What one specification attribute reads: channel, stained tube, control tube and its criterion.

    ``direction`` "min" means the lot complies when % positive >= ``limit``, "max" when <= ``limit``.
    """

    attribute: str
    channel: str
    tube: str
    control: str
    direction: str
    limit: float
    label: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ValueError(
                f"criteria.{self.attribute}: direction must be 'min' or 'max', got {self.direction!r}"
            )
        if not (math.isfinite(self.limit) and 0 <= self.limit <= 100):
            raise ValueError(f"criteria.{self.attribute}: limit must be a percentage, got {self.limit!r}")

    def complies(self, percent: float) -> bool:
        if not math.isfinite(percent):
            return False
        return percent >= self.limit if self.direction == "min" else percent <= self.limit

    @property
    def criterion(self) -> str:
        return f"{'>=' if self.direction == 'min' else '<='} {self.limit:g} %"


@dataclass(frozen=True)
class MarkerResult:
    """One marker's numbers: threshold from the control, % positive in the stained tube, the verdict."""

    attribute: str
    label: str
    channel: str
    tube: str
    control: str
    percentile: float
    threshold: float
    events: int
    positive: int
    control_events: int
    control_positive: int
    criterion: str
    complies: bool
    stained_values: FloatArray = field(repr=False, compare=False, default_factory=lambda: np.empty(0))
    control_values: FloatArray = field(repr=False, compare=False, default_factory=lambda: np.empty(0))

    @property
    def percent_positive(self) -> float:
        return 100.0 * self.positive / self.events if self.events else math.nan

    @property
    def control_percent_positive(self) -> float:
        return 100.0 * self.control_positive / self.control_events if self.control_events else math.nan

    def to_dict(self) -> dict[str, Any]:
        def number(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        return {
            "attribute": self.attribute,
            "marker": self.label,
            "channel": self.channel,
            "tube": self.tube,
            "control": self.control,
            "percentile": self.percentile,
            "threshold": number(self.threshold),
            "events": self.events,
            "positive": self.positive,
            "percent_positive": number(self.percent_positive),
            "control_events": self.control_events,
            "control_positive": self.control_positive,
            "control_percent_positive": number(self.control_percent_positive),
            "criterion": self.criterion,
            "verdict": "complies" if self.complies else "does not comply",
        }


@dataclass(frozen=True)
class IdentityResult:
    """The panel: per-marker results, every tube's gating counts, the overall ISCT verdict and flags."""

    population: str
    percentile: float
    markers: tuple[MarkerResult, ...]
    tubes: Mapping[str, GatingResult]
    flags: tuple[str, ...] = ()

    @property
    def complies(self) -> bool:
        return bool(self.markers) and all(m.complies for m in self.markers)

    def marker(self, attribute: str) -> MarkerResult:
        for marker in self.markers:
            if marker.attribute == attribute:
                return marker
        raise KeyError(attribute)

    def to_dict(self) -> dict[str, Any]:
        return {
            "population": self.population,
            "percentile": self.percentile,
            "verdict": "complies" if self.complies else "does not comply",
            "markers": [m.to_dict() for m in self.markers],
            "tubes": {name: result.to_dict() for name, result in sorted(self.tubes.items())},
            "flags": list(self.flags),
        }

    def plot(self, ax: Any = None) -> Any:
        """Histograms of every marker on the logicle display scale: stained tube filled, control outlined,
        threshold dashed. With ``ax`` given, only the first marker is drawn on it. Returns the figure."""
        from matplotlib.figure import Figure

        if ax is not None:
            _histogram(ax, self.markers[0])
            return ax.figure
        count = max(len(self.markers), 1)
        columns = min(count, 4)
        rows = math.ceil(count / columns)
        figure = Figure(figsize=(3.2 * columns, 2.6 * rows), layout="constrained")
        axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
        for axis, marker in zip(axes, self.markers, strict=False):
            _histogram(axis, marker)
        for axis in axes[len(self.markers) :]:
            axis.set_visible(False)
        return figure


def _histogram(ax: Any, marker: MarkerResult) -> None:
    bins = np.linspace(0.0, 1.0, 129)
    stained = DISPLAY.apply(marker.stained_values)
    control = DISPLAY.apply(marker.control_values)
    ax.hist(control, bins=bins, histtype="step", color="0.35", label="control", density=True)
    ax.hist(
        stained, bins=bins, histtype="stepfilled", alpha=0.55, color="tab:blue", label="stained", density=True
    )
    if math.isfinite(marker.threshold):
        ax.axvline(float(DISPLAY.apply(np.array([marker.threshold]))[0]), color="tab:red", linestyle="--")
    colour = "black" if marker.complies else "tab:red"
    ax.set_title(
        f"{marker.label or marker.attribute}: {marker.percent_positive:.1f} % ({marker.criterion})",
        fontsize=9,
        color=colour,
    )
    ax.set_xlabel(f"{marker.channel} (logicle)", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(0, 1)


class IdentityPanel:
    """Compute the ISCT panel of one lot.

    Parameters
    ----------
    strategy
        The gating strategy that defines the population the markers are read in.
    population
        Id of that population (e.g. viable single cells).
    markers
        One :class:`Marker` per specification attribute.
    percentile
        Percentile of the control tube that sets each marker's threshold (default 99.5).
    compensation
        Compensation the marker channels are read with: ``"FCS"`` (each tube's own spillover),
        ``"uncompensated"`` or a spectrum matrix id of the strategy.
    min_events
        Fewer population events than this in a tube raises a flag (not a failure).
    """

    def __init__(
        self,
        strategy: GatingStrategy,
        population: str,
        markers: Sequence[Marker],
        percentile: float = 99.5,
        compensation: str = FCS,
        min_events: int = 5000,
    ) -> None:
        if population not in {node for node, _, _ in strategy.nodes()}:
            raise ValueError(f"population: {population!r} is not a gate of the strategy")
        if not markers:
            raise ValueError("markers: the panel needs at least one marker")
        if not (math.isfinite(percentile) and 50 <= percentile < 100):
            raise ValueError(f"percentile: must be in [50, 100), got {percentile!r}")
        if min_events < 0:
            raise ValueError(f"min_events: must be >= 0, got {min_events!r}")
        self.strategy = strategy
        self.population = population
        self.markers = tuple(markers)
        self.percentile = float(percentile)
        self.compensation = compensation
        self.min_events = int(min_events)
        if compensation not in (FCS, UNCOMPENSATED) and compensation not in strategy.compensations:
            raise ValueError(
                f"compensation: {compensation!r} is neither FCS, uncompensated nor a matrix of the strategy"
            )

    def fit(self, tubes: Mapping[str, Tube]) -> IdentityResult:
        """Gate every tube the markers need and compute each marker's % positive and verdict."""
        needed = sorted({m.tube for m in self.markers} | {m.control for m in self.markers})
        missing = [name for name in needed if name not in tubes]
        if missing:
            raise ValueError(
                f"tube {missing[0]!r} named by the panel is not among the run's tubes ({', '.join(sorted(tubes))})"
            )
        flags: list[str] = []
        gated: dict[str, GatingResult] = {}
        values: dict[tuple[str, str], FloatArray] = {}
        for name in needed:
            tube = tubes[name]
            read = list(dict.fromkeys(m.channel for m in self.markers if name in (m.tube, m.control)))
            # The marker channels' population values are kept while each block is gated: no whole column,
            # let alone a scaled copy of the tube, is made.
            result = apply_strategy(
                self.strategy,
                tube.events,
                tube.channels,
                tube.spillover,
                tube.total,
                scaling=tube.scaling,
                reads=[(self.population, Dimension(channel, self.compensation)) for channel in read],
            )
            gated[name] = result
            flags.extend(f"tube {name!r}: {w}" for w in result.warnings)
            count = result.count(self.population).count
            if count < self.min_events:
                flags.append(
                    f"tube {name!r}: {count} events in {self.population!r}, fewer than {self.min_events}"
                )
            values.update(
                {(name, channel): found for channel, found in zip(read, result.values, strict=True)}
            )
            flags.extend(
                f"tube {name!r}: {w}" for w in result.value_warnings if f"tube {name!r}: {w}" not in flags
            )
        results = []
        for marker in self.markers:
            control = values[(marker.control, marker.channel)]
            stained = values[(marker.tube, marker.channel)]
            threshold = float(np.percentile(control, self.percentile)) if control.size else math.nan
            positive = int(np.count_nonzero(stained > threshold)) if control.size else 0
            control_positive = int(np.count_nonzero(control > threshold)) if control.size else 0
            if not control.size:
                flags.append(
                    f"{marker.attribute}: control tube {marker.control!r} has no events in {self.population!r}"
                )
            percent = 100.0 * positive / stained.size if stained.size else math.nan
            results.append(
                MarkerResult(
                    attribute=marker.attribute,
                    label=marker.label,
                    channel=marker.channel,
                    tube=marker.tube,
                    control=marker.control,
                    percentile=self.percentile,
                    threshold=threshold,
                    events=int(stained.size),
                    positive=positive,
                    control_events=int(control.size),
                    control_positive=control_positive,
                    criterion=marker.criterion,
                    complies=marker.complies(percent) and bool(control.size),
                    stained_values=stained,
                    control_values=control,
                )
            )
        return IdentityResult(
            self.population, self.percentile, tuple(results), gated, tuple(dict.fromkeys(flags))
        )
