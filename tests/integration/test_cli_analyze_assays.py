"""``secretome analyze ido|suppression|angiogenesis|wound|panel``: results, JSON and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from secretome.cli import app
from secretome.demo.assay_files import angiogenesis_table, scratch_table


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["analyze", *args], catch_exceptions=False)


def test_ido_gives_activity_per_million_cells_per_hour(tmp_path: Path) -> None:
    standards = tmp_path / "std.csv"
    rows = ["concentration,response"]
    for level in (0, 3.125, 6.25, 12.5, 25, 50, 100):
        rows += [f"{level},{0.04 + 0.01 * level + 0.0005:.5f}", f"{level},{0.04 + 0.01 * level - 0.0005:.5f}"]
    standards.write_text("\n".join(rows) + "\n")
    samples = tmp_path / "samples.csv"
    samples.write_text("sample,response,dilution\nL1,0.28,2\nL1,0.28,2\nL2,0.041,1\nL2,0.041,1\n")
    result = _run(
        "ido", str(standards), str(samples), "--volume-ml", "0.2", "--cells", "1e5", "--hours", "48", "--json"
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    l1 = payload["samples"]["L1"]
    assert l1["kynurenine_um"]["value"] == pytest.approx(48.0, rel=1e-4)  # (0.28 - 0.04) / 0.01 x 2
    assert l1["activity"]["value"] == pytest.approx(48.0 * 0.2 / 0.1 / 48, rel=1e-4)
    assert payload["samples"]["L2"]["activity"]["qualifier"] == "<"
    table = _run("ido", str(standards), str(samples), "--volume-ml", "0.2", "--cells", "1e5", "--hours", "48")
    assert "IDO activity" in table.output


def test_ido_with_a_word_for_a_number_exits_2_naming_the_row(tmp_path: Path) -> None:
    standards = tmp_path / "std.csv"
    standards.write_text("concentration,response\n0,0.04\nten,0.14\n")
    samples = tmp_path / "s.csv"
    samples.write_text("sample,response\nL1,0.1\n")
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            "ido",
            str(standards),
            str(samples),
            "--volume-ml",
            "1",
            "--cells",
            "1e6",
            "--hours",
            "1",
        ],
    )
    assert result.exit_code == 2
    assert "row 3, column 'concentration'" in result.output


def test_suppression_reports_ic50_and_rp(tmp_path: Path) -> None:
    lines = ["preparation,dose,readout"]
    for name, ic50 in (("REF", 10.0), ("L1", 5.0)):
        for dose in (0.78125, 1.5625, 3.125, 6.25, 12.5, 25.0, 50.0):
            inhibition = 2 + 90 / (1 + (ic50 / dose) ** 1.3)
            for wiggle in (0.2, -0.2):
                lines.append(f"{name},{dose},{5 + (1 - inhibition / 100) * 55 + wiggle:.4f}")
    lines += ["stimulated,,60", "stimulated,,60", "unstimulated,,5", "unstimulated,,5"]
    path = tmp_path / "tcell.csv"
    path.write_text("\n".join(lines) + "\n")
    result = _run("suppression", str(path), "--reference", "REF", "--report-dose", "25", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["preparations"]["L1"]["relative_ic50"] == pytest.approx(5.0, rel=1e-3)
    (estimate,) = payload["potency"]["potencies"]
    assert estimate["relative_potency"] == pytest.approx(2.0, rel=1e-3)


def test_suppression_without_controls_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("preparation,dose,readout\nL1,1,30\n")
    result = CliRunner().invoke(app, ["analyze", "suppression", str(path)])
    assert result.exit_code == 2
    assert "stimulated" in result.output


def test_angiogenesis_reads_an_analyzer_table_and_a_group_value_csv(tmp_path: Path) -> None:
    table = angiogenesis_table({"L1": 80.0}, np.random.default_rng(3))
    path = tmp_path / "analyzer.csv"
    path.write_bytes(table.content)
    result = _run("angiogenesis", str(path), "--negative", "basal", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["groups"]["L1"]["percent_of_positive"]["value"] == pytest.approx(
        80.0, rel=0.15
    )
    simple = tmp_path / "groups.csv"
    simple.write_text("group,value\nVEGF,100\nVEGF,110\nL1,80\nL1,90\n")
    payload = json.loads(_run("angiogenesis", str(simple), "--json").output)
    assert payload["groups"]["L1"]["percent_of_positive"]["value"] == pytest.approx(100 * 85 / 105)
    missing = CliRunner().invoke(app, ["analyze", "angiogenesis", str(simple), "--positive", "FGF"])
    assert missing.exit_code == 2
    assert "--positive" in missing.output


def test_wound_reports_closure_relative_to_control(tmp_path: Path) -> None:
    path = tmp_path / "scratch.csv"
    path.write_bytes(scratch_table({"L1": 150.0}, np.random.default_rng(2), noise=0.005).content)
    result = _run("wound", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["groups"]["L1"]["relative_closure"]["value"] == pytest.approx(
        150.0, rel=0.1
    )
    late = CliRunner().invoke(app, ["analyze", "wound", str(path), "--at-hours", "48"])
    assert late.exit_code == 2
    assert "--at-hours" in late.output


def test_panel_heatmap_writes_svg_and_orders_the_analytes(tmp_path: Path) -> None:
    path = tmp_path / "panel.csv"
    path.write_text(
        "lot,analyte,value,qualifier\n"
        "L1,VEGF-A,2000,\nL1,HGF,1500,\nL1,IL-6,12000,\n"
        "L2,VEGF-A,4000,\nL2,HGF,2900,\nL2,IL-6,9000,\n"
        "L3,VEGF-A,1000,\nL3,HGF,125,<\nL3,IL-6,15000,\n"
    )
    svg = tmp_path / "panel.svg"
    result = _run("panel", str(path), "--svg", str(svg), "--unit", "pg/mL", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert sorted(payload["analytes"]) == ["HGF", "IL-6", "VEGF-A"]
    assert svg.read_text().lstrip().startswith("<?xml")
    bad = tmp_path / "bad.csv"
    bad.write_text("lot,analyte,value\nL1,IL-6,0\n")
    refused = CliRunner().invoke(app, ["analyze", "panel", str(bad)])
    assert refused.exit_code == 2
    assert "row 2, column 'value'" in refused.output
