"""The ``angiogenesis`` kind: tube formation (Angiogenesis Analyzer for ImageJ) -> % of the VEGF control, RP.

Input: an ``imagej-angiogenesis`` table (one row per image/well). Images are grouped by the ``images``
setting (well or image name -> group) or by their sample, the image name without a replicate suffix
(``MSC-CM-001_2`` -> ``MSC-CM-001``, see the reader); the groups named ``positive_control`` (VEGF) and ``negative_control`` (basal medium) are the
controls, ``reference`` a reference lot. See :mod:`secretome.analysis.assays.angiogenesis`.

Optional ``chart_controls: true``: the control chart follows the positive control's mean response and the
reference lot's % of it, run after run (:mod:`secretome.methods.controls`); nothing else changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from secretome.analysis.assays.angiogenesis import BASELINES, analyse_tube_formation
from secretome.instruments.assay_tables import ANGIOGENESIS_COLUMNS
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext
from secretome.methods.controls import control_settings
from secretome.methods.kinds._common import choice, complete, json_ready, lot_for, text
from secretome.methods.kinds._plots import svg
from secretome.methods.registry import register

ENGINE = "secretome.analysis.assays.angiogenesis.analyse_tube_formation"
METRICS = tuple(sorted({quantity for quantity, _ in ANGIOGENESIS_COLUMNS.values()}))
DEFAULTS: dict[str, Any] = {
    "metric": "total tube length",
    "positive_control": "VEGF",
    "negative_control": "basal",
    "baseline": "none",
    "reference": None,
    "report": "percent_of_positive",
    "rp_attribute": None,
    "images": {},
}


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    rest, controls = control_settings(settings)
    checked = complete(rest, DEFAULTS, ("attribute",), "angiogenesis")
    choice(checked, "metric", METRICS)
    choice(checked, "baseline", BASELINES)
    choice(checked, "report", ("percent_of_positive", "relative_potency"))
    text(checked, "positive_control")
    text(checked, "negative_control", optional=True)
    text(checked, "reference", optional=True)
    text(checked, "rp_attribute", optional=True)
    if not isinstance(checked["images"], Mapping):
        raise ValueError("images: must map image names to groups")
    if checked["report"] == "relative_potency" and checked["reference"] is None:
        raise ValueError("reference: relative potency needs the reference lot's group")
    checked.update(controls)
    return checked


def group_of(well: str, sample: str, images: Mapping[str, str]) -> str:
    """The group of an image: the ``images`` setting (by well or image name), else the image's sample."""
    return str(images[well]) if well in images else sample


class AngiogenesisKind:
    """Tube formation relative to the VEGF positive control."""

    name = "angiogenesis"
    title = "Angiogenesis (tube formation, % of VEGF control)"
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
        groups: dict[str, list[float]] = {}
        keys: dict[str, list[str]] = {}
        excluded: dict[str, str] = {}
        for inp in inputs:
            if inp.reading.format != "imagej-angiogenesis":
                raise ValueError(f"inputs: {inp.label} is not an Angiogenesis Analyzer table")
            for m in inp.reading.measurements:
                if m.quantity != checked["metric"]:
                    continue
                key = f"{inp.import_id}:{m.well or m.sample}"
                reason = decisions.excluded.get(key)
                if reason is not None:
                    excluded[key] = reason
                    continue
                if not math.isfinite(m.value):
                    continue
                group = group_of(m.well, m.sample, checked["images"])
                groups.setdefault(group, []).append(m.value)
                keys.setdefault(group, []).append(key)
        if not groups:
            raise ValueError(f"metric: no {checked['metric']!r} values in the inputs")
        negative = checked["negative_control"] if checked["negative_control"] in groups else None
        result = analyse_tube_formation(
            groups,
            positive=checked["positive_control"],
            negative=negative,
            reference=checked["reference"],
            baseline=checked["baseline"],
            metric=checked["metric"],
        )
        controls = {checked["positive_control"], negative, checked["reference"]}
        samples = sorted(g for g in groups if g not in controls)
        reportables: list[Reportable] = []
        for name in samples:
            lot = lot_for(name, samples, context)
            if lot is None:
                continue
            outcome_group = result.groups[name]
            inputs_used = tuple(sorted(keys[name] + keys[checked["positive_control"]]))
            flags = () if len(outcome_group.values) > 1 else ("single_well",)
            if checked["report"] == "percent_of_positive":
                ratio = outcome_group.percent_of_positive
                interval = (
                    (ratio.low, ratio.high) if ratio.low is not None and ratio.high is not None else None
                )
                reportables.append(
                    Reportable(
                        lot,
                        checked["attribute"],
                        ratio.value,
                        "%",
                        interval=interval,
                        inputs=inputs_used,
                        flags=flags,
                    )
                )
            rp_attribute = (
                checked["attribute"] if checked["report"] == "relative_potency" else checked["rp_attribute"]
            )
            if rp_attribute and outcome_group.relative_potency is not None:
                rp = outcome_group.relative_potency
                interval = (rp.low, rp.high) if rp.low is not None and rp.high is not None else None
                reportables.append(
                    Reportable(
                        lot, rp_attribute, rp.value, "", interval=interval, inputs=inputs_used, flags=flags
                    )
                )
        payload = {"settings": checked, **result.to_dict(), "decisions": decisions.to_dict()}
        return KindOutcome(
            engine=ENGINE,
            result=json_ready(payload),
            reportables=tuple(reportables),
            plots=(("tube formation, % of positive control", svg(result.plot())),),
            used=tuple(sorted(k for ks in keys.values() for k in ks)),
            excluded=dict(sorted(excluded.items())),
        )


KIND = register(AngiogenesisKind())
