"""Assay controls of a functional potency method on the database: a wound-healing method whose first version
predates ``chart_controls`` (its runs chart nothing and still recompute from their files) and whose second
version charts the control medium's closure, a shifted control flagged on its run, and the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from secretome.demo.assay_files import demo_attributes, wound_settings
from secretome.services import analyses, imports
from secretome.services import controls as assay_controls
from tests.integration.release_support import PASSWORD, approved_specification, make_lot, release_attributes

pytestmark = pytest.mark.django_db

METHOD = "WOUND-HEALING"
#: The control medium's closure at 24 h on each plate of the second version; plate 6 is off (a bad medium).
CLOSURES = (45.0, 44.0, 46.0, 45.5, 44.5, 58.0)


def scratch(lot: str, control_closure: float) -> bytes:
    """Wound areas falling linearly to ``control_closure`` % (control medium) and 60 % (the lot) at 24 h."""
    lines = ["Well,Sample,Time (h),Area (um^2)"]
    for row, (sample, closure) in zip("AB", (("control", control_closure), (lot, 60.0)), strict=True):
        for column, initial in ((1, 1.0e6), (2, 1.2e6), (3, 0.9e6)):
            for hours in (0.0, 12.0, 24.0):
                area = initial * (1 - closure / 100 * hours / 24)
                lines.append(f"{row}{column},{sample},{hours:g},{area:.6f}")
    return ("\n".join(lines) + "\n").encode()


def method(analyst: Any, qa_user: Any, settings: dict[str, Any]) -> Any:
    drafted = analyses.draft_method(
        analyst,
        "wound healing method",
        code=METHOD,
        title="Scratch closure at 24 h",
        kind="wound-healing",
        settings=settings,
        attributes=["wound_healing"],
        reporting_unit="%",
        normalisation="none",
    )
    return analyses.approve_method(qa_user, "approve", f"{METHOD}@{drafted.version}", PASSWORD)


def accepted_run(analyst: Any, index: int, closure: float) -> Any:
    lot = make_lot(analyst)
    record = imports.import_file(analyst, "scratch", f"scratch-{index:02d}.csv", scratch(lot.number, closure))
    run = analyses.analyse(analyst, "closure of the lot", [record.pk], METHOD)
    analyses.accept_run(analyst, "accepted", run.number)
    return run


def build_runs(analyst: Any, qa_user: Any) -> tuple[list[Any], list[Any]]:
    """Two accepted runs of version 1 (no control settings), then six of version 2 (charting the control)."""
    attributes = release_attributes() + [a for a in demo_attributes() if a.code == "wound_healing"]
    approved_specification(qa_user, attributes)
    method(analyst, qa_user, wound_settings())
    old = [accepted_run(analyst, i, 45.0) for i in (1, 2)]
    method(analyst, qa_user, {**wound_settings(), "chart_controls": True})
    new = [accepted_run(analyst, i + 3, c) for i, c in enumerate(CLOSURES)]
    return old, new


def test_runs_before_chart_controls_chart_nothing_and_still_recompute(analyst: Any, qa_user: Any) -> None:
    old, new = build_runs(analyst, qa_user)
    observations = assay_controls.control_observations(METHOD)
    assert [o.run for o in observations] == [r.number for r in new]
    for run in old + new:
        assert analyses.verify_run(run.number).match
    assert "chart_controls" not in json.loads(old[0].result_json)["settings"]


def test_the_control_medium_chart_holds_the_stored_closures_and_flags_the_shifted_run(
    analyst: Any, qa_user: Any
) -> None:
    _, new = build_runs(analyst, qa_user)
    payload = assay_controls.control_chart(METHOD, "control", baseline_n=5)
    stored = []
    for run in new:
        closure = json.loads(run.result_json)["groups"]["control"]["closure_at"]
        stored.append(sum(closure) / len(closure))
    assert (payload["analyte"], payload["quantity"], payload["unit"]) == (
        "wound closure at 24 h",
        "closure",
        "%",
    )
    assert [o["value"] for o in payload["observations"]] == pytest.approx(stored, rel=1e-12)
    assert stored == pytest.approx(list(CLOSURES), rel=1e-9)
    # baseline 45, 44, 46, 45.5, 44.5: mean 45, SD sqrt(2.5 / 4); 58 is far beyond 3 SD
    assert payload["chart"]["mean"] == pytest.approx(45.0, rel=1e-12)
    assert payload["chart"]["sd"] == pytest.approx((2.5 / 4) ** 0.5, rel=1e-9)
    assert payload["signals"] == [
        {"index": 6, "id": new[5].number, "rules": ["nelson 1", "western electric 1"]}
    ]
    rows = [r for r in assay_controls.charted_controls() if r["method"] == METHOD]
    assert rows == [
        {
            "method": METHOD,
            "control": "control",
            "analyte": "wound closure at 24 h",
            "quantity": "closure",
            "unit": "%",
            "n": 6,
        }
    ]


def test_the_command_line_charts_the_control_medium(
    run_cli: Callable[..., Any], analyst: Any, qa_user: Any
) -> None:
    _, new = build_runs(analyst, qa_user)
    result = run_cli("trend", "controls", METHOD, "--control", "control", "--baseline", "5", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["quantity"] == "closure" and payload["n"] == 6
    assert payload["signals"][0]["id"] == new[5].number
