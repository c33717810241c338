"""EV marker panels and the MISEV2023 reporting checklist of an EV preparation.

MISEV2018 (Théry et al. 2018) and its update MISEV2023 (Welsh et al. 2024) ask every EV study to report the
source and pre-analytical variables, the separation method, quantification by at least two orthogonal
measures and their ratio, protein markers of three kinds (transmembrane or GPI-anchored such as CD9, CD63,
CD81; cytosolic such as TSG101, ALIX, syntenin; and purity markers that should be absent, such as the ER
protein calnexin and the lipoprotein ApoA1 of serum- or platelet-lysate-derived material), single-vesicle
characterisation by imaging and by a method measuring many single particles, and storage. This module holds
the checklist, evaluates a marker panel and computes how complete a preparation's report is.

Pure: what was recorded comes in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MarkerClass(StrEnum):
    """The MISEV categories of protein markers."""

    TRANSMEMBRANE = "transmembrane"
    CYTOSOLIC = "cytosolic"
    NEGATIVE = "negative"


#: The EV marker panel: marker -> (category, expected detected). CD9/CD63/CD81 must be present, calnexin and
#: ApoA1 absent; TSG101 and ALIX are the cytosolic markers MISEV asks for alongside.
MARKERS: dict[str, tuple[MarkerClass, bool]] = {
    "CD9": (MarkerClass.TRANSMEMBRANE, True),
    "CD63": (MarkerClass.TRANSMEMBRANE, True),
    "CD81": (MarkerClass.TRANSMEMBRANE, True),
    "TSG101": (MarkerClass.CYTOSOLIC, True),
    "ALIX": (MarkerClass.CYTOSOLIC, True),
    "calnexin": (MarkerClass.NEGATIVE, False),
    "ApoA1": (MarkerClass.NEGATIVE, False),
}
#: The panel every lot is tested with (the cytosolic markers are optional for the panel's finding).
DEFAULT_PANEL = ("CD9", "CD63", "CD81", "calnexin", "ApoA1")


@dataclass(frozen=True)
class MarkerResult:
    """One marker's result: detected or not, by which method (Western blot, ELISA, flow, manual entry)."""

    marker: str
    detected: bool
    method: str = ""
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.marker not in MARKERS:
            raise ValueError(f"marker: {self.marker!r} is not an EV marker (known: {', '.join(MARKERS)})")


@dataclass(frozen=True)
class MarkerPanel:
    """An EV preparation's marker results against what the panel expects."""

    results: tuple[MarkerResult, ...]
    panel: tuple[str, ...] = DEFAULT_PANEL

    def __post_init__(self) -> None:
        names = [r.marker for r in self.results]
        if len(set(names)) != len(names):
            raise ValueError("results: a marker is given twice")
        for name in self.panel:
            if name not in MARKERS:
                raise ValueError(f"panel: {name!r} is not an EV marker")

    def _by_marker(self) -> dict[str, MarkerResult]:
        return {r.marker: r for r in self.results}

    @property
    def missing(self) -> tuple[str, ...]:
        found = self._by_marker()
        return tuple(m for m in self.panel if m not in found)

    @property
    def deviations(self) -> tuple[str, ...]:
        """Markers whose result is not the expected one (a positive not detected, a negative detected)."""
        out = []
        for result in self.results:
            expected = MARKERS[result.marker][1]
            if result.detected != expected:
                out.append(f"{result.marker} {'detected' if result.detected else 'not detected'}")
        return tuple(out)

    @property
    def finding(self) -> str:
        """``"complies"``, ``"does not comply"`` or ``"incomplete"`` (a panel marker has no result)."""
        if self.deviations:
            return "does not comply"
        if self.missing:
            return "incomplete"
        return "complies"

    def has_class(self, marker_class: MarkerClass) -> bool:
        """Whether a marker of the class was tested (detected for positives, tested at all for negatives)."""
        return any(MARKERS[r.marker][0] is marker_class for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "panel": list(self.panel),
            "results": [
                {
                    "marker": r.marker,
                    "class": MARKERS[r.marker][0].value,
                    "expected": "detected" if MARKERS[r.marker][1] else "not detected",
                    "detected": r.detected,
                    "method": r.method,
                    "evidence": r.evidence,
                }
                for r in self.results
            ],
            "missing": list(self.missing),
            "deviations": list(self.deviations),
            "finding": self.finding,
        }


@dataclass(frozen=True)
class ChecklistItem:
    """One item of the reporting checklist; ``required`` items count towards completeness."""

    code: str
    section: str
    text: str
    required: bool = True


#: The MISEV2023 reporting checklist for EVs from conditioned medium, by section.
MISEV2023_CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("source.cells", "source", "Producer cells: type, tissue source, donor and passage"),
    ChecklistItem(
        "source.culture", "source", "Culture conditions: medium, supplements, EV-depleted or serum-free"
    ),
    ChecklistItem("source.conditioning", "source", "Conditioning time and volume of medium conditioned"),
    ChecklistItem("source.cell_count", "source", "Number and viability of producer cells at harvest"),
    ChecklistItem(
        "preanalytics.storage", "pre-analytics", "Storage of the conditioned medium before separation"
    ),
    ChecklistItem(
        "preanalytics.clearing", "pre-analytics", "Removal of cells and debris (centrifugation, filtration)"
    ),
    ChecklistItem(
        "separation.method", "separation", "Separation and concentration method with its parameters"
    ),
    ChecklistItem(
        "quantification.particles", "quantification", "Particle concentration with the instrument settings"
    ),
    ChecklistItem(
        "quantification.protein", "quantification", "Total protein of the preparation and the method"
    ),
    ChecklistItem("quantification.ratio", "quantification", "Ratio of particles to protein"),
    ChecklistItem(
        "markers.transmembrane",
        "characterisation",
        "A transmembrane or GPI-anchored marker (CD9, CD63, CD81)",
    ),
    ChecklistItem("markers.cytosolic", "characterisation", "A cytosolic marker (TSG101, ALIX, syntenin)"),
    ChecklistItem(
        "markers.negative", "characterisation", "A purity marker expected absent (calnexin, ApoA1)"
    ),
    ChecklistItem("single.imaging", "characterisation", "Imaging of single vesicles (TEM, cryo-EM, AFM)"),
    ChecklistItem(
        "single.particles",
        "characterisation",
        "A method measuring many single particles (NTA, TRPS, nano-flow)",
    ),
    ChecklistItem(
        "storage.ev", "storage", "Storage of the EV preparation: temperature, buffer, freeze-thaw cycles"
    ),
    ChecklistItem("nomenclature", "reporting", "Generic term 'EV' used unless the biogenesis is shown"),
    ChecklistItem(
        "deposition", "reporting", "Methods deposited (EV-TRACK) or the data made available", required=False
    ),
)
_CODES = {item.code for item in MISEV2023_CHECKLIST}


@dataclass(frozen=True)
class MisevReport:
    """Which checklist items an EV preparation's record answers, and with what evidence."""

    preparation: str
    answers: Mapping[str, str] = field(default_factory=dict)
    checklist: tuple[ChecklistItem, ...] = MISEV2023_CHECKLIST

    def __post_init__(self) -> None:
        codes = {item.code for item in self.checklist}
        unknown = sorted(set(self.answers) - codes)
        if unknown:
            raise ValueError(f"answers: {unknown[0]!r} is not a checklist item")

    def answered(self, code: str) -> bool:
        return bool(self.answers.get(code, "").strip())

    @property
    def required_items(self) -> tuple[ChecklistItem, ...]:
        return tuple(item for item in self.checklist if item.required)

    @property
    def missing(self) -> tuple[ChecklistItem, ...]:
        return tuple(item for item in self.required_items if not self.answered(item.code))

    @property
    def completeness(self) -> float:
        """Percentage of the required items answered."""
        required = self.required_items
        return 100.0 * sum(self.answered(i.code) for i in required) / len(required) if required else 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "preparation": self.preparation,
            "completeness": self.completeness,
            "answered": sum(self.answered(i.code) for i in self.required_items),
            "required": len(self.required_items),
            "items": [
                {
                    "code": item.code,
                    "section": item.section,
                    "text": item.text,
                    "required": item.required,
                    "answer": self.answers.get(item.code, ""),
                }
                for item in self.checklist
            ],
            "missing": [item.code for item in self.missing],
        }


def misev_report(
    preparation: str,
    recorded: Mapping[str, str],
    *,
    particles_per_ml: float | None = None,
    nta_settings: str = "",
    protein_ug_per_ml: float | None = None,
    panel: MarkerPanel | None = None,
) -> MisevReport:
    """The checklist of one preparation: what the record states, plus what the measurements answer.

    A measured particle concentration answers ``quantification.particles`` and ``single.particles``; a
    protein concentration ``quantification.protein``; both together the ratio; a marker panel answers the
    marker items for the classes it tested. Explicitly recorded answers are kept as given.
    """
    unknown = sorted(set(recorded) - _CODES)
    if unknown:
        raise ValueError(f"recorded: {unknown[0]!r} is not a checklist item")
    answers = {k: v for k, v in recorded.items() if v and v.strip()}
    if particles_per_ml is not None and particles_per_ml > 0:
        answers.setdefault(
            "quantification.particles", f"{particles_per_ml:.3g} particles/mL (NTA) {nta_settings}".strip()
        )
        answers.setdefault("single.particles", "nanoparticle tracking analysis")
    if protein_ug_per_ml is not None and protein_ug_per_ml > 0:
        answers.setdefault("quantification.protein", f"{protein_ug_per_ml:.3g} ug/mL")
    if particles_per_ml and protein_ug_per_ml and particles_per_ml > 0 and protein_ug_per_ml > 0:
        answers.setdefault("quantification.ratio", f"{particles_per_ml / protein_ug_per_ml:.3g} particles/ug")
    if panel is not None:
        for marker_class, code in (
            (MarkerClass.TRANSMEMBRANE, "markers.transmembrane"),
            (MarkerClass.CYTOSOLIC, "markers.cytosolic"),
            (MarkerClass.NEGATIVE, "markers.negative"),
        ):
            tested = [r for r in panel.results if MARKERS[r.marker][0] is marker_class]
            if tested:
                answers.setdefault(
                    code,
                    ", ".join(f"{r.marker} {'+' if r.detected else '-'}" for r in tested),
                )
    return MisevReport(preparation=preparation, answers=answers)


def panel_from_rows(rows: Sequence[Mapping[str, Any]]) -> MarkerPanel:
    """A panel from entered rows with ``marker``, ``detected`` (bool or yes/no/+/-) and optional ``method``."""
    results = []
    for index, row in enumerate(rows, start=1):
        raw = row.get("detected")
        if isinstance(raw, bool):
            detected = raw
        else:
            text = str(raw).strip().lower()
            if text in ("yes", "true", "+", "detected", "positive", "1"):
                detected = True
            elif text in ("no", "false", "-", "not detected", "negative", "0"):
                detected = False
            else:
                raise ValueError(
                    f"detected: row {index} ({row.get('marker')}) has {raw!r}; expected yes or no"
                )
        results.append(
            MarkerResult(
                str(row.get("marker", "")), detected, str(row.get("method", "")), str(row.get("evidence", ""))
            )
        )
    return MarkerPanel(results=tuple(results))
