"""Assay controls of stored runs: what each run measured on its QC samples and potency controls, and the
Levey-Jennings chart of one control run after run.

Pure: a run's stored result and settings come in as arguments (the service reads them from the database),
so the observations of a run are a function of what the run stored and nothing else.

- ``standard-curve`` runs evaluate QC wells (layout role ``qc``, or samples named in the ``qc_samples``
  setting) against the curve: each gives a ``recovery`` (% of nominal) and a back-calculated
  ``concentration`` (the plate's concentration unit, as read in the well) per analyte and plate.
- ``relative-potency`` runs report the relative potency (with its confidence limits) of each preparation the
  method names in ``control_preparations``, on the method's scale (% or ratio); the analyte is the method's
  attribute.

The chart: limits are a mean and SD, either assigned (QA-approved limits) or the mean and sample SD (n - 1)
of the first ``baseline_n`` observations; each observation is judged against the limits in force for it
(a re-baselining starts a new segment, the earlier limits stay on the chart); Nelson 1-8 and Western Electric
1-4 run on every observation with the conventions of :mod:`secretome.analysis.trending.rules`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from secretome.analysis.trending.charts import RULE_COLOURS
from secretome.analysis.trending.rules import (
    all_flags,
    lot_indices,
    rule_descriptions,
)

#: The quantities a control is charted by.
RECOVERY = "recovery"
CONCENTRATION = "concentration"
RELATIVE_POTENCY = "relative potency"
QUANTITIES = (RECOVERY, CONCENTRATION, RELATIVE_POTENCY)


@dataclass(frozen=True)
class RunFacts:
    """What the chart says about the run an observation comes from.

    ``inputs`` are ``(import id, file name)`` pairs in input order.
    """

    method: str
    version: int
    kind: str
    run: str
    analysed_at: dt.datetime | None
    accepted_at: dt.datetime | None
    inputs: tuple[tuple[int, str], ...] = ()

    def filename(self, import_id: int | None) -> str:
        for key, name in self.inputs:
            if key == import_id:
                return name
        return self.inputs[0][1] if self.inputs and import_id is None else ""


@dataclass(frozen=True)
class ControlObservation:
    """One value of one assay control in one run.

    ``value`` is on the quantity's scale (``recovery`` in %, ``concentration`` in ``unit``, ``relative
    potency`` in % or as a ratio); ``nominal`` the control's known concentration (QC samples);
    ``interval`` the confidence limits when the engine gives them; ``within_limits`` the run's own verdict on
    the control (QC recovery within the method's limits), None when the run gives none.
    """

    method: str
    version: int
    run: str
    analysed_at: dt.datetime | None
    accepted_at: dt.datetime | None
    control: str
    analyte: str
    quantity: str
    value: float | None
    unit: str
    nominal: float | None = None
    interval: tuple[float | None, float | None] | None = None
    within_limits: bool | None = None
    input: int | None = None
    filename: str = ""
    wells: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "version": self.version,
            "run": self.run,
            "analysed_at": None if self.analysed_at is None else self.analysed_at.isoformat(),
            "accepted_at": None if self.accepted_at is None else self.accepted_at.isoformat(),
            "control": self.control,
            "analyte": self.analyte,
            "quantity": self.quantity,
            "value": self.value,
            "unit": self.unit,
            "nominal": self.nominal,
            "interval": None if self.interval is None else list(self.interval),
            "within_limits": self.within_limits,
            "input": self.input,
            "filename": self.filename,
            "wells": list(self.wells),
        }


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _standard_curve(facts: RunFacts, result: Mapping[str, Any]) -> list[ControlObservation]:
    unit = str((result.get("settings") or {}).get("concentration_unit", ""))
    found: list[ControlObservation] = []
    for curve in result.get("curves", ()):
        analyte = str(curve.get("analyte", ""))
        source = curve.get("input")
        for qc in curve.get("qc_controls", ()):
            common = {
                "method": facts.method,
                "version": facts.version,
                "run": facts.run,
                "analysed_at": facts.analysed_at,
                "accepted_at": facts.accepted_at,
                "control": str(qc["name"]),
                "analyte": analyte,
                "nominal": _number(qc.get("nominal")),
                "within_limits": bool(qc.get("within_limits")),
                "input": source,
                "filename": facts.filename(source),
                "wells": tuple(qc.get("wells", ())),
            }
            found.append(
                ControlObservation(quantity=RECOVERY, value=_number(qc.get("recovery")), unit="%", **common)
            )
            found.append(
                ControlObservation(
                    quantity=CONCENTRATION, value=_number(qc.get("found")), unit=unit, **common
                )
            )
    return found


def _relative_potency(
    facts: RunFacts, result: Mapping[str, Any], settings: Mapping[str, Any]
) -> list[ControlObservation]:
    attribute = str(settings.get("attribute", "potency"))
    found = []
    for entry in result.get("assay_controls", ()):
        source = entry.get("input")
        found.append(
            ControlObservation(
                method=facts.method,
                version=facts.version,
                run=facts.run,
                analysed_at=facts.analysed_at,
                accepted_at=facts.accepted_at,
                control=str(entry["name"]),
                analyte=attribute,
                quantity=RELATIVE_POTENCY,
                value=_number(entry.get("relative_potency")),
                unit=str(entry.get("unit", "")),
                interval=(_number(entry.get("ci_low")), _number(entry.get("ci_high"))),
                input=source,
                filename=facts.filename(source),
                wells=tuple(entry.get("wells", ())),
            )
        )
    return found


def control_observations(
    facts: RunFacts, result: Mapping[str, Any], settings: Mapping[str, Any]
) -> list[ControlObservation]:
    """Every assay-control value a run stored, in the order of its result (curves, then controls).

    Parameters
    ----------
    facts
        The run the result belongs to (method, run number, times, input files).
    result
        The run's complete stored result (``AnalysisRun.result_json`` loaded).
    settings
        The settings of the method version the run used.

    Returns
    -------
    list of ControlObservation
        Empty for kinds without assay controls, and for runs whose method declares none.
    """
    if facts.kind == "standard-curve":
        return _standard_curve(facts, result)
    if facts.kind == "relative-potency":
        return _relative_potency(facts, result, settings)
    return []


@dataclass(frozen=True)
class ControlLimitsSegment:
    """A control's mean and SD in force from observation ``first_index`` (0-based) on, until the next
    segment; ``label`` says where they come from (assigned by QA, or a provisional baseline)."""

    first_index: int
    mean: float
    sd: float
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        m, s = self.mean, self.sd
        return {
            "first_index": self.first_index + 1,
            "label": self.label,
            "mean": m,
            "sd": s,
            "lines": {f"{'minus' if k < 0 else 'plus'}_{abs(k)}": m + k * s for k in (-3, -2, -1, 1, 2, 3)},
        }


def baseline_limits(values: Sequence[float], baseline_n: int) -> tuple[float, float]:
    """Mean and sample SD (n - 1) of the first ``baseline_n`` values (the Levey-Jennings baseline)."""
    if int(baseline_n) != baseline_n or baseline_n < 2:
        raise ValueError("baseline_n: an integer of at least 2")
    if baseline_n > len(values):
        raise ValueError(f"baseline_n: {baseline_n} exceeds the {len(values)} runs with a value")
    baseline = np.asarray(values[:baseline_n], dtype=float)
    sd = float(baseline.std(ddof=1))
    if not sd > 0:
        raise ValueError("baseline_n: the baseline's values are all equal; the SD would be 0")
    return float(baseline.mean()), sd


@dataclass(frozen=True)
class ControlChartResult:
    """A Levey-Jennings chart of one control: values, the segment in force at each, rule flags (from 1)."""

    ids: tuple[str, ...]
    values: tuple[float, ...]
    segments: tuple[ControlLimitsSegment, ...]
    segment_of: tuple[int, ...]
    nelson: dict[int, tuple[int, ...]]
    western_electric: dict[int, tuple[int, ...]]

    @property
    def n(self) -> int:
        return len(self.values)

    def rules_at(self, index: int) -> list[str]:
        """Rules flagging observation ``index`` (from 1), Nelson first."""
        fired = [f"nelson {r}" for r, at in self.nelson.items() if index in at]
        fired += [f"western electric {r}" for r, at in self.western_electric.items() if index in at]
        return fired

    def colour_at(self, index: int) -> str:
        """The point's colour: its first Nelson rule's, else the plain one."""
        rule = next((r for r, at in self.nelson.items() if index in at), None)
        return RULE_COLOURS["none" if rule is None else f"nelson {rule}"]

    def z_score(self, index: int) -> float:
        segment = self.segments[self.segment_of[index - 1]]
        return (self.values[index - 1] - segment.mean) / segment.sd

    def to_dict(self) -> dict[str, Any]:
        current = self.segments[-1]
        return {
            "kind": "Levey-Jennings",
            "n": self.n,
            "mean": current.mean,
            "sd": current.sd,
            "lines": current.to_dict()["lines"],
            "segments": [s.to_dict() for s in self.segments],
            "nelson": {str(r): list(v) for r, v in self.nelson.items()},
            "western_electric": {str(r): list(v) for r, v in self.western_electric.items()},
            "rule_descriptions": rule_descriptions(),
            "points": [
                {
                    "index": i + 1,
                    "id": self.ids[i],
                    "value": self.values[i],
                    "segment": self.segment_of[i],
                    "z": self.z_score(i + 1),
                    "rules": self.rules_at(i + 1),
                    "colour": self.colour_at(i + 1),
                }
                for i in range(self.n)
            ],
            "signals": [
                {"index": i, "id": self.ids[i - 1], "rules": self.rules_at(i)}
                for i in range(1, self.n + 1)
                if self.rules_at(i)
            ],
        }


def levey_jennings(
    values: Sequence[float], ids: Sequence[str], segments: Sequence[ControlLimitsSegment]
) -> ControlChartResult:
    """Judge each value against the limits in force for it and run every rule.

    Parameters
    ----------
    values
        The control's values in run order (finite numbers).
    ids
        One id per value (run number, with the plate when a run has several).
    segments
        Limits with the observation they start at; the first also covers any observations before it.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError("values: one finite number per run")
    if len(ids) != x.size:
        raise ValueError(f"ids: {len(ids)} ids for {x.size} values")
    if not segments:
        raise ValueError("segments: at least one set of limits")
    ordered = sorted(segments, key=lambda s: s.first_index)
    if any(not (math.isfinite(s.sd) and s.sd > 0) for s in ordered):
        raise ValueError("segments: the SD must be a positive number")
    starts = np.array([s.first_index for s in ordered])
    which = np.clip(np.searchsorted(starts, np.arange(x.size), side="right") - 1, 0, None)
    centre = np.array([s.mean for s in ordered])[which]
    sd = np.array([s.sd for s in ordered])[which]
    nelson, western = all_flags(x, centre, sd)
    return ControlChartResult(
        ids=tuple(str(i) for i in ids),
        values=tuple(float(v) for v in x),
        segments=tuple(ordered),
        segment_of=tuple(int(w) for w in which),
        nelson={r: tuple(lot_indices(f)) for r, f in nelson.items()},
        western_electric={r: tuple(lot_indices(f)) for r, f in western.items()},
    )


__all__ = [
    "CONCENTRATION",
    "QUANTITIES",
    "RECOVERY",
    "RELATIVE_POTENCY",
    "ControlChartResult",
    "ControlLimitsSegment",
    "ControlObservation",
    "RunFacts",
    "baseline_limits",
    "control_observations",
    "levey_jennings",
]
