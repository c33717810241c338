"""``secretome method``, ``secretome analysis`` and ``secretome lot verify``: JSON and exit codes, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from secretome.db.imports.models import RawFile
from secretome.demo.instrument_files import potency_plate
from secretome.services import imports
from tests.integration.release_support import PASSWORD, approved_specification, make_lot
from tests.integration.test_analysis_runs import computed_attributes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


def test_a_plate_goes_from_import_to_a_verified_lot_on_the_command_line(
    run_cli: Callable[..., Any], analyst: Any, qa_user: Any, tmp_path: Path
) -> None:
    def cli(*args: str) -> Any:
        return run_cli(*args, "--password-stdin", input=PASSWORD + "\n")

    approved_specification(qa_user, computed_attributes())
    lot = make_lot(analyst)
    content, layout = potency_plate(np.random.default_rng(3), {lot.number: 1.2}, "P")
    imports.save_layout(analyst, "layout", layout)
    plate = tmp_path / "plate.csv"
    plate.write_bytes(content)

    inspected = run_cli("inspect", str(plate), "--values", "--json")
    values = json.loads(inspected.output)["values"]
    assert inspected.exit_code == 0 and len(values) == 48
    assert {"sample", "well", "quantity", "value", "unit", "flags"} <= set(values[0])

    imported = cli(
        "import", str(plate), "--layout", layout.name, "--reason", "plate", "--as", "ana", "--json"
    )
    assert imported.exit_code == 0, imported.output
    import_id = str(json.loads(imported.output)["import_id"])

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"reference": "REF", "model": "4pl"}))
    added = cli(
        "method", "add", "IDO-RP", "--kind", "relative-potency", "--settings", str(settings),
        "--attribute", "potency", "--unit", "%", "--normalisation", "none", "--reason", "m", "--as", "ana", "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert cli("method", "approve", "IDO-RP@1", "--reason", "ok", "--as", "quinn").exit_code == 0
    assert json.loads(run_cli("method", "list", "--json").output)[0]["status"] == "approved"

    ran = cli("analysis", "run", import_id, "--method", "IDO-RP", "--exclude", "H1", "--because", "bubble",
              "--as", "ana", "--json")  # fmt: skip
    assert ran.exit_code == 0, ran.output
    run = json.loads(ran.output)
    assert run["decision_log"][0]["target"] == f"{import_id}:H1"
    assert run["reportables"][0]["value"] == pytest.approx(120, rel=0.1)
    accepted = cli("analysis", "accept", run["number"], "--as", "ana", "--json")
    assert accepted.exit_code == 0, accepted.output

    verified = run_cli("analysis", "verify", run["number"], "--json")
    assert verified.exit_code == 0 and json.loads(verified.output)["match"]
    lot_check = run_cli("lot", "verify", lot.number, "--json")
    assert lot_check.exit_code == 0, lot_check.output
    report = json.loads(lot_check.output)
    assert (report["verified"], report["failed"]) == (1, 0)
    [row] = report["results"]
    assert {"attribute", "result", "analysis_run", "raw_sha256", "recomputed", "match"} <= set(row)

    raw = RawFile.objects.get(sha256=row["raw_sha256"][0])
    altered = bytearray(bytes(raw.content or b""))
    altered[-5] = ord("7") if altered[-5] != ord("7") else ord("6")
    RawFile.objects.filter(pk=raw.pk).update(content=bytes(altered))
    broken = run_cli("lot", "verify", lot.number, "--json")
    assert broken.exit_code == 1
    failed = json.loads(broken.output)["results"][0]
    assert failed["attribute"] == "potency" and not failed["match"] and "SHA-256" in failed["problem"]


def test_a_bad_settings_file_exits_2_naming_it(
    run_cli: Callable[..., Any], analyst: Any, tmp_path: Path
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("{not json")
    result = run_cli(
        "method", "add", "X", "--kind", "relative-potency", "--settings", str(settings), "--attribute", "potency",
        "--reason", "m", "--as", "ana", "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "settings.json line 1" in result.output
