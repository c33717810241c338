"""The ``wound-healing`` kind: scratch closure at a fixed time and closure rate, relative to control medium.

Input: a ``scratch-area`` table (well, sample, time, area). Wells are grouped by sample; the group named
``control`` is the control medium. See :mod:`secretome.analysis.assays.wound`.

Optional ``chart_controls: true``: the control chart follows the control medium's closure at the fixed time,
run after run (:mod:`secretome.methods.controls`); nothing else changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from secretome.analysis.assays.wound import analyse_wound_healing
from secretome.instruments.assay_tables import hours_of
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext
from secretome.methods.controls import control_settings
from secretome.methods.kinds._common import choice, complete, json_ready, lot_for, positive, text
from secretome.methods.kinds._plots import svg
from secretome.methods.registry import register

ENGINE = "secretome.analysis.assays.wound.analyse_wound_healing"
REPORTS = {
    "relative_closure": "%",
    "closure": "%",
    "relative_rate": "%",
    "rate": "%/h",
}
DEFAULTS: dict[str, Any] = {
    "control": "control",
    "at_hours": 24.0,
    "report": "relative_closure",
    "rate_attribute": None,
}


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    rest, controls = control_settings(settings)
    checked = complete(rest, DEFAULTS, ("attribute",), "wound-healing")
    text(checked, "control")
    positive(checked, "at_hours")
    choice(checked, "report", tuple(REPORTS))
    text(checked, "rate_attribute", optional=True)
    checked.update(controls)
    return checked


class WoundHealingKind:
    """Scratch wound closure relative to control medium."""

    name = "wound-healing"
    title = "Wound healing (scratch closure and rate vs control)"
    input_families: tuple[str, ...] = ("image_analysis",)

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        return check_settings(settings)

    def analyse(
        self,
        inputs: Sequence[MethodInput],
        settings: Mapping[str, Any],
        decisions: Decisions,
        context: RunContext,
    ) -> KindOutcome:
        checked = check_settings(settings)
        series: dict[str, tuple[str, list[float], list[float]]] = {}
        excluded: dict[str, str] = {}
        for inp in inputs:
            if inp.reading.format != "scratch-area":
                raise ValueError(f"inputs: {inp.label} is not a scratch-area table")
            for m in inp.reading.measurements:
                if m.quantity != "wound area" or not math.isfinite(m.value):
                    continue
                key = f"{inp.import_id}:{m.well or m.sample}"
                reason = decisions.excluded.get(key)
                if reason is not None:
                    excluded[key] = reason
                    continue
                group, hours, areas = series.setdefault(key, (m.sample, [], []))
                if group != m.sample:
                    raise ValueError(f"inputs: well {key} holds two samples ({group}, {m.sample})")
                hours.append(hours_of(m.analyte))
                areas.append(m.value)
        if not series:
            raise ValueError("inputs: no wound areas to analyse")
        result = analyse_wound_healing(
            series, control=checked["control"], at_hours=float(checked["at_hours"])
        )
        samples = sorted(g for g in result.groups if g != checked["control"])
        reportables: list[Reportable] = []
        for name in samples:
            lot = lot_for(name, samples, context)
            if lot is None:
                continue
            outcome_group = result.groups[name]
            control = result.groups[checked["control"]]
            inputs_used = tuple(sorted(outcome_group.wells + control.wells))
            for attribute, report in (
                (checked["attribute"], checked["report"]),
                (checked["rate_attribute"], "rate"),
            ):
                if not attribute:
                    continue
                interval = None
                if report == "relative_closure":
                    ratio = outcome_group.relative_closure
                    value = ratio.value
                    interval = (
                        (ratio.low, ratio.high) if ratio.low is not None and ratio.high is not None else None
                    )
                elif report == "relative_rate":
                    ratio = outcome_group.relative_rate
                    value = ratio.value
                    interval = (
                        (ratio.low, ratio.high) if ratio.low is not None and ratio.high is not None else None
                    )
                elif report == "closure":
                    value = sum(outcome_group.closure_at) / len(outcome_group.closure_at)
                else:
                    value = sum(outcome_group.rate) / len(outcome_group.rate)
                reportables.append(
                    Reportable(lot, attribute, value, REPORTS[report], interval=interval, inputs=inputs_used)
                )
        payload = {"settings": checked, **result.to_dict(), "decisions": decisions.to_dict()}
        return KindOutcome(
            engine=ENGINE,
            result=json_ready(payload),
            reportables=tuple(reportables),
            plots=(("scratch wound closure", svg(result.plot())),),
            used=tuple(sorted(series)),
            excluded=dict(sorted(excluded.items())),
        )


KIND = register(WoundHealingKind())
