"""The MISEV2023 reporting checklist of a lot, answered from its stored records (read-only).

A lot's conditioned medium is the EV preparation. Each checklist item of
:data:`secretome.domain.misev.MISEV2023_CHECKLIST` is answered from one kind of record, and the answer names
that record so a reader can open it:

- the accepted ``nta`` analysis run behind the lot's current results: particle concentration with the
  instrument settings of its import, and the single-particle method;
- the current ``protein`` result: total protein (and with the particles, their ratio);
- the current ``ev-<marker>`` results (``ev-cd9``, ``ev-cd63``, ``ev-cd81``, ``ev-tsg101``, ``ev-alix``,
  ``ev-calnexin``, ``ev-apoa1``) read as detected / not detected: the marker classes;
- the genealogy: producer cells (donation, tissue source, passage), culture and conditioning (the
  conditioning run and its recipe), cell number and viability at harvest (the lot), clearing and
  separation (the lot's processing steps) and storage (the lot);
- the specification's attribute names: whether the generic term "EV" is used.

An item whose record is absent is missing, and ``notes`` says what would answer it. Some items ask for
facts the system does not store at all (storage of the conditioned medium before processing, imaging of
single vesicles, deposition); they stay missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from secretome.db.analyses.models import AnalysisRun, RunStatus
from secretome.db.genealogy.models import Lot, ProcessingStep, StepKind
from secretome.db.quality.models import Result
from secretome.domain.misev import (
    MARKERS,
    MISEV2023_CHECKLIST,
    MarkerPanel,
    MarkerResult,
    MisevReport,
    misev_report,
)
from secretome.services.release.lots import current_results, disposition_of, get_lot

#: Attribute code of each marker's result: ``ev-`` and the marker in lower case.
MARKER_ATTRIBUTES: dict[str, str] = {f"ev-{marker.lower()}": marker for marker in MARKERS}
#: Attribute code of the lot's total protein (µg/mL).
PROTEIN_ATTRIBUTE = "protein"
#: Attribute code of a particle concentration entered without an NTA run.
CONCENTRATION_ATTRIBUTE = "ev-concentration"

_DETECTED = frozenset({"detected", "positive", "present", "+", "yes"})
_NOT_DETECTED = frozenset({"not detected", "negative", "absent", "-", "no"})
_PROTEIN_SCALE = {"µg/ml": 1.0, "ug/ml": 1.0, "mg/ml": 1000.0, "mg/l": 1.0, "ng/ml": 0.001}

#: Items no record of the system can answer, and why.
NOT_STORED: dict[str, str] = {
    "preanalytics.storage": "the system records when the conditioned medium was harvested and processed, "
    "not how it was held in between",
    "single.imaging": "the system has no record type for electron or atomic-force microscopy of vesicles",
    "deposition": "deposition in EV-TRACK or a data repository is not recorded",
}


@dataclass(frozen=True)
class Source:
    """The stored record an answer comes from.

    ``kind`` is ``"analysis run"`` (``reference`` is the run number), ``"result"`` (the result id),
    ``"genealogy"`` (the lot number; ``label`` names the record) or ``"specification"``.
    """

    kind: str
    reference: str
    label: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "reference": self.reference, "label": self.label}


@dataclass(frozen=True)
class LotMisev:
    """A lot's checklist, where each answer came from, and why each missing item is missing."""

    lot: str
    report: MisevReport
    sources: Mapping[str, tuple[Source, ...]] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    nta_run: str | None = None
    ev_results: tuple[int, ...] = ()

    @property
    def has_ev_data(self) -> bool:
        """Whether the lot has an accepted NTA run or any current ``ev-*`` result."""
        return self.nta_run is not None or bool(self.ev_results)

    def to_dict(self) -> dict[str, Any]:
        report = self.report
        items = []
        for item in report.checklist:
            answered = report.answered(item.code)
            items.append(
                {
                    "code": item.code,
                    "section": item.section,
                    "text": item.text,
                    "required": item.required,
                    "answered": answered,
                    "answer": report.answers.get(item.code, "") if answered else "",
                    "sources": [s.to_dict() for s in self.sources.get(item.code, ())] if answered else [],
                    "note": "" if answered else self.notes.get(item.code, ""),
                }
            )
        return {
            "lot": self.lot,
            "has_ev_data": self.has_ev_data,
            "nta_run": self.nta_run,
            "completeness": report.completeness,
            "answered": sum(report.answered(i.code) for i in report.required_items),
            "required": len(report.required_items),
            "items": items,
            "missing": [item.code for item in report.missing],
        }


def _number(text: str) -> float | None:
    try:
        value = float(Decimal(text))
    except (InvalidOperation, ValueError):
        return None
    return value if math.isfinite(value) else None


def _g(value: float) -> str:
    return f"{value:g}"


def _nta_run(results: Mapping[str, Result]) -> AnalysisRun | None:
    """The latest accepted ``nta`` run behind one of the lot's current results."""
    run_ids = {r.analysis_run_id for r in results.values() if r.analysis_run_id is not None}
    if not run_ids:
        return None
    return (
        AnalysisRun.objects.select_related("method")
        .prefetch_related("inputs__instrument_import")
        .filter(pk__in=run_ids, method__kind="nta", status=RunStatus.ACCEPTED)
        .order_by("-accepted_at", "-pk")
        .first()
    )


def _instrument_settings(run: AnalysisRun) -> str:
    """The NTA acquisition settings the run's imports recorded (camera level, threshold, temperature)."""
    parts = []
    for run_input in run.inputs.order_by("position"):
        record = run_input.instrument_import
        metadata = record.metadata or {}
        shown = []
        for key, label in (
            ("Camera Level", "camera level"),
            ("Detection Threshold", "detection threshold"),
            ("Temperature/C", "temperature (°C)"),
        ):
            # The reader keeps one value per video; one value is shown when every video used the same.
            raw = metadata.get(key)
            values = raw if isinstance(raw, list) else [raw]
            distinct = list(dict.fromkeys(str(v) for v in values if v not in (None, "")))
            if distinct:
                shown.append(f"{label} {' / '.join(distinct)}")
        software = " ".join(x for x in (record.software, record.software_version) if x)
        head = record.instrument + (f" ({software})" if software else "")
        parts.append(f"{head}: {', '.join(shown)}" if shown else head)
    return "; ".join(parts)


def _marker_finding(result: Result) -> bool | None:
    text = " ".join((result.finding or "").split()).lower()
    if text in _DETECTED:
        return True
    if text in _NOT_DETECTED:
        return False
    return None


def _genealogy(
    lot: Lot, answers: dict[str, str], sources: dict[str, tuple[Source, ...]], notes: dict[str, str]
) -> None:
    run = lot.conditioning_run
    passage = run.passage
    recipe = run.recipe
    donor = lot.donor

    def source(label: str) -> tuple[Source, ...]:
        return (Source("genealogy", lot.number, label),)

    answers["source.cells"] = (
        f"MSC from {lot.get_tissue_source_display()}, donation {donor.din} {donor.check_character}, "
        f"passage P{passage.number}"
    )
    sources["source.cells"] = source(f"passage P{passage.number} of donation {donor.din}")
    culture = (
        f"conditioning in {run.medium} (medium lot {run.medium_lot}), serum-free, O2 {_g(run.o2_percent)} %; "
        f"expansion in {recipe.basal_medium}"
    )
    culture += (
        ", serum-free"
        if recipe.supplement == "serum-free"
        else f" + {_g(recipe.supplement_percent)} % {recipe.get_supplement_display()}"
    )
    if run.priming_agent:
        culture += f"; primed with {run.priming_agent}"
        if run.priming_ng_per_ml is not None:
            culture += f" {_g(run.priming_ng_per_ml)} ng/mL"
        if run.priming_hours is not None:
            culture += f" for {_g(run.priming_hours)} h"
    answers["source.culture"] = culture
    sources["source.culture"] = source(f"conditioning run #{run.pk}, recipe {recipe.code} v{recipe.version}")
    hours = (lot.collected_at - run.started_at).total_seconds() / 3600.0
    answers["source.conditioning"] = (
        f"{_g(run.planned_hours)} h planned ({hours:.1f} h from start to harvest), "
        f"{_g(run.volume_ml)} mL conditioned"
    )
    sources["source.conditioning"] = source(f"conditioning run #{run.pk}")
    if lot.viability_at_collection_percent is None:
        notes["source.cell_count"] = (
            "the viability of the producer cells at harvest is not recorded on the lot"
        )
    else:
        answers["source.cell_count"] = (
            f"{lot.viable_cells_at_collection:.3g} viable cells, "
            f"{_g(lot.viability_at_collection_percent)} % viable at harvest"
        )
        sources["source.cell_count"] = source(f"lot {lot.number} harvest record")
    steps = list(ProcessingStep.objects.filter(lot=lot).order_by("sequence"))
    clearing = [s for s in steps if s.kind in (StepKind.CLARIFICATION, StepKind.FILTRATION)]
    separation = [s for s in steps if s.kind == StepKind.ULTRAFILTRATION]
    if clearing:
        answers["preanalytics.clearing"] = "; ".join(_step_text(s) for s in clearing)
        sources["preanalytics.clearing"] = source(
            "processing step " + ", ".join(str(s.sequence) for s in clearing)
        )
    else:
        notes["preanalytics.clearing"] = "no clarification or filtration step is recorded for the lot"
    if separation:
        answers["separation.method"] = "; ".join(_step_text(s) for s in separation)
        sources["separation.method"] = source(
            "processing step " + ", ".join(str(s.sequence) for s in separation)
        )
    else:
        notes["separation.method"] = "no ultrafiltration (separation and concentration) step is recorded"
    storage = f"{lot.get_storage_display()}"
    cryoprotectants = sorted({s.cryoprotectant for s in steps if s.cryoprotectant})
    if cryoprotectants:
        storage += f", with {', '.join(cryoprotectants)}"
    if lot.storage_location:
        storage += f" ({lot.storage_location})"
    answers["storage.ev"] = storage + "; freeze-thaw cycles not recorded"
    sources["storage.ev"] = source(f"lot {lot.number} storage")


def _step_text(step: ProcessingStep) -> str:
    parts = [step.get_kind_display()]
    if step.g_force is not None:
        parts.append(f"{_g(step.g_force)} x g")
    if step.minutes is not None:
        parts.append(f"{_g(step.minutes)} min")
    if step.pore_size_um is not None:
        parts.append(f"{_g(step.pore_size_um)} µm")
    if step.mwco_kda is not None:
        parts.append(f"{_g(step.mwco_kda)} kDa MWCO")
    # Volumes matter for a concentrating step (its factor), not for the small losses of a clearing step.
    if step.kind == StepKind.ULTRAFILTRATION and step.volume_out_ml > 0:
        parts.append(
            f"{step.volume_in_ml:.3g} -> {step.volume_out_ml:.3g} mL "
            f"({step.volume_in_ml / step.volume_out_ml:.3g}x)"
        )
    return ", ".join(parts)


def lot_misev(lot: Lot) -> LotMisev:
    """The checklist of ``lot``, each answer with its source; missing items with what would answer them."""
    results = current_results(lot)
    answers: dict[str, str] = {}
    sources: dict[str, tuple[Source, ...]] = {}
    notes: dict[str, str] = dict(NOT_STORED)
    _genealogy(lot, answers, sources, notes)

    particles: float | None = None
    run = _nta_run(results)
    concentration = results.get(CONCENTRATION_ATTRIBUTE)
    if run is not None:
        entry = json.loads(run.result_json).get("lots", {}).get(lot.number, {})
        value = entry.get("concentration")
        if isinstance(value, int | float) and math.isfinite(value) and value > 0:
            particles = float(value)
            videos = len(entry.get("videos", []))
            settings = _instrument_settings(run)
            answers["quantification.particles"] = (
                f"{particles:.3g} particles/mL, NTA, {videos} videos"
                + (f"; {settings}" if settings else "")
                + f"; method {run.method.code}@{run.method.version}"
            )
            run_source = (Source("analysis run", run.number, f"analysis run {run.number}"),)
            sources["quantification.particles"] = run_source
            answers["single.particles"] = f"nanoparticle tracking analysis ({run.method.title})"
            sources["single.particles"] = run_source
    elif concentration is not None and concentration.qualifier == "=":
        # A concentration entered by hand: its number and method, without acquisition settings.
        particles = _number(concentration.value)
        if particles is not None and particles > 0:
            result_source = (Source("result", str(concentration.pk), f"result #{concentration.pk}"),)
            answers["quantification.particles"] = (
                f"{particles:.3g} particles/mL ({concentration.method}); acquisition settings not recorded"
            )
            sources["quantification.particles"] = result_source
            answers["single.particles"] = concentration.method
            sources["single.particles"] = result_source
        else:
            particles = None
    if "quantification.particles" not in answers:
        notes["quantification.particles"] = "no accepted NTA run or particle concentration result"
        notes["single.particles"] = "no accepted NTA run or particle concentration result"

    protein: float | None = None
    protein_result = results.get(PROTEIN_ATTRIBUTE)
    if protein_result is not None and protein_result.qualifier == "=":
        scale = _PROTEIN_SCALE.get(protein_result.attribute.unit.strip().lower())
        value = _number(protein_result.value)
        if scale is not None and value is not None and value > 0:
            protein = value * scale
            answers["quantification.protein"] = f"{protein:.3g} µg/mL ({protein_result.method})"
            sources["quantification.protein"] = (
                Source("result", str(protein_result.pk), f"result #{protein_result.pk}"),
            )
    if protein is None:
        notes["quantification.protein"] = "no quantified total protein result in µg/mL"
    if particles is not None and protein is not None:
        sources["quantification.ratio"] = (
            sources["quantification.particles"] + sources["quantification.protein"]
        )
    else:
        notes["quantification.ratio"] = "needs both the particle concentration and the total protein"

    marker_rows: list[MarkerResult] = []
    marker_sources: dict[str, Source] = {}
    ev_results = []
    for code, result in results.items():
        if code.startswith("ev-"):
            ev_results.append(result.pk)
        marker = MARKER_ATTRIBUTES.get(code)
        if marker is None:
            continue
        detected = _marker_finding(result)
        if detected is None:
            continue
        marker_rows.append(MarkerResult(marker, detected, result.method, f"result #{result.pk}"))
        marker_sources[marker] = Source("result", str(result.pk), f"result #{result.pk} ({marker})")
    panel = None
    if marker_rows:
        order = list(MARKERS)
        marker_rows.sort(key=lambda r: order.index(r.marker))
        panel = MarkerPanel(results=tuple(marker_rows))
        for marker_class, item in (
            ("transmembrane", "markers.transmembrane"),
            ("cytosolic", "markers.cytosolic"),
            ("negative", "markers.negative"),
        ):
            found = tuple(
                marker_sources[r.marker] for r in marker_rows if MARKERS[r.marker][0] == marker_class
            )
            if found:
                sources[item] = found
    for item in ("markers.transmembrane", "markers.cytosolic", "markers.negative"):
        if item not in sources:
            notes[item] = "no detected / not detected result of a marker of this class (ev-<marker>)"

    _nomenclature(lot, answers, sources, notes)
    report = misev_report(
        lot.number,
        answers,
        particles_per_ml=particles,
        protein_ug_per_ml=protein,
        panel=panel,
    )
    return LotMisev(
        lot=lot.number,
        report=report,
        sources={item.code: sources[item.code] for item in MISEV2023_CHECKLIST if item.code in sources},
        notes={code: text for code, text in notes.items() if not report.answered(code)},
        nta_run=None if run is None else run.number,
        ev_results=tuple(sorted(ev_results)),
    )


def _nomenclature(
    lot: Lot, answers: dict[str, str], sources: dict[str, tuple[Source, ...]], notes: dict[str, str]
) -> None:
    """The generic term is used when the specification names its EV attributes "EV", never "exosome"."""
    disposition = disposition_of(lot)
    if disposition is None:
        notes["nomenclature"] = "the lot has no specification naming its EV tests"
        return
    spec = disposition.specification
    names = [
        a.name
        for a in spec.attributes.order_by("position")
        if a.code.startswith("ev-") or "EV" in a.name.split()
    ]
    if names and not any("exosom" in n.lower() for n in names):
        answers["nomenclature"] = "generic term EV: " + ", ".join(names)
        sources["nomenclature"] = (
            Source("specification", f"{spec.product.code} v{spec.version}", f"specification v{spec.version}"),
        )
    else:
        notes["nomenclature"] = "the specification names no EV attribute with the generic term EV"


def lot_misev_report(lot_number: str) -> LotMisev:
    """The MISEV2023 checklist of the lot ``lot_number`` (raises ``NotFound`` for an unknown lot)."""
    return lot_misev(get_lot(lot_number))


def misev_if_ev_data(lot: Lot) -> LotMisev | None:
    """The lot's checklist when it has EV data (an accepted NTA run or an ``ev-*`` result), else None."""
    answer = lot_misev(lot)
    return answer if answer.has_ev_data else None


__all__ = [
    "MARKER_ATTRIBUTES",
    "NOT_STORED",
    "LotMisev",
    "Source",
    "lot_misev",
    "lot_misev_report",
    "misev_if_ev_data",
]
