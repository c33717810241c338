"""A reading's text never holds NUL (PostgreSQL cannot store it): trailing NULs are padding, others U+FFFD."""

from __future__ import annotations

import math

from secretome.instruments.detect import without_nul
from secretome.instruments.model import InstrumentReading, Measurement


def _reading(sample: str, metadata: dict[str, object], instrument: str = "Vi-CELL") -> InstrumentReading:
    return InstrumentReading(
        filename="f.xls",
        format="vi-cell-xr-xls",
        family="cell counter",
        reader="test",
        reader_version="1",
        instrument=instrument,
        run_metadata=metadata,
        measurements=(Measurement("viability", math.nan, "%", sample, "", "", "", ("ab",)),),
    )


def test_a_reading_without_nul_is_returned_unchanged() -> None:
    reading = _reading("S1", {"operator": "QC"})
    assert without_nul(reading) is reading


def test_trailing_nul_is_dropped_and_inner_nul_shown_as_the_replacement_character() -> None:
    cleaned = without_nul(_reading("S\x001\x00", {"op\x00": ["x\x00y", 2]}, "Vi-CELL\x00\x00"))
    assert cleaned.instrument == "Vi-CELL"
    assert cleaned.measurements[0].sample == "S\ufffd1"
    assert cleaned.measurements[0].flags == ("ab",)
    assert math.isnan(cleaned.measurements[0].value)
    assert cleaned.run_metadata == {"op": ["x\ufffdy", 2]}
    assert cleaned.warnings[-1].startswith("NUL characters in the file's text")
