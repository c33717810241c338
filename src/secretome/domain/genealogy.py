"""Genealogy rules: passage restriction, senescence alerts and the human-readable record numbers.

Pure functions over plain values; the services feed them what the database holds.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from secretome.domain.growth import GrowthCurve

#: Tissue source codes as stored, and their short form in lot numbers.
TISSUE_SOURCE_SHORT = {"BM": "BM", "AT": "AT", "UC-WJ": "WJ", "OTHER": "OT"}

#: Default maximum passage per tissue source: P6 for bone marrow and adipose (ICMR-aligned guidance),
#: P8 for Wharton's jelly (studies recommend fewer than 8-10 passages). "Other" gets the stricter P6.
DEFAULT_MAX_PASSAGE = {"BM": 6, "AT": 6, "UC-WJ": 8, "OTHER": 6}


@dataclass(frozen=True)
class PassageLimit:
    """A passage restriction in force: maximum passage and an optional CPD ceiling."""

    max_passage: int
    max_cpd: float | None = None
    source: str = "default"

    def __post_init__(self) -> None:
        if self.max_passage < 0:
            raise ValueError(f"max_passage: must be 0 or more, got {self.max_passage}")
        if self.max_cpd is not None and self.max_cpd <= 0:
            raise ValueError(f"max_cpd: must be positive, got {self.max_cpd}")

    def to_dict(self) -> dict[str, Any]:
        return {"max_passage": self.max_passage, "max_cpd": self.max_cpd, "source": self.source}


def default_limit(tissue_source: str) -> PassageLimit:
    """The built-in passage limit of a tissue source."""
    try:
        return PassageLimit(DEFAULT_MAX_PASSAGE[tissue_source])
    except KeyError:
        allowed = ", ".join(DEFAULT_MAX_PASSAGE)
        raise ValueError(f"tissue_source: {tissue_source!r} is not one of {allowed}") from None


@dataclass(frozen=True)
class PassageVerdict:
    """Whether cells at ``passage_number`` with CPD ``cpd`` are within ``limit``."""

    within_limit: bool
    passage_number: int
    cpd: float
    cpd_complete: bool
    limit: PassageLimit
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "within_limit": self.within_limit,
            "passage_number": self.passage_number,
            "cpd": self.cpd,
            "cpd_complete": self.cpd_complete,
            "limit": self.limit.to_dict(),
            "reasons": list(self.reasons),
        }


def check_passage(limit: PassageLimit, passage_number: int, cpd: float, cpd_complete: bool) -> PassageVerdict:
    """Apply a passage restriction.

    With a CPD ceiling and an incomplete CPD (P0 not determined), compliance cannot be shown: the known
    sum is only a lower bound, so the cells are treated as over the limit and need a deviation.
    """
    reasons: list[str] = []
    if passage_number > limit.max_passage:
        reasons.append(f"P{passage_number} is over the maximum passage P{limit.max_passage}")
    if limit.max_cpd is not None:
        if cpd > limit.max_cpd:
            reasons.append(f"CPD {cpd:.2f} is over the ceiling {limit.max_cpd:g}")
        elif not cpd_complete:
            reasons.append(
                f"CPD not determined (P0 unknown); the ceiling {limit.max_cpd:g} cannot be verified"
            )
    return PassageVerdict(not reasons, passage_number, cpd, cpd_complete, limit, tuple(reasons))


@dataclass(frozen=True)
class SenescenceRules:
    """Senescence alert thresholds (demo-grade defaults; no accepted numeric release threshold exists)."""

    sa_beta_gal_max_percent: float = 20.0
    pdt_max_fold_over_baseline: float = 2.0
    baseline_passages: int = 3
    pd_min_per_passage: float = 1.0
    p16_p21_max_fold: float = 2.0

    def __post_init__(self) -> None:
        for name in ("sa_beta_gal_max_percent", "pdt_max_fold_over_baseline", "p16_p21_max_fold"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")
        if self.baseline_passages < 1:
            raise ValueError(f"baseline_passages: must be at least 1, got {self.baseline_passages}")
        if self.pd_min_per_passage < 0:
            raise ValueError(f"pd_min_per_passage: must be 0 or more, got {self.pd_min_per_passage}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "sa_beta_gal_max_percent": self.sa_beta_gal_max_percent,
            "pdt_max_fold_over_baseline": self.pdt_max_fold_over_baseline,
            "baseline_passages": self.baseline_passages,
            "pd_min_per_passage": self.pd_min_per_passage,
            "p16_p21_max_fold": self.p16_p21_max_fold,
        }


@dataclass(frozen=True)
class SenescenceMarkers:
    """Markers observed on one passage; None where not measured."""

    sa_beta_gal_percent: float | None = None
    morphology: str = ""
    p16_fold: float | None = None
    p21_fold: float | None = None


@dataclass(frozen=True)
class SenescenceFlag:
    """One alert raised on a passage of a lineage."""

    passage_number: int
    rule: str
    value: float | str
    limit: float | str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "passage_number": self.passage_number,
            "rule": self.rule,
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
        }


@dataclass(frozen=True)
class SenescenceReport:
    """Flags over a lineage and the early-passage PDT baseline they were judged against."""

    pdt_baseline_hours: float | None
    flags: tuple[SenescenceFlag, ...] = field(default_factory=tuple)

    def flags_for(self, passage_number: int) -> list[SenescenceFlag]:
        return [f for f in self.flags if f.passage_number == passage_number]

    def to_dict(self) -> dict[str, Any]:
        return {"pdt_baseline_hours": self.pdt_baseline_hours, "flags": [f.to_dict() for f in self.flags]}


def evaluate_senescence(
    rules: SenescenceRules,
    curve: GrowthCurve,
    markers: Mapping[int, SenescenceMarkers] | None = None,
) -> SenescenceReport:
    """Raise senescence alerts over a lineage.

    The PDT baseline is the median PDT of the first ``baseline_passages`` passages that have one. Flags:
    SA-β-gal over the limit, PDT over the fold limit of the baseline, PD per passage under the minimum,
    p16 or p21 fold change at or over the limit, and an enlarged/flattened morphology.
    """
    markers = markers or {}
    early = [p for p in curve.passages if p.doubling_time_hours is not None][: rules.baseline_passages]
    baseline = statistics.median(p.doubling_time_hours or 0.0 for p in early) if early else None
    baseline_numbers = {p.number for p in early}
    flags: list[SenescenceFlag] = []
    for passage in curve.passages:
        n = passage.number
        pd = passage.population_doublings
        if pd is not None and pd < rules.pd_min_per_passage:
            flags.append(
                SenescenceFlag(
                    n,
                    "pd_per_passage",
                    pd,
                    rules.pd_min_per_passage,
                    f"P{n}: PD {pd:.2f} per passage is under {rules.pd_min_per_passage:g}",
                )
            )
        pdt = passage.doubling_time_hours
        if pdt is not None and baseline is not None and n not in baseline_numbers:
            limit = rules.pdt_max_fold_over_baseline * baseline
            if pdt > limit:
                flags.append(
                    SenescenceFlag(
                        n,
                        "pdt_over_baseline",
                        pdt,
                        limit,
                        f"P{n}: PDT {pdt:.1f} h is over {rules.pdt_max_fold_over_baseline:g}x "
                        f"the early-passage baseline {baseline:.1f} h",
                    )
                )
        observed = markers.get(n)
        if observed is None:
            continue
        beta = observed.sa_beta_gal_percent
        if beta is not None and beta > rules.sa_beta_gal_max_percent:
            flags.append(
                SenescenceFlag(
                    n,
                    "sa_beta_gal",
                    beta,
                    rules.sa_beta_gal_max_percent,
                    f"P{n}: SA-β-gal {beta:g} % positive is over {rules.sa_beta_gal_max_percent:g} %",
                )
            )
        for gene, fold in (("p16", observed.p16_fold), ("p21", observed.p21_fold)):
            if fold is not None and fold >= rules.p16_p21_max_fold:
                flags.append(
                    SenescenceFlag(
                        n,
                        f"{gene}_fold",
                        fold,
                        rules.p16_p21_max_fold,
                        f"P{n}: {gene} {fold:g}-fold over reference (limit {rules.p16_p21_max_fold:g})",
                    )
                )
        if observed.morphology == "enlarged":
            flags.append(
                SenescenceFlag(n, "morphology", "enlarged", "spindle", f"P{n}: enlarged, flattened cells")
            )
    return SenescenceReport(baseline, tuple(flags))


_LOT_NUMBER = re.compile(r"^CM-(?P<source>BM|AT|WJ|OT)-(?P<year>\d{4})-(?P<sequence>\d{4,})$")


def lot_number(tissue_source: str, year: int, sequence: int) -> str:
    """A human-readable lot number: ``CM-<source>-<year>-<sequence>``, e.g. ``CM-WJ-2026-0003``."""
    if tissue_source not in TISSUE_SOURCE_SHORT:
        raise ValueError(f"tissue_source: {tissue_source!r} is not one of {', '.join(TISSUE_SOURCE_SHORT)}")
    if sequence < 1:
        raise ValueError(f"sequence: must be 1 or more, got {sequence}")
    return f"CM-{TISSUE_SOURCE_SHORT[tissue_source]}-{year:04d}-{sequence:04d}"


def lot_number_prefix(tissue_source: str, year: int) -> str:
    """The part of a lot number shared by every lot of a source and year."""
    return lot_number(tissue_source, year, 1).rsplit("-", 1)[0] + "-"


def parse_lot_number(number: str) -> tuple[str, int, int]:
    """Split a lot number into (short source, year, sequence); ValueError naming ``lot`` if malformed."""
    match = _LOT_NUMBER.match(number.strip().upper())
    if match is None:
        raise ValueError(f"lot: {number!r} is not a lot number like CM-WJ-2026-0001")
    return match["source"], int(match["year"]), int(match["sequence"])


def next_sequence(existing: Sequence[str], prefix: str) -> int:
    """The next sequence after the highest one among ``existing`` numbers that start with ``prefix``."""
    highest = 0
    for number in existing:
        if number.startswith(prefix):
            tail = number[len(prefix) :]
            if tail.isdigit():
                highest = max(highest, int(tail))
    return highest + 1


def deviation_number(year: int, sequence: int) -> str:
    """``DEV-<year>-<sequence>``."""
    return f"DEV-{year:04d}-{sequence:04d}"
