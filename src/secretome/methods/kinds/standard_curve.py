"""The ``standard-curve`` kind: quantitation of analytes against a standard curve, per plate and analyte.

Inputs are plate-reader imports with a plate layout (standards with nominal concentrations, blanks, unknowns
with dilution factors; an unknown's name is a lot number or maps to one through the run context) and
multiplex imports (one curve per analyte; standards recognised by sample name, with their concentrations
from the settings, or from the layout when the import has one). For each curve the kind fits the model of the
settings, back-calculates every unknown at each of its dilutions (:func:`secretome.analysis.panels.quantify`:
``<`` LLOQ x dilution, ``>`` ULOQ x dilution), subtracts the medium-only blank with its uncertainty, and
normalises per mL, per 10^6 cells per 24 h or per ug protein. Multiplex wells are flagged for low bead counts
and bead %CV over the limit. The result holds every curve's complete fit, the wells and their roles, each
sample's back-calculation, the reported values and the panel fingerprint per lot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from secretome.analysis.doseresponse import MODEL_CHOICES, CurveFit, CurveFitter, QuantitationRules
from secretome.analysis.panels import (
    BELOW_LLOQ_RULES,
    NORMALISATIONS,
    Quantity,
    normalisation_factor,
    normalised_unit,
    panel_heatmap,
    quantify,
    subtract_blank,
    unit_factor,
)
from secretome.analysis.weighting import WEIGHTINGS
from secretome.domain.plate_layout import WellRole, normalise_well
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext
from secretome.methods.kinds._plots import svg
from secretome.methods.kinds._svg import Chart
from secretome.methods.registry import register

ENGINE = "secretome.analysis.doseresponse.CurveFitter + secretome.analysis.panels.quantify"
BLANK_WELL_RULES = ("fit", "subtract", "ignore")
DEFAULT_RESPONSE = {"plate_reader": "absorbance", "multiplex": "median fluorescence"}
BEAD_COUNT = "assay bead count"
BEAD_CV = "coefficient of variation fluorescence"

DEFAULTS: dict[str, Any] = {
    "response": None,
    "wavelength": None,
    "reference_wavelength": None,
    "model": "4pl",
    "weighting": "none",
    "confidence": 0.95,
    "recovery": [80.0, 120.0],
    "max_cv": 20.0,
    "outlier_threshold": 3.0,
    "exclude_outliers": False,
    "blank_wells": "fit",
    "medium_blank": None,
    "below_lloq": "lloq",
    "standards": {},
    "assay_blanks": ["Background", "Background0", "Blank", "BLK"],
    "dilution": 1.0,
    "dilutions": {},
    "min_bead_count": 50,
    "max_bead_cv": None,
    "exclude_flagged_wells": False,
    "concentration_unit": "pg/mL",
    "unit": None,
    "normalisation": "per_ml",
}


def _positive(settings: Mapping[str, Any], name: str, *, allow_none: bool = False) -> float | None:
    value = settings[name]
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name}: must be a positive number, not {value!r}")
    return float(value)


def _choice(settings: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    value = settings[name]
    if value not in choices:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return str(value)


def _concentration_map(raw: Any, name: str) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{name}: must map sample names to concentrations")
    result: dict[str, float] = {}
    for sample, value in raw.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"{name}: the concentration of {sample!r} must be a non-negative number")
        result[str(sample)] = float(value)
    return result


def _qc_samples(raw: Any, analytes: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """QC samples named in the file: sample -> analyte -> nominal concentration in the well (a plain number
    for every analyte when the method measures one)."""
    if not isinstance(raw, Mapping):
        raise ValueError("qc_samples: map each QC sample name to its nominal concentration per analyte")
    checked: dict[str, dict[str, float]] = {}
    for sample, levels in raw.items():
        if not isinstance(levels, Mapping):
            levels = {analyte: levels for analyte in analytes}
        unknown = sorted(set(map(str, levels)) - set(analytes))
        if unknown:
            raise ValueError(
                f"qc_samples: {sample!r} names {unknown[0]!r}, which is not an analyte of the method"
            )
        nominal = _concentration_map(levels, "qc_samples")
        if any(v <= 0 for v in nominal.values()):
            raise ValueError(f"qc_samples: the nominal concentrations of {sample!r} must be positive")
        checked[str(sample)] = nominal
    return checked


def _qc_levels(settings: Mapping[str, Any], analyte: str) -> dict[str, float]:
    return {
        sample: levels[analyte]
        for sample, levels in settings.get("qc_samples", {}).items()
        if analyte in levels
    }


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings completed with defaults; ``ValueError`` naming the setting that is wrong."""
    # qc_samples is optional and not a default: settings stored before it existed complete to the same dict,
    # so their runs recompute to the same result.
    unknown = sorted(set(settings) - set(DEFAULTS) - {"analytes", "qc_samples"})
    if unknown:
        raise ValueError(f"{unknown[0]}: not a setting of the standard-curve kind")
    checked: dict[str, Any] = {**DEFAULTS, **settings}
    analytes = checked.get("analytes")
    if not isinstance(analytes, Mapping) or not analytes:
        raise ValueError(
            "analytes: map each analyte to the specification attribute it reports, e.g. {'VEGF-A': 'vegf'}"
        )
    for analyte, attribute in analytes.items():
        if not str(analyte).strip() or not isinstance(attribute, str) or not attribute.strip():
            raise ValueError(f"analytes: {analyte!r} needs an attribute code")
    checked["analytes"] = {str(k): str(v) for k, v in analytes.items()}
    if checked["response"] is not None and not isinstance(checked["response"], str):
        raise ValueError("response: must name the measured quantity, e.g. 'absorbance'")
    for name in ("wavelength", "reference_wavelength"):
        if checked[name] is not None:
            _positive(checked, name)
    if str(checked["model"]).lower() not in MODEL_CHOICES:
        raise ValueError(f"model: {checked['model']!r} is not one of {', '.join(MODEL_CHOICES)}")
    checked["model"] = str(checked["model"]).lower()
    _choice(checked, "weighting", [w for w in WEIGHTINGS if w != "user"])
    confidence = checked["confidence"]
    if not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ValueError(f"confidence: must lie strictly between 0 and 1, not {confidence!r}")
    recovery = checked["recovery"]
    if not isinstance(recovery, list | tuple) or len(recovery) != 2:
        raise ValueError("recovery: give [low, high] in % of nominal")
    checked["recovery"] = [float(recovery[0]), float(recovery[1])]
    _positive(checked, "max_cv")
    _positive(checked, "outlier_threshold")
    for name in ("exclude_outliers", "exclude_flagged_wells"):
        if not isinstance(checked[name], bool):
            raise ValueError(f"{name}: must be true or false")
    try:
        _rules(checked)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    _choice(checked, "blank_wells", BLANK_WELL_RULES)
    _choice(checked, "below_lloq", BELOW_LLOQ_RULES)
    _choice(checked, "normalisation", NORMALISATIONS)
    if checked["medium_blank"] is not None and not str(checked["medium_blank"]).strip():
        raise ValueError("medium_blank: name the medium-only sample, or leave it out")
    standards = checked["standards"]
    if not isinstance(standards, Mapping):
        raise ValueError("standards: must map sample names (or analytes) to concentrations")
    if standards and all(isinstance(v, Mapping) for v in standards.values()):
        checked["standards"] = {str(a): _concentration_map(m, "standards") for a, m in standards.items()}
    else:
        checked["standards"] = _concentration_map(standards, "standards")
    if "qc_samples" in checked:
        checked["qc_samples"] = _qc_samples(checked["qc_samples"], checked["analytes"])
    if not isinstance(checked["assay_blanks"], list | tuple):
        raise ValueError("assay_blanks: must list the sample names of assay blanks")
    checked["assay_blanks"] = [str(s) for s in checked["assay_blanks"]]
    _positive(checked, "dilution")
    if not isinstance(checked["dilutions"], Mapping):
        raise ValueError("dilutions: must map sample names to dilution factors")
    for sample, factor in checked["dilutions"].items():
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1:
            raise ValueError(f"dilutions: the dilution factor of {sample!r} must be at least 1")
    if not isinstance(checked["min_bead_count"], int | float) or checked["min_bead_count"] < 0:
        raise ValueError("min_bead_count: must be a non-negative number")
    _positive(checked, "max_bead_cv", allow_none=True)
    if not isinstance(checked["concentration_unit"], str) or "/" not in checked["concentration_unit"]:
        raise ValueError("concentration_unit: give the standards' unit, e.g. 'pg/mL'")
    base = normalised_unit(checked["concentration_unit"], checked["normalisation"])
    if checked["unit"] is None:
        checked["unit"] = base
    try:
        unit_factor(base, str(checked["unit"]))
    except ValueError:
        raise ValueError(f"unit: {checked['unit']!r} is not {base!r} with another prefix") from None
    return checked


def _rules(settings: Mapping[str, Any]) -> QuantitationRules:
    return QuantitationRules(
        recovery=(float(settings["recovery"][0]), float(settings["recovery"][1])),
        max_cv=float(settings["max_cv"]),
        outlier_threshold=float(settings["outlier_threshold"]),
        exclude_outliers=bool(settings["exclude_outliers"]),
    )


@dataclass
class _Well:
    well: str
    role: str
    sample: str
    level: float | None
    response: float
    flags: list[str] = field(default_factory=list)
    excluded: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "well": self.well,
            "role": self.role,
            "sample": self.sample,
            "level": self.level,
            "response": self.response if math.isfinite(self.response) else None,
            "flags": list(self.flags),
            "excluded": self.excluded,
        }


def _wavelength_label(value: float) -> str:
    return f"{value:g} nm"


def _plate_responses(inp: MethodInput, settings: Mapping[str, Any]) -> dict[str, float]:
    quantity = settings["response"] or DEFAULT_RESPONSE["plate_reader"]
    rows = [m for m in inp.reading.measurements if m.quantity == quantity and m.well]
    if not rows:
        raise ValueError(f"response: {inp.label} has no {quantity!r} readings")
    labels = sorted({m.analyte for m in rows})
    wanted = settings["wavelength"]
    if wanted is not None:
        label = _wavelength_label(float(wanted))
        if label not in labels:
            raise ValueError(
                f"wavelength: {inp.label} has no reading at {label} (it has {', '.join(labels)})"
            )
    elif len(labels) > 1:
        raise ValueError(f"wavelength: {inp.label} was read at {', '.join(labels)}; name the one to use")
    else:
        label = labels[0]
    responses = {_well_key(m.well): m.value for m in rows if m.analyte == label}
    reference = settings["reference_wavelength"]
    if reference is not None:
        ref_label = _wavelength_label(float(reference))
        correction = {_well_key(m.well): m.value for m in rows if m.analyte == ref_label}
        if not correction:
            raise ValueError(f"reference_wavelength: {inp.label} has no reading at {ref_label}")
        responses = {w: v - correction.get(w, math.nan) for w, v in responses.items()}
    return responses


def _well_key(well: str) -> str:
    try:
        return normalise_well(well)
    except ValueError:
        return well


def _standard_levels(settings: Mapping[str, Any], analyte: str) -> dict[str, float]:
    standards: Mapping[str, Any] = settings["standards"]
    if standards and all(isinstance(v, Mapping) for v in standards.values()):
        return dict(standards.get(analyte, {}))
    return dict(standards)


def _wells_from_layout(
    inp: MethodInput, responses: Mapping[str, float], settings: Mapping[str, Any], analyte: str
) -> list[_Well]:
    assert inp.layout is not None
    levels = _standard_levels(settings, analyte)
    qc_levels = _qc_levels(settings, analyte)
    wells: list[_Well] = []
    for well, assignment in inp.layout.wells.items():
        response = float(responses.get(well, math.nan))
        role = assignment.role
        if role is WellRole.STANDARD:
            level = levels.get(assignment.name, assignment.level)
            wells.append(_Well(well, "standard", assignment.name, level, response))
        elif role is WellRole.BLANK:
            wells.append(_Well(well, "blank", assignment.name or "blank", 0.0, response))
        elif role is WellRole.UNKNOWN:
            dilution = assignment.level if assignment.level is not None else 1.0
            wells.append(_Well(well, "unknown", assignment.name or well, dilution, response))
        elif role is WellRole.QC:
            level = qc_levels.get(assignment.name, assignment.level)
            wells.append(_Well(well, "qc", assignment.name or well, level, response))
        elif role is WellRole.EXCLUDED:
            wells.append(_Well(well, "excluded", assignment.name, None, response, excluded="layout"))
    return wells


def _wells_from_names(inp: MethodInput, settings: Mapping[str, Any], analyte: str) -> list[_Well]:
    quantity = settings["response"] or DEFAULT_RESPONSE["multiplex"]
    levels = _standard_levels(settings, analyte)
    blanks = set(settings["assay_blanks"])
    qc_levels = _qc_levels(settings, analyte)
    dilutions: Mapping[str, float] = settings["dilutions"]
    wells: list[_Well] = []
    for m in inp.reading.measurements:
        if m.quantity != quantity or m.analyte != analyte or not m.well:
            continue
        well = _well_key(m.well)
        if m.sample in levels:
            wells.append(_Well(well, "standard", m.sample, levels[m.sample], m.value))
        elif m.sample in qc_levels:
            wells.append(_Well(well, "qc", m.sample, qc_levels[m.sample], m.value))
        elif m.sample in blanks:
            wells.append(_Well(well, "blank", m.sample, 0.0, m.value))
        else:
            dilution = float(dilutions.get(m.sample, settings["dilution"]))
            wells.append(_Well(well, "unknown", m.sample, dilution, m.value))
    return wells


def _bead_flags(inp: MethodInput, settings: Mapping[str, Any], analyte: str, wells: list[_Well]) -> None:
    counts: dict[str, float] = {}
    spreads: dict[str, float] = {}
    for m in inp.reading.measurements:
        if m.analyte != analyte or not m.well:
            continue
        if m.quantity == BEAD_COUNT:
            counts[_well_key(m.well)] = m.value
        elif m.quantity == BEAD_CV:
            spreads[_well_key(m.well)] = m.value
    minimum = float(settings["min_bead_count"])
    limit = settings["max_bead_cv"]
    for well in wells:
        count = counts.get(well.well)
        if count is not None and math.isfinite(count) and count < minimum:
            well.flags.append("low_bead_count")
        spread = spreads.get(well.well)
        if limit is not None and spread is not None and math.isfinite(spread) and spread > float(limit):
            well.flags.append("bead_cv_over_limit")


@dataclass
class _Curve:
    inp: MethodInput
    analyte: str
    attribute: str
    wells: list[_Well]
    fit: CurveFit
    blank_response: float | None
    samples: dict[str, Quantity]
    medium: Quantity | None
    controls: list[dict[str, Any]] = field(default_factory=list)
    offset: float = 0.0

    @property
    def controls_pass(self) -> bool:
        return all(c["within_limits"] for c in self.controls)


def _analyse_curve(
    inp: MethodInput, analyte: str, settings: Mapping[str, Any], decisions: Decisions
) -> _Curve:
    family = inp.reading.family
    if family == "plate_reader":
        if inp.layout is None:
            raise ValueError(f"layout: {inp.label} ({inp.filename}) has no plate layout")
        wells = _wells_from_layout(inp, _plate_responses(inp, settings), settings, analyte)
    elif family == "multiplex":
        if analyte not in inp.reading.analytes:
            raise ValueError(
                f"analytes: {analyte!r} is not in {inp.label} (it has {', '.join(inp.reading.analytes)})"
            )
        if inp.layout is not None:
            quantity = settings["response"] or DEFAULT_RESPONSE["multiplex"]
            responses = {
                _well_key(m.well): m.value
                for m in inp.reading.measurements
                if m.quantity == quantity and m.analyte == analyte and m.well
            }
            wells = _wells_from_layout(inp, responses, settings, analyte)
        else:
            wells = _wells_from_names(inp, settings, analyte)
        _bead_flags(inp, settings, analyte, wells)
    else:
        raise ValueError(
            f"inputs: {inp.label} is a {family} file; the standard-curve kind reads plate readers and multiplex"
        )
    for well in wells:
        reason = decisions.excluded.get(f"{inp.import_id}:{well.well}")
        if reason is not None and well.excluded is None:
            well.excluded = reason
        elif settings["exclude_flagged_wells"] and well.flags and well.excluded is None:
            well.excluded = "flagged: " + ", ".join(well.flags)
        if well.excluded is None and not math.isfinite(well.response):
            well.excluded = "no reading"
    usable = [w for w in wells if w.excluded is None]
    blank_values = [w.response for w in usable if w.role == "blank"]
    blank_rule = settings["blank_wells"]
    offset = 0.0
    blank_response = float(np.mean(blank_values)) if blank_values else None
    if blank_rule == "subtract" and blank_response is not None:
        offset = blank_response
    points = [w for w in usable if w.role == "standard" or (w.role == "blank" and blank_rule == "fit")]
    if not points:
        raise ValueError(f"standards: {inp.label} has no usable standard for {analyte}")
    # The outlier rule is applied here, well by well, rather than inside the fitter: a standard it leaves out
    # is listed with its reason like any excluded well, and one the analyst decided to keep stays in.
    rules = replace(_rules(settings), exclude_outliers=False)
    fitter = CurveFitter(
        settings["model"], settings["weighting"], confidence=float(settings["confidence"]), rules=rules
    )

    def fit_points(chosen: list[_Well]) -> CurveFit:
        try:
            return fitter.fit([float(w.level or 0.0) for w in chosen], [w.response - offset for w in chosen])
        except ValueError as exc:
            raise ValueError(f"standards: {analyte} on {inp.label}: {exc}") from None

    fit = fit_points(points)
    if settings["exclude_outliers"] and fit.outliers:
        dropped = []
        for index in fit.outliers:
            well = points[index]
            if f"{inp.import_id}:{well.well}" in decisions.kept:
                continue
            residual = fit.studentized_residuals[index]
            well.excluded = (
                f"outlier rule: |studentized residual| {abs(residual):.2f} > {rules.outlier_threshold:g}"
            )
            dropped.append(well)
        if dropped:
            points = [w for w in points if w.excluded is None]
            usable = [w for w in usable if w.excluded is None]
            fit = fit_points(points)
    groups: dict[str, dict[float, list[float]]] = {}
    for w in usable:
        if w.role == "unknown":
            groups.setdefault(w.sample, {}).setdefault(float(w.level or 1.0), []).append(w.response - offset)
    samples = {
        sample: quantify(fit, sorted(by_dilution.items()), sample=sample, below_lloq=settings["below_lloq"])
        for sample, by_dilution in sorted(groups.items())
    }
    medium: Quantity | None = None
    medium_name = settings["medium_blank"]
    if medium_name is not None:
        if medium_name not in samples:
            raise ValueError(
                f"medium_blank: {inp.label} has no usable well of sample {medium_name!r} for {analyte}"
            )
        medium = samples.pop(medium_name)
        samples = {name: subtract_blank(q, medium) for name, q in samples.items()}
    attribute = settings["analytes"][analyte]
    controls = _qc_controls(fit, usable, offset)
    return _Curve(inp, analyte, attribute, wells, fit, blank_response, samples, medium, controls, offset)


def _qc_controls(fit: CurveFit, usable: list[_Well], offset: float) -> list[dict[str, Any]]:
    """QC controls of known concentration (layout role ``qc``): back-calculated recovery against the
    method's recovery limits. A control out of its limits flags every value of the curve."""
    groups: dict[str, list[_Well]] = {}
    for well in usable:
        if well.role == "qc" and well.level:
            groups.setdefault(well.sample, []).append(well)
    low, high = fit.rules.recovery
    controls = []
    for name, members in sorted(groups.items()):
        nominal = float(members[0].level or 0.0)
        found = float(fit.concentration(float(np.mean([w.response - offset for w in members]))))
        recovery = 100.0 * found / nominal if math.isfinite(found) else None
        controls.append(
            {
                "name": name,
                "wells": [w.well for w in members],
                "nominal": nominal,
                "found": found if math.isfinite(found) else None,
                "recovery": recovery,
                "within_limits": recovery is not None and low <= recovery <= high,
            }
        )
    return controls


def _plate_analytes(inp: MethodInput, settings: Mapping[str, Any]) -> list[str]:
    analytes = list(settings["analytes"])
    if inp.reading.family == "plate_reader" and len(analytes) != 1:
        raise ValueError(
            f"analytes: a plate-reader plate measures one analyte; {inp.label} was given {', '.join(analytes)}"
        )
    return analytes


def _lot_for(sample: str, samples: Sequence[str], context: RunContext) -> str | None:
    lot = context.lot_of(sample)
    if lot is None and context.default_lot is not None and len(samples) == 1:
        return context.default_lot
    return lot


def _factor(settings: Mapping[str, Any], lot: str, context: RunContext) -> float:
    normalisation = settings["normalisation"]
    base = normalised_unit(settings["concentration_unit"], normalisation)
    scale = unit_factor(base, settings["unit"])
    if normalisation in ("per_ml", "none"):
        return scale
    lot_context = context.lots.get(lot)
    if lot_context is None:
        raise ValueError(f"normalisation: {normalisation} needs the conditioning record of lot {lot}")
    try:
        factor = normalisation_factor(
            normalisation,
            volume_ml=lot_context.volume_ml,
            viable_cells=lot_context.viable_cells,
            hours=lot_context.hours,
            protein_ug_per_ml=lot_context.protein_ug_per_ml,
        )
    except ValueError as exc:
        raise ValueError(f"normalisation: lot {lot}: {exc}") from None
    return factor * scale


def _combine(quantities: list[Quantity]) -> Quantity:
    if len(quantities) == 1:
        return quantities[0]
    exact = [q for q in quantities if q.qualifier == "=" and q.value is not None]
    pool = exact or [q for q in quantities if q.value is not None] or quantities
    first = pool[0]
    if not exact:
        return Quantity(
            first.sample,
            first.value,
            first.qualifier,
            None,
            first.interval,
            flags=(*first.flags, "several_plates"),
        )
    values = np.array([q.value for q in exact], dtype=float)
    errors = np.array([q.se if q.se is not None else math.nan for q in exact], dtype=float)
    se = float(np.sqrt(np.sum(errors**2)) / values.size)
    flags = (*dict.fromkeys(f for q in exact for f in q.flags), "several_plates")
    return Quantity(
        first.sample, float(values.mean()), "=", se if math.isfinite(se) else None, None, flags=flags
    )


def _shown_dose(fit: CurveFit) -> tuple[np.ndarray[Any, Any], float]:
    """Doses as drawn on the log axis: blanks (dose 0) at half the lowest standard."""
    positive = fit.dose[fit.dose > 0]
    edge = float(positive.min()) / 2 if positive.size else 1.0
    return np.where(fit.dose > 0, fit.dose, edge), edge


def _plot_curve(curve: _Curve, unit: str) -> tuple[str, str]:
    """Standards, the fitted curve with its confidence and prediction bands, LLOQ/ULOQ, each sample's mean
    reading at its back-calculated concentration, and the wells left out, greyed."""
    fit = curve.fit
    shown, edge = _shown_dose(fit)
    positive = fit.dose[fit.dose > 0]
    grid = np.geomspace(edge, float(positive.max()) * 2, 120)
    bands = fit.bands(grid)
    title = f"{curve.analyte}, {curve.inp.label}: {fit.model.upper()}, weighting {fit.weighting}"
    chart = Chart(title, f"concentration ({unit})", "response")
    chart.band(grid, bands["prediction_low"], bands["prediction_high"], "#1f77b4", 0.10, "prediction band")
    chart.band(grid, bands["confidence_low"], bands["confidence_high"], "#1f77b4", 0.25, "confidence band")
    chart.line(grid, bands["fit"], "#1f77b4", f"{fit.model.upper()} fit")
    used = ~fit.excluded
    blank = fit.dose == 0
    chart.points(shown[used & ~blank], fit.response[used & ~blank], "black", "standards")
    if np.any(used & blank):
        chart.points(
            shown[used & blank], fit.response[used & blank], "grey", "blanks (dose 0, at left)", "square"
        )
    if np.any(~used):
        chart.points(shown[~used], fit.response[~used], "#d62728", "left out by the outlier rule", "cross")
    qc = [w for w in curve.wells if w.role == "qc" and w.excluded is None and w.level]
    if qc:
        chart.points(
            [float(w.level or 0.0) for w in qc],
            [w.response for w in qc],
            "#9467bd",
            "QC controls (nominal)",
            "square",
        )
    xs, ys, names = [], [], []
    for sample, quantity in curve.samples.items():
        for reading in quantity.readings:
            if reading.concentration is not None:
                xs.append(reading.concentration / reading.dilution)
                ys.append(float(np.mean(reading.responses)))
                names.append(f"{sample} {quantity.text()}")
    if xs:
        chart.points(xs, ys, "#ff7f0e", "samples (mean, back-calculated)", "diamond", names)
    gx, gy, gnames = [], [], []
    for well in curve.wells:
        if well.excluded is None or not math.isfinite(well.response):
            continue
        if well.role in ("standard", "blank"):
            x = float(well.level) if well.level else edge
        else:
            x = float(fit.concentration(well.response))
            if not math.isfinite(x) or x <= 0:
                continue
        gx.append(x)
        gy.append(well.response)
        gnames.append(f"{well.well} left out")
    if gx:
        chart.points(gx, gy, "#999999", "wells left out", "hollow", gnames)
    for limit, name in ((fit.lloq, "LLOQ"), (fit.uloq, "ULOQ")):
        if limit is not None:
            chart.vline(float(limit), "#2ca02c", name)
    return f"{curve.analyte} standard curve ({curve.inp.label})", chart.render()


def _plot_residuals(curve: _Curve, unit: str) -> tuple[str, str]:
    fit = curve.fit
    shown, _ = _shown_dose(fit)
    used = ~fit.excluded  # the fitter's own exclusions (none: the outlier rule is applied well by well)
    residuals = fit.residuals()
    chart = Chart(
        f"{curve.analyte} residuals ({curve.inp.label})",
        f"concentration ({unit})",
        "observed - fitted",
        height=260.0,
    )
    chart.hline(0.0, "#888888")
    chart.points(shown[used], residuals[used], "black", "standards")
    left_out = [
        w
        for w in curve.wells
        if w.role == "standard" and w.excluded is not None and w.level and math.isfinite(w.response)
    ]
    if left_out:
        chart.points(
            [float(w.level or 0.0) for w in left_out],
            [w.response - curve.offset - float(fit.predict(float(w.level or 0.0))) for w in left_out],
            "#999999",
            "standards left out",
            "hollow",
            [w.well for w in left_out],
        )
    return f"{curve.analyte} residuals ({curve.inp.label})", chart.render()


def _quantity_dict(q: Quantity) -> dict[str, Any]:
    return q.to_dict()


class StandardCurveKind:
    """Quantitation against standard curves (ELISA plates, multiplex panels)."""

    name = "standard-curve"
    title = "Standard-curve quantitation (ELISA, multiplex panels)"
    input_families: tuple[str, ...] = ("plate_reader", "multiplex")

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
        if not inputs:
            raise ValueError("inputs: the standard-curve kind needs at least one plate or multiplex import")
        curves = [
            _analyse_curve(inp, analyte, checked, decisions)
            for inp in inputs
            for analyte in _plate_analytes(inp, checked)
        ]
        unit = checked["unit"]
        concentration_unit = checked["concentration_unit"]
        reported_rows: list[dict[str, Any]] = []
        gathered: dict[tuple[str, str], list[Quantity]] = {}
        wells_of: dict[tuple[str, str], list[str]] = {}
        well_flags: dict[tuple[str, str], list[str]] = {}
        for curve in curves:
            names = sorted(curve.samples)
            for sample, quantity in curve.samples.items():
                lot = _lot_for(sample, names, context)
                row: dict[str, Any] = {
                    "input": curve.inp.import_id,
                    "analyte": curve.analyte,
                    "attribute": curve.attribute,
                    "sample": sample,
                    "lot": lot,
                    "per_ml": _quantity_dict(quantity),
                }
                if lot is not None:
                    normalised = quantity.scaled(_factor(checked, lot, context))
                    row["reported"] = _quantity_dict(normalised)
                    row["unit"] = unit
                    gathered.setdefault((lot, curve.analyte), []).append(normalised)
                    used = [
                        w
                        for w in curve.wells
                        if w.sample == sample and w.role == "unknown" and w.excluded is None
                    ]
                    wells_of.setdefault((lot, curve.analyte), []).extend(
                        f"{curve.inp.import_id}:{w.well}" for w in used
                    )
                    well_flags.setdefault((lot, curve.analyte), []).extend(f for w in used for f in w.flags)
                reported_rows.append(row)
        reportables: list[Reportable] = []
        fingerprint: dict[str, dict[str, Any]] = {}
        curve_flags = {
            c.analyte: (*c.fit.flags, *(() if c.controls_pass else ("qc_out_of_limits",))) for c in curves
        }
        unreported: list[str] = []
        for (lot, analyte), quantities in sorted(gathered.items()):
            quantity = _combine(quantities)
            serious = [
                f
                for f in curve_flags.get(analyte, ())
                if f in ("not_converged", "no_quantitation_range", "qc_out_of_limits")
            ]
            flags = tuple(dict.fromkeys((*quantity.flags, *well_flags[(lot, analyte)], *serious)))
            if quantity.value is None:
                # Nothing to report (no quantitation range and the reading beyond the asymptotes): the run
                # says so instead of carrying an empty value to the lot.
                unreported.append(f"{lot}: {analyte} not reportable")
                continue
            reportables.append(
                Reportable(
                    lot=lot,
                    attribute=checked["analytes"][analyte],
                    value=quantity.value,
                    unit=unit,
                    qualifier=quantity.qualifier,
                    interval=quantity.interval,
                    inputs=tuple(wells_of[(lot, analyte)]),
                    flags=flags,
                )
            )
            entry = fingerprint.setdefault(
                lot, {"normalisation": checked["normalisation"], "unit": unit, "values": {}, "qualifiers": {}}
            )
            entry["values"][analyte] = quantity.value
            entry["qualifiers"][analyte] = quantity.qualifier
        plots: list[tuple[str, str]] = []
        for curve in curves:
            plots.append(_plot_curve(curve, concentration_unit))
            plots.append(_plot_residuals(curve, concentration_unit))
        heatmap = None
        if fingerprint and len(checked["analytes"]) > 1:
            heatmap = panel_heatmap(
                {lot: entry["values"] for lot, entry in fingerprint.items()},
                {lot: entry["qualifiers"] for lot, entry in fingerprint.items()},
                unit=unit,
            )
            plots.append(("panel heat-map", svg(heatmap.plot())))
        excluded: dict[str, str] = {}
        used_wells: set[str] = set()
        for curve in curves:
            for well in curve.wells:
                key = f"{curve.inp.import_id}:{well.well}"
                if well.excluded is not None and well.excluded != "no reading":
                    excluded[key] = well.excluded
                elif well.excluded is None:
                    used_wells.add(key)
        outcome_flags = sorted({f"{c.analyte}: {flag}" for c in curves for flag in c.fit.flags})
        outcome_flags += [
            f"{c.analyte}: QC {q['name']} recovery "
            + (f"{q['recovery']:.1f} %" if q["recovery"] is not None else "not readable")
            + " outside the limits"
            for c in curves
            for q in c.controls
            if not q["within_limits"]
        ]
        result = {
            "settings": checked,
            "curves": [
                {
                    "input": c.inp.import_id,
                    "sha256": c.inp.sha256,
                    "analyte": c.analyte,
                    "attribute": c.attribute,
                    "fit": c.fit.to_dict(),
                    "blank_wells_mean_response": c.blank_response,
                    "medium_blank": None if c.medium is None else c.medium.to_dict(),
                    "qc_controls": c.controls,
                    "wells": [w.to_dict() for w in c.wells],
                    "samples": {name: q.to_dict() for name, q in c.samples.items()},
                }
                for c in curves
            ],
            "reported": reported_rows,
            "fingerprint": fingerprint,
            "heatmap": None if heatmap is None else heatmap.to_dict(),
            "decisions": decisions.to_dict(),
        }
        return KindOutcome(
            engine=ENGINE,
            result=_json_ready(result),
            reportables=tuple(reportables),
            flags=(*outcome_flags, *unreported),
            plots=tuple(plots),
            used=tuple(sorted(used_wells)),
            excluded=dict(sorted(excluded.items())),
        )


def _json_ready(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


KIND = register(StandardCurveKind())
