"""Plate readings built directly from well values, for method-kind tests that need exact responses."""

from __future__ import annotations

from collections.abc import Mapping

from secretome.domain.plate_layout import PlateLayout
from secretome.instruments.model import InstrumentReading, Measurement
from secretome.methods.base import MethodInput


def plate_input(
    responses: Mapping[str, float],
    layout: PlateLayout | None,
    *,
    import_id: int = 1,
    quantity: str = "absorbance",
    wavelength: str = "450 nm",
) -> MethodInput:
    reading = InstrumentReading(
        filename=f"plate-{import_id}.txt",
        format="gen5",
        family="plate_reader",
        reader="test",
        reader_version="0",
        measurements=tuple(
            Measurement(quantity=quantity, value=value, unit="", sample="", well=well, analyte=wavelength)
            for well, value in responses.items()
        ),
    )
    return MethodInput(import_id, "0" * 64, reading.filename, reading, layout)


def multiplex_input(rows: list[tuple[str, str, str, float, float]], *, import_id: int = 1) -> MethodInput:
    """``rows`` of (well, sample, analyte, median fluorescence, bead count)."""
    measurements = []
    for well, sample, analyte, mfi, beads in rows:
        measurements.append(Measurement("median fluorescence", mfi, "RFU", sample, well, "", analyte))
        measurements.append(Measurement("assay bead count", beads, "#", sample, well, "", analyte))
    reading = InstrumentReading(
        filename=f"panel-{import_id}.csv",
        format="xponent",
        family="multiplex",
        reader="test",
        reader_version="0",
        measurements=tuple(measurements),
    )
    return MethodInput(import_id, "0" * 64, reading.filename, reading, None)
