"""The ``relative-potency`` kind: a plate with the reference standard and test preparations (one per lot)
through the potency engine (parallel 4PL/5PL curves or parallel lines), relative potency with its limits."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from secretome.analysis.potency import (
    EquivalenceMargins,
    ParallelCurveAssay,
    ParallelLineAssay,
    SuitabilityCriteria,
)
from secretome.domain.plate_layout import layout_tables
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext, json_number
from secretome.methods.controls import declared_controls
from secretome.methods.registry import register
from secretome.methods.svg import figure_svg

MODELS = ("4pl", "5pl", "parallel-line")
SIMILARITY = ("equivalence", "f-test")
SCALES = ("percent", "ratio")


def well_responses(item: MethodInput, quantity: str | None) -> tuple[str, dict[str, float]]:
    """The quantity read per well (first value of each well, in file order); the quantity defaults to the
    file's first."""
    measurements = item.reading.measurements
    if not measurements:
        raise ValueError(f"{item.filename}: the file has no measurements")
    chosen = quantity or measurements[0].quantity
    responses: dict[str, float] = {}
    for m in measurements:
        if m.quantity == chosen and m.well and m.well not in responses:
            responses[m.well] = m.value
    if not responses:
        raise ValueError(f"response_quantity: {item.filename} has no {chosen!r} values by well")
    return chosen, responses


class RelativePotencyKind:
    name = "relative-potency"
    title = "Relative potency (parallel curves or lines)"
    input_families = ("plate_reader",)

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = {
            "attribute": "potency",
            "reference": "REF",
            "model": "4pl",
            "similarity": "equivalence",
            "margins": None,
            "suitability": None,
            "response_quantity": None,
            "scale": "percent",
            "ci_level": 0.95,
            "control_preparations": [],
        }
        unknown = set(settings) - set(checked)
        if unknown:
            raise ValueError(
                f"{sorted(unknown)[0]}: not a setting of {self.name} (known: {', '.join(checked)})"
            )
        checked.update(settings)
        if not isinstance(checked["attribute"], str) or not checked["attribute"]:
            raise ValueError("attribute: the specification attribute code the relative potency reports")
        if not isinstance(checked["reference"], str) or not checked["reference"]:
            raise ValueError("reference: the preparation name of the reference standard on the plate")
        if checked["model"] not in MODELS:
            raise ValueError(f"model: {checked['model']!r} is not one of {', '.join(MODELS)}")
        if checked["similarity"] not in SIMILARITY:
            raise ValueError(f"similarity: {checked['similarity']!r} is not one of {', '.join(SIMILARITY)}")
        if checked["scale"] not in SCALES:
            raise ValueError(f"scale: {checked['scale']!r} is not one of {', '.join(SCALES)}")
        level = checked["ci_level"]
        if not isinstance(level, int | float) or not 0.5 < float(level) < 1:
            raise ValueError(f"ci_level: {level!r} must lie between 0.5 and 1")
        controls = checked["control_preparations"]
        if not isinstance(controls, list | tuple) or not all(
            isinstance(c, str) and c.strip() for c in controls
        ):
            raise ValueError(
                "control_preparations: list the preparation names of the assay controls, e.g. ['CTRL']"
            )
        if checked["reference"] in controls:
            raise ValueError("control_preparations: the reference standard is not an assay control of itself")
        if len(set(controls)) != len(controls):
            raise ValueError("control_preparations: a preparation is named twice")
        checked["control_preparations"] = list(controls)
        if checked["margins"] is not None:
            EquivalenceMargins.from_mapping(checked["margins"])
        if checked["suitability"] is not None:
            SuitabilityCriteria.from_mapping(checked["suitability"])
        return checked

    def analyse(
        self,
        inputs: Sequence[MethodInput],
        settings: Mapping[str, Any],
        decisions: Decisions,
        context: RunContext,
    ) -> KindOutcome:
        if len(inputs) != 1:
            raise ValueError(f"inputs: {self.name} analyses one plate per run, not {len(inputs)}")
        item = inputs[0]
        if item.layout is None:
            raise ValueError(
                f"layout: {item.filename} has no plate layout (name one on the method or the import)"
            )
        quantity, responses = well_responses(item, settings.get("response_quantity"))
        kept = {w: v for w, v in responses.items() if not decisions.is_excluded(item.import_id, w)}
        excluded = {k: v for k, v in decisions.excluded.items() if k.startswith(f"{item.import_id}:")}
        table = layout_tables(item.layout, kept).potency
        reference = str(settings["reference"])
        if reference not in table.preparation:
            raise ValueError(f"reference: no preparation {reference!r} on the plate layout")
        declared = declared_controls(settings)
        on_plate = {p for p in table.preparation if p != reference}
        controls = [c for c in declared if c in on_plate]
        tests = sorted(on_plate - set(controls))
        if not tests and not controls:
            raise ValueError("the plate has no test preparation beside the reference")
        margins = EquivalenceMargins.from_mapping(settings["margins"]) if settings.get("margins") else None
        criteria = (
            SuitabilityCriteria.from_mapping(settings["suitability"]) if settings.get("suitability") else None
        )
        model = str(settings["model"])
        level = float(settings["ci_level"])
        if model == "parallel-line":
            assay: Any = ParallelLineAssay(
                reference, transform="log", similarity=settings["similarity"], margins=margins, ci_level=level
            )
            result = assay.fit(table.preparation, table.dose, table.response)
        else:
            # The first assay control on the plate is the engine's system-suitability control (its RP is
            # judged against suitability.control_relative_potency, and it is no sample to judge).
            assay = ParallelCurveAssay(
                reference,
                model=model,
                similarity=settings["similarity"],
                margins=margins,
                suitability=criteria,
                ci_level=level,
                control=controls[0] if controls else None,
            )
            result = assay.fit(table.preparation, table.dose, table.response)
        factor = 100.0 if settings["scale"] == "percent" else 1.0
        unit = "%" if settings["scale"] == "percent" else ""
        reportables = []
        flags: list[str] = []
        if not result.valid:
            flags.append("assay not valid: see validity and suitability")
        for name in tests:
            lot = context.lot_of(name) or (context.default_lot if len(tests) == 1 else None)
            if lot is None:
                flags.append(f"preparation {name!r} names no lot: not reported")
                continue
            estimate = result.potency(name)
            low, high = estimate.ci.low, estimate.ci.high
            interval = None
            if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
                interval = (low * factor, high * factor)
            wells = tuple(
                f"{item.import_id}:{w}"
                for w, p in zip(table.wells, table.preparation, strict=True)
                if p in (name, reference)
            )
            reportables.append(
                Reportable(
                    lot=lot,
                    attribute=str(settings["attribute"]),
                    value=json_number(estimate.relative_potency * factor),
                    unit=unit,
                    interval=interval,
                    inputs=wells,
                    flags=() if result.valid else ("assay not valid",),
                )
            )
        payload = result.to_dict()
        payload["response_quantity"] = quantity
        payload["wells"] = list(table.wells)
        if declared:
            # Only methods that declare assay controls carry the key, so runs stored before recompute as they were.
            payload["assay_controls"] = [
                _control_entry(result.potency(name), name, factor, unit, item, table) for name in controls
            ]
            missing = [c for c in declared if c not in on_plate]
            if missing:
                flags.append(f"assay control {', '.join(missing)} not on the plate")
        plots = (
            ("Reference and test preparations", figure_svg(result.plot)),
            ("Residuals", figure_svg(result.plot_residuals, size=(6.0, 3.0))),
        )
        return KindOutcome(
            engine=f"{type(assay).__module__}.{type(assay).__name__}",
            result=payload,
            reportables=tuple(reportables),
            flags=tuple(flags),
            plots=plots,
            used=tuple(f"{item.import_id}:{w}" for w in table.wells),
            excluded=excluded,
        )


def _control_entry(
    estimate: Any, name: str, factor: float, unit: str, item: MethodInput, table: Any
) -> dict[str, Any]:
    """An assay control's relative potency as the run stores it: value and limits on the method's scale."""
    low, high = estimate.ci.low, estimate.ci.high
    return {
        "name": name,
        "relative_potency": json_number(estimate.relative_potency * factor),
        "ci_low": json_number(low * factor) if low is not None else None,
        "ci_high": json_number(high * factor) if high is not None else None,
        "ci_level": estimate.ci.level,
        "unit": unit,
        "input": item.import_id,
        "wells": [w for w, p in zip(table.wells, table.preparation, strict=True) if p == name],
    }


register(RelativePotencyKind())

__all__ = ["RelativePotencyKind", "well_responses"]
