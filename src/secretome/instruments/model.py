"""The tidy form every reader produces: one :class:`InstrumentReading` holding typed :class:`Measurement` rows.

A measurement is one value of one quantity, from one well (or one event population, video, or sample), of
one sample and one analyte or channel, with its unit and any flags the instrument set. Readers never mutate
their input and raise :class:`ReaderError` (with the file name and, where it applies, the line or byte
offset) for anything they cannot read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: The families of instruments a reader can belong to.
FAMILIES = (
    "cell_counter",
    "plate_reader",
    "multiplex",
    "qpcr",
    "flow",
    "nta",
    "image_analysis",
    "chromatography",
)


#: The longest problem text a :class:`ReaderError` carries; a message names what is wrong, never the file's
#: content (a converter's own exception text can quote a whole line).
MAX_PROBLEM_CHARS = 1000
#: The longest file name a message repeats.
MAX_FILENAME_CHARS = 120


#: The character no stored text may hold (PostgreSQL cannot), and what stands for one inside a value.
NUL = "\x00"


def without_nul(text: str) -> str:
    """``text`` without NUL: trailing ones are padding and dropped, any other becomes U+FFFD, the mark of a
    character that could not be shown, so the value still says something was there."""
    return text.rstrip(NUL).replace(NUL, "\ufffd") if NUL in text else text


def _cap(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


class ReaderError(ValueError):
    """A file a reader cannot read. The message names the file and, where it applies, the line or byte.

    The problem text is flattened to one line and cut at :data:`MAX_PROBLEM_CHARS` characters.
    """

    def __init__(self, filename: str, problem: str, *, line: int | None = None, offset: int | None = None):
        filename = _cap(filename, MAX_FILENAME_CHARS)
        problem = _cap(problem, MAX_PROBLEM_CHARS)
        where = ""
        if line is not None:
            where = f" (line {line})"
        elif offset is not None:
            where = f" (byte {offset})"
        super().__init__(f"{filename}{where}: {problem}")
        self.filename = filename
        self.problem = problem
        self.line = line
        self.offset = offset


@dataclass(frozen=True)
class Measurement:
    """One value read from an instrument file.

    Parameters
    ----------
    quantity
        What was measured, in the vendor-neutral words of the Allotrope vocabulary where one exists
        (``"absorbance"``, ``"viable cell density"``, ``"cycle threshold"``, ``"median fluorescence"``).
    value
        The number; NaN when the instrument reported none (the reason is in ``flags``).
    unit
        The unit as the file gives it (``"mAU"``, ``"10^6 cells/mL"``, ``"particles/mL"``).
    sample
        The sample identifier the file gives.
    well
        Well (``"A1"``), or the video, event population or row label the value belongs to.
    plate
        Plate identifier when the file holds several plates.
    analyte
        Analyte, target gene, bead region, channel or wavelength.
    flags
        Instrument flags and warnings on this value (``"Undetermined"``, ``"low bead count"``).
    """

    quantity: str
    value: float
    unit: str = ""
    sample: str = ""
    well: str = ""
    plate: str = ""
    analyte: str = ""
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; NaN becomes ``None``."""
        return {
            "quantity": self.quantity,
            "value": None if math.isnan(self.value) else self.value,
            "unit": self.unit,
            "sample": self.sample,
            "well": self.well,
            "plate": self.plate,
            "analyte": self.analyte,
            "flags": list(self.flags),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Measurement:
        value = raw.get("value")
        return cls(
            quantity=str(raw["quantity"]),
            value=math.nan if value is None else float(value),
            unit=str(raw.get("unit", "")),
            sample=str(raw.get("sample", "")),
            well=str(raw.get("well", "")),
            plate=str(raw.get("plate", "")),
            analyte=str(raw.get("analyte", "")),
            flags=tuple(str(f) for f in raw.get("flags", ())),
        )


@dataclass(frozen=True)
class EventMatrix:
    """Flow-cytometry list-mode events: one row per event, one column per channel (never copied into rows)."""

    channels: tuple[str, ...]
    events: npt.NDArray[np.floating[Any]] = field(repr=False, compare=False)

    @property
    def event_count(self) -> int:
        return int(self.events.shape[0])


@dataclass(frozen=True)
class InstrumentReading:
    """Everything one reader took from one file.

    ``measurements`` are the tidy rows that are stored; ``events`` (flow) and ``series`` (size
    distributions, amplification curves) are kept for previews and are re-read from the raw file when needed.
    """

    filename: str
    format: str
    family: str
    reader: str
    reader_version: str
    instrument: str = ""
    serial_number: str = ""
    software: str = ""
    software_version: str = ""
    run_metadata: Mapping[str, Any] = field(default_factory=dict)
    measurements: tuple[Measurement, ...] = ()
    warnings: tuple[str, ...] = ()
    events: tuple[EventMatrix, ...] = field(default=(), compare=False)
    series: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict, compare=False)

    @property
    def samples(self) -> list[str]:
        return sorted({m.sample for m in self.measurements if m.sample})

    @property
    def analytes(self) -> list[str]:
        return sorted({m.analyte for m in self.measurements if m.analyte})

    @property
    def quantities(self) -> list[str]:
        return sorted({m.quantity for m in self.measurements})

    @property
    def wells(self) -> list[str]:
        return sorted({m.well for m in self.measurements if m.well})

    def summary(self) -> dict[str, Any]:
        """What ``secretome inspect`` shows: format, instrument, run metadata, samples, analytes, counts."""
        return {
            "filename": self.filename,
            "format": self.format,
            "family": self.family,
            "reader": self.reader,
            "reader_version": self.reader_version,
            "instrument": self.instrument,
            "serial_number": self.serial_number,
            "software": self.software,
            "software_version": self.software_version,
            "run_metadata": dict(self.run_metadata),
            "samples": self.samples,
            "analytes": self.analytes,
            "quantities": self.quantities,
            "counts": {
                "measurements": len(self.measurements),
                "samples": len(self.samples),
                "wells": len(self.wells),
                "events": sum(e.event_count for e in self.events),
                "data_sets": len(self.events),
            },
            "warnings": list(self.warnings),
        }

    def values(self, quantity: str, **match: str) -> list[float]:
        """The values of ``quantity`` whose other fields equal ``match`` (``sample="S1"``), in file order."""
        return [
            m.value
            for m in self.measurements
            if m.quantity == quantity and all(getattr(m, k) == v for k, v in match.items())
        ]


def number(text: object) -> float:
    """A float from a file's cell, or NaN for blanks and words ("N/A", "Undetermined", "----")."""
    if isinstance(text, bool):
        return math.nan
    if isinstance(text, int | float):
        return float(text)
    cleaned = str(text).strip().replace("\u2212", "-")
    try:
        return float(cleaned)
    except ValueError:
        return math.nan
