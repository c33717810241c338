"""``secretome analyze proliferation``: generations of a CFSE FCS file or a CSV of intensities, the JSON
contract and one-line errors with exit code 2."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from secretome.analysis.assays.proliferation import ProliferationModel, brightest_peak, indices_from_counts
from secretome.analysis.flow.gating import Dimension, EventTable, apply_strategy
from secretome.cli import app
from secretome.demo.cfse_files import (
    RESPONDING_STIMULATED,
    cfse_method_settings,
    suppression_files,
)
from secretome.instruments.flow import read_fcs_data_sets
from secretome.instruments.gating_ml import parse_gating_ml


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["analyze", "proliferation", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cfse")
    for name, content in suppression_files({"CM-1": 1.0}, seed=4, events=8000, replicates=1).items():
        (folder / name).write_bytes(content)
    (folder / "strategy.xml").write_text(cfse_method_settings()["strategy"])
    return folder


def test_a_gated_stimulated_tube_gives_the_modelled_percent_divided(experiment: Path) -> None:
    result = _run(
        str(experiment / "cfse_02_stimulated.fcs"),
        "--gating",
        str(experiment / "strategy.xml"),
        "--compensation",
        "uncompensated",
        "--json",
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["channel"] == "FITC-A"  # found by its $PnS "CFSE"
    assert payload["gating"]["population"] == "Live"
    assert payload["events"] == payload["gating"]["count"] < payload["gating"]["total"]
    # The model: 72 % of the original lymphocytes divided.
    assert payload["percent_divided"] == pytest.approx(100 * RESPONDING_STIMULATED, abs=2.5)
    assert payload["undivided_source"] == "brightest peak"
    assert math.log2(payload["peak_intensity"]) == pytest.approx(math.log2(42000.0), abs=0.2)


@pytest.mark.parametrize("gated", [True, False])
def test_the_fit_equals_the_fit_of_a_scaled_copy_of_the_tube(experiment: Path, gated: bool) -> None:
    # The command reads the events as stored; the procedure it replaced scaled a float64 copy of the whole
    # tube, gated it and read the dye's column in the population. Both must give the same fit.
    tube = experiment / "cfse_02_stimulated.fcs"
    options = (
        ["--gating", str(experiment / "strategy.xml"), "--compensation", "uncompensated"] if gated else []
    )
    result = _run(str(tube), *options, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)

    data_set = read_fcs_data_sets(tube.read_bytes(), tube.name)[0]
    events = data_set.scaled()
    values = events[:, data_set.channels.index("FITC-A")]
    if gated:
        strategy = parse_gating_ml((experiment / "strategy.xml").read_bytes())
        gating = apply_strategy(strategy, events, data_set.channels, data_set.spillover, data_set.event_count)
        table = EventTable(strategy, events, data_set.channels, None)
        table.extra_names = {"FITC-A"}
        values = table.column(Dimension("FITC-A", "uncompensated"))[gating.membership["Live"]]
    expected = ProliferationModel(8, 0.3).fit(values, brightest_peak(values), "FITC-A").to_dict()
    assert payload["events"] == values.size
    for key in ("percent_divided", "division_index", "proliferation_index", "peak_intensity"):
        assert payload[key] == pytest.approx(expected[key], rel=1e-12), key


def test_the_table_lists_generations_and_indices(experiment: Path) -> None:
    result = _run(str(experiment / "cfse_01_unstimulated.fcs"), "--undivided", "42000")
    assert result.exit_code == 0, result.output
    assert "% divided" in result.stdout and "division index" in result.stdout


def test_a_csv_of_intensities_is_fitted_with_a_given_undivided_peak(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    cells = [3000, 2000, 2000, 1000]
    generation = np.repeat(np.arange(4), cells)
    intensity = 20000.0 * 2.0 ** (-generation + rng.normal(0, 0.25, generation.size))
    path = tmp_path / "cfse.csv"
    path.write_text("intensity\n" + "\n".join(f"{v:.2f}" for v in intensity) + "\n")
    result = _run(str(path), "--undivided", "20000", "--max-generations", "5", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    expected = indices_from_counts(cells)
    assert payload["percent_divided"] == pytest.approx(expected.percent_divided, abs=1.5)
    assert payload["division_index"] == pytest.approx(expected.division_index, abs=0.04)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("intensity\n12\nabc\n", "cfse.csv, row 3, column 'intensity': 'abc' is not a number"),
        ("value\n12\n", "cfse.csv, row 1, column 'intensity': missing from the header"),
    ],
)
def test_a_bad_csv_is_refused_in_one_line_naming_row_and_column(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "cfse.csv"
    path.write_text(content)
    result = _run(str(path))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_channel_the_file_lacks_is_refused_naming_the_file(experiment: Path) -> None:
    result = _run(str(experiment / "cfse_02_stimulated.fcs"), "--channel", "PE-A")
    assert result.exit_code == 2
    assert "cfse_02_stimulated.fcs: --channel 'PE-A' is neither a $PnN nor a $PnS" in result.stderr


def test_a_file_that_is_not_fcs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.fcs"
    path.write_bytes(b"not a cytometry file at all")
    result = _run(str(path))
    assert result.exit_code == 2
    assert "notes.fcs" in result.stderr
