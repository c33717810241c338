"""Fixtures the raw-data link tests share: a lot under an approved specification, an imported ELISA plate,
and a data directory of the test's own (imports keep raw files there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secretome.services import imports
from tests.integration.release_support import approved_specification, make_lot
from tests.unit.instruments.samples import sample_bytes

#: A real plate-reader export (see tests/data/samples/plate_reader/PROVENANCE.md).
PLATE = "plate_reader/PerkinElmer_EnVision_A450_example.csv"


# Named fixtures (name=...), so that test modules import them without shadowing the argument names.
@pytest.fixture(autouse=True, name="data_directory")
def data_directory_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(name="lot")
def lot_fixture(qa_user: Any, analyst: Any) -> Any:
    """A lot of the test product, whose specification QA has approved."""
    approved_specification(qa_user)
    return make_lot(analyst)


@pytest.fixture(name="plate")
def plate_fixture(analyst: Any) -> Any:
    """The plate export imported without a lot, as ``vegf_plate.csv``."""
    return imports.import_file(analyst, "VEGF ELISA plate", "vegf_plate.csv", sample_bytes(PLATE))
