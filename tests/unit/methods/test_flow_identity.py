"""The flow-identity kind on the demo's FCS panel: passing lots, a failing CD105, determinism, settings."""

from __future__ import annotations

from typing import Any

import pytest

from secretome.demo.flow_files import identity_method_settings, identity_panel_files
from secretome.instruments.flow import read_fcs
from secretome.methods import Decisions, MethodInput, RunContext, get_kind

LOT = "CM-2026-014"


def _inputs(files: dict[str, bytes]) -> list[MethodInput]:
    return [
        MethodInput(
            import_id=100 + i, sha256="", filename=name, reading=read_fcs(content, name), content=content
        )
        for i, (name, content) in enumerate(sorted(files.items()))
    ]


@pytest.fixture(scope="module")
def passing() -> Any:
    kind = get_kind("flow-identity")
    files = identity_panel_files(LOT, seed=11)
    return kind.analyse(_inputs(files), identity_method_settings(), Decisions(), RunContext(default_lot=LOT))


def test_a_conforming_lot_passes_every_isct_marker(passing: Any) -> None:
    values = {r.attribute: r.value for r in passing.reportables}
    assert set(values) == {"cd73", "cd90", "cd105", "cd34", "cd45", "cd14", "cd19", "hla-dr"}
    for code in ("cd73", "cd90", "cd105"):
        assert values[code] >= 95.0
    for code in ("cd34", "cd45", "cd14", "cd19", "hla-dr"):
        assert values[code] <= 2.0
    assert all(r.unit == "%" and r.lot == LOT for r in passing.reportables)
    assert passing.result["lots"][LOT]["verdict"] == "complies"


def test_the_control_tubes_report_their_own_share_above_threshold(passing: Any) -> None:
    for marker in passing.result["lots"][LOT]["markers"]:
        # At the 99.5th percentile of itself, a control has 0.5 % positive (ties aside).
        assert marker["control_percent_positive"] == pytest.approx(0.5, abs=0.02)
        assert marker["events"] >= 10000


def test_the_lot_made_to_fail_cd105_fails_cd105_only() -> None:
    kind = get_kind("flow-identity")
    files = identity_panel_files(LOT, seed=11, cd105_fails=True)
    outcome = kind.analyse(
        _inputs(files), identity_method_settings(), Decisions(), RunContext(default_lot=LOT)
    )
    values = {r.attribute: float(r.value or 0.0) for r in outcome.reportables}
    # About 15 % of the MSC were written CD105-negative.
    assert 80.0 < values["cd105"] < 90.0
    assert values["cd73"] >= 95.0 and values["cd90"] >= 95.0
    assert outcome.result["lots"][LOT]["verdict"] == "does not comply"
    failing = [m["attribute"] for m in outcome.result["lots"][LOT]["markers"] if m["verdict"] != "complies"]
    assert failing == ["cd105"]


def test_the_same_bytes_give_the_same_numbers_and_plots(passing: Any) -> None:
    kind = get_kind("flow-identity")
    again = kind.analyse(
        _inputs(identity_panel_files(LOT, seed=11)),
        identity_method_settings(),
        Decisions(),
        RunContext(default_lot=LOT),
    )
    assert again.result == passing.result
    assert [r.to_dict() for r in again.reportables] == [r.to_dict() for r in passing.reportables]
    assert [svg for _, svg in again.plots] == [svg for _, svg in passing.plots]
    assert all(svg.lstrip().startswith("<?xml") for _, svg in passing.plots)


def test_tubes_map_to_the_lot_through_their_src_keyword() -> None:
    kind = get_kind("flow-identity")
    outcome = kind.analyse(
        _inputs(identity_panel_files("S-1", seed=3)),
        identity_method_settings(),
        Decisions(),
        RunContext(sample_lots={"S-1": LOT}),
    )
    assert {r.lot for r in outcome.reportables} == {LOT}


def test_an_excluded_tube_is_left_out_and_its_markers_cannot_be_computed() -> None:
    kind = get_kind("flow-identity")
    inputs = _inputs(identity_panel_files(LOT, seed=11))
    control = next(i for i in inputs if "Isotype_negative" in i.filename)
    decisions = Decisions(excluded={f"{control.import_id}:Isotype negative cocktail": "clogged"})
    with pytest.raises(ValueError, match="Isotype negative cocktail"):
        kind.analyse(inputs, identity_method_settings(), decisions, RunContext(default_lot=LOT))


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"strategy": "<not xml"}, "strategy"),
        ({"population": "Lymphocytes"}, "population"),
        ({"percentile": 100}, "percentile"),
        ({"compensation": "Panel"}, "compensation"),
        ({"markers": {}}, "markers"),
        ({"criteria": {"cd73": {"above": 95}}}, "criteria.cd73"),
        ({"min_events": -1}, "min_events"),
    ],
)
def test_wrong_settings_are_refused_naming_the_setting(change: dict[str, Any], setting: str) -> None:
    settings = {**identity_method_settings(), **change}
    with pytest.raises(ValueError, match=rf"^{setting}"):
        get_kind("flow-identity").check_settings(settings)


def test_settings_default_to_the_isct_criteria_and_percentile() -> None:
    settings = identity_method_settings()
    del settings["criteria"], settings["percentile"]
    checked = get_kind("flow-identity").check_settings(settings)
    assert checked["percentile"] == 99.5
    assert checked["criteria"]["cd105"] == {"min": 95.0}
    assert checked["criteria"]["hla-dr"] == {"max": 2.0}


def test_an_attached_acquisition_matrix_compensates_like_the_files_own_spillover(passing: Any) -> None:
    from secretome.demo.flow_files import FLUORESCENCE, SPILLOVER

    csv = "\n".join([",".join(FLUORESCENCE), *(",".join(f"{v:.6g}" for v in row) for row in SPILLOVER)])
    settings = {**identity_method_settings(), "spillover_csv": csv}
    del settings["compensation"]
    kind = get_kind("flow-identity")
    assert kind.check_settings(settings)["compensation"] == "acquisition"
    outcome = kind.analyse(
        _inputs(identity_panel_files(LOT, seed=11)), settings, Decisions(), RunContext(default_lot=LOT)
    )
    ours = {r.attribute: r.value for r in outcome.reportables}
    expected = {r.attribute: r.value for r in passing.reportables}
    assert ours == pytest.approx(expected, abs=1e-9)


def test_a_spillover_csv_that_is_not_square_is_refused_naming_the_setting() -> None:
    settings = {**identity_method_settings(), "spillover_csv": "A,B\n1,0\n"}
    with pytest.raises(ValueError, match=r"^spillover_csv: .*must be square"):
        get_kind("flow-identity").check_settings(settings)
