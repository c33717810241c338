"""Derived culture values: population doublings, doubling time, fold expansion, seeding density, CPD.

PD = log2(N_harvested / N_seeded); PDT = Δt·ln2 / ln(N_harvested / N_seeded); fold expansion =
N_harvested / N_seeded; cumulative PD sums PD since isolation, and says so when the P0 contribution (or any
other passage's) is unknown instead of pretending it was 0. Counts are viable cells.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secretome.domain.canonical import canonical_json


def _positive(name: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be a positive number, got {value!r}")
    return float(value)


def population_doublings(cells_seeded: float, cells_harvested: float) -> float:
    """PD = log2(harvested / seeded), viable cells."""
    return math.log2(_positive("cells_harvested", cells_harvested) / _positive("cells_seeded", cells_seeded))


def fold_expansion(cells_seeded: float, cells_harvested: float) -> float:
    """Harvested / seeded viable cells."""
    return _positive("cells_harvested", cells_harvested) / _positive("cells_seeded", cells_seeded)


def doubling_time_hours(cells_seeded: float, cells_harvested: float, hours: float) -> float | None:
    """PDT = hours·ln2 / ln(harvested / seeded); None when the cells did not expand (no doubling time)."""
    ratio = fold_expansion(cells_seeded, cells_harvested)
    _positive("hours", hours)
    if ratio <= 1.0:
        return None
    return hours * math.log(2) / math.log(ratio)


def seeding_density(cells_seeded: float, growth_area_cm2: float) -> float:
    """Viable cells seeded per cm² of growth area."""
    return _positive("cells_seeded", cells_seeded) / _positive("growth_area_cm2", growth_area_cm2)


@dataclass(frozen=True)
class PassageCounts:
    """What the lab recorded for one passage of a lineage (the input of :func:`growth_curve`)."""

    number: int
    growth_area_cm2: float
    seeded_at: dt.datetime
    cells_seeded: float | None = None
    cells_harvested: float | None = None
    harvested_at: dt.datetime | None = None


@dataclass(frozen=True)
class PassageGrowth:
    """Derived values of one passage. ``None`` means not determined (a count or time is missing)."""

    number: int
    hours: float | None
    population_doublings: float | None
    doubling_time_hours: float | None
    fold_expansion: float | None
    seeding_density_per_cm2: float | None
    cpd_at_seeding: float
    cumulative_pd: float
    cpd_complete: bool
    culture_days_at_end: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "hours": self.hours,
            "population_doublings": self.population_doublings,
            "doubling_time_hours": self.doubling_time_hours,
            "fold_expansion": self.fold_expansion,
            "seeding_density_per_cm2": self.seeding_density_per_cm2,
            "cpd_at_seeding": self.cpd_at_seeding,
            "cumulative_pd": self.cumulative_pd,
            "cpd_complete": self.cpd_complete,
            "culture_days_at_end": self.culture_days_at_end,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PassageGrowth:
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class GrowthCurve:
    """Growth of one lineage from isolation: one :class:`PassageGrowth` per passage, oldest first.

    ``cumulative_pd`` sums the PDs that are known; ``cpd_complete`` is False from the first passage whose
    PD is unknown onwards (typically a tissue-digest P0 with no seeded count), so a CPD is then a lower
    bound and is reported as such.
    """

    passages: tuple[PassageGrowth, ...]

    @property
    def cpd(self) -> float:
        """CPD reached by the last passage (at its harvest, or at seeding when not yet harvested)."""
        return self.passages[-1].cumulative_pd if self.passages else 0.0

    @property
    def cpd_complete(self) -> bool:
        return all(p.cpd_complete for p in self.passages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passages": [p.to_dict() for p in self.passages],
            "cpd": self.cpd,
            "cpd_complete": self.cpd_complete,
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GrowthCurve:
        return cls(tuple(PassageGrowth.from_dict(p) for p in values["passages"]))

    def plot(self, ax: Any = None) -> Any:
        """CPD against days in culture (left) with PDT per passage as bars (right axis)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.6))
        ended = [p for p in self.passages if p.population_doublings is not None]
        days = [0.0] + [p.culture_days_at_end for p in ended]
        start = ended[0].cpd_at_seeding if ended else 0.0
        cpd = [start] + [p.cumulative_pd for p in ended]
        ax.plot(days, cpd, marker="o", color="#1f5f8b", label="CPD")
        for passage in ended:
            ax.annotate(
                f"P{passage.number}",
                (passage.culture_days_at_end, passage.cumulative_pd),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
            )
        ax.set_xlabel("days in culture")
        # A short axis label fits the axis at any figure height; what an incomplete CPD means goes in a
        # caption line above the plot (the same asterisk as the passage tables).
        ax.set_ylabel("cumulative PD" if self.cpd_complete else "cumulative PD*")
        if not self.cpd_complete:
            ax.set_title(
                "* P0 not determined: cumulative PD is a lower bound", loc="left", fontsize=8, color="#555555"
            )
        ax.margins(y=0.12)  # head room for the passage labels above the last points
        timed = [p for p in ended if p.doubling_time_hours is not None]
        if timed:
            right = ax.twinx()
            right.bar(
                [p.culture_days_at_end for p in timed],
                [p.doubling_time_hours for p in timed],
                width=1.2,
                alpha=0.35,
                color="#c4662b",
                label="PDT (h)",
            )
            right.set_ylabel("population doubling time (h)")
        ax.set_zorder(2)
        ax.patch.set_visible(False)
        return ax


def growth_curve(lineage: Sequence[PassageCounts]) -> GrowthCurve:
    """Derive PD, PDT, fold expansion, seeding density and CPD for a lineage, oldest passage first.

    Days in culture add up passage durations only, so time in the freezer between a bank and a thaw does
    not stretch the curve. Inputs are not modified.
    """
    results: list[PassageGrowth] = []
    cpd, complete, days = 0.0, True, 0.0
    previous_number: int | None = None
    for counts in lineage:
        if previous_number is not None and counts.number <= previous_number:
            raise ValueError(
                f"lineage: passage numbers must increase (P{previous_number} then P{counts.number})"
            )
        previous_number = counts.number
        hours: float | None = None
        if counts.harvested_at is not None:
            hours = (counts.harvested_at - counts.seeded_at).total_seconds() / 3600
            if hours <= 0:
                raise ValueError(f"harvested_at: P{counts.number} was harvested before it was seeded")
        pd = pdt = fold = None
        if counts.cells_seeded is not None and counts.cells_harvested is not None:
            pd = population_doublings(counts.cells_seeded, counts.cells_harvested)
            fold = fold_expansion(counts.cells_seeded, counts.cells_harvested)
            if hours is not None:
                pdt = doubling_time_hours(counts.cells_seeded, counts.cells_harvested, hours)
        density = (
            seeding_density(counts.cells_seeded, counts.growth_area_cm2)
            if counts.cells_seeded is not None
            else None
        )
        at_seeding = cpd
        harvested = counts.cells_harvested is not None
        if pd is not None:
            cpd += pd
        elif harvested:
            complete = False  # harvested but not counted at seeding: this passage's PD is unknown
        if hours is not None:
            days += hours / 24
        results.append(
            PassageGrowth(
                number=counts.number,
                hours=hours,
                population_doublings=pd,
                doubling_time_hours=pdt,
                fold_expansion=fold,
                seeding_density_per_cm2=density,
                cpd_at_seeding=at_seeding,
                cumulative_pd=cpd,
                cpd_complete=complete,
                culture_days_at_end=days,
            )
        )
    return GrowthCurve(tuple(results))


@dataclass(frozen=True)
class DoseBases:
    """Dose normalisation bases of a CM lot (store all of them, not one)."""

    concentration_factor: float
    final_volume_ml: float
    cell_equivalents_per_ml: float
    cell_hours: float
    cell_hours_per_ml: float

    def to_dict(self) -> dict[str, float]:
        return {
            "concentration_factor": self.concentration_factor,
            "final_volume_ml": self.final_volume_ml,
            "cell_equivalents_per_ml": self.cell_equivalents_per_ml,
            "cell_hours": self.cell_hours,
            "cell_hours_per_ml": self.cell_hours_per_ml,
        }


def dose_bases(
    viable_cells: float,
    conditioning_hours: float,
    harvest_volume_ml: float,
    concentration_steps: Sequence[tuple[float, float]] = (),
) -> DoseBases:
    """Cell-equivalents per mL and cell-hours of a lot.

    Parameters
    ----------
    viable_cells
        Viable cells at collection (the cells that made the medium).
    conditioning_hours
        Time the cells conditioned the medium.
    harvest_volume_ml
        Conditioned medium collected.
    concentration_steps
        ``(volume_in_ml, volume_out_ml)`` of each concentrating step (ultrafiltration); the concentration
        factor is the product of in/out, so cell-equivalents per mL scale with it.
    """
    cells = _positive("viable_cells", viable_cells)
    hours = _positive("conditioning_hours", conditioning_hours)
    volume = _positive("harvest_volume_ml", harvest_volume_ml)
    factor = 1.0
    final = volume
    for volume_in, volume_out in concentration_steps:
        factor *= _positive("volume_in_ml", volume_in) / _positive("volume_out_ml", volume_out)
        final = volume_out
    return DoseBases(
        concentration_factor=factor,
        final_volume_ml=final,
        cell_equivalents_per_ml=cells / volume * factor,
        cell_hours=cells * hours,
        cell_hours_per_ml=cells * hours / volume * factor,
    )
