"""``secretome analyze curve``: the JSON contract, unknowns, figures and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from secretome.analysis import five_pl
from secretome.cli import app

DOSES = np.repeat(np.r_[0.0, np.geomspace(0.1, 100.0, 8)], 2)
KEYS = {"bottom", "top", "inflection", "hill", "asymmetry", "ec50"}


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["analyze", "curve", *args], catch_exceptions=False)


def _standards(path: Path, curves: dict[str, float]) -> Path:
    rng = np.random.default_rng(2)
    lines = ["curve,dose,response,replicate"]
    for name, ec50 in curves.items():
        y = five_pl(DOSES, 0.05, 2.5, ec50, 1.1) + rng.normal(0, 0.02, DOSES.size)
        lines += [f"{name},{x:g},{r:.5f},{i % 2 + 1}" for i, (x, r) in enumerate(zip(DOSES, y, strict=True))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_has_the_contract_for_every_curve_with_unknowns(tmp_path: Path) -> None:
    standards = _standards(tmp_path / "std.csv", {"VEGF": 4.0, "HGF": 12.0})
    unknowns = tmp_path / "unk.csv"
    unknowns.write_text(
        "sample,curve,response,replicate,dilution\nCM-1,VEGF,1.2,1,10\nCM-1,VEGF,1.25,2,10\nCM-2,HGF,9,1,1\n"
    )
    figure = tmp_path / "curves.png"
    result = _run(str(standards), "--unknowns", str(unknowns), "--plot", str(figure), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [c["curve"] for c in payload["curves"]] == ["VEGF", "HGF"]
    for curve in payload["curves"]:
        assert (
            set(curve["parameters"])
            == KEYS
            == set(curve["standard_errors"])
            == set(curve["confidence_intervals"])
        )
        for key in ("model", "rss", "residual_se", "df", "converged", "flags", "lloq", "uloq", "unknowns"):
            assert key in curve
    vegf, hgf = payload["curves"]
    assert vegf["parameters"]["ec50"] == pytest.approx(4.0, rel=0.1)
    (sample,) = vegf["unknowns"]
    assert sample["sample"] == "CM-1" and sample["concentration"] > 10 and len(sample["ci"]) == 2
    assert {"concentration", "se", "ci", "flags"} <= set(sample)
    assert hgf["unknowns"][0]["concentration"] is None and "outside_asymptotes" in hgf["unknowns"][0]["flags"]
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_auto_model_reports_its_reason_and_the_table_is_readable(tmp_path: Path) -> None:
    standards = _standards(tmp_path / "std.csv", {"A": 5.0})
    result = _run(str(standards), "--model", "auto", "--weights", "power")
    assert result.exit_code == 0, result.output
    assert "4PL chosen" in result.stdout and "ec50" in result.stdout


@pytest.mark.parametrize(
    "content,expected",
    [
        ("", "row 1"),
        ("dose,response\n1,0.1\nabc,0.2\n", "row 3, column 'dose'"),
        ("dose,response\n1,0.1\n2,x\n", "row 3, column 'response'"),
        ("dose,response\n1,0.1\n-2,0.2\n", "row 3, column 'dose': negative"),
        ("dose,response\n1,0.1\n,0.2\n", "row 3, column 'dose': missing"),
        ("dose\n1\n", "row 1, column 'response'"),
        ("dose,response\n1,0.1\n1,0.2\n2,0.3\n2,0.4\n3,0.5\n", "rows 2-6, column 'dose'"),
        ("dose,response\n1,0.5\n2,0.5\n3,0.5\n4,0.5\n5,0.5\n", "column 'response': all responses are equal"),
    ],
    ids=[
        "empty",
        "text-dose",
        "text-response",
        "negative",
        "missing-dose",
        "no-column",
        "few-doses",
        "constant",
    ],
)
def test_bad_input_is_one_line_naming_file_row_and_column_with_exit_2(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = _run(str(path))
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in result.output
    assert str(path) in message and expected in message


def test_unknowns_naming_no_curve_are_bad_input(tmp_path: Path) -> None:
    standards = _standards(tmp_path / "std.csv", {"A": 5.0, "B": 8.0})
    unknowns = tmp_path / "unk.csv"
    unknowns.write_text("sample,response\nS1,1.0\n")
    result = _run(str(standards), "--unknowns", str(unknowns))
    assert result.exit_code == 2 and "column 'curve'" in result.stderr
