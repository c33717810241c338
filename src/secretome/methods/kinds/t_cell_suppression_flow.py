"""The ``t-cell-suppression-flow`` kind: T-cell suppression by CM dilutions from CFSE / CellTrace FCS files.

Each FCS data set is one condition: the stimulated control, the unstimulated control, or a preparation (a
lot's CM, possibly the reference lot) at a dose in % v/v. The condition comes from the stored file: with a
plate layout on the import, the data set's ``$WELLID`` names its well (role, preparation, dose); otherwise
``$SRC`` names the sample (``stimulated`` / ``unstimulated`` settings for the controls, a lot or the
``reference`` setting for the preparations) and the keyword named by ``dose_keyword`` carries the dose.

Per data set: the Gating-ML ``strategy`` selects the responder ``population`` (live single lymphocytes,
CD3+ cells), the dye ``channel`` is read under ``compensation``, generation peaks are fitted
(:class:`secretome.analysis.assays.proliferation.ProliferationModel`) with the undivided peak from the
unstimulated tubes (``undivided: "unstimulated"``) or a set intensity, and the ``readout`` index (% divided by
default) is taken. % inhibition against the controls and the dose-response (IC50, relative potency) go through
the plate kind's engine, :func:`secretome.analysis.assays.tcell.analyse_suppression`.

Decision keys are ``"<import id>:<tube name>"`` (``TUBE NAME``, else the file name without extension).

Optional assay-control settings (:mod:`secretome.methods.controls`): ``chart_controls: true`` charts the
stimulated control's readout, the stimulation index and the reference's % inhibition at ``report_dose``;
``control_preparations`` names preparations run in every experiment as controls (charted, never reported as a
lot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from secretome.analysis.assays.proliferation import (
    READOUTS,
    ProliferationModel,
    ProliferationResult,
    undivided_position,
)
from secretome.analysis.assays.tcell import analyse_suppression
from secretome.analysis.flow.gating import FCS, UNCOMPENSATED, Dimension
from secretome.domain.plate_layout import WellRole
from secretome.instruments.flow import read_fcs_data_sets
from secretome.instruments.gating_ml import parse_gating_ml
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext
from secretome.methods.controls import control_settings, declared_controls
from secretome.methods.kinds._common import choice, complete, json_ready, lot_for, positive, text
from secretome.methods.kinds._plots import quiet_log_axis, svg
from secretome.methods.registry import register

ENGINE = "secretome.analysis.assays.proliferation + secretome.analysis.assays.tcell.analyse_suppression"
REPORTS = ("inhibition", "ic50", "relative_potency")
UNSTIMULATED_PEAK = "unstimulated"
DEFAULTS: dict[str, Any] = {
    "strategy": None,
    "channel": None,
    "population": None,
    "compensation": FCS,
    "readout": "percent_divided",
    "undivided": UNSTIMULATED_PEAK,
    "max_generations": 8,
    "peak_tolerance": 0.3,
    "min_events": 1000,
    "stimulated": "stimulated",
    "unstimulated": "unstimulated",
    "reference": None,
    "dose_keyword": "CM DOSE",
    "report": "inhibition",
    "report_dose": 25.0,
    "rp_attribute": None,
    "model": "4pl",
}


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    rest, controls = control_settings(settings, preparations=True, reference=settings.get("reference"))
    checked = complete(rest, DEFAULTS, ("attribute",), "t-cell-suppression-flow")
    for name in ("strategy", "channel"):
        if not isinstance(checked.get(name), str) or not str(checked[name]).strip():
            raise ValueError(
                f"{name}: required ("
                + ("the Gating-ML 2.0 XML text" if name == "strategy" else "the dye's detector, $PnN or $PnS")
                + ")"
            )
    try:
        strategy = parse_gating_ml(checked["strategy"])
    except ValueError as exc:
        raise ValueError(f"strategy: {exc}") from None
    populations = [node for node, _, _ in strategy.nodes()]
    if checked["population"] is None:
        checked["population"] = populations[-1]
    if checked["population"] not in populations:
        raise ValueError(
            f"population: {checked['population']!r} is not a gate of the strategy ({', '.join(populations)})"
        )
    compensation = checked["compensation"]
    if compensation not in (FCS, UNCOMPENSATED) and compensation not in strategy.compensations:
        raise ValueError(
            f"compensation: {compensation!r} is neither FCS, uncompensated nor a matrix of the strategy"
        )
    choice(checked, "readout", READOUTS)
    choice(checked, "report", REPORTS)
    choice(checked, "model", ("4pl", "5pl"))
    positive(checked, "report_dose", optional=checked["report"] != "inhibition")
    if checked["undivided"] != UNSTIMULATED_PEAK:
        positive(checked, "undivided")
    # The model's own checks name the setting.
    ProliferationModel(checked["max_generations"], checked["peak_tolerance"], checked["min_events"])
    for name in ("stimulated", "unstimulated", "dose_keyword"):
        text(checked, name)
    for name in ("reference", "rp_attribute"):
        text(checked, name, optional=True)
    if checked["stimulated"] == checked["unstimulated"]:
        raise ValueError("unstimulated: must name another sample than stimulated")
    checked.update(controls)
    return checked


@dataclass(frozen=True)
class _Tube:
    """One FCS data set and the condition the stored file gives it."""

    key: str
    name: str
    filename: str
    sample: str
    condition: str  # "stimulated", "unstimulated", "test", "reference"
    dose: float | None
    values: np.ndarray[Any, np.dtype[np.float64]]
    gated: int
    total: int
    warnings: tuple[str, ...]


def _dose(raw: str, filename: str, keyword: str) -> float:
    token = raw.strip().rstrip("%").strip().replace(",", ".")
    try:
        dose = float(token)
    except ValueError:
        raise ValueError(f"{filename}: keyword {keyword!r} is {raw!r}, not a dose in % v/v") from None
    if not (math.isfinite(dose) and dose > 0):
        raise ValueError(f"{filename}: keyword {keyword!r} must be a positive dose, got {raw!r}")
    return dose


def _condition(
    item: MethodInput, keywords: Mapping[str, str], sample: str, checked: Mapping[str, Any]
) -> tuple[str, str, float | None] | None:
    """(condition, preparation or sample name, dose) of one data set; None when it is none of them."""
    well = (keywords.get("wellid") or keywords.get("well id") or "").strip()
    if item.layout is not None and well:
        assignment = item.layout.wells.get(well)
        if assignment is None:
            return None
        if assignment.role is WellRole.UNKNOWN and assignment.name in (
            checked["stimulated"],
            checked["unstimulated"],
        ):
            condition = "stimulated" if assignment.name == checked["stimulated"] else "unstimulated"
            return condition, assignment.name, None
        if assignment.role in (WellRole.TEST, WellRole.REFERENCE) and assignment.level is not None:
            role = "reference" if assignment.role is WellRole.REFERENCE else "test"
            return role, assignment.name, float(assignment.level)
        return None
    if not sample:
        raise ValueError(f"{item.filename}: no $SRC names the tube's sample (nor a $WELLID a layout well)")
    if sample == checked["stimulated"]:
        return "stimulated", sample, None
    if sample == checked["unstimulated"]:
        return "unstimulated", sample, None
    keyword = checked["dose_keyword"]
    raw = keywords.get(keyword.lower())
    if raw is None or not raw.strip():
        raise ValueError(
            f"{item.filename}: sample {sample!r} has no {keyword!r} keyword (its CM dose, % v/v)"
        )
    condition = "reference" if sample == checked["reference"] else "test"
    return condition, sample, _dose(raw, item.filename, keyword)


def _tubes(
    item: MethodInput,
    checked: Mapping[str, Any],
    strategy: Any,
    decisions: Decisions,
    excluded: dict[str, str],
) -> list[_Tube]:
    if not item.content:
        raise ValueError(f"{item.filename}: the raw FCS bytes are needed (keywords and events)")
    data_sets = read_fcs_data_sets(item.content, item.filename)
    stem = item.filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    tubes = []
    for number, data_set in enumerate(data_sets, start=1):
        keywords = data_set.keywords
        name = (keywords.get("tube name") or "").strip() or stem
        if len(data_sets) > 1:
            name = f"{name} ({number})"
        key = f"{item.import_id}:{name}"
        if key in decisions.excluded:
            excluded[key] = decisions.excluded[key]
            continue
        sample = (keywords.get("src") or keywords.get("smno") or "").strip()
        condition = _condition(item, keywords, sample, checked)
        if condition is None:
            continue
        channel = checked["channel"]
        if channel not in data_set.channels:
            if channel in data_set.labels:
                channel = data_set.channels[data_set.labels.index(channel)]
            else:
                raise ValueError(
                    f"{item.filename}: channel {checked['channel']!r} is neither a $PnN nor a $PnS of the file"
                )
        population = checked["population"]
        try:
            # The events as stored: the dye channel's population values are kept while each block is
            # gated, with no scaled copy of the tube.
            gating = data_set.gate(
                strategy, reads=[(population, Dimension(channel, checked["compensation"]))]
            )
        except ValueError as exc:
            raise ValueError(f"{item.filename}: {exc}") from None
        (values,) = gating.values
        tubes.append(
            _Tube(
                key,
                name,
                item.filename,
                condition[1],
                condition[0],
                condition[2],
                values,
                gating.count(population).count,
                gating.total,
                tuple(dict.fromkeys((*data_set.warnings, *gating.warnings, *gating.value_warnings))),
            )
        )
    return tubes


class TCellSuppressionFlowKind:
    """T-cell suppression by CM dilutions from CFSE / CellTrace Violet FCS files (see the module docstring)."""

    name = "t-cell-suppression-flow"
    title = "T-cell suppression by dye dilution (FCS: generations, % inhibition, IC50, relative potency)"
    input_families: tuple[str, ...] = ("flow",)

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
        strategy = parse_gating_ml(checked["strategy"])
        excluded: dict[str, str] = {}
        tubes: list[_Tube] = []
        for item in inputs:
            tubes.extend(_tubes(item, checked, strategy, decisions, excluded))
        seen: dict[str, str] = {}
        for tube in tubes:
            if tube.key in seen:
                raise ValueError(f"{tube.filename}: two tubes named {tube.key!r}; exclude one")
            seen[tube.key] = tube.filename
        unstimulated = [t for t in tubes if t.condition == "unstimulated"]
        if checked["undivided"] == UNSTIMULATED_PEAK:
            if not unstimulated:
                raise ValueError(
                    f"undivided: no {checked['unstimulated']!r} tube to find the undivided peak in"
                )
            undivided = undivided_position(np.concatenate([t.values for t in unstimulated]))
        else:
            undivided = float(checked["undivided"])
        model = ProliferationModel(
            checked["max_generations"], checked["peak_tolerance"], checked["min_events"]
        )
        fits: dict[str, ProliferationResult] = {}
        flags: list[str] = []
        for tube in tubes:
            fit = model.fit(tube.values, undivided, checked["channel"])
            fits[tube.key] = fit
            flags.extend(f"tube {tube.name!r}: {f}" for f in (*tube.warnings, *fit.flags))
        readout = checked["readout"]
        stimulated = [fits[t.key].readout(readout) for t in tubes if t.condition == "stimulated"]
        unstim = [fits[t.key].readout(readout) for t in unstimulated]
        if not stimulated or not unstimulated:
            raise ValueError(
                f"stimulated: the run needs tubes of {checked['stimulated']!r} and {checked['unstimulated']!r}"
            )
        preparations: dict[str, tuple[list[float], list[float]]] = {}
        used: dict[str, list[str]] = {}
        references = sorted({t.sample for t in tubes if t.condition == "reference"})
        if len(references) > 1:
            raise ValueError(f"reference: the run names two reference preparations ({', '.join(references)})")
        reference = references[0] if references else None
        for tube in tubes:
            used.setdefault(tube.sample, []).append(tube.key)
            if tube.dose is None:
                continue
            doses, values = preparations.setdefault(tube.sample, ([], []))
            doses.append(tube.dose)
            values.append(fits[tube.key].readout(readout))
        if checked["report"] == "relative_potency" and reference is None:
            raise ValueError("report: relative potency needs tubes of a reference preparation")
        result = analyse_suppression(
            stimulated,
            unstim,
            preparations,
            reference=reference,
            report_dose=checked["report_dose"],
            model=checked["model"],
        )
        flags.extend(result.flags)
        controls = used.get(checked["stimulated"], []) + used.get(checked["unstimulated"], [])
        reportables = _reportables(result, checked, reference, used, controls, context)
        figure = result.plot()
        quiet_log_axis(figure.axes[0])
        figure.axes[0].set_ylabel(f"% inhibition of {readout.replace('_', ' ')}")
        payload = {
            "settings": {k: v for k, v in checked.items() if k != "strategy"},
            "strategy": strategy.to_dict(),
            "undivided": undivided,
            "readout": readout,
            "reference": reference,
            "tubes": [
                {
                    "key": t.key,
                    "file": t.filename,
                    "tube": t.name,
                    "sample": t.sample,
                    "condition": t.condition,
                    "dose": t.dose,
                    "total": t.total,
                    "population_events": t.gated,
                    "readout": fits[t.key].readout(readout),
                    "proliferation": fits[t.key].to_dict(),
                }
                for t in tubes
            ],
            **result.to_dict(),
            "decisions": decisions.to_dict(),
        }
        return KindOutcome(
            engine=ENGINE,
            result=json_ready(payload),
            reportables=tuple(reportables),
            flags=tuple(dict.fromkeys(flags)),
            plots=(
                ("Dye dilution: generations fitted per tube", svg(_histograms(tubes, fits))),
                ("T-cell suppression", svg(figure)),
            ),
            used=tuple(sorted(k for keys in used.values() for k in keys)),
            excluded=dict(sorted(excluded.items())),
        )


def _reportables(
    result: Any,
    checked: Mapping[str, Any],
    reference: str | None,
    used: Mapping[str, list[str]],
    controls: list[str],
    context: RunContext,
) -> list[Reportable]:
    declared = set(declared_controls(checked))
    tests = sorted(name for name in result.preparations if name != reference and name not in declared)
    reportables: list[Reportable] = []
    for name in tests:
        lot = lot_for(name, tests, context)
        if lot is None:
            continue
        prep = result.preparations[name]
        inputs_used = tuple(sorted(used[name] + controls))
        flags = tuple(dict.fromkeys((*result.flags, *prep.flags)))
        attribute = checked["attribute"]
        if checked["report"] == "inhibition":
            reportables.append(
                Reportable(lot, attribute, prep.inhibition_at, "%", inputs=inputs_used, flags=flags)
            )
        elif checked["report"] == "ic50":
            if prep.ic50 is None:
                reportables.append(
                    Reportable(lot, attribute, max(prep.dose), "% v/v", ">", inputs=inputs_used, flags=flags)
                )
            else:
                reportables.append(
                    Reportable(lot, attribute, prep.ic50, "% v/v", inputs=inputs_used, flags=flags)
                )
        rp_attribute = attribute if checked["report"] == "relative_potency" else checked["rp_attribute"]
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
    return reportables


def _histograms(tubes: Sequence[_Tube], fits: Mapping[str, ProliferationResult]) -> Any:
    """One small histogram per tube with its fitted generation peaks."""
    from matplotlib.figure import Figure

    columns = 4
    rows = max(1, math.ceil(len(tubes) / columns))
    figure = Figure(figsize=(10.0, 1.9 * rows))
    # Fixed margins: a constrained layout of many small axes costs more than drawing them.
    figure.subplots_adjust(
        left=0.05, right=0.99, bottom=0.3 / rows, top=1 - 0.25 / rows, wspace=0.25, hspace=0.6
    )
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax, tube in zip(axes.ravel(), tubes, strict=False):
        fits[tube.key].plot(ax=ax, title=tube.name)
        ax.title.set_fontsize(7)
        ax.tick_params(labelsize=6)
        ax.xaxis.label.set_fontsize(6)
        ax.yaxis.label.set_fontsize(6)
    for ax in axes.ravel()[len(tubes) :]:
        ax.set_axis_off()
    return figure


KIND = register(TCellSuppressionFlowKind())
