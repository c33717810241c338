"""``secretome analyze potency`` and ``secretome analyze combine``: the JSON contract, exit codes, bad input."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from secretome.cli import app
from tests.unit.potency.curves import generated_assay

DATA = Path(__file__).resolve().parents[1] / "data" / "ph_eur_5_3"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _write(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _curve_csv(tmp_path: Path, **kwargs: object) -> Path:
    preparation, dose, response = generated_assay(**kwargs)  # type: ignore[arg-type]
    return _write(
        tmp_path / "assay.csv",
        ["preparation", "dose", "response"],
        list(zip(preparation, dose, response, strict=True)),
    )


def test_four_pl_potency_reports_the_contract_at_the_top_level(tmp_path: Path) -> None:
    code, out, _ = _run(
        "analyze", "potency", str(_curve_csv(tmp_path, sd=0.01)), "--reference", "S", "--json"
    )
    report = json.loads(out)
    assert code == 0
    for key in (
        "relative_potency",
        "ci",
        "ci_level",
        "model",
        "similarity",
        "validity",
        "suitability",
        "assay_valid",
    ):
        assert key in report, key
    assert report["model"] == "4pl"
    assert report["relative_potency"] == pytest.approx(0.5, rel=0.05)
    assert report["ci"][0] < report["relative_potency"] < report["ci"][1]
    assert report["ci_level"] == 0.95
    similarity = report["similarity"]
    assert {"method", "statistics", "intervals", "margins", "passed"} <= set(similarity)
    assert similarity["method"] == "equivalence"
    assert {t["name"] for t in similarity["statistics"]} >= {"F-test", "likelihood ratio"}
    assert all({"statistic", "p_value"} <= set(t) for t in similarity["statistics"])
    assert all({"name", "statistic", "p_value", "verdict"} <= set(t) for t in report["validity"])
    assert report["assay_valid"] is True


def test_several_test_preparations_give_one_entry_each(tmp_path: Path) -> None:
    path = _curve_csv(tmp_path, sd=0.01, relative_potencies=(0.5, 2.0))
    code, out, _ = _run("analyze", "potency", str(path), "--reference", "S", "--model", "4pl", "--json")
    report = json.loads(out)
    assert code == 0
    assert [e["preparation"] for e in report["results"]] == ["T1", "T2"]
    assert [round(e["relative_potency"], 1) for e in report["results"]] == [0.5, 2.0]


def test_f_test_similarity_and_strict_margins_decide_as_asked(tmp_path: Path) -> None:
    path = _curve_csv(tmp_path, sd=0.004, relative_potencies=(0.8,), hills=(1.08,), seed=11)
    code, out, _ = _run(
        "analyze", "potency", str(path), "--reference", "S", "--similarity", "f-test", "--json"
    )
    assert code == 1  # precise and slightly non-parallel: the F-test rejects it
    assert json.loads(out)["similarity"]["passed"] is False
    margins = tmp_path / "margins.json"
    margins.write_text(json.dumps({"hill_ratio": [0.99, 1.01], "span_ratio": None}))
    code, out, _ = _run(
        "analyze", "potency", str(path), "--reference", "S", "--margins", str(margins), "--json"
    )
    report = json.loads(out)
    assert code == 1
    assert report["similarity"]["margins"]["hill_ratio"] == [0.99, 1.01]
    assert report["assay_valid"] is False


def test_parallel_line_model_reproduces_the_ph_eur_turbidimetric_example(tmp_path: Path) -> None:
    with (DATA / "pheur_5_1_3_turbidimetric_randomised_block.csv").open() as handle:
        rows = [
            (r["preparation"], r["dose_nominal"], r["response"], r["block"]) for r in csv.DictReader(handle)
        ]
    path = _write(tmp_path / "turbidimetric.csv", ["preparation", "dose", "response", "block"], rows)
    code, out, _ = _run(
        "analyze", "potency", str(path), "--reference", "S", "--model", "parallel-line", "--json"
    )
    report = json.loads(out)
    assert code == 0
    assert report["design"] == "randomised block"
    # Ph. Eur. 5.3 example 5.1.3: 19228.5 IU/vial (18423.4 - 20075.2) for an assumed 20000 IU/vial.
    assert round(20000 * report["relative_potency"], 1) == 19228.5
    assert [round(20000 * v, 1) for v in report["ci"]] == [18423.4, 20075.2]


def test_slope_ratio_model_and_plot(tmp_path: Path) -> None:
    rows = [("B", 0, 1.0 + 0.01 * i) for i in range(3)]
    rows += [
        (p, d, 1.0 + s * d + 0.01 * ((i * 7) % 3 - 1))
        for p, s in (("S", 1.0), ("T", 0.8))
        for d in (1, 2, 3)
        for i in range(3)
    ]
    path = _write(tmp_path / "slope.csv", ["preparation", "dose", "response"], rows)
    png = tmp_path / "plot.png"
    code, out, _ = _run(
        "analyze",
        "potency",
        str(path),
        "--reference",
        "S",
        "--model",
        "slope-ratio",
        "--plot",
        str(png),
        "--json",
    )
    report = json.loads(out)
    assert report["model"] == "slope-ratio"
    assert report["relative_potency"] == pytest.approx(0.8, rel=0.02)
    assert png.read_bytes().startswith(b"\x89PNG")
    assert code in (0, 1)


def test_curve_plot_is_written(tmp_path: Path) -> None:
    png = tmp_path / "fit.png"
    code, _, _ = _run(
        "analyze", "potency", str(_curve_csv(tmp_path, sd=0.01)), "--reference", "S", "--plot", str(png)
    )
    assert code == 0
    assert png.read_bytes().startswith(b"\x89PNG")


def _bad(tmp_path: Path, rows: Sequence[Sequence[object]], *options: str) -> str:
    path = _write(tmp_path / "bad.csv", ["preparation", "dose", "response"], rows)
    code, out, err = _run("analyze", "potency", str(path), "--reference", "S", *options)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_missing_reference_is_one_line_and_exit_2(tmp_path: Path) -> None:
    rows = [("T", d, 1.0 + d) for d in (1, 2, 4, 8) for _ in range(2)]
    assert "no preparation named 'S'" in _bad(tmp_path, rows)


def test_preparation_with_too_few_doses_is_one_line_and_exit_2(tmp_path: Path) -> None:
    rows = [
        (p, d, 1.0 + d) for p in "ST" for d in ((1, 2, 4, 8, 16) if p == "S" else (1, 2)) for _ in range(2)
    ]
    assert "'T' has 2 dose(s)" in _bad(tmp_path, rows)


def test_doses_outside_a_common_series_are_one_line_and_exit_2(tmp_path: Path) -> None:
    rows = [
        (p, d, math.log(d) + (0.1 if i else 0))
        for p in "ST"
        for d in ((1, 2, 4) if p == "S" else (1, 3, 9))
        for i in range(2)
    ]
    assert "common series" in _bad(tmp_path, rows, "--model", "parallel-line")


def test_unreadable_inputs_are_one_line_and_exit_2(tmp_path: Path) -> None:
    code, _, err = _run("analyze", "potency", str(tmp_path / "missing.csv"), "--reference", "S")
    assert code == 2 and "cannot read" in err
    margins = tmp_path / "margins.json"
    margins.write_text("{not json")
    rows = [(p, d, 1.0 + d) for p in "ST" for d in (1, 2, 4, 8) for _ in range(2)]
    assert "not valid JSON" in _bad(tmp_path, rows, "--margins", str(margins))
    assert "--model" in _bad(tmp_path, rows, "--model", "probit")
    bad_number = [*rows, ("S", "lots", 1.0)]
    assert "not a number" in _bad(tmp_path, bad_number)


def test_combine_with_confidence_limits_reports_method_and_homogeneity(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "assays.csv",
        ["assay", "relative_potency", "ci_low", "ci_high", "df"],
        [("1", 0.98, 0.90, 1.07, 20), ("2", 1.03, 0.93, 1.14, 18), ("3", 1.00, 0.94, 1.06, 22)],
    )
    code, out, _ = _run("analyze", "combine", str(path), "--json")
    report = json.loads(out)
    assert code == 0
    assert report["method"] == "weighted"
    assert set(report["homogeneity"]) >= {"statistic", "df", "p_value"}
    assert report["homogeneity"]["df"] == 2
    assert report["ci"][0] < report["relative_potency"] < report["ci"][1]


def test_combine_with_log_potencies_switches_to_semi_weighted_when_heterogeneous(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "assays.csv",
        ["assay", "log_potency", "se", "df"],
        [("1", math.log(0.8), 0.02, 20), ("2", math.log(1.2), 0.02, 20), ("3", 0.0, 0.03, 20)],
    )
    code, out, _ = _run("analyze", "combine", str(path), "--json")
    assert code == 0
    assert json.loads(out)["method"] == "semi-weighted"


def test_combine_refuses_a_file_without_usable_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "assays.csv", ["assay", "potency"], [("1", 1.0), ("2", 1.1)])
    code, out, err = _run("analyze", "combine", str(path))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
