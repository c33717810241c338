"""The ``ido-activity`` kind: kynurenine against a kynurenine standard curve -> IDO activity per 10^6 cells per h.

Inputs: a plate-reader import (absorbance at 490 nm after Ehrlich's reagent) with a plate layout (kynurenine
standards in uM, blanks, unknowns named by lot with their dilution), or an HPLC peak table (standards named
in the settings with their uM, the kynurenine peak by name). The culture that made the kynurenine is either
the assay's own (``culture: "assay"``: ``cells``, ``volume_ml``, ``hours`` in the settings) or the lot's
conditioning (``culture: "lot"``: from the run context). See :mod:`secretome.analysis.assays.ido`.

Optional assay-control settings (:mod:`secretome.methods.controls`): with ``chart_controls: true`` a plate's
kynurenine QC wells (layout role ``qc``, level = nominal uM) are read back off the curve and stored with
their recovery (``qc_controls`` of the result; the method's ``recovery`` limits judge them), and so are an
HPLC table's QC injections, named with their nominal uM in ``qc_samples`` (optional, no default; the
injections it names are QC, never samples); ``control_preparations`` names samples run on every plate as controls (a reference lot's CM): charted, not
reported as a lot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from secretome.analysis.assays.ido import ACTIVITY_UNIT, analyse_ido
from secretome.analysis.doseresponse import QuantitationRules
from secretome.analysis.panels import BELOW_LLOQ_RULES
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext
from secretome.methods.controls import control_settings, declared_controls
from secretome.methods.kinds._common import choice, complete, json_ready, lot_for, positive, text
from secretome.methods.kinds._plots import svg
from secretome.methods.kinds.standard_curve import _plate_responses, _well_key, _wells_from_layout
from secretome.methods.registry import register

ENGINE = "secretome.analysis.assays.ido.analyse_ido"
DEFAULTS: dict[str, Any] = {
    "response": None,
    "wavelength": None,
    "reference_wavelength": None,
    "peak": "Kynurenine",
    "standards": {},
    "model": "linear",
    "weighting": "none",
    "recovery": [80.0, 120.0],
    "max_cv": 20.0,
    "below_lloq": "lloq",
    "dilution": 1.0,
    "dilutions": {},
    "culture": "assay",
    "cells": None,
    "volume_ml": None,
    "hours": None,
    "report": "activity",
}


def _check_qc_samples(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError("qc_samples: must map HPLC QC sample names to their nominal kynurenine (uM)")
    checked: dict[str, float] = {}
    for sample, nominal in value.items():
        if isinstance(nominal, bool) or not isinstance(nominal, int | float) or not nominal > 0:
            raise ValueError(f"qc_samples: the nominal kynurenine of {sample!r} must be a positive number")
        checked[str(sample)] = float(nominal)
    return checked


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    rest, controls = control_settings(settings, preparations=True)
    # Optional with no default, like the control keys: methods that name no QC injection complete as before.
    qc_samples = rest.pop("qc_samples", None)
    checked = complete(rest, DEFAULTS, ("attribute",), "ido-activity")
    choice(checked, "model", ("linear", "4pl", "5pl"))
    choice(checked, "weighting", ("none", "1/y", "1/y^2", "1/x^2"))
    choice(checked, "below_lloq", BELOW_LLOQ_RULES)
    choice(checked, "culture", ("assay", "lot"))
    choice(checked, "report", ("activity", "kynurenine"))
    text(checked, "peak")
    positive(checked, "dilution")
    for name in ("wavelength", "reference_wavelength"):
        positive(checked, name, optional=True)
    if not isinstance(checked["standards"], Mapping):
        raise ValueError("standards: must map HPLC sample names to kynurenine (uM)")
    for sample, value in checked["standards"].items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"standards: the kynurenine of {sample!r} must be a non-negative number")
    if not isinstance(checked["dilutions"], Mapping):
        raise ValueError("dilutions: must map sample names to dilution factors")
    if checked["culture"] == "assay" and checked["report"] == "activity":
        for name in ("cells", "volume_ml", "hours"):
            positive(checked, name)
    QuantitationRules(
        recovery=(float(checked["recovery"][0]), float(checked["recovery"][1])),
        max_cv=float(checked["max_cv"]),
    )
    if qc_samples is not None:
        checked["qc_samples"] = _check_qc_samples(qc_samples)
        both = sorted(set(checked["qc_samples"]) & set(checked["standards"]))
        if both:
            raise ValueError(f"qc_samples: {', '.join(both)} is named as a standard too")
    checked.update(controls)
    return checked


#: QC name -> (nominal uM, [(well or injection, reading), ...]) of the usable QC readings.
QcGroups = dict[str, tuple[float, list[tuple[str, float]]]]


def _hplc_readings(
    inp: MethodInput, settings: Mapping[str, Any], decisions: Decisions, qc: QcGroups
) -> tuple[list[float], list[float], dict[str, list[tuple[float, list[float]]]], dict[str, str], list[str]]:
    """The standards, the samples and, filled into ``qc``, the QC injections named in ``qc_samples``."""
    qc_samples: Mapping[str, float] = settings.get("qc_samples") or {}
    quantity = settings["response"] or "peak area"
    peak = str(settings["peak"]).lower()
    standards: Mapping[str, float] = settings["standards"]
    if not standards:
        raise ValueError("standards: an HPLC peak table needs the kynurenine standards named with their uM")
    conc: list[float] = []
    resp: list[float] = []
    samples: dict[str, dict[float, list[float]]] = {}
    excluded: dict[str, str] = {}
    used: list[str] = []
    for m in inp.reading.measurements:
        if m.quantity != quantity or m.analyte.lower() != peak:
            continue
        key = f"{inp.import_id}:{m.well or m.sample}"
        reason = decisions.excluded.get(key)
        if reason is not None:
            excluded[key] = reason
            continue
        if not math.isfinite(m.value):
            continue
        used.append(key)
        if m.sample in standards:
            conc.append(float(standards[m.sample]))
            resp.append(m.value)
        elif m.sample in qc_samples:
            qc.setdefault(m.sample, (qc_samples[m.sample], []))[1].append((m.well or m.sample, m.value))
        else:
            dilution = float(settings["dilutions"].get(m.sample, settings["dilution"]))
            samples.setdefault(m.sample, {}).setdefault(dilution, []).append(m.value)
    if not conc:
        raise ValueError(
            f"standards: none of the named standards has a {settings['peak']} peak in {inp.label}"
        )
    return conc, resp, {s: sorted(d.items()) for s, d in samples.items()}, excluded, used


def _qc_wells(inp: MethodInput, settings: Mapping[str, Any], decisions: Decisions) -> QcGroups:
    """The plate's kynurenine QC wells by QC name (usable ones: not excluded, a finite reading)."""
    assert inp.layout is not None
    groups: QcGroups = {}
    for well in _wells_from_layout(inp, _plate_responses(inp, settings), {"standards": {}}, "kynurenine"):
        key = f"{inp.import_id}:{_well_key(well.well)}"
        if well.role != "qc" or not well.level or decisions.excluded.get(key) or well.excluded:
            continue
        if math.isfinite(well.response):
            entry = groups.setdefault(well.sample, (float(well.level), []))
            entry[1].append((_well_key(well.well), well.response))
    return groups


def _qc_controls(inp: MethodInput, groups: QcGroups, curve: Any, limits: Any) -> list[dict[str, Any]]:
    """Each QC's mean reading back-calculated off the kynurenine curve, its recovery against its nominal uM
    and the method's recovery limits (as the standard-curve kind judges its QC samples)."""
    low, high = float(limits[0]), float(limits[1])
    controls = []
    for name, (nominal, members) in sorted(groups.items()):
        found = float(curve.concentration(float(np.mean([reading for _, reading in members]))))
        recovery = 100.0 * found / nominal if math.isfinite(found) else None
        controls.append(
            {
                "name": name,
                "input": inp.import_id,
                "wells": [where for where, _ in members],
                "nominal": nominal,
                "found": found if math.isfinite(found) else None,
                "recovery": recovery,
                "within_limits": recovery is not None and low <= recovery <= high,
            }
        )
    return controls


def _plate_readings(
    inp: MethodInput, settings: Mapping[str, Any], decisions: Decisions
) -> tuple[list[float], list[float], dict[str, list[tuple[float, list[float]]]], dict[str, str], list[str]]:
    if inp.layout is None:
        raise ValueError(f"layout: {inp.label} ({inp.filename}) has no plate layout")
    wells = _wells_from_layout(inp, _plate_responses(inp, settings), {"standards": {}}, "kynurenine")
    conc: list[float] = []
    resp: list[float] = []
    samples: dict[str, dict[float, list[float]]] = {}
    excluded: dict[str, str] = {}
    used: list[str] = []
    for well in wells:
        key = f"{inp.import_id}:{_well_key(well.well)}"
        reason = decisions.excluded.get(key) or well.excluded
        if reason is not None:
            excluded[key] = reason
            continue
        if not math.isfinite(well.response):
            continue
        used.append(key)
        if well.role in ("standard", "blank"):
            conc.append(float(well.level or 0.0))
            resp.append(well.response)
        elif well.role == "unknown":
            samples.setdefault(well.sample, {}).setdefault(float(well.level or 1.0), []).append(well.response)
    return conc, resp, {s: sorted(d.items()) for s, d in samples.items()}, excluded, used


class IdoActivityKind:
    """IDO activity from kynurenine (Ehrlich's reagent at 490 nm, or HPLC)."""

    name = "ido-activity"
    title = "IDO activity (kynurenine standard curve)"
    input_families: tuple[str, ...] = ("plate_reader", "chromatography")

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
            raise ValueError("inputs: the ido-activity kind analyses one plate or peak table at a time")
        inp = inputs[0]
        qc: QcGroups = {}
        if inp.reading.family == "chromatography":
            conc, resp, samples, excluded, used = _hplc_readings(inp, checked, decisions, qc)
        elif inp.reading.family == "plate_reader":
            conc, resp, samples, excluded, used = _plate_readings(inp, checked, decisions)
        else:
            raise ValueError(
                f"inputs: {inp.label} is a {inp.reading.family} file; ido-activity reads plates and HPLC tables"
            )
        if not samples:
            raise ValueError(f"inputs: {inp.label} has no sample besides the standards")
        names = sorted(samples)
        declared = set(declared_controls(checked))
        candidates = [name for name in names if name not in declared]
        lots = {name: lot_for(name, candidates, context) for name in names}
        volume: dict[str, float] = {}
        cells: dict[str, float] = {}
        hours: dict[str, float] = {}
        for name in names:
            if checked["culture"] == "assay" or checked["report"] == "kynurenine":
                volume[name] = float(checked["volume_ml"] or 1.0)
                cells[name] = float(checked["cells"] or 1e6)
                hours[name] = float(checked["hours"] or 1.0)
                continue
            lot = lots[name]
            record = context.lots.get(lot) if lot is not None else None
            if record is None or not record.viable_cells or not record.volume_ml or not record.hours:
                raise ValueError(f"culture: sample {name} needs its lot's viable cells, volume and hours")
            volume[name], cells[name], hours[name] = record.volume_ml, record.viable_cells, record.hours
        rules = QuantitationRules(
            recovery=(float(checked["recovery"][0]), float(checked["recovery"][1])),
            max_cv=float(checked["max_cv"]),
        )
        try:
            result = analyse_ido(
                conc,
                resp,
                samples,
                volume_ml=volume,
                cells=cells,
                hours=hours,
                model=checked["model"],
                weighting=checked["weighting"],
                below_lloq=checked["below_lloq"],
                rules=rules,
            )
        except ValueError as exc:
            raise ValueError(f"standards: {inp.label}: {exc}") from None
        reportables = []
        for name, sample in result.samples.items():
            lot = lots[name]
            if lot is None or name in declared:
                continue
            quantity = sample.activity if checked["report"] == "activity" else sample.kynurenine
            reportables.append(
                Reportable(
                    lot=lot,
                    attribute=checked["attribute"],
                    value=quantity.value,
                    unit=ACTIVITY_UNIT if checked["report"] == "activity" else "uM",
                    qualifier=quantity.qualifier,
                    interval=quantity.interval,
                    inputs=tuple(k for k in used if k.startswith(f"{inp.import_id}:")),
                    flags=quantity.flags,
                )
            )
        payload = {"settings": checked, "lots": lots, **result.to_dict(), "decisions": decisions.to_dict()}
        plate = inp.reading.family == "plate_reader"
        if checked.get("chart_controls") is True and (plate or "qc_samples" in checked):
            # Only methods that chart their controls (and, for HPLC, name QC injections) store the key, so runs
            # stored before recompute as they were.
            if plate:
                qc = _qc_wells(inp, checked, decisions)
            payload["qc_controls"] = _qc_controls(inp, qc, result.curve, checked["recovery"])
        return KindOutcome(
            engine=ENGINE,
            result=json_ready(payload),
            reportables=tuple(reportables),
            flags=tuple(f"kynurenine curve: {f}" for f in result.curve.flags),
            plots=(("kynurenine standard curve", svg(result.plot())),),
            used=tuple(sorted(used)),
            excluded=dict(sorted(excluded.items())),
        )


KIND = register(IdoActivityKind())
