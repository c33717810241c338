"""The ``t-cell-suppression`` kind: % inhibition of T-cell proliferation by CM dilutions, IC50 and RP.

Input: a plate-reader import (a proliferation readout per well: BrdU/EdU ELISA absorbance, or a plate export
of % divided cells) with a plate layout: test preparations (role ``test``, named by lot, level = CM dose in
% v/v), optionally a reference lot (role ``reference``), and the controls as ``unknown`` wells named by the
``stimulated`` and ``unstimulated`` settings. Reports % inhibition at ``report_dose``, the IC50, or the
relative potency against the reference (parallel-curve engine). See :mod:`secretome.analysis.assays.tcell`.

Optional assay-control settings (:mod:`secretome.methods.controls`): ``chart_controls: true`` charts the
stimulated control's readout, the stimulation index, the unstimulated background and the reference's %
inhibition at ``report_dose``;
``control_preparations`` names preparations run on every plate as controls (charted, never reported as a lot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from secretome.analysis.assays.tcell import analyse_suppression
from secretome.domain.plate_layout import WellRole
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext
from secretome.methods.controls import control_settings, declared_controls
from secretome.methods.kinds._common import choice, complete, json_ready, lot_for, positive, text
from secretome.methods.kinds._plots import quiet_log_axis, svg
from secretome.methods.kinds.standard_curve import _plate_responses
from secretome.methods.registry import register

ENGINE = "secretome.analysis.assays.tcell.analyse_suppression"
REPORTS = ("inhibition", "ic50", "relative_potency")
DEFAULTS: dict[str, Any] = {
    "report": "inhibition",
    "report_dose": 25.0,
    "rp_attribute": None,
    "stimulated": "stimulated",
    "unstimulated": "unstimulated",
    "response": None,
    "wavelength": None,
    "reference_wavelength": None,
    "model": "4pl",
}


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    rest, controls = control_settings(settings, preparations=True)
    checked = complete(rest, DEFAULTS, ("attribute",), "t-cell-suppression")
    choice(checked, "report", REPORTS)
    choice(checked, "model", ("4pl", "5pl"))
    positive(checked, "report_dose", optional=checked["report"] != "inhibition")
    text(checked, "stimulated")
    text(checked, "unstimulated")
    text(checked, "rp_attribute", optional=True)
    for name in ("wavelength", "reference_wavelength"):
        positive(checked, name, optional=True)
    checked.update(controls)
    return checked


class TCellSuppressionKind:
    """T-cell suppression by CM dilutions from a proliferation plate."""

    name = "t-cell-suppression"
    title = "T-cell suppression (% inhibition, IC50, relative potency)"
    input_families: tuple[str, ...] = ("plate_reader",)

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
        if len(inputs) != 1:
            raise ValueError("inputs: the t-cell-suppression kind analyses one plate at a time")
        inp = inputs[0]
        if inp.layout is None:
            raise ValueError(f"layout: {inp.label} ({inp.filename}) has no plate layout")
        responses = _plate_responses(inp, checked)
        stimulated: list[float] = []
        unstimulated: list[float] = []
        preparations: dict[str, tuple[list[float], list[float]]] = {}
        reference: str | None = None
        excluded: dict[str, str] = {}
        used: dict[str, list[str]] = {}
        for well, assignment in inp.layout.wells.items():
            key = f"{inp.import_id}:{well}"
            value = float(responses.get(well, math.nan))
            reason = decisions.excluded.get(key)
            if reason is not None:
                excluded[key] = reason
                continue
            if not math.isfinite(value):
                continue
            if assignment.role is WellRole.UNKNOWN and assignment.name == checked["stimulated"]:
                stimulated.append(value)
            elif assignment.role is WellRole.UNKNOWN and assignment.name == checked["unstimulated"]:
                unstimulated.append(value)
            elif assignment.role in (WellRole.TEST, WellRole.REFERENCE) and assignment.level is not None:
                if assignment.role is WellRole.REFERENCE:
                    if reference not in (None, assignment.name):
                        raise ValueError(f"layout: {inp.label} names two reference preparations")
                    reference = assignment.name
                doses, values = preparations.setdefault(assignment.name, ([], []))
                doses.append(float(assignment.level))
                values.append(value)
            else:
                continue
            used.setdefault(assignment.name, []).append(key)
        if not stimulated or not unstimulated:
            raise ValueError(
                f"stimulated: {inp.label} needs wells named {checked['stimulated']!r} and {checked['unstimulated']!r}"
            )
        if checked["report"] == "relative_potency" and reference is None:
            raise ValueError("report: relative potency needs a reference preparation on the plate")
        result = analyse_suppression(
            stimulated,
            unstimulated,
            preparations,
            reference=reference,
            report_dose=checked["report_dose"],
            model=checked["model"],
        )
        declared = set(declared_controls(checked))
        tests = sorted(name for name in preparations if name != reference and name not in declared)
        reportables: list[Reportable] = []
        for name in tests:
            lot = lot_for(name, tests, context)
            if lot is None:
                continue
            prep = result.preparations[name]
            controls = used.get(checked["stimulated"], []) + used.get(checked["unstimulated"], [])
            inputs_used = tuple(sorted(used[name] + controls))
            flags = tuple(dict.fromkeys((*result.flags, *prep.flags)))
            if checked["report"] == "inhibition":
                reportables.append(
                    Reportable(
                        lot, checked["attribute"], prep.inhibition_at, "%", inputs=inputs_used, flags=flags
                    )
                )
            elif checked["report"] == "ic50":
                if prep.ic50 is None:
                    reportables.append(
                        Reportable(
                            lot,
                            checked["attribute"],
                            max(prep.dose),
                            "% v/v",
                            ">",
                            inputs=inputs_used,
                            flags=flags,
                        )
                    )
                else:
                    reportables.append(
                        Reportable(
                            lot, checked["attribute"], prep.ic50, "% v/v", inputs=inputs_used, flags=flags
                        )
                    )
            rp_attribute = (
                checked["attribute"] if checked["report"] == "relative_potency" else checked["rp_attribute"]
            )
            if rp_attribute and result.potency is not None:
                estimate = result.potency.potency(name)
                interval = (
                    (float(estimate.ci.low), float(estimate.ci.high))
                    if estimate.ci.low is not None and estimate.ci.high is not None
                    else None
                )
                rp_flags = flags if result.potency.valid else (*flags, "potency_assay_not_valid")
                reportables.append(
                    Reportable(
                        lot,
                        rp_attribute,
                        estimate.relative_potency,
                        "",
                        interval=interval,
                        inputs=tuple(sorted(inputs_used + tuple(used.get(reference or "", [])))),
                        flags=rp_flags,
                    )
                )
        figure = result.plot()
        quiet_log_axis(figure.axes[0])
        payload = {
            "settings": checked,
            "reference": reference,
            **result.to_dict(),
            "decisions": decisions.to_dict(),
        }
        return KindOutcome(
            engine=ENGINE,
            result=json_ready(payload),
            reportables=tuple(reportables),
            flags=result.flags,
            plots=(("T-cell suppression", svg(figure)),),
            used=tuple(sorted(k for keys in used.values() for k in keys)),
            excluded=dict(sorted(excluded.items())),
        )


KIND = register(TCellSuppressionKind())
