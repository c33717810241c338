"""``secretome flow gate`` and ``secretome flow identity``: the JSON contract and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from secretome.cli import app
from secretome.demo.flow_files import identity_method_settings, identity_panel_files

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE_FCS = DATA / "samples" / "fcs" / "BD_FACSCalibur_FCS2.0_data1_GatingML_reference.fcs"
ALL_GATES = DATA / "flow" / "gml_all_gates.xml"
GATE_KEYS = {"id", "path", "parent", "count", "parent_count", "percent_of_parent", "percent_of_total"}


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["flow", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path, Path]:
    folder = tmp_path_factory.mktemp("panel")
    files = []
    for name, content in identity_panel_files("CM-7", seed=5, cd105_fails=True).items():
        (folder / name).write_bytes(content)
        files.append(folder / name)
    settings = identity_method_settings()
    strategy = folder / "strategy.xml"
    strategy.write_text(settings.pop("strategy"))
    panel_file = folder / "panel.json"
    panel_file.write_text(json.dumps(settings))
    return sorted(files), strategy, panel_file


def test_gate_prints_every_population_with_counts_and_percentages() -> None:
    result = _run("gate", str(REFERENCE_FCS), "--gating", str(ALL_GATES), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    gates = {g["id"]: g for g in payload["gates"]}
    assert all(set(g) == GATE_KEYS for g in payload["gates"])
    truth = np.load(DATA / "flow" / "gatingml2_truth.npz")
    events = int(truth["events"])
    for gate_id in ("Rectangle1", "Polygon1", "Ellipse1", "FL2P-FL4P", "ScaleRect1", "And3", "ParAnd2"):
        expected = int(np.unpackbits(truth[gate_id])[:events].sum())
        assert gates[gate_id]["count"] == expected
    par_and2 = gates["ParAnd2"]
    assert par_and2["parent"] == "Polygon1" and par_and2["path"] == "root/Polygon1/ParAnd2"
    assert par_and2["parent_count"] == gates["Polygon1"]["count"]
    assert par_and2["percent_of_parent"] == pytest.approx(100 * par_and2["count"] / par_and2["parent_count"])
    assert par_and2["percent_of_total"] == pytest.approx(100 * par_and2["count"] / 13367)
    assert gates["FL2P-FL4P"]["parent"] == "root"
    assert "MySpill" in payload["compensation"]
    assert any("no spillover" in w for w in payload["warnings"])


def test_bad_xml_is_one_line_naming_the_file_and_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<gating:Gating-ML")
    result = _run("gate", str(REFERENCE_FCS), "--gating", str(broken))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "broken.xml" in result.stderr and "not well-formed" in result.stderr


def test_a_gate_on_a_channel_the_file_lacks_names_the_channel_exit_2(
    panel: tuple[list[Path], Path, Path],
) -> None:
    _, strategy, _ = panel
    result = _run("gate", str(REFERENCE_FCS), "--gating", str(strategy))
    assert result.exit_code == 2
    assert "channel 'FSC-A'" in result.stderr


def test_an_undefined_compensation_is_named_exit_2(
    tmp_path: Path, panel: tuple[list[Path], Path, Path]
) -> None:
    files, strategy, _ = panel
    changed = tmp_path / "nocomp.xml"
    changed.write_text(
        strategy.read_text().replace('compensation-ref="FCS"', 'compensation-ref="Panel-Comp"')
    )
    result = _run("gate", str(files[0]), "--gating", str(changed))
    assert result.exit_code == 2
    assert "compensation-ref 'Panel-Comp'" in result.stderr


def test_identity_reports_every_marker_and_exits_1_when_cd105_fails(
    panel: tuple[list[Path], Path, Path],
) -> None:
    files, strategy, panel_file = panel
    result = _run(
        "identity", *map(str, files), "--gating", str(strategy), "--panel", str(panel_file), "--json"
    )
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"] == "does not comply"
    markers = {m["attribute"]: m for m in payload["lots"]["CM-7"]["markers"]}
    assert markers["cd105"]["verdict"] == "does not comply"
    assert all(m["verdict"] == "complies" for code, m in markers.items() if code != "cd105")


def test_identity_with_a_panel_that_is_not_json_is_exit_2(
    tmp_path: Path, panel: tuple[list[Path], Path, Path]
) -> None:
    files, strategy, _ = panel
    bad = tmp_path / "panel.json"
    bad.write_text("{markers: }")
    result = _run("identity", str(files[0]), "--gating", str(strategy), "--panel", str(bad))
    assert result.exit_code == 2
    assert "panel.json, line 1" in result.stderr


def test_gate_takes_the_gating_tree_of_a_flowjo_workspace() -> None:
    flow = DATA / "flow"
    result = _run(
        "gate",
        str(flow / "data_set_simple_line_100.fcs"),
        "--gating",
        str(flow / "simple_poly_and_rect.wsp"),
        "--json",
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [(g["id"], g["count"], g["parent_count"]) for g in payload["gates"]] == [
        ("poly1", 0, 100),
        ("rect1", 0, 100),
    ]
