"""``secretome analyze nta`` and ``secretome analyze qpcr``: JSON contract, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from secretome.cli import app
from tests.unit.instruments.samples import sample

NTA_34 = sample("nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv")
LIVAK = {
    "Brain": {
        "c-myc": [30.72, 30.34, 30.58, 30.34, 30.50, 30.43],
        "GAPDH": [23.70, 23.56, 23.47, 23.65, 23.69, 23.68],
    },
    "Kidney": {
        "c-myc": [27.06, 27.03, 27.03, 27.10, 26.99, 26.94],
        "GAPDH": [22.76, 22.61, 22.62, 22.60, 22.61, 22.76],
    },
}


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["analyze", *args], catch_exceptions=False)


def _livak_csv(path: Path, ntc_cq: str = "Undetermined") -> Path:
    lines = ["well,sample,target,cq"]
    for sample_name, genes in LIVAK.items():
        for gene, values in genes.items():
            lines += [f"W{len(lines)},{sample_name},{gene},{cq}" for cq in values]
    lines += [f"N1,NTC,c-myc,{ntc_cq}", "N2,NTC,GAPDH,"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_nta_json_reports_concentration_cv_and_sizes() -> None:
    result = _run("nta", str(NTA_34), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["concentration"] == pytest.approx((5.91e12 + 6.05e12 + 6.01e12 + 6.25e12 + 6.24e12) / 5)
    assert payload["reported_size"] == pytest.approx((94.9 + 98.2 + 101.8 + 99.3 + 97.9) / 5)
    assert set(payload["size"]) == {"mean", "mode", "d10", "d50", "d90"}
    assert payload["flags"] == [] and payload["videos"][0] == "stdv34_00"


def test_nta_dilution_protein_exclusion_and_plot(tmp_path: Path) -> None:
    figure = tmp_path / "nta.svg"
    result = _run(
        "nta", str(NTA_34), "--dilution", "2e4", "--protein", "1000", "--exclude", "stdv34_00",
        "--plot", str(figure), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["concentration"] == pytest.approx(2 * (6.05e12 + 6.01e12 + 6.25e12 + 6.24e12) / 4)
    assert payload["particles_per_ug"] == pytest.approx(payload["concentration"] / 1000)
    assert figure.read_text().startswith("<svg")


def test_nta_high_cv_exits_1_and_bad_input_exits_2(tmp_path: Path) -> None:
    assert _run("nta", str(NTA_34), "--cv-limit", "1").exit_code == 1
    bad = tmp_path / "not-nta.csv"
    bad.write_text("a,b\n1,2\n")
    result = _run("nta", str(bad))
    assert (
        result.exit_code == 2
        and "not-nta.csv" in result.output
        and len(result.output.strip().splitlines()) == 1
    )
    assert _run("nta", str(NTA_34), "--exclude", "nope").exit_code == 2
    assert "--size-statistic" in _run("nta", str(NTA_34), "--size-statistic", "median").output


def test_qpcr_csv_reproduces_livak_and_schmittgen(tmp_path: Path) -> None:
    result = _run(
        "qpcr",
        str(_livak_csv(tmp_path / "cq.csv")),
        "--reference",
        "GAPDH",
        "--calibrator",
        "Brain",
        "--json",
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    kidney = next(r for r in payload["rows"] if r["sample"] == "Kidney")
    assert round(kidney["delta_delta_cq"], 2) == -2.50
    assert round(kidney["fold"], 1) == 5.6
    assert (round(kidney["fold_low"], 1), round(kidney["fold_high"], 1)) == (5.3, 6.0)
    assert payload["controls_passed"] is True


def test_qpcr_amplifying_ntc_exits_1(tmp_path: Path) -> None:
    path = _livak_csv(tmp_path / "cq.csv", ntc_cq="30.1")
    result = _run("qpcr", str(path), "--reference", "GAPDH", "--calibrator", "Brain")
    assert result.exit_code == 1
    assert "1 of 2 passed" in result.output


def test_qpcr_reads_instrument_exports(tmp_path: Path) -> None:
    result = _run(
        "qpcr", str(sample("qpcr/AB_ViiA7_ddCt_SYBR_results_example01.txt")), "--reference", "TARGET_1",
        "--calibrator", "1SAMPLE_1.1", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["rows"] == []  # one gene only: nothing to normalise, and no error
    assert payload["reference_genes"] == ["TARGET_1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sample,target\nA,B\n", "column 'cq': missing from the header"),
        ("sample,target,cq\nA,B,abc\n", "row 2, column 'cq': 'abc' is not a number"),
        ("sample,target,cq\n,B,20\n", "row 2, column 'sample': missing value"),
        ("sample,target,cq\n", "no data rows"),
    ],
)
def test_qpcr_bad_csv_exits_2_naming_row_and_column(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "cq.csv"
    path.write_text(content)
    result = _run("qpcr", str(path), "--reference", "GAPDH", "--calibrator", "A")
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_qpcr_bad_options_exit_2(tmp_path: Path) -> None:
    path = _livak_csv(tmp_path / "cq.csv")
    assert (
        "--efficiency"
        in _run(
            "qpcr", str(path), "--reference", "GAPDH", "--calibrator", "Brain", "--efficiency", "x"
        ).output
    )
    result = _run("qpcr", str(path), "--reference", "GAPDH", "--calibrator", "Brain", "--method", "ddct")
    assert result.exit_code == 2 and "--method" in result.output
