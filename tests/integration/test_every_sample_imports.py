"""Every real instrument file the project reads is stored through the import service on either database:
PostgreSQL refuses some text SQLite takes (NUL characters in FCS keywords or sample names), so reading a file
is not enough."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secretome.services import imports
from tests.unit.instruments.samples import every_sample
from tests.unit.instruments.test_every_sample import REFUSED

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("path", [p for p in every_sample() if p.name not in REFUSED], ids=lambda p: p.name)
def test_every_readable_sample_is_stored_with_its_measurements(analyst: Any, path: Path) -> None:
    record = imports.import_file(analyst, "sample file", path.name, path.read_bytes())
    assert record.pk is not None and record.measurements.exists()


def _with_nul_in_keyword(content: bytes, keyword: bytes) -> bytes:
    # Same length, so every offset of the file still holds: the keyword's first value byte becomes NUL and a
    # NUL pads its end, as some cytometers write.
    at = content.index(keyword) + len(keyword) + 1
    end = at
    while content[end : end + 1] not in (b"|", b"\\", b"/", b"\x0c", b"*", b"\x1e"):
        end += 1
    return content[:at] + b"X\x00" + content[at + 2 : end - 1] + b"\x00" + content[end:]


def test_an_fcs_keyword_holding_nul_is_stored_with_the_nul_shown_and_a_warning(analyst: Any) -> None:
    path = next(p for p in every_sample() if p.name == "BD_Accuri_C6Plus_FCS3.1_B01_KC-A-W---91-US.fcs")
    original = imports.import_file(analyst, "sample file", path.name, path.read_bytes())
    content = _with_nul_in_keyword(path.read_bytes(), b"$CYT")
    record = imports.import_file(analyst, "sample file", "nul.fcs", content)
    assert record.instrument == "X\ufffd" + original.instrument[2:-1]
    assert any("$CYT" in warning and "U+FFFD" in warning for warning in record.warnings)
    assert imports.raw_content(record.raw_file) == content  # the evidence keeps its bytes
