"""EV marker panel findings and MISEV2023 checklist completeness, counted by hand."""

from __future__ import annotations

import pytest

from secretome.domain.misev import (
    MISEV2023_CHECKLIST,
    MarkerPanel,
    MarkerResult,
    MisevReport,
    misev_report,
    panel_from_rows,
)

GOOD: list[dict[str, object]] = [
    {"marker": "CD9", "detected": "yes", "method": "Western blot"},
    {"marker": "CD63", "detected": "+"},
    {"marker": "CD81", "detected": True},
    {"marker": "calnexin", "detected": "no"},
    {"marker": "ApoA1", "detected": "-"},
]


def test_expected_markers_comply() -> None:
    panel = panel_from_rows(GOOD)
    assert panel.finding == "complies"
    assert panel.deviations == () and panel.missing == ()
    assert panel.to_dict()["results"][0] == {
        "marker": "CD9",
        "class": "transmembrane",
        "expected": "detected",
        "detected": True,
        "method": "Western blot",
        "evidence": "",
    }


def test_a_detected_negative_marker_or_a_missing_positive_does_not_comply() -> None:
    rows = [dict(r) for r in GOOD]
    rows[3]["detected"] = "yes"  # calnexin: ER contamination
    rows[1]["detected"] = "no"
    panel = panel_from_rows(rows)
    assert panel.finding == "does not comply"
    assert panel.deviations == ("CD63 not detected", "calnexin detected")


def test_an_untested_panel_marker_leaves_the_panel_incomplete() -> None:
    panel = panel_from_rows(GOOD[:4])
    assert panel.finding == "incomplete"
    assert panel.missing == ("ApoA1",)


def test_unknown_markers_and_answers_are_refused() -> None:
    with pytest.raises(ValueError, match="marker"):
        MarkerResult("CD44", True)
    with pytest.raises(ValueError, match="detected"):
        panel_from_rows([{"marker": "CD9", "detected": "maybe"}])
    with pytest.raises(ValueError, match="answers"):
        MisevReport("EV-1", {"colour": "red"})


def test_completeness_counts_required_items_answered() -> None:
    required = [i for i in MISEV2023_CHECKLIST if i.required]
    assert len(required) == 17
    empty = MisevReport("EV-1")
    assert empty.completeness == 0.0 and len(empty.missing) == 17
    recorded = {
        "source.cells": "WJ-MSC, donor D-001, P4",
        "separation.method": "TFF then SEC",
        "deposition": "EV-TRACK",
    }
    report = misev_report(
        "EV-1",
        recorded,
        particles_per_ml=4.2e9,
        protein_ug_per_ml=80.0,
        panel=panel_from_rows(GOOD),
    )
    # Recorded: 2 required (deposition is optional); measured: particles, single particles, protein, ratio;
    # the panel: transmembrane and negative (no cytosolic marker tested) -> 8 of 17.
    assert report.completeness == pytest.approx(100 * 8 / 17)
    assert report.answers["quantification.ratio"] == "5.25e+07 particles/ug"
    assert "markers.cytosolic" in {i.code for i in report.missing}
    assert report.to_dict()["answered"] == 8


def test_recorded_answers_win_over_derived_ones() -> None:
    report = misev_report("EV-1", {"single.particles": "nano-flow cytometry"}, particles_per_ml=1e9)
    assert report.answers["single.particles"] == "nano-flow cytometry"


def test_a_marker_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        MarkerPanel((MarkerResult("CD9", True), MarkerResult("CD9", False)))
