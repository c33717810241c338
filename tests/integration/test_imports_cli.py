"""``secretome inspect``, ``secretome import`` and ``secretome layout`` on real files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secretome.db.imports.models import InstrumentImport, RawFile
from tests.conftest import PASSWORD
from tests.unit.instruments.samples import every_sample, sample
from tests.unit.instruments.test_every_sample import REFUSED

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("path", every_sample(), ids=lambda p: p.name)
def test_inspect_reports_every_sample_or_refuses_it_in_one_line(
    run_cli: Callable[..., Any], path: Path
) -> None:
    result = run_cli("inspect", str(path), "--json")
    if path.name in REFUSED:
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1
        assert path.name in result.stderr and REFUSED[path.name] in result.stderr
        assert "Traceback" not in result.output
        return
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["filename"] == path.name
    assert payload["counts"]["measurements"] > 0
    assert len(payload["sha256"]) == 64
    assert RawFile.objects.count() == 0


def test_inspect_of_an_unknown_file_lists_the_formats(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an instrument file\n")
    result = run_cli("inspect", str(notes))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: notes.txt: not a supported instrument file; supported formats: ")
    assert "nanosight-nta" in result.stderr


def test_import_stores_once_and_the_second_import_changes_nothing(
    run_cli: Callable[..., Any], make_user: Callable[..., Any]
) -> None:
    make_user("ana", "analyst")
    path = str(sample("cell_counter/ChemoMetec_NucleoView_NC200_example01.csv"))
    env = {"SECRETOME_PASSWORD": PASSWORD}
    first = run_cli("import", path, "--as", "ana", "--reason", "P3 harvest count", "--json", env=env)
    assert first.exit_code == 0, first.output
    payload = json.loads(first.stdout)
    assert payload["created"] is True
    assert payload["format"] == "nucleoview-nc200"
    again = run_cli("import", path, "--as", "ana", "--json", env=env)
    assert json.loads(again.stdout)["created"] is False
    assert json.loads(again.stdout)["import_id"] == payload["import_id"]
    assert InstrumentImport.objects.count() == 1


def test_import_with_an_unknown_layout_or_lot_exits_2_in_one_line(
    run_cli: Callable[..., Any], make_user: Callable[..., Any]
) -> None:
    make_user("ana", "analyst")
    path = str(sample("plate_reader/BMG_PHERAstar_MARS_ABS_384_QC.csv"))
    env = {"SECRETOME_PASSWORD": PASSWORD}
    result = run_cli("import", path, "--layout", "nope", "--as", "ana", env=env)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: layout: 'nope' does not exist"
    result = run_cli("import", path, "--lot", "CM-0000", "--as", "ana", env=env)
    assert result.exit_code == 2
    assert InstrumentImport.objects.count() == 0


def test_layout_add_makes_versions_and_import_uses_the_latest(
    run_cli: Callable[..., Any], make_user: Callable[..., Any], tmp_path: Path
) -> None:
    make_user("ana", "analyst")
    env = {"SECRETOME_PASSWORD": PASSWORD}
    template = tmp_path / "layout.csv"
    template.write_text("well,role,name,level\nA1,standard,STD,2000\nA2,standard,STD,2000\nH1,blank,,\n")
    assert run_cli("layout", "add", str(template), "--name", "BCA", "--as", "ana", env=env).exit_code == 0
    template.write_text("well,role,name,level\nA1,standard,STD,2000\nH1,blank,,\nA2,excluded,,\n")
    second = run_cli("layout", "add", str(template), "--name", "BCA", "--as", "ana", "--json", env=env)
    assert json.loads(second.stdout)["version"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("well,role,name,level\nA1,calibrator,,1\n")
    refused = run_cli("layout", "add", str(bad), "--name", "X", "--as", "ana", env=env)
    assert refused.exit_code == 2
    assert "line 2: role" in refused.stderr
    listed = json.loads(run_cli("layout", "list", "--json").stdout)
    assert [(r["name"], r["version"]) for r in listed] == [("BCA", 1), ("BCA", 2)]
    path = str(sample("plate_reader/BioTek_Gen5_3.12_abs_stdcurve_singleplate.txt"))
    imported = run_cli("import", path, "--layout", "BCA", "--as", "ana", "--json", env=env)
    assert json.loads(imported.stdout)["layout"] == "BCA v2"


def test_inspect_refuses_a_file_over_the_size_limit_before_reading_it(
    run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETOME_MAX_FILE_BYTES", "1000")
    path = sample("nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv")
    result = run_cli("inspect", str(path), "--json")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}: the file has {path.stat().st_size:,} bytes; the limit is 1,000 (SECRETOME_MAX_FILE_BYTES)\n"
    )


def test_inspect_refuses_a_line_of_a_million_columns_in_one_short_line(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(
        b"Sample ID,Viable (x10^6) cells/mL" + b",SECRET" * 140_000 + b"\r\n" + b"S1,1\r\n" * 100_000
    )
    result = run_cli("inspect", str(path))
    assert result.exit_code == 2
    assert "wide.csv (line 1): a line of 140,002 columns; the limit is 4,096" in result.stderr
    assert "SECRET" not in result.stderr
    assert result.stderr.count("\n") == 1
