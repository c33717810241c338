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
- The functional potency kinds chart their plate controls when the method sets ``chart_controls: true``
  (methods approved before the setting existed chart nothing and recompute as stored):

  - ``angiogenesis``: the positive control's (VEGF) mean ``response`` in the metric's unit (pixels for tube
    length), and the reference lot's ``percent of positive control`` when the method names one;
  - ``t-cell-suppression`` and ``t-cell-suppression-flow``: the stimulated control's mean proliferation
    ``response`` and the assay window (``stimulation index``, stimulated over unstimulated), and the
    reference preparation's % ``inhibition`` at the reporting dose;
  - ``ido-activity``: each kynurenine QC's ``recovery`` and back-calculated ``concentration`` (uM), for
    plates with QC wells (layout role ``qc``, the level the nominal uM);
  - ``wound-healing``: the control medium's mean ``closure`` (%) at the fixed time.

  ``control_preparations`` (T-cell kinds and ``ido-activity``) names preparations run on every plate as
  controls: their % ``inhibition`` at the reporting dose and ``relative potency`` when the run computed one
  (T-cell kinds), their ``IDO activity`` or ``kynurenine`` as the method reports (``ido-activity``).

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
from secretome.instruments.assay_tables import ANGIOGENESIS_COLUMNS

#: The quantities a control is charted by.
RECOVERY = "recovery"
CONCENTRATION = "concentration"
RELATIVE_POTENCY = "relative potency"
RESPONSE = "response"
STIMULATION_INDEX = "stimulation index"
INHIBITION = "inhibition"
PERCENT_OF_POSITIVE = "percent of positive control"
ACTIVITY = "IDO activity"
KYNURENINE = "kynurenine"
CLOSURE = "closure"
QUANTITIES = (
    RECOVERY,
    CONCENTRATION,
    RELATIVE_POTENCY,
    RESPONSE,
    STIMULATION_INDEX,
    INHIBITION,
    PERCENT_OF_POSITIVE,
    ACTIVITY,
    KYNURENINE,
    CLOSURE,
)
#: What each quantity is, with its unit, for the documentation and the pages.
QUANTITY_UNITS: dict[str, str] = {
    RECOVERY: "% of nominal",
    CONCENTRATION: "the standards' unit",
    RELATIVE_POTENCY: "% or ratio, the method's scale",
    RESPONSE: "the instrument's unit (pixels for tube length, absorbance, % divided)",
    STIMULATION_INDEX: "ratio",
    INHIBITION: "%",
    PERCENT_OF_POSITIVE: "%",
    ACTIVITY: "nmol/10^6 cells/h",
    KYNURENINE: "uM",
    CLOSURE: "%",
}
#: The kinds whose runs can yield control observations.
CONTROL_KINDS = (
    "standard-curve",
    "relative-potency",
    "angiogenesis",
    "t-cell-suppression",
    "t-cell-suppression-flow",
    "ido-activity",
    "wound-healing",
)
#: Unit of each Angiogenesis Analyzer metric, as the table gives it.
_METRIC_UNITS = {quantity: unit for quantity, unit in ANGIOGENESIS_COLUMNS.values()}
#: Unit of each dye-dilution readout.
_READOUT_UNITS = {"percent_divided": "%", "division_index": "", "proliferation_index": ""}


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


def control_settings(
    settings: Mapping[str, Any], *, preparations: bool = False, reference: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a functional kind's settings into the others and its optional control settings, checked.

    ``chart_controls`` (true or false) and, where ``preparations``, ``control_preparations`` (a list of
    preparation names, not ``reference``) are optional and have no default: a method that names neither
    completes to the same settings, and so computes and stores the same result, as before they existed.

    Returns
    -------
    tuple of dict
        The settings without the control keys, and the control keys given (checked).
    """
    names = ("chart_controls", "control_preparations") if preparations else ("chart_controls",)
    rest = {k: v for k, v in settings.items() if k not in names}
    given = {k: settings[k] for k in names if k in settings}
    if "chart_controls" in given and not isinstance(given["chart_controls"], bool):
        raise ValueError(f"chart_controls: true or false, not {given['chart_controls']!r}")
    if "control_preparations" in given:
        controls = given["control_preparations"]
        if not isinstance(controls, list | tuple) or not all(
            isinstance(c, str) and c.strip() for c in controls
        ):
            raise ValueError(
                "control_preparations: list the preparation names of the assay controls, e.g. ['CTRL']"
            )
        if len(set(controls)) != len(controls):
            raise ValueError("control_preparations: a preparation is named twice")
        if reference is not None and reference in controls:
            raise ValueError("control_preparations: the reference is not an assay control of itself")
        given["control_preparations"] = list(controls)
    return rest, given


def _observation(facts: RunFacts, **fields: Any) -> ControlObservation:
    source = fields.pop("input", None)
    if source is None and len(facts.inputs) == 1:
        # A one-file run: the control was measured on that file.
        source = facts.inputs[0][0]
    return ControlObservation(
        method=facts.method,
        version=facts.version,
        run=facts.run,
        analysed_at=facts.analysed_at,
        accepted_at=facts.accepted_at,
        input=source,
        filename=facts.filename(source),
        **fields,
    )


def _charts_controls(settings: Mapping[str, Any]) -> bool:
    # Only an explicit true: settings stored before the key existed chart nothing.
    return settings.get("chart_controls") is True


def declared_controls(settings: Mapping[str, Any]) -> list[str]:
    """The preparations a method's settings declare as assay controls (``control_preparations``): charted,
    never reported as a lot. Settings stored before the key existed declare none."""
    return [str(name) for name in settings.get("control_preparations") or ()]


def _interval(ratio: Mapping[str, Any]) -> tuple[float | None, float | None] | None:
    low, high = _number(ratio.get("low")), _number(ratio.get("high"))
    return None if low is None and high is None else (low, high)


def _angiogenesis(
    facts: RunFacts, result: Mapping[str, Any], settings: Mapping[str, Any]
) -> list[ControlObservation]:
    if not _charts_controls(settings):
        return []
    groups: Mapping[str, Any] = result.get("groups") or {}
    metric = str(result.get("metric", ""))
    found = []
    positive = str(result.get("positive"))
    if positive in groups:
        found.append(
            _observation(
                facts,
                control=str(positive),
                analyte=metric,
                quantity=RESPONSE,
                value=_number(groups[positive].get("mean")),
                unit=_METRIC_UNITS.get(metric, ""),
            )
        )
    reference = result.get("reference")
    if reference is not None and reference in groups:
        ratio = groups[reference].get("percent_of_positive") or {}
        found.append(
            _observation(
                facts,
                control=str(reference),
                analyte=str(settings.get("attribute", metric)),
                quantity=PERCENT_OF_POSITIVE,
                value=_number(ratio.get("value")),
                unit="%",
                interval=_interval(ratio),
            )
        )
    return found


def _potency_of(result: Mapping[str, Any], preparation: str) -> Mapping[str, Any] | None:
    potency = result.get("potency") or {}
    for estimate in potency.get("potencies", ()):
        if estimate.get("preparation") == preparation:
            return dict(estimate)
    return None


def _suppression(
    facts: RunFacts, result: Mapping[str, Any], settings: Mapping[str, Any]
) -> list[ControlObservation]:
    declared = declared_controls(settings)
    if not _charts_controls(settings) and not declared:
        return []
    attribute = str(settings.get("attribute", ""))
    preparations: Mapping[str, Any] = result.get("preparations") or {}
    if facts.kind == "t-cell-suppression-flow":
        readout = str(result.get("readout", "percent_divided"))
        analyte, unit = readout.replace("_", " "), _READOUT_UNITS.get(readout, "")
        tubes = result.get("tubes", ())
        wells = {
            c: tuple(t["key"] for t in tubes if t.get("condition") == c)
            for c in ("stimulated", "unstimulated")
        }
    else:
        analyte, unit = str(settings.get("response") or "proliferation"), ""
        wells = {"stimulated": (), "unstimulated": ()}
    found = []
    if _charts_controls(settings):
        stimulated = str(settings.get("stimulated", "stimulated"))
        unstimulated = str(settings.get("unstimulated", "unstimulated"))
        # The assay window: the stimulated response, the background of the unstimulated cells, and their ratio.
        for control, condition, quantity, value, quantity_unit in (
            (stimulated, "stimulated", RESPONSE, result.get("stimulated_mean"), unit),
            (stimulated, "stimulated", STIMULATION_INDEX, result.get("stimulation_index"), ""),
            (unstimulated, "unstimulated", RESPONSE, result.get("unstimulated_mean"), unit),
        ):
            found.append(
                _observation(
                    facts,
                    control=control,
                    analyte=analyte,
                    quantity=quantity,
                    value=_number(value),
                    unit=quantity_unit,
                    wells=wells[condition],
                )
            )
        reference = result.get("reference")
        if reference is not None and reference in preparations:
            found.append(
                _observation(
                    facts,
                    control=str(reference),
                    analyte=attribute,
                    quantity=INHIBITION,
                    value=_number(preparations[reference].get("inhibition_at")),
                    unit="%",
                )
            )
    for name in declared:
        if name not in preparations:
            continue
        found.append(
            _observation(
                facts,
                control=name,
                analyte=attribute,
                quantity=INHIBITION,
                value=_number(preparations[name].get("inhibition_at")),
                unit="%",
            )
        )
        estimate = _potency_of(result, name)
        if estimate is not None:
            found.append(
                _observation(
                    facts,
                    control=name,
                    analyte=attribute,
                    quantity=RELATIVE_POTENCY,
                    value=_number(estimate.get("relative_potency")),
                    unit="",
                    interval=_interval(estimate.get("ci") or {}),
                )
            )
    return found


def _ido(facts: RunFacts, result: Mapping[str, Any], settings: Mapping[str, Any]) -> list[ControlObservation]:
    found = []
    # Stored only by runs of methods that chart their controls (see the kind).
    for qc in result.get("qc_controls", ()):
        common = {
            "control": str(qc["name"]),
            "analyte": KYNURENINE,
            "nominal": _number(qc.get("nominal")),
            "within_limits": bool(qc.get("within_limits")),
            "input": qc.get("input"),
            "wells": tuple(qc.get("wells", ())),
        }
        found.append(
            _observation(facts, quantity=RECOVERY, value=_number(qc.get("recovery")), unit="%", **common)
        )
        found.append(
            _observation(facts, quantity=CONCENTRATION, value=_number(qc.get("found")), unit="uM", **common)
        )
    samples: Mapping[str, Any] = result.get("samples") or {}
    activity = settings.get("report", "activity") == "activity"
    for name in declared_controls(settings):
        if name not in samples:
            continue
        measured = samples[name].get("activity" if activity else "kynurenine_um") or {}
        # A value below the range is a limit, not a value: listed as excluded, not charted.
        value = _number(measured.get("value")) if measured.get("qualifier", "=") == "=" else None
        interval = measured.get("interval")
        found.append(
            _observation(
                facts,
                control=name,
                analyte=str(settings.get("attribute", "")),
                quantity=ACTIVITY if activity else KYNURENINE,
                value=value,
                unit=str(result.get("activity_unit", "")) if activity else "uM",
                interval=None if not interval else (_number(interval[0]), _number(interval[1])),
            )
        )
    return found


def _wound(
    facts: RunFacts, result: Mapping[str, Any], settings: Mapping[str, Any]
) -> list[ControlObservation]:
    if not _charts_controls(settings):
        return []
    control = str(result.get("control"))
    groups: Mapping[str, Any] = result.get("groups") or {}
    if control not in groups:
        return []
    hours = _number(result.get("at_hours"))
    return [
        _observation(
            facts,
            control=str(control),
            analyte="wound closure" if hours is None else f"wound closure at {hours:g} h",
            quantity=CLOSURE,
            value=_number(groups[control].get("mean_closure_at")),
            unit="%",
            wells=tuple(groups[control].get("wells", ())),
        )
    ]


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
    if facts.kind == "angiogenesis":
        return _angiogenesis(facts, result, settings)
    if facts.kind in ("t-cell-suppression", "t-cell-suppression-flow"):
        return _suppression(facts, result, settings)
    if facts.kind == "ido-activity":
        return _ido(facts, result, settings)
    if facts.kind == "wound-healing":
        return _wound(facts, result, settings)
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
    "ACTIVITY",
    "CLOSURE",
    "CONCENTRATION",
    "CONTROL_KINDS",
    "INHIBITION",
    "KYNURENINE",
    "PERCENT_OF_POSITIVE",
    "QUANTITIES",
    "QUANTITY_UNITS",
    "RECOVERY",
    "RELATIVE_POTENCY",
    "RESPONSE",
    "STIMULATION_INDEX",
    "ControlChartResult",
    "ControlLimitsSegment",
    "ControlObservation",
    "RunFacts",
    "baseline_limits",
    "control_observations",
    "control_settings",
    "levey_jennings",
]
